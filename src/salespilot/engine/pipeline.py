"""The pipeline's stage durations and stuck deals: read the store through Ibis, analyse in ``analytics``.

Reproducible: the data's end is the latest timestamp in the store (stage entries, creations,
closes, activities), never the wall clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from salespilot.analytics import cycle
from salespilot.store.asof import as_of
from salespilot.store.query import ibis_backend


@dataclass
class PipelineData:
    deals: dict[str, cycle.Deal]
    entries: list[tuple[str, str, dt.datetime]]
    current_entry: dict[str, dt.datetime]  # open deal -> when it entered its current stage
    data_end: dt.datetime | None


def naive_utc(value: Any) -> Any:
    """Timestamps as naive UTC datetimes (backends may hand back aware ones)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def load(store: Any, base_currency: str) -> PipelineData:
    con = ibis_backend(store)
    sc = con.table("stage_changes")
    entries: list[tuple[str, str, dt.datetime]] = []
    sc = sc.filter(sc.source.isnull() | (sc.source != "snapshot"))  # snapshots: states, not stage entries
    for r in (
        sc.select("opportunity_id", "stage", "entered_at")
        .order_by(["opportunity_id", "entered_at", "stage"])
        .to_pyarrow()
        .to_pylist()
    ):
        entry = (str(r["opportunity_id"]), str(r["stage"]), naive_utc(r["entered_at"]))
        if entries and entries[-1][:2] == entry[:2]:
            continue  # the same stage again (an amount or date change): the deal stayed in it
        entries.append(entry)
    o = con.table("opportunities")
    a = con.table("accounts")
    accounts = a.select(account_key=a.account_id, segment=a.segment)
    acts = con.table("activities")
    last = (
        acts.filter(acts.opportunity_id.notnull())
        .group_by(activity_opportunity=acts.opportunity_id)
        .aggregate(last_activity_at=acts.occurred_at.max())
    )
    t = o.left_join(accounts, o.account_id == accounts.account_key)
    t = t.left_join(last, t.opportunity_id == last.activity_opportunity)
    rows = (
        t.select(
            "opportunity_id",
            "created_at",
            "closed_at",
            "outcome",
            "stage",
            "owner_id",
            "amount",
            "currency",
            "segment",
            "last_activity_at",
            "expected_close_date",
            "forecast_category",
        )
        .order_by("opportunity_id")
        .to_pyarrow()
    )  # a fixed order: sums do not depend on the backend's
    last_activity = acts.aggregate(end=acts.occurred_at.cast("timestamp").max()).to_pyarrow().to_pylist()[0]["end"]
    rates = latest_rates(con)
    deals: dict[str, cycle.Deal] = {}
    candidates = [naive_utc(last_activity)] + [e[2] for e in entries]
    for r in rows.to_pylist():
        created, closed = naive_utc(r["created_at"]), naive_utc(r["closed_at"])
        candidates += [created, closed]
        value, currency = value_in_base(r["amount"], r["currency"], base_currency, rates)
        deals[str(r["opportunity_id"])] = cycle.Deal(
            opportunity_id=str(r["opportunity_id"]),
            created_at=created,
            outcome=str(r["outcome"]),
            closed_at=closed,
            stage=r["stage"],
            owner=r["owner_id"],
            segment=r["segment"],
            value=value,
            currency=currency,
            last_activity_at=naive_utc(r["last_activity_at"]),
            expected_close_date=r["expected_close_date"],
            forecast_category=r["forecast_category"],
        )
    known = [c for c in candidates if c is not None]
    data_end = max(known) if known else None
    lens = as_of(store)
    if lens is not None and known:  # the store as of an instant: that instant is "now"
        data_end = lens.cutoff
    return PipelineData(deals, entries, _current_entries(deals, entries), data_end)


def local_time(value: Any, zone: ZoneInfo) -> dt.datetime | None:
    """A stored (UTC) timestamp as a naive local time of the workspace."""
    naive = naive_utc(value)
    if naive is None:
        return None
    return naive.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)  # type: ignore[no-any-return]


def local_day(value: Any, zone: ZoneInfo) -> dt.date | None:
    """The workspace's local day of a stored (UTC) timestamp."""
    local = local_time(value, zone)
    return None if local is None else local.date()


def latest_rates(con: ibis.BaseBackend) -> dict[str, float]:
    """The last known rate to the base currency, per currency (for a value at risk today)."""
    return {cur: points[-1][1] for cur, points in rate_history(con).items()}


def rate_history(con: ibis.BaseBackend) -> dict[str, list[tuple[dt.date, float]]]:
    """Per currency, its rates to the base currency by date (sorted)."""
    fx = con.table("fx_rates")
    history: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
    for r in fx.select("date", "currency", "rate_to_base").to_pyarrow().to_pylist():
        history[str(r["currency"]).upper()].append((r["date"], float(r["rate_to_base"])))
    for points in history.values():
        points.sort()
    return dict(history)


def rates_on(history: dict[str, list[tuple[dt.date, float]]], day: dt.date | None) -> dict[str, float]:
    """Each currency's rate on ``day``: its latest rate dated that day or before, as the KPI layer
    converts (KPIS.md: the rate of the anchor date); a currency with no rate yet is left out."""
    if day is None:
        return {}
    out = {}
    for currency, points in history.items():
        at = bisect.bisect_right(points, (day, math.inf))
        if at:
            out[currency] = points[at - 1][1]
    return out


