"""Time spent in each stage, and the deals stuck in theirs (KPIS.md: stage_duration_days, stuck_deals).

Everything here works on plain Python and NumPy data handed in by the engine: no database.

* A *spell* is the time an opportunity spent in one stage: from entering it (a ``stage_changes``
  row) to entering the next stage, or to closing. A spell that is still running (an open deal in
  its current stage) is *censored* at the data's end: we know it lasted at least that long.
* The durations are estimated with Kaplan-Meier, so the censored spells count (a median of the
  finished spells only would be biased short: the slow deals are the ones still open).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from salespilot.errors import ParameterError

CYCLE = "(whole cycle)"  # the row of StageDurations for creation -> close
QUANTILES = (("median", 0.5), ("p75", 0.75), ("p90", 0.9))
SECONDS_PER_DAY = 86400.0
GROUPINGS = ("rep", "stage", "segment")  # what ``stuck_deals(by=...)`` may group by
_GROUP_KEY = {"rep": "owner", "stage": "stage", "segment": "segment"}
_TOLERANCE = 1e-12  # S(t) computed as a product: 0.5 may come out as 0.5000000000000001


class KaplanMeier:
    """The Kaplan-Meier (product-limit) estimate of a survival function S(t) = P(T > t).

    ``fit(durations, observed)``: ``observed[i]`` is False when duration ``i`` is censored (the
    spell was still running when the data ends). At each distinct time t with d events among the
    n durations >= t, S drops by the factor (1 - d / n).

    ``quantile(p)`` is the smallest time t where S(t) <= 1 - p: the time by which a share p of
    the spells has ended. This is lifelines' definition (``KaplanMeierFitter.median_survival_time_``
    for p = 0.5; ``lifelines.utils.qth_survival_time(1 - p, kmf.survival_function_)`` in general;
    note lifelines' ``percentile(q)`` takes the *surviving* share q = 1 - p). When S never falls
    that low (too many censored spells) the quantile is unknown: ``math.inf``, as in lifelines.
    """

    def __init__(self) -> None:
        self.timeline: npt.NDArray[np.float64] = np.empty(0)  # the distinct durations, ascending
        self.survival: npt.NDArray[np.float64] = np.empty(0)  # S at each time of the timeline
        self.at_risk: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.event_counts: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.n = 0
        self.events = 0

    def fit(self, durations: Iterable[float], observed: Iterable[bool] | None = None) -> KaplanMeier:
        d = np.asarray(list(durations) if not isinstance(durations, np.ndarray) else durations, dtype=np.float64)
        if observed is None:
            o = np.ones(d.shape, dtype=bool)
        else:
            o = np.asarray(list(observed) if not isinstance(observed, np.ndarray) else observed, dtype=bool)
        if d.ndim != 1 or o.shape != d.shape:
            raise ParameterError("Kaplan-Meier needs one duration and one observed flag per spell.")
        if d.size and (not np.isfinite(d).all() or (d < 0).any()):
            raise ParameterError("Kaplan-Meier durations must be finite and >= 0.")
        self.n = int(d.size)
        self.events = int(o.sum())
        self.timeline = np.unique(d)
        ordered = np.sort(d)
        self.at_risk = (d.size - np.searchsorted(ordered, self.timeline, side="left")).astype(np.int64)
        index = np.searchsorted(self.timeline, d)
        self.event_counts = np.bincount(index[o], minlength=self.timeline.size).astype(np.int64)
        factors = 1.0 - self.event_counts / np.maximum(self.at_risk, 1)
        self.survival = np.asarray(np.cumprod(factors), dtype=np.float64)
        return self

    def survival_function(self, times: float | Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """S(t) at each of ``times`` (a step function, right-continuous; 1 before the first time)."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        index = np.searchsorted(self.timeline, t, side="right") - 1
        values = np.ones(t.shape, dtype=np.float64)
        inside = index >= 0
        values[inside] = self.survival[index[inside]]
        return values

    def quantile(self, p: float) -> float:
        """The smallest time t where S(t) <= 1 - p (``math.inf`` if S stays above; NaN when empty)."""
        if not 0.0 < p < 1.0:
            raise ParameterError(f"A quantile is between 0 and 1 (excluded), not {p}.")
        if self.n == 0:
            return math.nan
        below = np.nonzero(self.survival <= (1.0 - p) + _TOLERANCE)[0]
        return float(self.timeline[below[0]]) if below.size else math.inf

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    def summary(self) -> dict[str, Any]:
        """n, events, censored, and median, p75, p90 in the durations' unit (None when unknown)."""
        out: dict[str, Any] = {"n": self.n, "events": self.events, "censored": self.n - self.events}
        for name, p in QUANTILES:
            out[name] = _finite(self.quantile(p)) if self.n else None
        return out


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 6)


