"""Compensation plans replayed on the store's numbers: the engine reads the won deals, churns,
quotas and KPIs, ``analytics.comp`` computes the pay (docs/team.md)."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from salespilot.analytics import comp
from salespilot.engine.pipeline import local_day, rate_history, rates_on, value_in_base
from salespilot.engine.team import data_end, window
from salespilot.errors import ParameterError, PlanError, did_you_mean
from salespilot.metrics.catalogue import load_catalogue
from salespilot.metrics.periods import Calendar, Grain, add_months
from salespilot.store.query import ibis_backend

if TYPE_CHECKING:
    from salespilot.engine.workspace import Workspace

MAX_PLAN_BYTES = 1_000_000


def load_plan(path: str | os.PathLike[str]) -> comp.Plan:
    file = Path(path)
    if not file.is_file():
        raise PlanError(f"{file}: no such plan file.")
    if file.stat().st_size > MAX_PLAN_BYTES:
        raise PlanError(f"{file}: a plan is a small YAML file; this one is over {MAX_PLAN_BYTES:,} bytes.")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{file}: not a UTF-8 text file; a plan is YAML (docs/team.md).") from None
    plan = comp.parse_plan(text, origin=str(file))
    names = load_catalogue().names()
    for i, bonus in enumerate(plan.bonuses):
        if bonus.kpi not in names:
            raise PlanError(
                f'{file}: bonuses[{i}].kpi: "{bonus.kpi}" is not a KPI.{did_you_mean(bonus.kpi, names)} '
                "See salespilot kpi --list."
            )
    return plan


def simulate(
    ws: Workspace, plan: comp.Plan, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, Any]:
    """Replay ``plan`` over the window (default: the twelve months up to the data's end)."""
    calendar = Calendar(Grain(plan.period))
    first, last = window(ws, start, end, months=12)
    if start is None:  # whole periods of the plan
        first = calendar.start_of(first)
    settings = ws.settings()
    zone = ZoneInfo(settings["timezone"])
    base = settings["base_currency"].upper()
    con = ibis_backend(ws.store)

    reps_rows = con.table("reps").select("rep_id", "name", "role", "active_from", "active_to").to_pyarrow()
    reps = {str(r["rep_id"]): r for r in reps_rows.to_pylist() if r["role"] in plan.roles}
    periods: dict[str, list[str]] = defaultdict(list)
    for period_start in calendar.grid(first, last):
        period_last = min(calendar.next_start(period_start) - dt.timedelta(days=1), last)
        for rep, r in reps.items():
            if (r["active_from"] is None or r["active_from"] <= period_last) and (
                r["active_to"] is None or r["active_to"] >= max(period_start, first)
            ):
                periods[rep].append(calendar.label(period_start))

    o = con.table("opportunities")
    won = o.filter(o.outcome == "won").select("opportunity_id", "owner_id", "closed_at", "amount", "currency")
    history = rate_history(con)
    closes: dict[str, tuple[str, dt.date, float]] = {}
    for r in won.order_by("opportunity_id").to_pyarrow().to_pylist():
        day = local_day(r["closed_at"], zone)
        if r["owner_id"] not in reps or day is None or not first <= day <= last:
            continue
        value, currency = value_in_base(r["amount"], r["currency"], base, rates_on(history, day))
        if value is None or currency != base:
            continue  # no amount, or no rate to the base currency: nothing to pay on
        closes[str(r["opportunity_id"])] = (str(r["owner_id"]), day, value)
    churns = _churns(ws, plan, closes, int(settings["renewal_grace_days"]), data_end(ws) or last)
    deals = [
        comp.Deal(
            opportunity_id=oid,
            rep=rep,
            period=calendar.label(calendar.start_of(day)),
            value=value,
            churn_period=None if oid not in churns else calendar.label(calendar.start_of(churns[oid])),
        )
        for oid, (rep, day, value) in closes.items()
    ]
    quotas: dict[tuple[str, str], float] = {}
    if plan.quota_from_targets:
        t = con.table("targets")
        t = t.filter((t.metric == "revenue") & (t.scope == "rep"))
        for r in t.select("period", "scope_id", "value").to_pyarrow().to_pylist():
            quotas[(str(r["scope_id"]), str(r["period"]))] = float(r["value"])
    kpis: dict[tuple[str, str, str], tuple[float | None, float | None]] = {}
    if plan.kpis():
        rows = ws.kpi(plan.kpis(), grain=plan.period, by="rep", start=first, end=last, output="rows")
        for r in rows:
            kpis[(str(r["rep"]), str(r["period"]), r["kpi"])] = (r.get("value"), r.get("attainment"))
    measures: dict[str, dict[str, float | None]] = defaultdict(dict)
    for r in ws.kpi(list(comp.REWARD_MEASURES), grain="all", by="rep", start=first, end=last, output="rows"):
        measures[str(r["rep"])][r["kpi"]] = r.get("value")
    reps_info = {rep: {"name": r["name"], "role": r["role"]} for rep, r in reps.items()}
    result = comp.simulate(plan, reps_info, periods, deals, quotas, kpis, measures)
    return {"start": first.isoformat(), "end": last.isoformat(), "origin": plan.origin, **result}


def _churns(
    ws: Workspace,
    plan: comp.Plan,
    closes: dict[str, tuple[str, dt.date, float]],
    grace_days: int,
    known_by: dt.date,
) -> dict[str, dt.date]:
    """Per won deal whose customer churned within the clawback window: the churn day (the end of
    the deal's contract, not renewed by a contract renewing it or starting within the grace)."""
    if plan.clawback is None or not closes:
        return {}
    con = ibis_backend(ws.store)
    contracts = (
        con.table("contracts")
        .select("contract_id", "account_id", "opportunity_id", "start_date", "end_date", "renews_contract_id")
        .to_pyarrow()
        .to_pylist()
    )
    renewed = {str(c["renews_contract_id"]) for c in contracts if c["renews_contract_id"] is not None}
    starts: dict[str, list[dt.date]] = defaultdict(list)
    for c in contracts:
        starts[str(c["account_id"])].append(c["start_date"])
    out: dict[str, dt.date] = {}
    for c in contracts:
        oid = c["opportunity_id"]
        if oid is None or str(oid) not in closes or c["end_date"] is None:
            continue
        end_day: dt.date = c["end_date"]
        _, closed, _ = closes[str(oid)]
        if end_day > known_by or end_day > add_months(closed, plan.clawback.months):
            continue
        grace = end_day + dt.timedelta(days=grace_days)
        followed = any(c["start_date"] < s <= grace for s in starts[str(c["account_id"])])
        if str(c["contract_id"]) not in renewed and not followed:
            out[str(oid)] = end_day
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two replays side by side, per rep and in total."""
    if (a["start"], a["end"]) != (b["start"], b["end"]):
        raise ParameterError("The two plans were replayed over different windows; give the same --from and --to.")
    left = {r["rep"]: r for r in a["reps"]}
    right = {r["rep"]: r for r in b["reps"]}
    rows = []
    for rep in sorted(set(left) | set(right)):
        x, y = left.get(rep, {}), right.get(rep, {})
        pa_, pb = x.get("payout", 0.0), y.get("payout", 0.0)
        rows.append(
            {
                "rep": rep,
                "name": x.get("name") or y.get("name"),
                "role": x.get("role") or y.get("role"),
                "revenue": x.get("revenue", y.get("revenue", 0.0)),
                "payout_a": pa_,
                "payout_b": pb,
                "difference": pb - pa_,
                "cost_of_sales_a": x.get("cost_of_sales"),
                "cost_of_sales_b": y.get("cost_of_sales"),
            }
        )
    return {
        "start": a["start"],
        "end": a["end"],
        "plans": [a["plan"], b["plan"]],
        "reps": rows,
        "total": {"a": a["total"], "b": b["total"], "difference": b["total"]["payout"] - a["total"]["payout"]},
        "rewards": {"a": a["rewards"], "b": b["rewards"]},
    }
