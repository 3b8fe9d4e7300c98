"""Lost deals: their value by reason (and the lever each reason points to), the stage at which they
were lost, and the win rate against each competitor (KPIS.md section 4; docs/losses.md).

Pure: works on the ``Opportunity`` records the engine hands in (times already in local time).

* A deal's *period* is the period of its close (``closed_at``); deals without a close date are
  left out (and counted as ``undated``).
* The *stage lost* is the last stage the deal entered before closing (``stage_changes``), else
  its ``stage``.
* The *win rate against a competitor*: among closed deals naming that competitor,
  won / (won + lost), with its Wilson interval.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from salespilot.errors import ParameterError
from salespilot.metrics.periods import Calendar
from salespilot.metrics.stats import wilson
from salespilot.model import LossReason

REASONS = tuple(r.value for r in LossReason)
# KPIS.md section 4: the lever each loss reason points to (timing, no_decision, other: none named).
LEVERS: dict[str, str | None] = {
    "bad_target": "lead generation targeting",
    "no_pain": "discovery and qualification",
    "no_fit": "product",
    "competitor": "positioning, competitive intelligence",
    "budget": "pricing, budget qualification",
    "timing": None,
    "no_decision": None,
    "other": None,
}
GROUPINGS = ("reason", "stage", "competitor", "rep", "segment")
UNKNOWN = "(unknown)"  # a rep, segment or stage the data does not give
QUALIFICATION_FIELDS = ("pain_point", "objective", "success_criteria", "competition", "budget", "decision_date")


@dataclass(frozen=True)
class Opportunity:
    opportunity_id: str
    outcome: str  # open, won, lost
    created_at: dt.datetime | None
    closed_at: dt.datetime | None = None
    stage: str | None = None
    owner: str | None = None
    segment: str | None = None
    value: float | None = None  # in the base currency when it could be converted
    currency: str | None = None
    loss_reason: str | None = None
    loss_reason_text: str | None = None
    competitor: str | None = None
    qualification: Mapping[str, str | None] = field(default_factory=dict)


def stage_at_close(deal: Opportunity, entries: Iterable[tuple[str, dt.datetime]]) -> str | None:
    """The last stage ``deal`` entered before (or when) it closed, else its ``stage``."""
    before = [(at, stage) for stage, at in entries if deal.closed_at is None or at <= deal.closed_at]
    return max(before)[1] if before else deal.stage


def reason_of(deal: Opportunity) -> str:
    """The deal's loss reason in the taxonomy; missing or unknown reasons count as ``other``."""
    return deal.loss_reason if deal.loss_reason in LEVERS else "other"


def in_range(day: dt.datetime | None, start: dt.date | None, end: dt.date | None) -> bool:
    if day is None:
        return False
    return (start is None or day.date() >= start) and (end is None or day.date() <= end)


def losses(
    deals: Sequence[Opportunity],
    entries: Mapping[str, Sequence[tuple[str, dt.datetime]]],
    calendar: Calendar,
    by: str = "reason",
    start: dt.date | None = None,
    end: dt.date | None = None,
    base_currency: str | None = None,
) -> dict[str, Any]:
    """Lost deals and their value per period and ``by`` value (see the module's docstring)."""
    if by not in GROUPINGS:
        raise ParameterError(f'--by "{by}" is not a grouping of losses: {", ".join(GROUPINGS)}.')
    closed = [d for d in deals if d.outcome in ("won", "lost")]
    undated = sum(1 for d in closed if d.outcome == "lost" and d.closed_at is None)
    closed = [d for d in closed if in_range(d.closed_at, start, end)]
    groups: dict[tuple[str, str], list[Opportunity]] = defaultdict(list)
    lost_in: Counter[str] = Counter()
    value_in: defaultdict[str, float] = defaultdict(float)
    for deal in closed:
        assert deal.closed_at is not None
        period = calendar.label(calendar.start_of(deal.closed_at.date()))
        key = _key(deal, by, entries.get(deal.opportunity_id, ()))
        if key is None:  # by competitor: deals naming none are not in any row
            if deal.outcome == "lost":
                lost_in[period] += 1
                value_in[period] += _value(deal, base_currency)
            continue
        if by in ("reason", "stage") and deal.outcome != "lost":
            continue
        groups[(period, key)].append(deal)
        if deal.outcome == "lost":
            lost_in[period] += 1
            value_in[period] += _value(deal, base_currency)
    rows = []
    for (period, key), members in groups.items():
        lost = [d for d in members if d.outcome == "lost"]
        lost_value = sum(_value(d, base_currency) for d in lost)
        row: dict[str, Any] = {
            "period": period,
            by: key,
            "lost": len(lost),
            "lost_value": round(lost_value, 2),
            "share_of_lost": _ratio(len(lost), lost_in[period]),
            "share_of_lost_value": _ratio(lost_value, value_in[period]),
        }
        if by == "reason":
            row["lever"] = LEVERS[key]
            texts = Counter(d.loss_reason_text for d in lost if d.loss_reason_text)
            row["texts"] = [{"text": t, "count": n} for t, n in sorted(texts.items(), key=lambda kv: (-kv[1], kv[0]))]
        elif by != "stage":
            won = len(members) - len(lost)
            low, high = wilson(won, len(members))
            row |= {
                "won": won,
                "closed": len(members),
                "win_rate": _ratio(won, len(members)),
                "ci_low": _round(low),
                "ci_high": _round(high),
            }
            if by != "competitor":
                reasons = Counter(reason_of(d) for d in lost)
                row["top_reason"] = min(reasons, key=lambda r: (-reasons[r], r)) if reasons else None
        rows.append(row)
    rows.sort(key=lambda r: (r["period"], -r["lost_value"], -r["lost"], str(r[by])))
    return {
        "by": by,
        "grain": calendar.grain.value,
        "base_currency": base_currency,
        "lost": sum(lost_in.values()),
        "lost_value": round(sum(value_in.values()), 2),
        "undated_lost": undated,
        "rows": rows,
    }


def _key(deal: Opportunity, by: str, entries: Iterable[tuple[str, dt.datetime]]) -> str | None:
    match by:
        case "reason":
            return reason_of(deal)
        case "stage":
            return stage_at_close(deal, entries) or UNKNOWN
        case "competitor":
            return deal.competitor.strip() if deal.competitor and deal.competitor.strip() else None
        case "rep":
            return deal.owner or UNKNOWN
        case _:
            return deal.segment or UNKNOWN


def _value(deal: Opportunity, base_currency: str | None) -> float:
    """The deal's value in the base currency; 0 when unknown or not convertible."""
    if deal.value is None or (base_currency is not None and deal.currency not in (None, base_currency)):
        return 0.0
    return deal.value


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
