"""The team for the faces: each rep's measures from the KPI layer, handed to ``analytics.team``
(which holds no database code); see docs/team.md."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from salespilot.analytics import team as team_analytics
from salespilot.analytics.team import Measure, RepPeriod
from salespilot.engine import peers
from salespilot.engine.kpis import data_years_and_end
from salespilot.engine.pipeline import local_day, rate_history, rates_on, value_in_base
from salespilot.errors import ParameterError
from salespilot.metrics.periods import Calendar, Grain, parse_grain
from salespilot.store.query import ibis_backend

if TYPE_CHECKING:
    from salespilot.engine.workspace import Workspace

ACTIVITY_TYPES = {
    "call": "calls",
    "email": "emails",
    "message": "messages",
    "meeting": "meetings",
    "demo": "demos",
    "proposal": "proposals",
}
# The scorecard's measures, in the order shown: activity, then results.
MEASURES: tuple[Measure, ...] = (
    *(Measure(name) for name in ACTIVITY_TYPES.values()),
    Measure("activities"),
    Measure("leads"),
    Measure("opportunities"),
    Measure("signatures"),
    Measure("revenue"),
    Measure("average_deal_value"),
    Measure("sales_cycle_days", higher_is_better=False),
    Measure("call_to_lead"),
    Measure("lead_to_opportunity_rate"),
    Measure("opportunity_to_signature_rate"),
    Measure("win_rate"),
)
COUNT_KPIS = ("activities", "leads", "opportunities", "signatures", "revenue")
VALUE_KPIS = ("average_deal_value", "sales_cycle_days", "lead_to_opportunity_rate", "opportunity_to_signature_rate")
RATE_KPIS = ("lead_to_opportunity_rate", "opportunity_to_signature_rate", "win_rate", "lead_to_win_rate")


def data_end(ws: Workspace) -> dt.date | None:
    """The data's last local day (None for an empty store)."""
    return data_years_and_end(ibis_backend(ws.store), ws.settings()["timezone"])[1]


def window(ws: Workspace, start: dt.date | None, end: dt.date | None, months: int = 3) -> tuple[dt.date, dt.date]:
    """``start`` and ``end``, by default the ``months`` months up to the data's last month."""
    if start is not None and end is not None and end < start:
        raise ParameterError(f"--to {end} is before --from {start}.")
    last = end or data_end(ws) or dt.date.today()
    first = start or Calendar(Grain.MONTH).shift(last.replace(day=1), 1 - months)
    return first, last


def rep_names(ws: Workspace) -> dict[str, str]:
    """Each rep the user may see, by id: their name (their id when the file gave none)."""
    rows = ibis_backend(ws.store).table("reps").select("rep_id", "name").to_pyarrow().to_pylist()
    return {str(r["rep_id"]): str(r["name"] or r["rep_id"]) for r in rows}


def _among_peers(ws: Workspace) -> tuple[Workspace, set[str] | None]:
    """The workspace the reps are compared in (engine/peers.py), and the reps whose rows may be
    returned (None: all of them, nothing narrows whose records ``ws`` shows)."""
    if not peers.narrowed(ws.store):
        return ws, None
    view = ws.lensed()
    view.store = peers.peers_store(ws.store)
    return view, peers.visible_reps(ws.store)


def _roles(role: str | None) -> tuple[str, ...]:
    if role is None:
        return team_analytics.ROLES
    if role not in team_analytics.ROLES:
        raise ParameterError(f'--role "{role}" must be one of {", ".join(team_analytics.ROLES)}.')
    return (role,)


def _reps(ws: Workspace, roles: Sequence[str]) -> list[dict[str, Any]]:
    reps = ibis_backend(ws.store).table("reps")
    rows = reps.select("rep_id", "name", "role", "team", "active_from", "active_to").to_pyarrow().to_pylist()
    return sorted((r for r in rows if r["role"] in roles), key=lambda r: str(r["rep_id"]))


