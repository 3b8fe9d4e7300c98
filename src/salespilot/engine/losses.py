"""Losses and qualification: read the store through Ibis, analyse in ``analytics`` (docs/losses.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from salespilot.analytics import cycle
from salespilot.analytics import losses as losses_analytics
from salespilot.analytics import qualification as qualification_analytics
from salespilot.analytics.losses import QUALIFICATION_FIELDS, Opportunity
from salespilot.engine.pipeline import local_time, rate_history, rates_on, value_in_base
from salespilot.metrics.periods import Calendar, parse_grain
from salespilot.store.query import ibis_backend


def load(store: Any, settings: dict[str, str]) -> tuple[list[Opportunity], dict[str, list[tuple[str, dt.datetime]]]]:
    """Every opportunity (value in the base currency at the last known rate) and its stage entries."""
    base = settings["base_currency"].upper()
    zone = ZoneInfo(settings.get("timezone", "UTC"))
    con = ibis_backend(store)
    o = con.table("opportunities")
    a = con.table("accounts")
    accounts = a.select(account_key=a.account_id, segment=a.segment)
    t = o.left_join(accounts, o.account_id == accounts.account_key)
    columns = [
        "opportunity_id",
        "created_at",
        "closed_at",
        "outcome",
        "stage",
        "owner_id",
        "amount",
        "currency",
        "segment",
        "loss_reason",
        "loss_reason_text",
        "competitor",
        *QUALIFICATION_FIELDS,
    ]
    history = rate_history(con)
    deals = []
    # In a fixed order: sums of money then do not depend on the order the backend returns rows in.
    for r in t.select(*columns).order_by("opportunity_id").to_pyarrow().to_pylist():
        created_at, closed_at = local_time(r["created_at"], zone), local_time(r["closed_at"], zone)
        # At the rate of the close's local day (the day the deal is counted on), as the KPI layer.
        anchor = closed_at or created_at
        rates = rates_on(history, anchor.date() if anchor else None)
        value, currency = value_in_base(r["amount"], r["currency"], base, rates)
        deals.append(
            Opportunity(
                opportunity_id=str(r["opportunity_id"]),
                outcome=str(r["outcome"]),
                created_at=created_at,
                closed_at=closed_at,
                stage=r["stage"],
                owner=r["owner_id"],
                segment=r["segment"],
                value=value,
                currency=currency,
                loss_reason=r["loss_reason"],
                loss_reason_text=r["loss_reason_text"],
                competitor=r["competitor"],
                qualification={f: r[f] for f in QUALIFICATION_FIELDS},
            )
        )
    sc = con.table("stage_changes")
    entries: dict[str, list[tuple[str, dt.datetime]]] = defaultdict(list)
    for row in sc.select("opportunity_id", "stage", "entered_at").to_pyarrow().to_pylist():
        at = local_time(row["entered_at"], zone)
        if at is not None:
            entries[str(row["opportunity_id"])].append((str(row["stage"]), at))
    return deals, dict(entries)


def _calendar(settings: dict[str, str], grain: str) -> Calendar:
    return Calendar(parse_grain(grain), False, int(settings.get("fiscal_year_start_month", "1")))


def losses(
    store: Any,
    settings: dict[str, str],
    by: str = "reason",
    grain: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    deals, entries = load(store, settings)
    base = settings["base_currency"].upper()
    return losses_analytics.losses(deals, entries, _calendar(settings, grain), by, start, end, base)


def qualification(
    store: Any,
    settings: dict[str, str],
    grain: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    late_stage: str | None = None,
) -> dict[str, Any]:
    deals, entries = load(store, settings)
    spells = [cycle.Spell(oid, stage, at, 0.0, True) for oid, rows in entries.items() for stage, at in rows]
    known = {d.stage for d in deals if d.stage}
    order = cycle.stage_order(spells)
    order += sorted(known - set(order))
    calendar = _calendar(settings, grain)
    return qualification_analytics.qualification(deals, calendar, order, late_stage, start, end)
