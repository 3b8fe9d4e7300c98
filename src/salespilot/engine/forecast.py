"""The forecast and its backtest for the faces: the deals as they stood (``Workspace.as_of``)
handed to ``analytics.forecast`` (docs/forecast.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from salespilot.analytics.forecast import Forecaster, score
from salespilot.engine import pipeline
from salespilot.engine.pipeline import local_day
from salespilot.engine.team import data_end
from salespilot.errors import ParameterError
from salespilot.metrics.periods import Calendar, Grain
from salespilot.store.query import ibis_backend

if TYPE_CHECKING:
    from salespilot.engine.workspace import Workspace

GROUPS = ("rep", "team")
MAX_HORIZON_DAYS = 730  # two years: a forecast further out is a plan


def _window(horizon: str, now_local: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The horizon's start and end in local time: the current month or quarter, or N days from now."""
    if horizon in ("month", "quarter"):
        calendar = Calendar(Grain(horizon))
        start = calendar.start_of(now_local.date())
        return dt.datetime.combine(start, dt.time()), dt.datetime.combine(calendar.next_start(start), dt.time())
    text = horizon.removesuffix("-days").removesuffix("d")
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not 0 < days <= MAX_HORIZON_DAYS:
        raise ParameterError(
            f'--horizon "{horizon}" is not a horizon: use month, quarter or N-days with N above 0 and up to '
            f"{MAX_HORIZON_DAYS} (e.g. 90-days)."
        )
    return now_local, now_local + dt.timedelta(days=days)


def forecast(
    ws: Workspace,
    horizon: str = "month",
    by: str | None = None,
    as_of: dt.date | str | None = None,
    simulations: int = 10_000,
    new_pipeline: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    if by is not None and by not in GROUPS:
        raise ParameterError(f'--by "{by}" must be one of {", ".join(GROUPS)}.')
    view = ws.as_of(as_of) if as_of is not None else ws
    settings = ws.settings()
    zone = ZoneInfo(settings["timezone"])
    data = pipeline.load(view.store, settings["base_currency"].upper())
    if data.data_end is None:
        raise ParameterError("The store holds no opportunities to forecast from: import some first.")
    now = data.data_end
    now_local = now.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
    start_local, end_local = _window(horizon, now_local)
    horizon_days = (end_local - now_local).total_seconds() / 86400
    start_utc = start_local.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)
    already = [
        d
        for d in data.deals.values()
        if d.outcome == "won" and d.closed_at is not None and start_utc <= d.closed_at <= now and d.value is not None
    ]
    model = Forecaster(simulations=simulations, seed=seed, new_pipeline=new_pipeline).fit(data.deals, data.entries, now)
    result = model.predict(horizon_days, already_won=sum(d.value or 0.0 for d in already))
    out: dict[str, Any] = {
        "horizon": horizon,
        "from": start_local.date().isoformat(),
        "to": (end_local - dt.timedelta(microseconds=1)).date().isoformat(),
        "base_currency": settings["base_currency"].upper(),
        "as_of": as_of.isoformat() if isinstance(as_of, dt.date) else as_of,
        **result.as_dict(),
        "weighted_pipeline": model.weighted_pipeline(horizon_days),
        "run_rate": model.run_rate(horizon_days),
    }
    out["deals"] = sorted(out["deals"], key=lambda d: -d["value"] * d["probability"])
    # The reps' own call next to ours: per forecast category, the deals, their value and what we expect.
    categories: dict[str, dict[str, Any]] = {}
    for d in out["deals"]:
        c = categories.setdefault(
            d["forecast_category"] or "(none)",
            {"category": d["forecast_category"] or "(none)", "deals": 0, "value": 0.0, "expected": 0.0},
        )
        c["deals"] += 1
        c["value"] += d["value"]
        c["expected"] += d["value"] * d["probability"]
    for c in categories.values():
        c["expected_share"] = c["expected"] / c["value"] if c["value"] else None
    out["categories"] = sorted(categories.values(), key=lambda c: -c["value"])
    if by is not None:
        out["groups"] = _groups(view, model, result, already, by, horizon_days)
    return out