def _active(rep: dict[str, Any], first: dt.date, last: dt.date) -> bool:
    return (rep["active_from"] is None or rep["active_from"] <= last) and (
        rep["active_to"] is None or rep["active_to"] >= first
    )


def scorecards(
    ws: Workspace,
    grain: str = "month",
    role: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    top: float = team_analytics.TOP_PERCENTILE,
) -> dict[str, Any]:
    """Per rep and period: the measures, targets' attainment, rank and gap to the top quartile.
    Ranked among every rep of the role, whatever the user's scope; the rows are the visible reps'."""
    ws, visible = _among_peers(ws)
    calendar = Calendar(parse_grain(grain))
    roles = _roles(role)
    first, last = window(ws, start, end)
    reps = _reps(ws, roles)
    kpi_rows = ws.kpi(
        [*COUNT_KPIS, *VALUE_KPIS, "win_rate"], grain=grain, by="rep", start=first, end=last, output="rows"
    )
    typed = ws.kpi(["activities"], grain=grain, by=["rep", "type"], start=first, end=last, output="rows")
    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in kpi_rows:
        found[(str(r["period"]), str(r["rep"]))][r["kpi"]] = r
    for r in typed:
        if r.get("type") in ACTIVITY_TYPES:
            found[(str(r["period"]), str(r["rep"]))][ACTIVITY_TYPES[r["type"]]] = r
    cards = []
    for period_start in calendar.grid(first, last):
        period = calendar.label(period_start)
        period_last = min(calendar.next_start(period_start) - dt.timedelta(days=1), last)
        for rep in reps:
            if not _active(rep, max(period_start, first), period_last):
                continue
            rows = found.get((period, str(rep["rep_id"])), {})
            measures: dict[str, float | None] = {}
            for name in (*ACTIVITY_TYPES.values(), *COUNT_KPIS):
                value = rows.get(name, {}).get("value")
                measures[name] = float(value) if value is not None else 0.0
            for name in (*VALUE_KPIS, "win_rate"):
                value = rows.get(name, {}).get("value")
                measures[name] = float(value) if value is not None else None
            calls, leads = measures["calls"], measures["leads"]
            measures["call_to_lead"] = leads / calls if calls and leads is not None else None
            ordered = {m.name: measures[m.name] for m in MEASURES}
            targets = {
                name: {"target": row["target"], "attainment": row.get("attainment")}
                for name, row in rows.items()
                if row.get("target") is not None
            }
            flags = []
            if rep["active_from"] is not None and rep["active_from"] > max(period_start, first):
                flags.append(f"joined_on_{rep['active_from']}")
            if rep["active_to"] is not None and rep["active_to"] < period_last:
                flags.append(f"left_on_{rep['active_to']}")
            cards.append(
                RepPeriod(
                    rep=str(rep["rep_id"]),
                    name=rep["name"],
                    role=str(rep["role"]),
                    team=rep["team"],
                    period=period,
                    measures=ordered,
                    targets=targets,
                    flags=flags,
                )
            )
    team_analytics.compare(cards, MEASURES, top)
    if visible is not None:
        cards = [c for c in cards if c.rep in visible]
    return {
        "grain": calendar.grain.value,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "percentile": top,
        "measures": [{"name": m.name, "higher_is_better": m.higher_is_better} for m in MEASURES],
        "reps": [c.as_dict() for c in cards],
    }