# -- spells ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deal:
    """What the analysis needs of an opportunity (from the engine)."""

    opportunity_id: str
    created_at: dt.datetime
    outcome: str  # open, won, lost
    closed_at: dt.datetime | None = None
    stage: str | None = None  # the current stage
    owner: str | None = None
    segment: str | None = None
    value: float | None = None  # amount, in the base currency when it could be converted
    currency: str | None = None  # the currency of ``value``
    last_activity_at: dt.datetime | None = None
    expected_close_date: dt.date | None = None
    forecast_category: str | None = None  # the rep's own call: commit, best_case, pipeline, omitted


@dataclass(frozen=True)
class Spell:
    opportunity_id: str
    stage: str
    entered_at: dt.datetime
    days: float
    observed: bool  # False: still running at the data's end (censored)
    segment: str | None = None


def _days(start: dt.datetime, end: dt.datetime) -> float:
    return max(0.0, (end - start).total_seconds() / SECONDS_PER_DAY)


def stage_spells(
    entries: Iterable[tuple[str, str, dt.datetime]], deals: Mapping[str, Deal], data_end: dt.datetime
) -> list[Spell]:
    """The spells of ``entries`` (opportunity_id, stage, entered_at), one per stage entry.

    A spell ends at the deal's next stage entry, else at its close; the last spell of an open deal
    is censored at ``data_end``. Left out: entries of unknown opportunities, entries at or after a
    deal's close (a "closed won" stage is an outcome, not time spent), and the last spell of a
    deal closed without a close date (its end is unknown).
    """
    by_deal: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for opportunity_id, stage, entered_at in entries:
        if opportunity_id in deals and stage is not None and entered_at is not None:
            by_deal[opportunity_id].append((entered_at, stage))
    spells = []
    for opportunity_id, history in by_deal.items():
        deal = deals[opportunity_id]
        closed = deal.outcome != "open"
        if closed and deal.closed_at is not None:
            history = [h for h in history if h[0] < deal.closed_at]
        history.sort()
        for i, (entered_at, stage) in enumerate(history):
            if i + 1 < len(history):
                end, observed = history[i + 1][0], True
            elif closed:
                if deal.closed_at is None:
                    continue
                end, observed = deal.closed_at, True
            else:
                end, observed = max(data_end, entered_at), False
            spells.append(Spell(opportunity_id, stage, entered_at, _days(entered_at, end), observed, deal.segment))
    return spells


def stage_order(spells: Sequence[Spell], configured: Sequence[str] | None = None) -> list[str]:
    """The stages in funnel order: the ``configured`` ones found in the data first (in their
    order), then the others by the median position of their first entry in deals' histories
    (0 = first stage entered; a revisit does not count again), ties by name. The same rule as
    ``metrics.stages.stage_order``."""
    positions: dict[str, list[int]] = defaultdict(list)
    by_deal: dict[str, dict[str, dt.datetime]] = defaultdict(dict)
    for s in spells:
        first = by_deal[s.opportunity_id]
        if s.stage not in first or s.entered_at < first[s.stage]:
            first[s.stage] = s.entered_at
    for entries in by_deal.values():
        for position, (stage, _) in enumerate(sorted(entries.items(), key=lambda e: (e[1], e[0]))):
            positions[stage].append(position)
    head = [s for s in dict.fromkeys(configured or ()) if s in positions]
    rest = sorted((s for s in positions if s not in head), key=lambda s: (float(np.median(positions[s])), s))
    return head + rest


# -- stage durations --------------------------------------------------------------------------


@dataclass
class StageDurations:
    """Per stage (in funnel order) and for the whole cycle: n, events, censored, median, p75, p90 in days."""

    stages: list[dict[str, Any]]
    cycle: dict[str, Any]
    data_end: dt.datetime | None
    fits: dict[str, KaplanMeier] = field(default_factory=dict, repr=False)

    @classmethod
    def compute(
        cls,
        spells: Sequence[Spell],
        deals: Mapping[str, Deal],
        data_end: dt.datetime | None,
        order: Sequence[str] | None = None,
    ) -> StageDurations:
        stages = stage_order(spells, order)
        grouped: dict[str, list[Spell]] = defaultdict(list)
        for s in spells:
            grouped[s.stage].append(s)
        fits: dict[str, KaplanMeier] = {}
        rows = []
        for position, stage in enumerate(stages, start=1):
            km = KaplanMeier().fit([s.days for s in grouped[stage]], [s.observed for s in grouped[stage]])
            fits[stage] = km
            rows.append({"stage": stage, "order": position, **km.summary()})
        cycle_fit = KaplanMeier().fit(*cycle_durations(deals, data_end))
        fits[CYCLE] = cycle_fit
        return cls(rows, {"stage": CYCLE, "order": None, **cycle_fit.summary()}, data_end, fits)

    def as_rows(self) -> list[dict[str, Any]]:
        return [*self.stages, self.cycle]