def value_in_base(amount: Any, currency: Any, base: str, rates: dict[str, float]) -> tuple[float | None, str | None]:
    """The amount in the base currency at ``rates``, else (no rate) in its own currency."""
    if amount is None:
        return None, None
    if currency is None or str(currency).upper() == base:
        return float(amount), base
    rate = rates.get(str(currency).upper())
    if rate is None:
        return float(amount), str(currency).upper()
    return float(amount) * rate, base


def _current_entries(deals: dict[str, cycle.Deal], entries: Sequence[tuple[str, str, dt.datetime]]) -> dict[str, Any]:
    """When each open deal entered its current stage: its latest entry into that stage, else its
    latest stage entry, else its creation."""
    latest_of_stage: dict[tuple[str, str], dt.datetime] = {}
    latest: dict[str, tuple[dt.datetime, str]] = {}
    for opportunity_id, stage, entered_at in entries:
        key = (opportunity_id, stage)
        if key not in latest_of_stage or entered_at > latest_of_stage[key]:
            latest_of_stage[key] = entered_at
        if opportunity_id not in latest or (entered_at, stage) > latest[opportunity_id]:
            latest[opportunity_id] = (entered_at, stage)
    out: dict[str, Any] = {}
    for opportunity_id, deal in deals.items():
        if deal.outcome != "open":
            continue
        current = deal.stage
        if current is not None and (opportunity_id, current) in latest_of_stage:
            out[opportunity_id] = latest_of_stage[(opportunity_id, current)]
        elif opportunity_id in latest:
            out[opportunity_id] = latest[opportunity_id][0]
        else:
            out[opportunity_id] = deal.created_at
    return out


def _open_deals_with_stage(data: PipelineData) -> dict[str, cycle.Deal]:
    """Open deals without a stage take the stage of their latest entry."""
    latest: dict[str, tuple[dt.datetime, str]] = {}
    for opportunity_id, stage, entered_at in data.entries:
        if opportunity_id not in latest or (entered_at, stage) > latest[opportunity_id]:
            latest[opportunity_id] = (entered_at, stage)
    out = dict(data.deals)
    for opportunity_id, deal in data.deals.items():
        if deal.outcome == "open" and deal.stage is None and opportunity_id in latest:
            out[opportunity_id] = replace(deal, stage=latest[opportunity_id][1])
    return out


def stage_durations(store: Any, base_currency: str, order: Sequence[str] | None = None) -> cycle.StageDurations:
    data = load(store, base_currency)
    if data.data_end is None:
        return cycle.StageDurations([], {"stage": cycle.CYCLE, "order": None, **cycle.KaplanMeier().summary()}, None)
    spells = cycle.stage_spells(data.entries, data.deals, data.data_end)
    return cycle.StageDurations.compute(spells, data.deals, data.data_end, order)


def stuck_deals(
    store: Any,
    base_currency: str,
    percentile: float = 90,
    by: str | None = None,
    idle_days: float | None = 30,
    min_history: int = 30,
) -> list[dict[str, Any]]:
    data = load(store, base_currency)
    if data.data_end is None:
        return []
    deals = _open_deals_with_stage(data)
    spells = cycle.stage_spells(data.entries, deals, data.data_end)
    return cycle.stuck_deals(
        deals,
        spells,
        data.current_entry,
        data.data_end,
        percentile=percentile,
        idle_days=idle_days,
        min_history=min_history,
        by=by,
    )


MOVES = ("created", "won", "lost", "advanced", "moved_back", "pushed", "pulled_in", "amount_up", "amount_down")


def movement(before: Any, after: Any, base_currency: str, order: Sequence[str] | None = None) -> dict[str, Any]:
    """What changed in the pipeline between two views of the store (``Workspace.as_of``): deals
    created, won, lost, advanced to a later stage or moved back, pushed (expected close date
    later) or pulled in, and amount changes of deals open at both dates."""
    first, second = load(before, base_currency), load(after, base_currency)
    spells = cycle.stage_spells(second.entries, second.deals, second.data_end) if second.data_end else []
    rank = {s: i for i, s in enumerate(cycle.stage_order(spells, order))}
    rows: list[dict[str, Any]] = []
    for oid, now in sorted(second.deals.items()):
        then = first.deals.get(oid)
        moves: list[str] = []
        if then is None:
            moves.append("created")
        elif then.outcome == "open":
            if now.outcome in ("won", "lost"):
                moves.append(now.outcome)
            elif now.stage != then.stage and now.stage in rank and then.stage in rank:
                moves.append("advanced" if rank[now.stage] > rank[then.stage] else "moved_back")
            if now.outcome == "open":
                if then.expected_close_date and now.expected_close_date:
                    if now.expected_close_date > then.expected_close_date:
                        moves.append("pushed")
                    elif now.expected_close_date < then.expected_close_date:
                        moves.append("pulled_in")
                if then.value is not None and now.value is not None and now.value != then.value:
                    moves.append("amount_up" if now.value > then.value else "amount_down")
        if moves:
            rows.append(
                {
                    "opportunity_id": oid,
                    "owner": now.owner,
                    "moves": moves,
                    "stage_before": then.stage if then else None,
                    "stage_after": now.stage,
                    "value_before": then.value if then else None,
                    "value_after": now.value,
                    "close_before": then.expected_close_date if then else None,
                    "close_after": now.expected_close_date,
                }
            )
    summary = []
    for move in MOVES:
        hit = [r for r in rows if move in r["moves"]]
        change = None
        if move in ("amount_up", "amount_down"):
            change = sum((r["value_after"] or 0.0) - (r["value_before"] or 0.0) for r in hit)
        value = sum(r["value_after"] or 0.0 for r in hit)
        summary.append({"move": move, "deals": len(hit), "value": value, "amount_change": change})
    return {"summary": summary, "deals": rows}