def gaps(
    ws: Workspace,
    role: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    top: float = team_analytics.TOP_PERCENTILE,
) -> dict[str, Any]:
    """Per rep, over the window: the revenue gap to the role's top quartile split into its causes."""
    if not 0 < top < 100:
        raise ParameterError(f"--percentile must be between 0 and 100, exclusive (got {top:g}).")
    ws, visible = _among_peers(ws)
    roles = _roles(role)
    first, last = window(ws, start, end)
    reps = [r for r in _reps(ws, roles) if _active(r, first, last)]
    ids = {str(r["rep_id"]) for r in reps}
    rows = ws.kpi(
        ["activities", "opportunities", "revenue", "leads", *RATE_KPIS],
        grain="all",
        by="rep",
        start=first,
        end=last,
        output="rows",
    )
    calls = ws.kpi(
        ["activities"], grain="all", by="rep", filters={"type": "call"}, start=first, end=last, output="rows"
    )
    per_rep: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        per_rep[str(r["rep"])][r["kpi"]] = r
    for r in calls:
        per_rep[str(r["rep"])]["calls"] = r
    sourced = _sourced_revenue(ws, ids, first, last)

    def get(rep: str, kpi: str, key: str = "value") -> float:
        value = per_rep.get(rep, {}).get(kpi, {}).get(key)
        return float(value) if value is not None else 0.0

    volumes: dict[str, dict[str, float]] = {}
    for rep in reps:
        rid = str(rep["rep_id"])
        if rep["role"] == "sdr":
            volumes[rid] = {
                "calls": get(rid, "calls"),
                "leads": get(rid, "leads"),
                "converted_leads": get(rid, "lead_to_opportunity_rate", "numerator"),
                "won_leads": get(rid, "lead_to_win_rate", "numerator"),
                "revenue": sourced.get(rid, 0.0),
            }
        else:
            volumes[rid] = {
                "activities": get(rid, "activities"),
                "opportunities": get(rid, "opportunities"),
                "closed": get(rid, "win_rate", "denominator"),
                "won": get(rid, "win_rate", "numerator"),
                "revenue": get(rid, "revenue"),
            }
    result = team_analytics.decompose(volumes, {str(r["rep_id"]): str(r["role"]) for r in reps}, top)
    names = {str(r["rep_id"]): r["name"] for r in reps}
    flags: dict[str, list[str]] = defaultdict(list)  # a rep active over part of the window only
    for r in reps:
        if r["active_from"] is not None and r["active_from"] > first:
            flags[str(r["rep_id"])].append(f"joined_on_{r['active_from']}")
        if r["active_to"] is not None and r["active_to"] < last:
            flags[str(r["rep_id"])].append(f"left_on_{r['active_to']}")
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "percentile": top,
        "chains": {role: dict(zip(*team_analytics.CHAINS[role], strict=True)) for role in roles},
        "reps": [
            {**g.as_dict(), "name": names.get(g.rep), "volumes": volumes[g.rep], "flags": flags[g.rep]}
            for g in result
            if visible is None or g.rep in visible
        ],
    }


def _sourced_revenue(ws: Workspace, reps: set[str], first: dt.date, last: dt.date) -> dict[str, float]:
    """Per lead owner: the won amount (base currency, at the rate of the close's local day) of the
    opportunities of the leads created in the window (the same cohort as ``lead_to_win_rate``)."""
    settings = ws.settings()
    zone = ZoneInfo(settings["timezone"])
    base = settings["base_currency"].upper()
    con = ibis_backend(ws.store)
    leads = con.table("leads")
    opps = con.table("opportunities")
    won = opps.filter((opps.outcome == "won") & opps.lead_id.notnull())
    joined = won.join(leads, won.lead_id == leads.lead_id).select(
        "opportunity_id",
        owner=leads.owner_id,
        lead_created=leads.created_at,
        amount=won.amount,
        currency=won.currency,
        closed_at=won.closed_at,
    )
    history = rate_history(con)
    out: dict[str, float] = defaultdict(float)
    for r in joined.order_by("opportunity_id").to_pyarrow().to_pylist():
        owner = r["owner"]
        created = local_day(r["lead_created"], zone)
        if owner not in reps or created is None or not first <= created <= last:
            continue
        closed = local_day(r["closed_at"], zone)
        value, currency = value_in_base(r["amount"], r["currency"], base, rates_on(history, closed))
        if value is not None and currency == base:
            out[owner] += value
    return dict(out)
