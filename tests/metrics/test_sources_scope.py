"""A rep's scope and the filter ``rep`` give the same figures: the lookups that give a visible
record its attributes see past the scope (``store.lens.beyond_scope``), on DuckDB and PostgreSQL.

Hand-made store, figures counted by hand (2025-Q1, EUR):
- leads: L1 (S1, web, account X), L2 (S1, events, Y), L3 (A1, web, Z);
- opportunities: O1 (from L1, A1, X) won 100; O2 (from L2, A2, Y) won 200; O3 (no lead, A1, Y)
  won 50 after O2; O4 (from L3, A1, Z) open 70.

So S1's two leads both became opportunities (owned by others): conversion 100 %. A1's revenue is
150: 100 from the web (O1's lead is S1's) and 50 with no channel. A1 has one new customer (X, from
the web): Y's first win was A2's, so Y is A2's new customer (from events), not A1's.

Further down: whose target the figures are held against, every series running to the data's last
period, and a customer renewed through another rep's deal (cohorts, renewals, retention).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.store.lens import records_owner, with_lenses
from salespilot.store.scope import ScopeLens
from salespilot.store.slice import SliceLens

TABLES = {
    "reps": "rep_id,name,role,team\nS1,Sam,sdr,North\nA1,Ann,ae,North\nA2,Alan,ae,South\n",
    "accounts": "account_id,name\nX,Xeno\nY,Yak\nZ,Zed\n",
    "leads": (
        "lead_id,created_at,owner_id,channel,account_id\n"
        "L1,2025-01-05T09:00:00Z,S1,web,X\nL2,2025-01-10T09:00:00Z,S1,events,Y\n"
        "L3,2025-01-12T09:00:00Z,A1,web,Z\n"
    ),
    "opportunities": (
        "opportunity_id,created_at,lead_id,account_id,owner_id,amount,currency,closed_at,outcome\n"
        "O1,2025-01-20T09:00:00Z,L1,X,A1,100,EUR,2025-02-10T09:00:00Z,won\n"
        "O2,2025-01-21T09:00:00Z,L2,Y,A2,200,EUR,2025-02-15T09:00:00Z,won\n"
        "O3,2025-02-01T09:00:00Z,,Y,A1,50,EUR,2025-03-01T09:00:00Z,won\n"
        "O4,2025-02-02T09:00:00Z,L3,Z,A1,70,EUR,,open\n"
    ),
}
KPIS = ["leads", "lead_to_opportunity_rate", "revenue", "new_customers"]
PASSWORD = "correct horse battery"


@pytest.fixture
def ws(db_url: str, tmp_path: Path) -> Iterator[Workspace]:
    workspace = salespilot.open(db_url)
    for table, text in TABLES.items():
        path = tmp_path / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        assert workspace.import_file(path, table=table).rejected == 0, table
    yield workspace
    workspace.close()


def _values(rows: list[dict[str, Any]], by: str | None = None) -> dict[tuple[Any, ...], Any]:
    return {(r["kpi"], r[by] if by else None): r["value"] for r in rows if r["period"] == "2025-Q1"}


def _as(ws: Workspace, rep: str) -> Workspace:
    user = ws.add_user(f"{rep.lower()}@example.com", PASSWORD, "rep", rep_id=rep)
    return ws.for_user(user)


def test_lookups_see_past_the_scope(ws: Workspace) -> None:
    sam, ann, alan = _as(ws, "S1"), _as(ws, "A1"), _as(ws, "A2")
    q1 = {"grain": "quarter", "start": "2025-01-01", "end": "2025-03-31", "output": "rows"}
    sam_rows = _values(sam.kpi(KPIS, **q1))
    assert sam_rows[("leads", None)] == 2
    assert sam_rows[("lead_to_opportunity_rate", None)] == pytest.approx(1.0)  # into A1's and A2's deals
    ann_rows = _values(ann.kpi(KPIS, **q1))
    assert ann_rows[("revenue", None)] == pytest.approx(150.0)
    assert ann_rows[("new_customers", None)] == 1  # X; Y was won first by A2
    ann_channels = _values(ann.kpi(["revenue", "new_customers"], by="channel", **q1), "channel")
    assert ann_channels[("revenue", "web")] == pytest.approx(100.0)  # O1's lead is S1's
    assert ann_channels[("revenue", None)] == pytest.approx(50.0)
    assert ann_channels[("new_customers", "web")] == 1
    alan_channels = _values(alan.kpi(["new_customers"], by="channel", **q1), "channel")
    assert alan_channels == {("new_customers", "events"): 1}  # Y's first lead is S1's


@pytest.mark.parametrize("by", [None, "channel"])
def test_a_scope_gives_the_figures_of_the_rep_filter(ws: Workspace, by: str | None) -> None:
    q1: dict[str, Any] = {"grain": "quarter", "start": "2025-01-01", "end": "2025-03-31", "output": "rows"}
    if by:
        q1["by"] = by
    for rep in ("S1", "A1", "A2"):
        scoped = _values(_as(ws, rep).kpi(KPIS, **q1), by)
        filtered = _values(ws.kpi(KPIS, filters={"rep": rep}, **q1), by)
        assert scoped == filtered, rep


# -- targets: whose target the figures are held against -------------------------------------------
TARGETS = (
    "period,metric,value,scope,scope_id\n"
    "2025-Q1,revenue,1000,company,\n2025-Q1,revenue,300,rep,A1\n2025-Q1,revenue,500,team,North\n"
)


def _revenue_target(view: Workspace, **kwargs: Any) -> Any:
    rows = view.kpi("revenue", grain="quarter", start="2025-01-01", end="2025-03-31", output="rows", **kwargs)
    return {r.get("rep"): (r["value"], r.get("target"), r.get("attainment")) for r in rows}


def test_figures_are_held_against_their_owners_target(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text(TARGETS, encoding="utf-8")
    assert ws.import_file(path, table="targets").rejected == 0
    assert _revenue_target(ws) == {None: (350.0, 1000.0, 0.35)}  # the company's
    assert _revenue_target(ws, filters={"rep": "A1"}) == {None: (150.0, 300.0, 0.5)}  # A1's, not the company's
    assert _revenue_target(ws, filters={"team": "North"}) == {None: (150.0, 500.0, 0.3)}
    assert _revenue_target(ws, filters={"channel": "web"}) == {None: (100.0, None, None)}  # no channel targets
    assert _revenue_target(_as(ws, "A1")) == {None: (150.0, 300.0, 0.5)}  # a rep's own view: their target
    assert _revenue_target(_as(ws, "A2")) == {None: (200.0, None, None)}  # A2 has none: not the company's
    by_rep = _revenue_target(ws, by="rep")
    assert by_rep["A1"] == (150.0, 300.0, 0.5) and by_rep["A2"] == (200.0, None, None)
    assert _revenue_target(ws, by="rep", filters={"channel": "web"})["A1"] == (100.0, None, None)


def test_whose_records_a_lens_shows() -> None:
    def owner(*lenses: Any) -> Any:
        return records_owner(with_lenses(object(), *lenses))

    assert records_owner(object()) == ("company", None)
    assert owner(ScopeLens(frozenset({"A1"}))) == ("rep", "A1")
    assert owner(ScopeLens(frozenset({"A1", "A2"}), frozenset({"North"}))) == ("team", "North")
    assert owner(ScopeLens(frozenset({"M1", "A1"}))) is None  # a manager with no team: no one's target
    assert owner(SliceLens(team="North")) == ("team", "North")
    assert owner(SliceLens(channel="web")) is None
    assert owner(ScopeLens(frozenset({"A1", "A2"}), frozenset({"North"})), SliceLens(rep="A1")) == ("rep", "A1")


# -- every series runs to the data's last period ----------------------------------------------------
def test_a_month_with_no_new_customer_is_a_zero_not_a_shorter_series(ws: Workspace) -> None:
    # The data ends 2025-03-01 (O3's close). In March nobody became a customer (O3 is Y's second
    # win) but there was one signature: both series end in March, new customers with a 0.
    rows = ws.kpi(["new_customers", "signatures", "win_rate"], grain="month", output="rows")
    series = {k: [(r["period"], r["value"]) for r in rows if r["kpi"] == k] for k in ("new_customers", "signatures")}
    assert series["new_customers"][-2:] == [("2025-02", 2), ("2025-03", 0)]
    assert series["signatures"][-2:] == [("2025-02", 2), ("2025-03", 1)]
    assert [r["period"] for r in rows if r["kpi"] == "win_rate"][-1] == "2025-03"


# -- a cohort's customers stay customers whoever renews them ------------------------------------------
RENEWED = {
    **TABLES,
    "opportunities": TABLES["opportunities"] + "O5,2025-05-01T09:00:00Z,,X,A2,80,EUR,2025-05-20T09:00:00Z,won\n",
    "contracts": (
        "contract_id,account_id,start_date,end_date,value,opportunity_id,renews_contract_id\n"
        "C1,X,2025-02-10,2025-05-31,100,O1,\nC2,X,2025-06-01,2026-05-31,80,O5,C1\n"
    ),
    "activities": "activity_id,rep_id,type,occurred_at\nZ1,A1,call,2025-09-30T12:00:00Z\n",  # data to Q3
}


def test_a_cohort_customer_renewed_through_another_reps_deal_is_still_active(db_url: str, tmp_path: Path) -> None:
    """X is A1's customer (2025-Q1 cohort); C2, its renewal from June, came through A2's deal O5."""
    with salespilot.open(db_url) as ws:
        for table, text in RENEWED.items():
            path = tmp_path / f"{table}.csv"
            path.write_text(text, encoding="utf-8")
            assert ws.import_file(path, table=table).rejected == 0, table
        rows = _as(ws, "A1").kpi("cohort_retention", grain="quarter", output="rows")
        q1 = {r["periods_since"]: (r["cohort_size"], r["active"]) for r in rows if r["period"] == "2025-Q1"}
        assert q1[0] == (1, 1)  # C1, A1's own contract
        assert q1[1] == (1, 1) and q1[2] == (1, 1)  # C2: not in A1's scope, and X is still a customer


def test_renewals_and_retention_see_a_renewal_through_another_reps_deal(db_url: str, tmp_path: Path) -> None:
    """C1 (A1's, ends 2025-05-31) is renewed by C2 (through A2's O5, from 2025-06-01, links C1)."""
    with salespilot.open(db_url) as ws:
        for table, text in RENEWED.items():
            path = tmp_path / f"{table}.csv"
            path.write_text(text, encoding="utf-8")
            assert ws.import_file(path, table=table).rejected == 0, table
        names = ["renewal_rate", "logo_retention"]
        for view in (ws, _as(ws, "A1")):
            rows = view.kpi(names, grain="quarter", start="2025-04-01", end="2025-09-30", output="rows")
            got = {(r["kpi"], r["period"]): (r["numerator"], r["denominator"]) for r in rows}
            assert got[("renewal_rate", "2025-Q2")] == (1, 1)  # C1 ended in Q2 and was renewed
            assert got[("logo_retention", "2025-Q2")] == (1, 1)  # X: C1 on April 1st, C2 on June 30th
            assert got[("logo_retention", "2025-Q3")] == (1, 1)  # X through C2 all along
        alan = _as(ws, "A2").kpi(names, grain="quarter", start="2025-04-01", end="2025-09-30", output="rows")
        alans = {(r["kpi"], r["period"]): (r["numerator"], r["denominator"]) for r in alan}
        assert alans[("logo_retention", "2025-Q3")] == (1, 1)  # X is A2's account too, through C2
        assert alans[("logo_retention", "2025-Q2")] == (1, 1)  # measured on all of X's contracts


def test_a_cohorts_profit_counts_its_customers_wins_whoever_won_them(ws: Workspace) -> None:
    """2025-Q1 cohorts: X (first win O1, A1's) and Y (first win O2, A2's). Y's O3 (50) was won by A1
    but Y is A2's customer: A2's cohort earned 200 + 50, A1's 100; the company's 350 (no costs)."""
    q1 = {"grain": "quarter", "start": "2025-01-01", "end": "2025-03-31", "output": "rows"}

    def revenue(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
        first = next(r for r in rows if r["period"] == "2025-Q1" and r["periods_since"] == 0)
        return first["cohort_size"], first["revenue"], first["value"]

    assert revenue(ws.kpi("cohort_profitability", **q1)) == (2, 350, 350)
    assert revenue(_as(ws, "A2").kpi("cohort_profitability", **q1)) == (1, 250, 250)
    assert revenue(_as(ws, "A1").kpi("cohort_profitability", **q1)) == (1, 100, 100)
