"""ScopeLens: what a rep or a manager sees, table by table, and the KPIs through it, on DuckDB
and PostgreSQL. The expected rows and figures are counted by hand from the store below, and on
the demo company computed with plain SQL and pandas on the unscoped store.

Hand-made store (UTC, base currency EUR, USD worth 0.5 EUR):
reps: team North A1, A2, S1 (A1 and A2 report to M1); team South A3, A4 (report to M2).
opportunities: O1 (A1, account X1) won 2026-01-20 1,000 EUR; O2 (A1, X1) lost; O3 (A2, X2) won
2026-02-10 2,000 USD = 1,000 EUR; O4 (A3, X4) won 3,000 EUR; O5 (A4, X4) open.
leads: L1 L2 (S1, account X3), L3 (A3). stage changes: two for O1, one for O3, one for O4.
contracts: C1 (O1), C2 (O4), C3 (renews C2, no opportunity, account X4), C4 (no opportunity, X9).
targets: company revenue; rep A1; rep A3; team North; team South. costs: two rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import salespilot
from salespilot.engine import access
from salespilot.engine.access import User
from salespilot.engine.workspace import Workspace
from salespilot.store.query import ibis_backend
from salespilot.store.scope import ScopeLens

TABLES = {
    "reps": (
        "rep_id,name,role,team,manager_id\n"
        "M1,Max,manager,,\nM2,Mia,manager,,\n"
        "A1,Ann,ae,North,M1\nA2,Alan,ae,North,M1\nS1,Sam,sdr,North,\nA3,Ava,ae,South,M2\nA4,Abe,ae,South,M2\n"
    ),
    "accounts": "account_id,name\nX1,Acme\nX2,Bolt\nX3,Cove\nX4,Dune\nX9,Zeta\n",
    "activities": "activity_id,rep_id,type,occurred_at\n"
    + "".join(f"a1-{i},A1,call,2026-01-{2 + i:02d}T10:00:00Z\n" for i in range(7))
    + "".join(f"a2-{i},A2,meeting,2026-01-{2 + i:02d}T11:00:00Z\n" for i in range(3))
    + "".join(f"s1-{i},S1,call,2026-01-{2 + i:02d}T09:00:00Z\n" for i in range(4))
    + "".join(f"a3-{i},A3,demo,2026-01-{2 + i:02d}T11:00:00Z\n" for i in range(2)),
    "leads": (
        "lead_id,created_at,owner_id,account_id\n"
        "L1,2026-01-03T09:00:00Z,S1,X3\nL2,2026-01-04T09:00:00Z,S1,X3\nL3,2026-01-05T09:00:00Z,A3,\n"
    ),
    "opportunities": (
        "opportunity_id,created_at,account_id,owner_id,amount,currency,closed_at,outcome\n"
        "O1,2026-01-05T09:00:00Z,X1,A1,1000,EUR,2026-01-20T09:00:00Z,won\n"
        "O2,2026-01-06T09:00:00Z,X1,A1,500,EUR,2026-01-25T09:00:00Z,lost\n"
        "O3,2026-01-07T09:00:00Z,X2,A2,2000,USD,2026-02-10T09:00:00Z,won\n"
        "O4,2026-01-08T09:00:00Z,X4,A3,3000,EUR,2026-01-28T09:00:00Z,won\n"
        "O5,2026-01-09T09:00:00Z,X4,A4,700,EUR,,open\n"
    ),
    "stage_changes": (
        "opportunity_id,stage,entered_at\n"
        "O1,discovery,2026-01-05T09:00:00Z\nO1,proposal,2026-01-10T09:00:00Z\n"
        "O3,discovery,2026-01-07T09:00:00Z\nO4,discovery,2026-01-08T09:00:00Z\n"
    ),
    "contracts": (
        "contract_id,account_id,start_date,end_date,value,opportunity_id,renews_contract_id\n"
        "C1,X1,2026-01-20,2027-01-19,1000,O1,\nC2,X4,2026-01-28,2026-02-05,3000,O4,\n"
        "C3,X4,2026-02-06,2027-02-05,3000,,C2\nC4,X9,2026-01-01,2026-12-31,900,,\n"
    ),
    "fx_rates": "date,currency,rate_to_base\n2025-12-01,USD,0.5\n",
    "targets": (
        "period,metric,value,scope,scope_id\n2026-01,revenue,9000,company,\n2026-01,revenue,2000,rep,A1\n"
        "2026-01,revenue,3000,rep,A3\n2026-01,revenue,4000,team,North\n2026-01,revenue,5000,team,South\n"
    ),
    "costs": "period_start,amount,category\n2026-01-01,800,marketing\n2026-02-01,600,sales\n",
}
KEYS = {
    "opportunities": "opportunity_id",
    "leads": "lead_id",
    "activities": "activity_id",
    "reps": "rep_id",
    "accounts": "account_id",
    "contracts": "contract_id",
    "costs": "period_start",
    "fx_rates": "currency",
}


@pytest.fixture
def hand_ws(db_url: str, tmp_path: Path) -> Iterator[Workspace]:
    ws = salespilot.open(db_url)
    for table, text in TABLES.items():
        path = tmp_path / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        result = ws.import_file(path, table=table)
        assert result.rejected == 0, (table, result.rejects)
    yield ws
    ws.close()


def seen(ws: Workspace, lens: ScopeLens | None, table: str) -> set[str]:
    view = ws.lensed(lens) if lens is not None else ws
    t = ibis_backend(view.store).table(table)
    if table == "stage_changes":
        return {f"{r['opportunity_id']}/{r['stage']}" for r in t.to_pyarrow().to_pylist()}
    if table == "targets":
        return {f"{r['scope']}:{r['scope_id'] or ''}" for r in t.to_pyarrow().to_pylist()}
    return {str(v) for v in t[KEYS[table]].to_pyarrow().to_pylist()}


def kpi_value(ws: Workspace, name: str) -> float | None:
    rows = ws.kpi(name, grain="all", output="rows")
    return rows[0]["value"] if rows else None


def test_a_rep_sees_only_their_records(hand_ws: Workspace) -> None:
    a1 = ScopeLens(frozenset({"A1"}))
    assert seen(hand_ws, a1, "opportunities") == {"O1", "O2"}
    assert seen(hand_ws, a1, "leads") == set()
    assert seen(hand_ws, a1, "activities") == {f"a1-{i}" for i in range(7)}
    assert seen(hand_ws, a1, "stage_changes") == {"O1/discovery", "O1/proposal"}
    assert seen(hand_ws, a1, "reps") == {"A1"}
    assert seen(hand_ws, a1, "accounts") == {"X1"}
    assert seen(hand_ws, a1, "contracts") == {"C1"}
    assert seen(hand_ws, a1, "targets") == {"company:", "rep:A1"}  # not A3's, not the team's
    assert seen(hand_ws, a1, "costs") == set()
    assert seen(hand_ws, a1, "fx_rates") == {"USD"}  # the market's, not anyone's

    s1 = ScopeLens(frozenset({"S1"}))
    assert seen(hand_ws, s1, "leads") == {"L1", "L2"}
    assert seen(hand_ws, s1, "accounts") == {"X3"}  # through their leads
    assert seen(hand_ws, s1, "opportunities") == set()
    assert seen(hand_ws, s1, "contracts") == set()


def test_contracts_without_an_opportunity_follow_their_account(hand_ws: Workspace) -> None:
    # C3 renews C2 outside the pipeline: whoever sees account X4 sees it; C4's account is nobody's.
    assert seen(hand_ws, ScopeLens(frozenset({"A3"})), "contracts") == {"C2", "C3"}
    assert seen(hand_ws, ScopeLens(frozenset({"A4"})), "contracts") == {"C3"}
    assert seen(hand_ws, None, "contracts") == {"C1", "C2", "C3", "C4"}


def test_a_manager_sees_their_team(hand_ws: Workspace) -> None:
    north = hand_ws.add_user("north@example.com", "a long password", "manager", team="North")
    m2 = hand_ws.add_user("mia@example.com", "a long password", "manager", rep_id="M2")
    lens = access.scope_lens(hand_ws.store, north)
    assert lens is not None
    assert seen(hand_ws, lens, "reps") == {"A1", "A2", "S1"}
    assert seen(hand_ws, lens, "opportunities") == {"O1", "O2", "O3"}
    assert seen(hand_ws, lens, "leads") == {"L1", "L2"}
    assert seen(hand_ws, lens, "stage_changes") == {"O1/discovery", "O1/proposal", "O3/discovery"}
    assert seen(hand_ws, lens, "accounts") == {"X1", "X2", "X3"}
    assert seen(hand_ws, lens, "contracts") == {"C1"}
    assert seen(hand_ws, lens, "targets") == {"company:", "rep:A1", "team:North"}
    assert seen(hand_ws, lens, "costs") == set()
    # M2 has no team: the reps who report to them, and themselves.
    lens2 = access.scope_lens(hand_ws.store, m2)
    assert lens2 == ScopeLens(frozenset({"M2", "A3", "A4"}))
    assert seen(hand_ws, lens2, "opportunities") == {"O4", "O5"}
    assert seen(hand_ws, lens2, "targets") == {"company:", "rep:A3"}


def test_an_empty_scope_shows_nothing(hand_ws: Workspace) -> None:
    nobody = ScopeLens(frozenset(), frozenset({"Gone"}))
    for table in ("opportunities", "leads", "activities", "stage_changes", "reps", "accounts", "contracts", "costs"):
        assert seen(hand_ws, nobody, table) == set(), table
    assert seen(hand_ws, nobody, "targets") == {"company:"}
    view = hand_ws.lensed(nobody)
    assert kpi_value(view, "revenue") in (None, 0)
    assert kpi_value(view, "activities") in (None, 0)


def test_kpis_through_the_scope_are_the_hand_counted_ones(hand_ws: Workspace) -> None:
    assert kpi_value(hand_ws, "revenue") == pytest.approx(5000.0)  # 1,000 + 1,000 + 3,000
    a1 = hand_ws.for_user(User(1, "a@example.com", None, "rep", "A1", None, "en"))
    assert kpi_value(a1, "revenue") == pytest.approx(1000.0)
    assert kpi_value(a1, "signatures") == 1
    assert kpi_value(a1, "opportunities") == 2
    assert kpi_value(a1, "activities") == 7
    # costs are not a rep's records: no value, with the reason, never a 0 (nor a CAC of 0)
    assert kpi_value(hand_ws, "costs") == pytest.approx(1400.0)
    for name in ("costs", "cac"):
        rows = a1.kpi(name, grain="month", start="2026-01-01", end="2026-02-28", output="rows")
        assert [r["period"] for r in rows] == ["2026-01", "2026-02"], name
        assert all(r["value"] is None and "company spend" in r["reason"] for r in rows), name
    a2 = hand_ws.for_user(User(2, "b@example.com", None, "rep", "A2", None, "en"))
    assert kpi_value(a2, "revenue") == pytest.approx(1000.0)  # 2,000 USD at 0.5
    north = hand_ws.for_user(User(3, "n@example.com", None, "manager", None, "North", "en"))
    assert kpi_value(north, "revenue") == pytest.approx(2000.0)
    assert kpi_value(north, "activities") == 7 + 3 + 4
    assert kpi_value(north, "leads") == 2
    by_rep = {r["rep"]: r["value"] for r in north.kpi("revenue", grain="all", by="rep", output="rows")}
    assert by_rep == {"A1": pytest.approx(1000.0), "A2": pytest.approx(1000.0)}
    viewer = hand_ws.for_user(User(4, "v@example.com", None, "viewer", None, None, "en"))
    assert kpi_value(viewer, "revenue") == pytest.approx(5000.0)


@pytest.fixture
def demo_ws(db_url: str) -> Iterator[Workspace]:
    ws = salespilot.open(db_url)
    ws.demo("small", seed=7)
    yield ws
    ws.close()


def _frame(ws: Workspace, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    frame: pd.DataFrame = ws.sql(sql, params).to_pandas()
    return frame


def _revenue(ws: Workspace, reps: set[str]) -> float:
    """Won amounts of ``reps`` in EUR, each at the latest rate on or before its close date (UTC),
    computed in pandas on the unscoped store."""
    won = _frame(ws, "SELECT owner_id, amount, currency, closed_at FROM opportunities WHERE outcome = 'won'")
    won = won[won.owner_id.isin(sorted(reps)) & won.amount.notna() & won.closed_at.notna()].copy()
    won["day"] = pd.to_datetime(won.closed_at).dt.normalize().astype("datetime64[ns]")
    fx = _frame(ws, "SELECT date, currency, rate_to_base FROM fx_rates")
    fx["day"] = pd.to_datetime(fx.date).astype("datetime64[ns]")
    parts = [won[won.currency.str.upper() == "EUR"].assign(rate=1.0)]
    for currency, group in won[won.currency.str.upper() != "EUR"].groupby("currency"):
        rates = fx[fx.currency == currency].sort_values("day")[["day", "rate_to_base"]]
        joined = pd.merge_asof(group.sort_values("day"), rates, on="day", direction="backward")
        parts.append(joined.assign(rate=joined.rate_to_base))
    allwon = pd.concat(parts)
    return float((allwon.amount * allwon.rate).sum())


def test_demo_kpis_of_a_rep_and_a_manager_match_plain_sql(demo_ws: Workspace) -> None:
    reps = _frame(demo_ws, "SELECT rep_id, team, manager_id, role FROM reps")
    ae = str(reps[reps.role == "ae"].rep_id.sort_values().iloc[0])
    rep_view = demo_ws.for_user(User(1, "ae@example.com", None, "rep", ae, None, "en"))
    opps = _frame(demo_ws, "SELECT owner_id, outcome, closed_at FROM opportunities")
    mine = opps[opps.owner_id == ae]
    assert len(mine) > 10  # the test means something
    assert kpi_value(rep_view, "opportunities") == len(mine)
    assert kpi_value(rep_view, "signatures") == int(((mine.outcome == "won") & mine.closed_at.notna()).sum())
    activities = _frame(demo_ws, "SELECT rep_id FROM activities")
    assert kpi_value(rep_view, "activities") == int((activities.rep_id == ae).sum())
    assert kpi_value(rep_view, "revenue") == pytest.approx(_revenue(demo_ws, {ae}), rel=1e-9)
    assert seen(demo_ws, ScopeLens(frozenset({ae})), "costs") == set()

    # A manager with a rep id: their team, who reports to them, and themselves.
    manager = reps[(reps.role == "manager") & reps.team.notna()].sort_values("rep_id").iloc[0]
    expected = set(reps[(reps.team == manager.team) | (reps.manager_id == manager.rep_id)].rep_id) | {manager.rep_id}
    user = demo_ws.add_user("boss@example.com", "a long password", "manager", rep_id=str(manager.rep_id))
    lens = access.scope_lens(demo_ws.store, user)
    assert lens is not None and lens.rep_ids == expected
    team_view = demo_ws.for_user(user)
    assert seen(demo_ws, lens, "reps") == expected
    assert kpi_value(team_view, "opportunities") == int(opps.owner_id.isin(sorted(expected)).sum())
    assert kpi_value(team_view, "revenue") == pytest.approx(_revenue(demo_ws, expected), rel=1e-9)
    # Company targets stay visible to a scope, other teams' do not.
    targets = seen(demo_ws, lens, "targets")
    assert "company:" in targets
    assert {t for t in targets if t.startswith("team:")} <= {f"team:{manager.team}"}
    assert {t for t in targets if t.startswith("rep:")} <= {f"rep:{r}" for r in expected}
