"""Qualification: which of the six qualification fields each opportunity has filled, and what
that says about winning (docs/losses.md).

Pure: works on the engine's ``Opportunity`` records (times already in local time).

* A field is *filled* when it holds something other than blanks; a deal is *fully qualified*
  when all six are filled, else *partly qualified* (none filled counts as partly).
* An opportunity's period is the period of its creation.
* Win rate = won / (won + lost) among closed deals, with its Wilson interval; the difference in
  win rate between deals with a field filled and deals with it empty has Newcombe's hybrid
  score interval (``metrics.stats.newcombe_difference``).
* Cycle: days from creation to close of won deals, median and n.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from salespilot.analytics.losses import QUALIFICATION_FIELDS, UNKNOWN, Opportunity, in_range
from salespilot.errors import ParameterError
from salespilot.metrics.periods import Calendar
from salespilot.metrics.stats import newcombe_difference, wilson

FIELDS = QUALIFICATION_FIELDS
DEFAULT_LATE_STAGE = "proposal"


def is_filled(value: str | None) -> bool:
    return value is not None and str(value).strip() != ""


def filled_fields(deal: Opportunity) -> list[str]:
    return [f for f in FIELDS if is_filled(deal.qualification.get(f))]


def is_fully_qualified(deal: Opportunity) -> bool:
    return len(filled_fields(deal)) == len(FIELDS)


def qualification(
    deals: Sequence[Opportunity],
    calendar: Calendar,
    stage_order: Sequence[str],
    late_stage: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Every part of ``salespilot qualification`` for the deals created between ``start`` and ``end``."""
    chosen = [d for d in deals if (start is None and end is None) or in_range(d.created_at, start, end)]
    late = _late_stage(stage_order, late_stage)
    return {
        "grain": calendar.grain.value,
        "fields": list(FIELDS),
        "opportunities": opportunities(chosen, calendar),
        "by_rep": by_rep(chosen, calendar),
        "comparison": comparison(chosen),
        "fields_effect": field_effects(chosen),
        "late_stage": late,
        "late_unqualified": late_unqualified(chosen, stage_order, late) if late is not None else [],
    }


def _period(deal: Opportunity, calendar: Calendar) -> str | None:
    return None if deal.created_at is None else calendar.label(calendar.start_of(deal.created_at.date()))


def opportunities(deals: Sequence[Opportunity], calendar: Calendar) -> list[dict[str, Any]]:
    """One row per opportunity: its period, owner, outcome, stage and which fields are filled."""
    rows = []
    for d in sorted(deals, key=lambda d: d.opportunity_id):
        filled = filled_fields(d)
        rows.append(
            {
                "opportunity_id": d.opportunity_id,
                "period": _period(d, calendar),
                "owner": d.owner,
                "outcome": d.outcome,
                "stage": d.stage,
                **{f: f in filled for f in FIELDS},
                "filled": len(filled),
                "fully_qualified": len(filled) == len(FIELDS),
            }
        )
    return rows


def by_rep(deals: Sequence[Opportunity], calendar: Calendar) -> list[dict[str, Any]]:
    """Per period and rep: opportunities, fully qualified ones, their share (Wilson interval)."""
    groups: dict[tuple[str, str], list[Opportunity]] = defaultdict(list)
    for d in deals:
        period = _period(d, calendar)
        if period is not None:
            groups[(period, d.owner or UNKNOWN)].append(d)
    rows = []
    for (period, rep), members in sorted(groups.items()):
        full = sum(is_fully_qualified(d) for d in members)
        low, high = wilson(full, len(members))
        rows.append(
            {
                "period": period,
                "rep": rep,
                "opportunities": len(members),
                "fully_qualified": full,
                "share": _round(full / len(members)),
                "ci_low": _round(low),
                "ci_high": _round(high),
            }
        )
    return rows


def comparison(deals: Sequence[Opportunity]) -> list[dict[str, Any]]:
    """Fully vs partly qualified closed deals: win rate (Wilson) and cycle of the won ones."""
    rows = []
    for group, full in (("fully", True), ("partly", False)):
        closed = [d for d in deals if d.outcome in ("won", "lost") and is_fully_qualified(d) == full]
        won = [d for d in closed if d.outcome == "won"]
        low, high = wilson(len(won), len(closed))
        cycles = [
            (d.closed_at - d.created_at).total_seconds() / 86400.0
            for d in won
            if d.closed_at is not None and d.created_at is not None
        ]
        rows.append(
            {
                "qualified": group,
                "closed": len(closed),
                "won": len(won),
                "win_rate": _round(len(won) / len(closed)) if closed else None,
                "ci_low": _round(low),
                "ci_high": _round(high),
                "cycle_n": len(cycles),
                "cycle_median_days": round(statistics.median(cycles), 2) if cycles else None,
            }
        )
    return rows


def field_effects(deals: Sequence[Opportunity]) -> list[dict[str, Any]]:
    """Per field: win rate with it filled and empty, their difference and its 95% interval (Newcombe)."""
    closed = [d for d in deals if d.outcome in ("won", "lost")]
    rows = []
    for f in FIELDS:
        filled = [d for d in closed if is_filled(d.qualification.get(f))]
        empty = [d for d in closed if not is_filled(d.qualification.get(f))]
        won_filled = sum(d.outcome == "won" for d in filled)
        won_empty = sum(d.outcome == "won" for d in empty)
        low, high = newcombe_difference(won_filled, len(filled), won_empty, len(empty))
        rate_filled = won_filled / len(filled) if filled else None
        rate_empty = won_empty / len(empty) if empty else None
        diff = rate_filled - rate_empty if rate_filled is not None and rate_empty is not None else None
        rows.append(
            {
                "field": f,
                "filled_closed": len(filled),
                "filled_won": won_filled,
                "filled_win_rate": _round(rate_filled),
                "empty_closed": len(empty),
                "empty_won": won_empty,
                "empty_win_rate": _round(rate_empty),
                "difference": _round(diff),
                "ci_low": _round(low),
                "ci_high": _round(high),
            }
        )
    return rows


def late_unqualified(deals: Sequence[Opportunity], stage_order: Sequence[str], late_stage: str) -> list[dict[str, Any]]:
    """Open deals at ``late_stage`` or beyond that are not fully qualified, by value."""
    late = set(stage_order[stage_order.index(late_stage) :])
    rows: list[dict[str, Any]] = []
    for d in deals:
        if d.outcome != "open" or d.stage not in late:
            continue
        filled = filled_fields(d)
        if len(filled) == len(FIELDS):
            continue
        rows.append(
            {
                "opportunity_id": d.opportunity_id,
                "owner": d.owner,
                "stage": d.stage,
                "value": None if d.value is None else round(d.value, 2),
                "currency": d.currency,
                "missing": [f for f in FIELDS if f not in filled],
            }
        )
    rows.sort(key=lambda r: (-(r["value"] or 0.0), r["opportunity_id"]))
    return rows


def _late_stage(stage_order: Sequence[str], late_stage: str | None) -> str | None:
    if late_stage is None:
        if DEFAULT_LATE_STAGE in stage_order:
            return DEFAULT_LATE_STAGE
        return stage_order[-1] if stage_order else None
    if late_stage not in stage_order:
        known = ", ".join(stage_order) if stage_order else "none (no stage in the data)"
        raise ParameterError(f'--late-stage "{late_stage}" is not a stage of the pipeline. Stages: {known}.')
    return late_stage


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