def _groups(
    view: Workspace, model: Forecaster, result: Any, already: list[Any], by: str, horizon: float
) -> list[dict[str, Any]]:
    """Per rep (or team): already won, expected, P10, P50, P90 of its own deals (no new pipeline)."""
    team_of: dict[str, str | None] = {}
    if by == "team":
        reps = ibis_backend(view.store).table("reps").select("rep_id", "team").to_pyarrow().to_pylist()
        team_of = {str(r["rep_id"]): r["team"] for r in reps}

    def key(owner: str | None) -> str | None:
        return owner if by == "rep" else team_of.get(str(owner)) if owner is not None else None

    rows: dict[str | None, list[Any]] = defaultdict(list)
    for d in result.deals:
        rows[key(d.owner)].append(d)
    won: dict[str | None, float] = defaultdict(float)
    for d in already:
        won[key(d.owner)] += d.value or 0.0
    out = []
    for group in sorted(set(rows) | set(won), key=lambda g: (g is None, str(g))):
        totals, _ = model.simulate(rows.get(group, []), horizon, new_pipeline=False)
        totals = totals + won[group]
        out.append(
            {
                by: group,
                "already_won": won[group],
                "open_deals": len(rows.get(group, [])),
                "expected": won[group] + sum(d.value * d.probability for d in rows.get(group, [])),
                "p10": float(np.percentile(totals, 10)),
                "p50": float(np.percentile(totals, 50)),
                "p90": float(np.percentile(totals, 90)),
            }
        )
    return sorted(out, key=lambda g: -g["expected"])


def backtest(
    ws: Workspace,
    start: dt.date | None = None,
    end: dt.date | None = None,
    every: str = "month",
    simulations: int = 2_000,
    new_pipeline: bool = True,
) -> dict[str, Any]:
    """The forecast replayed at the start of each period (``every``: month or quarter) from the
    store as it stood the day before, against what was then booked in the period."""
    if every not in ("month", "quarter"):
        raise ParameterError(f'--every "{every}" must be month or quarter.')
    calendar = Calendar(Grain(every))
    settings = ws.settings()
    zone = ZoneInfo(settings["timezone"])
    base = settings["base_currency"].upper()
    o = ibis_backend(ws.store).table("opportunities")
    earliest = o.aggregate(first=o.created_at.cast("timestamp").min()).to_pyarrow().to_pylist()[0]["first"]
    last_local = data_end(ws)
    if earliest is None or last_local is None:
        raise ParameterError("The store holds no opportunities to backtest on: import some first.")
    first_local = local_day(earliest, zone)
    assert first_local is not None
    if end is None:  # the last period that is over
        end = calendar.start_of(last_local) - dt.timedelta(days=1)
    if start is None:  # a year back, or after the first six months of data
        start = max(
            calendar.shift(calendar.start_of(end), -11),
            calendar.next_start(calendar.shift(calendar.start_of(first_local), 5)),
        )
    if end < start:
        raise ParameterError(f"--to {end} is before --from {start}.")
    actual_rows = ws.kpi("revenue", grain=every, start=calendar.start_of(start), end=end, output="rows")
    actual = {r["period"]: float(r["value"] or 0.0) for r in actual_rows}
    periods: list[dict[str, Any]] = []
    for period_start in calendar.grid(start, end):
        label = calendar.label(period_start)
        period_end = calendar.next_start(period_start)
        if period_end - dt.timedelta(days=1) > last_local:
            continue  # not over yet: nothing to compare with
        view = ws.as_of(period_start - dt.timedelta(days=1))
        data = pipeline.load(view.store, base)
        if data.data_end is None:
            continue
        now = data.data_end
        cutoff_local = dt.datetime.combine(period_start, dt.time()).replace(tzinfo=zone)
        horizon = (
            dt.datetime.combine(period_end, dt.time()).replace(tzinfo=zone) - cutoff_local
        ).total_seconds() / 86400
        model = Forecaster(simulations=simulations, new_pipeline=new_pipeline).fit(data.deals, data.entries, now)
        result = model.predict(horizon)
        booked = actual.get(label, 0.0)
        periods.append(
            {
                "period": label,
                "as_of": (period_start - dt.timedelta(days=1)).isoformat(),
                "closed_deals": result.closed_deals,
                "open_deals": len(result.deals),
                "forecast": result.expected,
                "p10": result.p10,
                "p50": result.p50,
                "p90": result.p90,
                "weighted_pipeline": model.weighted_pipeline(horizon),
                "run_rate": model.run_rate(horizon),
                "actual": booked,
                "in_range": result.p10 <= booked <= result.p90,
            }
        )
    if not periods:
        raise ParameterError("No period between --from and --to is over and has history before it.")
    actuals = [p["actual"] for p in periods]
    methods = {m: score([p[m] for p in periods], actuals) for m in ("forecast", "weighted_pipeline", "run_rate")}
    return {
        "every": every,
        "from": periods[0]["period"],
        "to": periods[-1]["period"],
        "base_currency": base,
        "simulations": simulations,
        "periods": periods,
        "coverage": sum(p["in_range"] for p in periods) / len(periods),
        "methods": methods,
    }
