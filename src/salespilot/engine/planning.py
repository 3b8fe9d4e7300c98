"""The planner for the faces: count the funnel in the store through the KPI layer, find today's
team, and hand both to ``analytics.planner`` (which holds no database code)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from salespilot.analytics.planner import (
    RATE_SOURCES,
    STEPS,
    Capacity,
    FunnelCounts,
    Plan,
    Planner,
    Team,
    parse_horizon,
)
from salespilot.engine.kpis import data_years_and_end
from salespilot.errors import ParameterError
from salespilot.settings import parse_reference_rates
from salespilot.store.query import ibis_backend

if TYPE_CHECKING:
    from salespilot.engine.workspace import Workspace

__all__ = ["RATE_SOURCES", "STEPS", "Capacity", "Plan", "parse_horizon", "plan"]

FUNNEL_KPIS = ["leads", "lead_to_opportunity_rate", "opportunity_to_signature_rate", "average_deal_value"]


def plan(
    ws: Workspace,
    *,
    revenue: float | None = None,
    signatures: float | None = None,
    horizon: str | float = "month",
    calls: float | None = None,
    leads: float | None = None,
    team: bool = False,
    rates: str = "reference",
    start: dt.date | None = None,
    end: dt.date | None = None,
    deal_value: float | None = None,
    capacity: Capacity | None = None,
    references: dict[str, float] | None = None,
) -> Plan:
    backward = revenue is not None or signatures is not None
    forward = calls is not None or leads is not None or team
    given = [
        name
        for name, value in (
            ("--revenue", revenue),
            ("--signatures", signatures),
            ("--calls", calls),
            ("--leads", leads),
            ("--team", team or None),
        )
        if value is not None
    ]
    if len(given) != 1:
        what = f"{' and '.join(given)} contradict each other" if given else "nothing to plan from was given"
        raise ParameterError(
            f"{what}: plan backward from one target (--revenue or --signatures) or forward from one "
            "start (--calls, --leads or --team)."
        )
    horizon_days = parse_horizon(horizon)
    if start is not None and end is not None and end < start:
        raise ParameterError(f"--to {end} is before --from {start}.")
    settings = ws.settings()
    con = ibis_backend(ws.store)
    _, data_end = data_years_and_end(con, settings["timezone"])
    today = data_end or dt.date.today()
    end = end or today
    start = start or _year_before(end)
    planner = Planner(
        rates,
        capacity=capacity,
        team=_team(con, today),
        small_sample=int(settings["small_sample"]),
        references={**parse_reference_rates(settings["reference_rates"]), **_overrides(references)},
    )
    company, measured_deal_value = _counts(ws, start, end)
    if rates != "reference":
        per_rep = _counts_by_rep(ws, start, end) if rates == "per-rep" else None
        planner.fit(company, per_rep)
    value = deal_value if deal_value is not None else measured_deal_value
    if backward:
        result = planner.backward(revenue=revenue, signatures=signatures, horizon_days=horizon_days, deal_value=value)
    else:
        assert forward
        result = planner.forward(
            calls=calls,
            leads=leads,
            team=planner.team if team else None,
            horizon_days=horizon_days,
            deal_value=value,
        )
    result.window.update(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "deal_value_source": "option" if deal_value is not None else "data" if value is not None else None,
        }
    )
    return result


def _overrides(references: dict[str, float] | None) -> dict[str, float]:
    """Reference rates given for this plan, checked as the ``reference_rates`` setting is."""
    if not references:
        return {}
    checked = parse_reference_rates(",".join(f"{step}={rate!r}" for step, rate in references.items()))
    return {step: checked[step] for step in references}


def _year_before(end: dt.date) -> dt.date:
    """The first day of the 12 months ending on ``end``."""
    try:
        return end.replace(year=end.year - 1) + dt.timedelta(days=1)
    except ValueError:  # 29 February
        return end.replace(year=end.year - 1, day=28) + dt.timedelta(days=1)


def _team(con: Any, data_end: dt.date) -> Team:
    """Active SDRs and AEs at the data's end: started by then, and not left (or leaving later)."""
    reps = con.table("reps").select("rep_id", "role", "active_from", "active_to").to_pyarrow().to_pylist()
    active = [
        r
        for r in reps
        if (r["active_from"] is None or r["active_from"] <= data_end)
        and (r["active_to"] is None or r["active_to"] > data_end)
    ]
    return Team(
        sdrs=tuple(sorted(str(r["rep_id"]) for r in active if r["role"] == "sdr")),
        aes=tuple(sorted(str(r["rep_id"]) for r in active if r["role"] == "ae")),
    )


def _value(rows: list[dict[str, Any]], kpi: str, key: str = "value") -> Any:
    return next((r.get(key) for r in rows if r["kpi"] == kpi), None)


def _counts(ws: Workspace, start: dt.date, end: dt.date) -> tuple[FunnelCounts, float | None]:
    """The company's funnel counts over the window, and its average deal value."""
    rows = ws.kpi(FUNNEL_KPIS, grain="all", start=start, end=end, output="rows")
    call_rows = ws.kpi(["activities"], grain="all", filters={"type": "call"}, start=start, end=end, output="rows")
    counts = FunnelCounts(
        calls=int(_value(call_rows, "activities") or 0),
        leads=int(_value(rows, "leads") or 0),
        converted_leads=int(_value(rows, "lead_to_opportunity_rate", "numerator") or 0),
        opportunities=int(_value(rows, "opportunity_to_signature_rate", "denominator") or 0),
        won=int(_value(rows, "opportunity_to_signature_rate", "numerator") or 0),
    )
    deal_value = _value(rows, "average_deal_value")
    return counts, float(deal_value) if deal_value is not None else None


def _counts_by_rep(ws: Workspace, start: dt.date, end: dt.date) -> dict[str, FunnelCounts]:
    """Each rep's counts: calls made, leads owned and converted, opportunities owned and won."""
    rows = ws.kpi(FUNNEL_KPIS[:3], grain="all", by="rep", start=start, end=end, output="rows")
    call_rows = ws.kpi(
        ["activities"], grain="all", by="rep", filters={"type": "call"}, start=start, end=end, output="rows"
    )
    found: dict[str, dict[str, int]] = {}
    for row in [*rows, *call_rows]:
        if row.get("rep") is None:
            continue
        mine = found.setdefault(str(row["rep"]), {})
        match row["kpi"]:
            case "activities":
                mine["calls"] = int(row["value"] or 0)
            case "leads":
                mine["leads"] = int(row["value"] or 0)
            case "lead_to_opportunity_rate":
                mine["converted_leads"] = int(row.get("numerator") or 0)
            case "opportunity_to_signature_rate":
                mine["opportunities"] = int(row.get("denominator") or 0)
                mine["won"] = int(row.get("numerator") or 0)
    return {rep: FunnelCounts(**values) for rep, values in found.items()}
