"""The demo company: shape (tables, columns, types, keys, references), consistency, and the story
it must tell (funnel near the reference rates, reps that differ, stuck deals)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from salespilot import model
from salespilot.demo import generator
from salespilot.demo.generator import DEFAULT_TODAY, SIZES, generate
from salespilot.errors import ParameterError

ARROW = {
    model.ColumnType.STRING: pa.string(),
    model.ColumnType.TIMESTAMP: pa.timestamp("us"),
    model.ColumnType.DATE: pa.date32(),
    model.ColumnType.FLOAT: pa.float64(),
    model.ColumnType.INTEGER: pa.int64(),
    model.ColumnType.PERIOD: pa.string(),
}
TODAY = dt.datetime.combine(DEFAULT_TODAY, dt.time())


def collect(chunks: Iterable[tuple[str, pa.Table]]) -> tuple[list[str], dict[str, pa.Table]]:
    order: list[str] = []
    parts: dict[str, list[pa.Table]] = {}
    for name, table in chunks:
        if name not in parts:
            order.append(name)
        parts.setdefault(name, []).append(table)
    return order, {name: pa.concat_tables(ts) for name, ts in parts.items()}


@pytest.fixture(scope="module")
def run() -> tuple[list[str], dict[str, pa.Table]]:
    return collect(generate("small", seed=42))


@pytest.fixture(scope="module")
def db(run: tuple[list[str], dict[str, pa.Table]]) -> dict[str, pa.Table]:
    return run[1]


def col(t: pa.Table, name: str) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = t.column(name).to_numpy(zero_copy_only=False)
    return out


def days(delta: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    seconds = delta.astype("timedelta64[s]").astype(np.float64)
    out: np.ndarray[Any, Any] = np.where(np.isnat(delta), np.nan, seconds / 86_400)
    return out


# --- parameters --------------------------------------------------------------------------------


def test_unknown_size_is_a_parameter_error_with_a_hint() -> None:
    with pytest.raises(ParameterError, match=r'Unknown demo size "smal".*Did you mean "small"'):
        generate("smal")  # raised at the call, before any iteration


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True])
def test_bad_seed_is_a_parameter_error(seed: object) -> None:
    with pytest.raises(ParameterError, match="seed"):
        generate("small", seed=seed)  # type: ignore[arg-type]


def test_sizes_are_the_contract() -> None:
    assert list(SIZES) == ["small", "medium", "large"]
    assert [SIZES[s].leads for s in SIZES] == [5_000, 1_000_000, 5_000_000]


# --- shape ---------------------------------------------------------------------------------------


def test_every_table_in_import_order_with_exact_columns_and_types(run: tuple[list[str], dict[str, pa.Table]]) -> None:
    order, db = run
    assert order == list(model.IMPORT_ORDER)
    for name, table in db.items():
        spec = model.TABLES[name]
        assert tuple(table.column_names) == spec.column_names, name
        for c in spec.columns:
            assert table.schema.field(c.name).type == ARROW[c.type], (name, c.name)
        for c in spec.columns:
            if c.required:
                assert table.column(c.name).null_count == 0, (name, c.name)
        assert table.num_rows > 0, name


def test_volumes_are_those_of_the_small_company(db: dict[str, pa.Table]) -> None:
    assert db["leads"].num_rows == 5_000
    assert db["reps"].num_rows == 25
    assert 40_000 <= db["activities"].num_rows <= 70_000
    assert 1_400 <= db["opportunities"].num_rows <= 2_600


def test_reproducible_for_a_seed_and_different_for_another(db: dict[str, pa.Table]) -> None:
    _, again = collect(generate("small", seed=42, today=DEFAULT_TODAY))
    for name, table in db.items():
        assert again[name].equals(table), name
    _, other = collect(generate("small", seed=7))
    assert not other["opportunities"].equals(db["opportunities"])
    assert not other["activities"].equals(db["activities"])


def test_chunking_does_not_change_the_data(db: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generator, "CHUNK_ROWS", 4_000)
    chunks = list(generate("small", seed=42))
    assert max(t.num_rows for _, t in chunks) <= 4_000
    assert sum(1 for name, _ in chunks if name == "activities") > 10
    _, again = collect(iter(chunks))
    for name in ("leads", "opportunities", "stage_changes", "activities"):
        assert again[name].equals(db[name]), name


def test_today_moves_the_whole_history() -> None:
    _, db = collect(generate("small", seed=1, today=dt.date(2024, 1, 15)))
    created = db["leads"].column("created_at")
    assert pc.max(created).as_py() < dt.datetime(2024, 1, 15)
    assert pc.min(created).as_py() >= dt.datetime(2021, 1, 1)


# --- keys and references -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(model.IMPORT_ORDER))
def test_keys_are_unique(db: dict[str, pa.Table], name: str) -> None:
    key = list(model.TABLES[name].key)
    counts = db[name].group_by(key).aggregate([([], "count_all")])
    assert counts.num_rows == db[name].num_rows


def test_ids_have_stable_prefixes(db: dict[str, pa.Table]) -> None:
    for table, column, pattern in [
        ("reps", "rep_id", r"R\d{4}"),
        ("accounts", "account_id", r"A\d{7}"),
        ("leads", "lead_id", r"L\d{7}"),
        ("opportunities", "opportunity_id", r"O\d{7}"),
        ("contracts", "contract_id", r"C\d{7}"),
        ("activities", "activity_id", r"ACT\d{9}"),
    ]:
        assert pc.all(pc.match_substring_regex(db[table].column(column), f"^{pattern}$")).as_py(), table


def test_references_resolve(db: dict[str, pa.Table]) -> None:
    checked = 0
    for name, spec in model.TABLES.items():
        for c in spec.columns:
            if c.references:
                target, target_col = c.references.split(".")
                values = pc.drop_null(db[name].column(c.name))
                found = pc.is_in(values, value_set=db[target].column(target_col).combine_chunks())
                assert pc.all(found).as_py() is not False, (name, c.name)
                checked += 1
    assert checked >= 12


def test_enums_hold_known_values(db: dict[str, pa.Table]) -> None:
    for name, spec in model.TABLES.items():
        for c in spec.columns:
            if c.enum:
                seen = set(pc.unique(pc.drop_null(db[name].column(c.name))).to_pylist())
                assert seen <= set(c.enum), (name, c.name, seen - set(c.enum))
    reps = db["reps"]
    managers = set(pc.filter(reps.column("rep_id"), pc.equal(reps.column("role"), "manager")).to_pylist())
    assert set(pc.drop_null(reps.column("manager_id")).to_pylist()) <= managers
    assert set(pc.unique(reps.column("role")).to_pylist()) == {"sdr", "ae", "am", "manager"}
    assert 3 <= len(pc.unique(pc.drop_null(reps.column("team")))) <= 4


# --- consistency ---------------------------------------------------------------------------------


def test_outcome_and_closed_at_agree(db: dict[str, pa.Table]) -> None:
    o = db["opportunities"]
    outcome, closed = col(o, "outcome"), o.column("closed_at").is_null().to_numpy(zero_copy_only=False)
    assert not closed[outcome != "open"].any()  # won and lost deals have a close
    assert closed[outcome == "open"].all()  # open deals do not
    created, closed_at = col(o, "created_at"), col(o, "closed_at")
    shut = outcome != "open"
    assert (created[shut] <= closed_at[shut]).all()
    assert (closed_at[shut] < np.datetime64(TODAY)).all() and (created < np.datetime64(TODAY)).all()
    assert (col(o, "amount") >= 0).all() and (col(o, "margin") <= col(o, "amount")).all()
    lost = outcome == "lost"
    assert o.column("loss_reason").is_null().to_numpy(zero_copy_only=False)[lost].sum() == 0
    assert o.column("forecast_category").is_valid().to_numpy(zero_copy_only=False)[outcome != "open"].sum() == 0
    other = col(o, "loss_reason") == "other"
    assert o.column("loss_reason_text").is_valid().to_numpy(zero_copy_only=False)[other].all()


def test_stage_history_is_ordered_and_fits_the_deal(db: dict[str, pa.Table]) -> None:
    o, sc = db["opportunities"], db["stage_changes"]
    stages = ["qualification", "discovery", "demo", "proposal", "negotiation"]
    rank = pc.index_in(sc.column("stage"), value_set=pa.array(stages)).to_numpy(zero_copy_only=False)
    ids, entered = col(sc, "opportunity_id"), col(sc, "entered_at")
    same = ids[1:] == ids[:-1]
    assert (entered[1:][same] > entered[:-1][same]).all() and (rank[1:][same] > rank[:-1][same]).all()
    first = np.r_[True, ~same]
    times = zip(col(o, "created_at"), col(o, "closed_at"), strict=True)
    by_id = dict(zip(col(o, "opportunity_id"), times, strict=True))
    assert all(by_id[i][0] == t for i, t in zip(ids[first], entered[first], strict=True))
    last_entry = dict(zip(ids, entered, strict=True))
    assert all(np.isnat(c) or last_entry[i] <= c for i, (_, c) in by_id.items() if i in last_entry)
    won = o.filter(pc.equal(o.column("outcome"), "won")).column("opportunity_id")
    reached = sc.filter(pc.is_in(sc.column("opportunity_id"), value_set=won))
    at_proposal = pc.is_in(reached.column("stage"), value_set=pa.array(["proposal"]))
    assert pc.sum(at_proposal).as_py() == len(won)  # every won deal went through the proposal
    current = dict(zip(ids, sc.column("stage").to_pylist(), strict=True))
    assert all(current[i] == s for i, s in zip(col(o, "opportunity_id"), col(o, "stage"), strict=True))


def test_activities_fall_in_their_rep_tenure_and_before_today(db: dict[str, pa.Table]) -> None:
    a, reps = db["activities"], db["reps"]
    tenure = {r["rep_id"]: (r["active_from"], r["active_to"]) for r in reps.to_pylist()}
    day = col(a, "occurred_at").astype("datetime64[D]")
    start = np.array([np.datetime64(tenure[r][0]) for r in col(a, "rep_id")])
    end = np.array([np.datetime64(tenure[r][1] or DEFAULT_TODAY) for r in col(a, "rep_id")])
    assert (day >= start).all() and (day <= end).all()
    assert (col(a, "occurred_at") < np.datetime64(TODAY)).all()
    o = db["opportunities"]
    span = dict(zip(col(o, "opportunity_id"), zip(col(o, "created_at"), col(o, "closed_at"), strict=True), strict=True))
    on_deal = a.filter(pc.is_valid(a.column("opportunity_id")))
    for i, t in zip(col(on_deal, "opportunity_id"), col(on_deal, "occurred_at"), strict=True):
        created, closed = span[i]
        assert created <= t and (np.isnat(closed) or t <= closed), (i, t)


def test_records_come_after_their_account(db: dict[str, pa.Table]) -> None:
    accounts = db["accounts"]
    created = dict(zip(col(accounts, "account_id"), col(accounts, "created_at"), strict=True))
    for name, time in (("leads", "created_at"), ("opportunities", "created_at"), ("activities", "occurred_at")):
        t = db[name].filter(pc.is_valid(db[name].column("account_id")))
        first = np.array([created[i] for i in col(t, "account_id")])
        assert (col(t, time) >= first).all(), name
    leads, o = db["leads"], db["opportunities"]
    lead_created = dict(zip(col(leads, "lead_id"), col(leads, "created_at"), strict=True))
    o = o.filter(pc.is_valid(o.column("lead_id")))
    assert all(lead_created[i] < t for i, t in zip(col(o, "lead_id"), col(o, "created_at"), strict=True))


def test_contracts_renew_or_churn(db: dict[str, pa.Table]) -> None:
    c = db["contracts"].to_pylist()
    by_id = {x["contract_id"]: x for x in c}
    renewals = [x for x in c if x["renews_contract_id"]]
    assert renewals
    assert all(by_id[x["renews_contract_id"]]["end_date"] + dt.timedelta(1) == x["start_date"] for x in renewals)
    ended = [x for x in c if x["end_date"] < DEFAULT_TODAY]
    renewed = {x["renews_contract_id"] for x in renewals}
    churn = sum(x["contract_id"] not in renewed for x in ended) / len(ended)
    assert 0.08 <= churn <= 0.25
    assert all(x["start_date"] <= x["end_date"] and x["value"] > 0 for x in c)
    o = db["opportunities"]
    kind = dict(zip(col(o, "opportunity_id"), col(o, "type"), strict=True))
    sold = {kind[x["opportunity_id"]] for x in c if x["opportunity_id"]}
    assert sold == {"new", "renewal", "upsell"}


# --- the story -----------------------------------------------------------------------------------


def test_funnel_is_near_the_reference(db: dict[str, pa.Table]) -> None:
    leads, o = db["leads"], db["opportunities"]
    converted = pc.is_in(leads.column("lead_id"), value_set=pc.drop_null(o.column("lead_id")))
    assert 0.25 <= pc.mean(converted).as_py() <= 0.40
    outcome = col(o, "outcome")
    assert 0.25 <= (outcome == "won").sum() / (outcome != "open").sum() <= 0.42
    converted_status = pc.equal(leads.column("status"), "converted")
    assert pc.all(pc.equal(converted, converted_status)).as_py()


def test_channels_convert_differently(db: dict[str, pa.Table]) -> None:
    leads, o = db["leads"], db["opportunities"]
    converted = pc.is_in(leads.column("lead_id"), value_set=pc.drop_null(o.column("lead_id"))).to_numpy()
    channel = col(leads, "channel")
    rates = {c: converted[channel == c].mean() for c in set(channel)}
    assert len(rates) == 6 and max(rates.values()) >= 1.6 * min(rates.values())


def test_months_differ_summer_dip_and_a_bad_quarter(db: dict[str, pa.Table]) -> None:
    month = pc.month(db["leads"].column("created_at")).to_numpy()
    assert (month == 8).sum() < 0.7 * (month == 9).sum()  # August is quiet
    o = db["opportunities"]
    o = o.filter(pc.and_(pc.equal(o.column("type"), "new"), pc.not_equal(o.column("outcome"), "open")))
    quarter = pc.strftime(o.column("created_at"), "%Y").to_numpy(zero_copy_only=False).astype(object)
    quarter += np.char.add("-Q", ((pc.month(o.column("created_at")).to_numpy() - 1) // 3 + 1).astype(str))
    won = col(o, "outcome") == "won"
    rates = {q: won[quarter == q].mean() for q in set(quarter) if (quarter == q).sum() >= 60}
    assert rates["2025-Q1"] < 0.85 * np.median(list(rates.values()))  # the bad quarter, 18 months before today


def test_reps_differ_substantially(db: dict[str, pa.Table]) -> None:
    o = db["opportunities"].filter(pc.not_equal(db["opportunities"].column("outcome"), "open"))
    owner, won = col(o, "owner_id"), col(o, "outcome") == "won"
    rates = [won[owner == r].mean() for r in set(owner) if (owner == r).sum() >= 30]
    assert len(rates) >= 5 and max(rates) >= 2 * min(rates)


def test_better_qualified_deals_win_more(db: dict[str, pa.Table]) -> None:
    o = db["opportunities"]
    o = o.filter(pc.and_(pc.not_equal(o.column("outcome"), "open"), pc.equal(o.column("type"), "new")))
    filled = sum(o.column(f).is_valid().to_numpy(zero_copy_only=False).astype(int) for f in model.QUALIFICATION_FIELDS)
    won = col(o, "outcome") == "won"
    assert 0 < (filled == 6).mean() < 0.8  # filled unevenly
    assert won[filled >= 5].mean() > 1.3 * won[filled <= 3].mean()


def test_some_open_deals_are_stuck_without_recent_activity(db: dict[str, pa.Table]) -> None:
    """Stuck as KPIS.md says: longer in the current stage than 90% of the finished stays in it."""
    o, sc, a = db["opportunities"], db["stage_changes"], db["activities"]
    ids, stage, entered = col(sc, "opportunity_id"), col(sc, "stage"), col(sc, "entered_at")
    closed = dict(zip(col(o, "opportunity_id"), col(o, "closed_at"), strict=True))
    same = np.r_[ids[1:] == ids[:-1], False]
    left = np.where(same, np.r_[entered[1:], entered[:1]], np.array([closed[i] for i in ids]))
    stay = days(left - entered)  # NaN while the deal is still in the stage
    p90 = {s: np.nanpercentile(stay[stage == s], 90) for s in set(stage)}
    now = days(np.datetime64(TODAY) - entered)
    current = ~same & np.isnan(stay)
    stuck = {i for i, s, d in zip(ids[current], stage[current], now[current], strict=True) if d > p90[s]}
    assert current.sum() >= 50 and 5 <= len(stuck) <= 0.5 * current.sum()
    touched = a.filter(pc.greater(a.column("occurred_at"), pa.scalar(TODAY - dt.timedelta(30), pa.timestamp("us"))))
    recent = set(pc.drop_null(touched.column("opportunity_id")).to_pylist())
    assert len(stuck - recent) >= 3


def test_every_activity_type_and_cold_calls_per_lead(db: dict[str, pa.Table]) -> None:
    a, leads = db["activities"], db["leads"]
    assert set(pc.unique(a.column("type")).to_pylist()) == set(model.TABLES["activities"].column("type").enum or ())
    outbound = pc.sum(pc.equal(leads.column("channel"), "outbound")).as_py()
    unanswered = pc.and_(pc.is_null(a.column("lead_id")), pc.is_null(a.column("opportunity_id")))
    no_lead = a.filter(pc.and_(pc.equal(a.column("type"), "call"), unanswered))
    no_lead = no_lead.filter(pc.is_valid(no_lead.column("account_id")))
    # reference funnel: cold call -> lead 10%, so about ten calls per outbound lead
    assert 7 <= (no_lead.num_rows + outbound) / outbound <= 14


def test_marketing_and_planning_tables_make_sense(db: dict[str, pa.Table]) -> None:
    costs = db["costs"]
    assert set(pc.unique(costs.column("category")).to_pylist()) == {"marketing", "sales"}
    assert pc.min(costs.column("amount")).as_py() >= 0
    sales = costs.filter(pc.equal(costs.column("category"), "sales"))
    assert sales.column("channel").null_count > 0
    web = db["web_traffic"]
    assert pc.all(pc.greater_equal(web.column("visitors"), web.column("contacts"))).as_py()
    stats = db["campaign_stats"]
    assert pc.all(pc.greater_equal(stats.column("impressions"), stats.column("clicks"))).as_py()
    periods = db["targets"].column("period").to_pylist()
    assert all(re.fullmatch(r"\d{4}(-Q[1-4]|-\d{2})?", p) for p in periods)
    metrics = set(db["targets"]["metric"].to_pylist())
    assert {"revenue", "new_customers", "leads", "opportunities", "activities"} <= metrics
    assert set(pc.unique(db["targets"].column("scope")).to_pylist()) == {"company", "team", "rep"}
    fx = db["fx_rates"]
    assert set(pc.unique(fx.column("currency")).to_pylist()) == {"USD", "GBP"}
    currencies = set(pc.unique(db["opportunities"].column("currency")).to_pylist())
    assert currencies == {"EUR", "USD", "GBP"}
