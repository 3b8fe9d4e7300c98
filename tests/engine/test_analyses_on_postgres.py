"""The funnel, the planner, the pipeline and the losses read the store through the same query
layer on every backend: the small demo company loaded on DuckDB and on a real PostgreSQL server
gives the same figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.store.scope import ScopeLens


def _figures(ws: Workspace) -> dict[str, Any]:
    durations = ws.stage_durations()
    stuck = ws.stuck_deals()
    scoped = ws.lensed(ScopeLens({sorted(str(r["owner"]) for r in stuck)[0]}))  # one rep: peers beyond their scope
    return {
        "stuck_in_scope": scoped.stuck_deals(),
        "cards_in_scope": scoped.reps(grain="month")["reps"],
        "gaps_in_scope": scoped.rep_gaps()["reps"],
        "funnel": ws.funnel(grain="quarter", stages=True),
        "plan_measured": ws.plan(calls=1000, rates="measured"),
        "plan_per_rep": ws.plan(team=True, rates="per-rep"),
        "durations": durations.as_rows(),
        "stuck": ws.stuck_deals(percentile=75),
        "stuck_by_rep": ws.stuck_deals(by="rep"),
        "losses": ws.losses(by="reason", grain="quarter"),
        "losses_by_competitor": ws.losses(by="competitor", grain="all"),
        "qualification": ws.qualification(grain="quarter"),
    }


def _normal(value: Any) -> Any:
    """Comparable: floats to 9 significant digits, dataclasses and dates as text via JSON."""
    text = json.dumps(value, default=lambda o: getattr(o, "__dict__", str(o)), sort_keys=True)
    return json.loads(text, parse_float=lambda s: float(f"{float(s):.9g}"))


def test_duckdb_and_postgresql_agree(tmp_path: Path, new_postgres_db: Callable[[], str]) -> None:
    figures = []
    for target in (str(tmp_path / "demo.duckdb"), new_postgres_db()):
        with salespilot.open(target) as ws:
            ws.demo("small")
            figures.append(_figures(ws))
    duck, pg = (_normal(f) for f in figures)
    assert duck["funnel"] and duck["durations"][0]["n"] > 0 and duck["stuck"]
    assert duck["losses"] and duck["qualification"]
    assert duck["stuck_in_scope"] and {c["peers"] for c in duck["cards_in_scope"]} != {1}
    for name in duck:
        assert pg[name] == duck[name], name
