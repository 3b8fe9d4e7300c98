"""The store as of a date (``Workspace.as_of``) equals a store rebuilt from the exports as they
stood on that date, on DuckDB and on PostgreSQL; and on the demo company, every closed period's
KPIs are the same as of a later date as today."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import write

import salespilot
from salespilot.engine import pipeline
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

# Today's exports. As of 2026-01-31: O1 was open in stage b at 900 (its stage change of 01-20
# says so), O2 already lost, O3 not created; L2 and the 02-03 activity not there yet.
TODAY = {
    "leads": "lead_id,created_at\nL1,2026-01-03T09:00:00Z\nL2,2026-02-02T09:00:00Z\n",
    "opportunities": (
        "opportunity_id,created_at,lead_id,owner_id,stage,amount,currency,closed_at,outcome,loss_reason\n"
        "O1,2026-01-05T09:00:00Z,L1,R1,b,1000,EUR,2026-02-10T09:00:00Z,won,\n"
        "O2,2026-01-10T09:00:00Z,,R1,a,500,EUR,2026-01-25T09:00:00Z,lost,budget\n"
        "O3,2026-02-05T09:00:00Z,L2,R2,a,700,EUR,,open,\n"
    ),
    "stage_changes": (
        "opportunity_id,stage,entered_at,amount\n"
        "O1,a,2026-01-05T09:00:00Z,800\nO1,b,2026-01-20T09:00:00Z,900\n"
        "O2,a,2026-01-10T09:00:00Z,500\nO3,a,2026-02-05T09:00:00Z,700\n"
    ),
    "activities": (
        "activity_id,rep_id,type,occurred_at,opportunity_id\n"
        "A,R1,call,2026-01-15T09:00:00Z,O1\nB,R2,call,2026-02-03T09:00:00Z,O3\n"
    ),
}
CUT = {
    "leads": "lead_id,created_at\nL1,2026-01-03T09:00:00Z\n",
    "opportunities": (
        "opportunity_id,created_at,lead_id,owner_id,stage,amount,currency,closed_at,outcome,loss_reason\n"
        "O1,2026-01-05T09:00:00Z,L1,R1,b,900,EUR,,open,\n"
        "O2,2026-01-10T09:00:00Z,,R1,a,500,EUR,2026-01-25T09:00:00Z,lost,budget\n"
    ),
    "stage_changes": (
        "opportunity_id,stage,entered_at,amount\n"
        "O1,a,2026-01-05T09:00:00Z,800\nO1,b,2026-01-20T09:00:00Z,900\nO2,a,2026-01-10T09:00:00Z,500\n"
    ),
    "activities": "activity_id,rep_id,type,occurred_at,opportunity_id\nA,R1,call,2026-01-15T09:00:00Z,O1\n",
}
KPIS = ["leads", "opportunities", "signatures", "revenue", "win_rate", "activities", "lead_to_opportunity_rate"]


def _load(target: str, tables: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with salespilot.open(target) as ws:
        for table, text in tables.items():
            result = ws.import_file(write(folder / f"{table}.csv", text), table=table)
            assert result.rejected == 0, (table, result.rejects)


def _figures(ws: Workspace) -> dict[str, Any]:
    rows = ws.kpi(KPIS, grain="month", output="rows")
    kpis = {
        (r["kpi"], r["period"]): (r.get("value"), r.get("numerator"), r.get("denominator"))
        for r in rows
        if r["period"] <= "2026-01"
    }
    data = pipeline.load(ws.store, "EUR")
    deals = {k: (d.outcome, d.stage, d.value, d.closed_at) for k, d in data.deals.items()}
    funnel = [(s.step, s.volume) for p in ws.funnel(grain="all", steps="lead,opportunity,signature") for s in p.steps]
    return {"kpis": kpis, "deals": deals, "entries": sorted(data.entries), "funnel": funnel}


def test_as_of_equals_the_store_rebuilt_from_the_exports_of_that_day(new_db: Callable[[], str], tmp_path: Path) -> None:
    today, cut = new_db(), new_db()
    _load(today, TODAY, tmp_path / "today")
    _load(cut, CUT, tmp_path / "cut")
    with salespilot.open(today) as ws, salespilot.open(cut) as rebuilt:
        past = _figures(ws.as_of("2026-01-31"))
        assert past == _figures(rebuilt)
        assert past["deals"]["O1"][:3] == ("open", "b", 900.0) and "O3" not in past["deals"]
        assert _figures(ws)["deals"]["O1"][:3] == ("won", "b", 1000.0)  # today's store is untouched
        assert ws.as_of("2026-01-31").stuck_deals(idle_days=5)[0]["opportunity_id"] == "O1"


def test_as_of_a_day_in_the_workspace_time_zone(tmp_path: Path) -> None:
    """O2 closed 2026-01-25 09:00 UTC; in Auckland (UTC+13) that is 22:00 on the 25th: as of the
    24th it is open there, as of the 25th closed."""
    db = str(tmp_path / "tz.duckdb")
    _load(db, TODAY, tmp_path / "files")
    with salespilot.open(db) as ws:
        ws.set_setting("timezone", "Pacific/Auckland")
        assert pipeline.load(ws.as_of("2026-01-24").store, "EUR").deals["O2"].outcome == "open"
        assert pipeline.load(ws.as_of("2026-01-25").store, "EUR").deals["O2"].outcome == "lost"
        with pytest.raises(ParameterError, match='--as-of "yesterday" is not a date'):
            ws.as_of("yesterday")


def test_closed_periods_are_the_same_as_of_later_dates(tmp_path: Path) -> None:
    with salespilot.open(tmp_path / "demo.duckdb") as ws:
        ws.demo("small")
        names = ["revenue", "signatures", "opportunities", "leads", "win_rate", "costs"]
        full = {(r["kpi"], r["period"]): r["value"] for r in ws.kpi(names, grain="quarter", output="rows")}
        past = ws.as_of("2025-12-31").kpi(names, grain="quarter", output="rows")
        assert past
        for r in past:
            if r["period"] <= "2025-Q4":
                assert r["value"] == pytest.approx(full[(r["kpi"], r["period"])]), (r["kpi"], r["period"])
        assert all(r["period"] <= "2025-Q4" or not r["value"] for r in past)


def test_pipeline_movement_between_two_dates(tmp_path: Path) -> None:
    """01-15 -> 01-31: O1 went from a (800) to b (900): advanced, amount +100; O2 was lost.
    01-31 -> 02-28: O1 won, O3 created."""
    db = str(tmp_path / "moves.duckdb")
    _load(db, TODAY, tmp_path / "files")
    with salespilot.open(db) as ws:
        january = ws.pipeline_movement("2026-01-15", "2026-01-31")
        february = ws.pipeline_movement("2026-01-31", "2026-02-28")
        with pytest.raises(ParameterError, match="before"):
            ws.pipeline_movement("2026-02-28", "2026-01-31")
    moves = {r["opportunity_id"]: r["moves"] for r in january["deals"]}
    assert moves == {"O1": ["advanced", "amount_up"], "O2": ["lost"]}
    summary = {r["move"]: r for r in january["summary"]}
    assert summary["amount_up"]["amount_change"] == 100 and summary["lost"]["value"] == 500
    assert {r["opportunity_id"]: r["moves"] for r in february["deals"]} == {"O1": ["won"], "O3": ["created"]}


EXPORT_JAN = (
    "opportunity_id,created_at,owner_id,stage,amount,currency,expected_close_date,closed_at,outcome\n"
    "E1,2026-01-05T09:00:00Z,R1,demo,1000,EUR,2026-02-15,,open\n"
)
EXPORT_FEB = (  # the same deal a month on: a bigger amount, pushed, still in demo
    "opportunity_id,created_at,owner_id,stage,amount,currency,expected_close_date,closed_at,outcome\n"
    "E1,2026-01-05T09:00:00Z,R1,demo,1500,EUR,2026-03-31,,open\n"
)
EXPORT_MAR = (  # won
    "opportunity_id,created_at,owner_id,stage,amount,currency,expected_close_date,closed_at,outcome\n"
    "E1,2026-01-05T09:00:00Z,R1,demo,1400,EUR,2026-03-31,2026-03-20T10:00:00Z,won\n"
)


def test_successive_exports_build_the_history(new_db: Callable[[], str], tmp_path: Path) -> None:
    """Three monthly exports of one deal, imported in order with their export dates: as of each
    date the deal shows that export's amount and expected close date; its time in stage is one
    spell (an amount change is no new stage), and the movement between exports says what changed."""
    db = new_db()
    with salespilot.open(db) as ws:
        for day, text in (("2026-01-31", EXPORT_JAN), ("2026-02-28", EXPORT_FEB), ("2026-03-31", EXPORT_MAR)):
            result = ws.import_file(write(tmp_path / f"{day}.csv", text), table="opportunities", exported_at=day)
            assert result.rejected == 0
        seen = {}
        for day in ("2026-02-10", "2026-03-10", "2026-03-25"):
            deal = pipeline.load(ws.as_of(day).store, "EUR").deals["E1"]
            seen[day] = (deal.outcome, deal.value, deal.expected_close_date)
        moves = {r["opportunity_id"]: r["moves"] for r in ws.pipeline_movement("2026-02-10", "2026-03-10")["deals"]}
        durations = ws.stage_durations()
        with pytest.raises(ParameterError, match='--exported-at "end of March"'):
            ws.import_file(write(tmp_path / "x.csv", EXPORT_MAR), table="opportunities", exported_at="end of March")
    import datetime as dt

    assert seen["2026-02-10"] == ("open", 1000.0, dt.date(2026, 2, 15))
    assert seen["2026-03-10"] == ("open", 1500.0, dt.date(2026, 3, 31))
    assert seen["2026-03-25"] == ("won", 1400.0, dt.date(2026, 3, 31))
    assert moves == {"E1": ["pushed", "amount_up"]}
    # One stay in demo from the first recorded change (the snapshot is a state, not an entry).
    assert [(r["stage"], r["n"], r["events"]) for r in durations.stages] == [("demo", 1, 1)]
