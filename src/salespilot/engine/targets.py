"""Targets: set one, list them, and suggest them per role from the measured top quartile
(docs/team.md). A target is written through the importer, so it is validated, merged on its
natural key (period, metric, scope, scope_id) and recorded as an import like any file."""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salespilot.analytics.team import ROLES, percentile
from salespilot.engine import team as team_engine
from salespilot.errors import ParameterError, did_you_mean
from salespilot.ingest.parse import PERIOD
from salespilot.metrics.catalogue import load_catalogue
from salespilot.model import TargetScope
from salespilot.store.query import ibis_backend

if TYPE_CHECKING:
    from salespilot.engine.importing import ImportResult
    from salespilot.engine.workspace import Workspace

# What ``suggest`` proposes per role: measures a rep of that role drives, all KPIs of the catalogue.
SUGGESTED = {
    "sdr": ("activities", "leads", "lead_to_opportunity_rate"),
    "ae": ("activities", "opportunities", "signatures", "revenue", "win_rate"),
    "am": ("activities", "signatures", "revenue", "win_rate"),
}
SCOPES = tuple(s.value for s in TargetScope)


def _check_metric(metric: str, names: list[str]) -> None:
    if metric not in names:
        raise ParameterError(
            f'"{metric}" is not a KPI of the catalogue.{did_you_mean(metric, names)} '
            "A target's metric is a KPI name (salespilot kpi --list)."
        )


def _check_period(period: str) -> None:
    if not re.match(PERIOD, period):
        raise ParameterError(
            f'--period "{period}" is not a period: use 2026-07, 2026-Q3, 2026, 2026-W27, FY2026 or FY2026-Q1.'
        )


def _scope_ids(ws: Workspace, scope: str) -> set[str]:
    reps = ibis_backend(ws.store).table("reps").select("rep_id", "team").to_pyarrow().to_pylist()
    column = "rep_id" if scope == "rep" else "team"
    return {str(r[column]) for r in reps if r[column] is not None}


def set_targets(ws: Workspace, rows: list[dict[str, Any]], label: str) -> ImportResult:
    """Write target rows (period, metric, value, scope, scope_id), checked first, in one import."""
    names = load_catalogue().names()
    known: dict[str, set[str]] = {}  # per scope, its ids in the reps table (read once)
    for row in rows:
        _check_metric(str(row["metric"]), names)
        _check_period(str(row["period"]))
        scope = row.get("scope") or "company"
        if scope not in SCOPES:
            raise ParameterError(f'The scope "{scope}" must be one of {", ".join(SCOPES)}.')
        if scope == "company" and row.get("scope_id"):
            raise ParameterError("A company target takes no --rep or --team.")
        if scope != "company":
            if scope not in known:
                known[scope] = _scope_ids(ws, scope)
            if row.get("scope_id") not in known[scope]:
                what = "rep id" if scope == "rep" else "team"
                raise ParameterError(
                    f'"{row.get("scope_id")}" is not a {what} of the reps table.'
                    f"{did_you_mean(str(row.get('scope_id')), sorted(known[scope]))}"
                )
        value = row["value"]
        if not isinstance(value, int | float) or value < 0:
            raise ParameterError(f"A target's value must be a number of 0 or more (got {value}).")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{label}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["period", "metric", "value", "scope", "scope_id"])
            for row in rows:
                scope = row.get("scope") or "company"
                writer.writerow(
                    [row["period"], row["metric"], repr(float(row["value"])), scope, row.get("scope_id") or ""]
                )
        return ws.import_file(path, table="targets")


def list_targets(
    ws: Workspace, period: str | None = None, metric: str | None = None, scope: str | None = None
) -> list[dict[str, Any]]:
    t = ibis_backend(ws.store).table("targets")
    if period is not None:
        t = t.filter(t.period == period)
    if metric is not None:
        t = t.filter(t.metric == metric)
    if scope is not None:
        if scope not in SCOPES:
            raise ParameterError(f'--scope "{scope}" must be one of {", ".join(SCOPES)}.')
        t = t.filter(t.scope == scope)
    rows = t.select("period", "metric", "value", "scope", "scope_id").to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: (r["period"], r["scope"], str(r["scope_id"] or ""), r["metric"]))


def suggest(
    ws: Workspace,
    role: str | None = None,
    top: float = 75,
    start: dt.date | None = None,
    end: dt.date | None = None,
    grain: str = "month",
) -> dict[str, Any]:
    """Per role and measure: the ``top`` percentile, across the role's reps, of each rep's mean
    value per period over the window (a rep counts the periods it was active in)."""
    if start is None:  # the twelve months up to the end
        start, _ = team_engine.window(ws, None, end, months=12)
    result = team_engine.scorecards(ws, grain, role, start, end, top)
    per_rep: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for card in result["reps"]:
        for name, cell in card["measures"].items():
            if cell["value"] is not None:
                per_rep[(card["role"], card["rep"])][name].append(float(cell["value"]))
    rows = []
    for role_name in (role,) if role else ROLES:
        for metric in SUGGESTED[role_name]:
            means = [
                sum(values[metric]) / len(values[metric])
                for (r, _), values in per_rep.items()
                if r == role_name and values.get(metric)
            ]
            value = percentile(means, top)
            if value is None:
                continue
            rows.append(
                {
                    "role": role_name,
                    "metric": metric,
                    "value": round(value, 4) if value < 1 else round(value, 2),
                    "per": result["grain"],
                    "reps": len(means),
                    "median": round(percentile(means, 50) or 0.0, 4),
                    "flags": ["few_peers"] if len(means) < 4 else [],
                }
            )
    return {"start": result["start"], "end": result["end"], "percentile": top, "grain": result["grain"], "rows": rows}


def save_suggestions(ws: Workspace, suggestion: dict[str, Any], periods: list[str]) -> ImportResult:
    """The suggested targets as rep targets of every active rep of the role, for each period."""
    reps = ibis_backend(ws.store).table("reps").select("rep_id", "role", "active_to").to_pyarrow().to_pylist()
    today = dt.date.fromisoformat(suggestion["end"])
    rows = [
        {"period": p, "metric": s["metric"], "value": s["value"], "scope": "rep", "scope_id": str(r["rep_id"])}
        for p in periods
        for s in suggestion["rows"]
        for r in reps
        if r["role"] == s["role"] and (r["active_to"] is None or r["active_to"] >= today)
    ]
    if not rows:
        raise ParameterError("No suggestion to save: no active rep of the role has data in the window.")
    return set_targets(ws, rows, "targets-suggested")