def cycle_durations(deals: Mapping[str, Deal], data_end: dt.datetime | None) -> tuple[list[float], list[bool]]:
    """Creation to close (won or lost) per deal; open deals censored at ``data_end``."""
    durations: list[float] = []
    observed: list[bool] = []
    for deal in deals.values():
        if deal.outcome == "open":
            if data_end is not None:
                durations.append(_days(deal.created_at, data_end))
                observed.append(False)
        elif deal.closed_at is not None:
            durations.append(_days(deal.created_at, deal.closed_at))
            observed.append(True)
    return durations, observed


# -- stuck deals ------------------------------------------------------------------------------


def stuck_deals(
    deals: Mapping[str, Deal],
    spells: Sequence[Spell],
    current_entry: Mapping[str, dt.datetime],
    data_end: dt.datetime,
    percentile: float = 90,
    idle_days: float | None = 30,
    min_history: int = 30,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """Open deals over their stage's historical percentile, or idle for more than ``idle_days``.

    The threshold of a stage is the Kaplan-Meier ``percentile`` of all its spells (the open deals'
    running spells censored), or of its spells in the deal's segment when that segment has at
    least ``min_history`` spells in the stage. ``current_entry`` maps an open deal to when it
    entered its current stage (the engine falls back to its creation). Sorted by value at risk
    (largest first); ``by`` ("rep", "stage", "segment") returns one row per group instead.
    """
    if not 0 < percentile < 100:
        raise ParameterError(f"--percentile must be between 0 and 100 (excluded), not {percentile}.")
    if idle_days is not None and idle_days < 0:
        raise ParameterError(f"--idle-days must be >= 0, not {idle_days}.")
    if by is not None and by not in GROUPINGS:
        raise ParameterError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}.")
    p = percentile / 100.0
    per_stage: dict[str, list[Spell]] = defaultdict(list)
    per_segment: dict[tuple[str, str], list[Spell]] = defaultdict(list)
    for s in spells:
        per_stage[s.stage].append(s)
        if s.segment is not None:
            per_segment[(s.stage, s.segment)].append(s)
    cache: dict[tuple[str, str | None], float] = {}

    def threshold(stage: str, segment: str | None) -> tuple[float, str]:
        key: tuple[str, str | None]
        if segment is not None and len(per_segment.get((stage, segment), ())) >= min_history:
            key, group, basis = (stage, segment), per_segment[(stage, segment)], "segment"
        else:
            key, group, basis = (stage, None), per_stage.get(stage, []), "stage"
        if key not in cache:
            cache[key] = KaplanMeier().fit([s.days for s in group], [s.observed for s in group]).quantile(p)
        return cache[key], basis

    rows: list[dict[str, Any]] = []
    for deal in deals.values():
        if deal.outcome != "open" or deal.stage is None:
            continue
        entered = current_entry.get(deal.opportunity_id, deal.created_at)
        in_stage = _days(entered, data_end)
        limit, basis = threshold(deal.stage, deal.segment)
        known = math.isfinite(limit)
        since = deal.last_activity_at if deal.last_activity_at is not None else deal.created_at
        quiet = _days(since, data_end)
        reasons = []
        if known and in_stage > limit:
            reasons.append("over_threshold")
        if idle_days is not None and quiet > idle_days:
            reasons.append("idle")
        if not reasons:
            continue
        rows.append(
            {
                "opportunity_id": deal.opportunity_id,
                "owner": deal.owner,
                "segment": deal.segment,
                "stage": deal.stage,
                "entered_stage_at": entered,
                "days_in_stage": round(in_stage, 2),
                "threshold_days": round(limit, 2) if known else None,
                "threshold_basis": basis if known else None,
                "days_over": round(in_stage - limit, 2) if known else None,
                "value_at_risk": deal.value,
                "currency": deal.currency,
                "last_activity_at": deal.last_activity_at,
                "days_since_activity": round(quiet, 2) if deal.last_activity_at is not None else None,
                "reasons": reasons,
            }
        )
    rows.sort(key=lambda r: (-(r["value_at_risk"] or 0.0), -r["days_in_stage"], r["opportunity_id"]))
    return rows if by is None else group_stuck(rows, by)


def group_stuck(rows: Sequence[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """One row per rep (stage, segment): deals, how many over threshold and idle, value at risk."""
    key = _GROUP_KEY[by]
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    out = []
    for value, members in groups.items():
        out.append(
            {
                by: value,
                "deals": len(members),
                "over_threshold": sum("over_threshold" in m["reasons"] for m in members),
                "idle": sum("idle" in m["reasons"] for m in members),
                "value_at_risk": round(sum(m["value_at_risk"] or 0.0 for m in members), 2),
                "opportunity_ids": [m["opportunity_id"] for m in members],
            }
        )
    out.sort(key=lambda g: (-g["value_at_risk"], -g["deals"], str(g[by])))
    return out
