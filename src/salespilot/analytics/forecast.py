"""The forecast (docs/forecast.md): expected bookings for a horizon, with a P10-P90 range, from the
company's own history; and the two baselines it is compared with in the backtest.

An estimator in the house style: ``Forecaster(...).fit(deals, entries, now)`` learns from the
history up to ``now``; ``predict(horizon_days)`` returns a ``Forecast``. Pure: the engine hands in
the deals (``analytics.cycle.Deal``) and stage entries as they stood at ``now``.

**The horizon rate of a stage** is measured on the company's own past, the way the forecast will
be judged: on snapshot dates every ``snapshot_days`` over the ``history_days`` before ``now``
whose horizon is over by ``now`` (t + horizon <= now, so nothing is censored and nothing is
peeked at), every deal open on that date in that stage; the rate is the share of their value won
within the horizon after the date (each deal weighs its amount / the mean amount: large deals
lose more often, and the forecast sums values). Age, stalling and the pace of closing are in it
by construction: a deal open in a stage is compared with deals that were open in that stage.
Per segment, the rate is shrunk toward the stage's with ``prior`` pseudo-deals (empirical
Bayes): (won_segment + prior x p_stage) / (n_segment + prior), counts in distinct deals. A stage
without snapshots takes the overall rate (flag ``stage_without_history``). When the history is
shorter than snapshot + horizon, the rates fall back to the share of value won among the closed
deals that entered the stage (flag ``history_shorter_than_horizon``).

An earlier model of this module multiplied a stage-to-win rate by a Kaplan-Meier time-to-close
with open deals censored; on the demo company's backtest it over-forecast by 55 to 75%, because
a deal still open in a stage after some time is not like the deals that passed through it: the
snapshot rate measures the right population directly (docs/forecast.md keeps the figures).

**Monte Carlo**: each simulation draws every stage's rate from its Beta posterior (Jeffreys
prior over the distinct deals observed; a short history widens the range), scales it by the
deal's segment ratio, draws each deal won or not, and adds the won amounts; P10, P50 and P90 are
percentiles of the simulated totals. Already won in the horizon (``already_won``) is added as is.
**Pipeline not yet created** (optional): deals created and won within one horizon, as the last
``lookback`` horizons had them: a Poisson number per simulation, each of an amount drawn from theirs.

Baselines: **weighted pipeline**, each open deal's amount x a fixed probability of its stage
(spaced evenly by stage order, 1/(n+1) ... n/(n+1), as CRMs' defaults are), for deals expected
to close within the horizon; **run rate**, the mean bookings per day of the last ``lookback``
horizons x the horizon's days.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from salespilot.analytics.cycle import Deal, Spell, stage_order
from salespilot.errors import ParameterError

DAY = 86400.0
NO_STAGE = "(no stage)"


def reached_stages(entries: Sequence[tuple[str, str, dt.datetime]], deals: Mapping[str, Deal]) -> dict[str, set[str]]:
    """Per deal, the stages it was in at some point: its history, and its current (last) stage."""
    out: dict[str, set[str]] = defaultdict(set)
    for opportunity_id, stage, _ in entries:
        out[opportunity_id].add(stage)
    for opportunity_id, deal in deals.items():
        if deal.stage:
            out[opportunity_id].add(deal.stage)
    return out


@dataclass(frozen=True)
class DealForecast:
    opportunity_id: str
    owner: str | None
    stage: str
    segment: str | None
    value: float
    age_days: float
    stage_rate: float  # the stage's horizon rate
    probability: float  # won within the horizon (the stage's rate, shrunk by segment)
    forecast_category: str | None
    flags: tuple[str, ...] = ()


@dataclass
class Forecast:
    now: dt.datetime
    horizon_days: float
    already_won: float
    expected: float
    p10: float
    p50: float
    p90: float
    new_pipeline: float  # expected bookings from deals not yet created
    deals: list[DealForecast]
    closed_deals: int  # the history the rates come from
    simulations: int
    rates: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "horizon_days": self.horizon_days,
            "already_won": self.already_won,
            "expected": self.expected,
            "p10": self.p10,
            "p50": self.p50,
            "p90": self.p90,
            "new_pipeline": self.new_pipeline,
            "closed_deals": self.closed_deals,
            "simulations": self.simulations,
            "rates": self.rates,
            "flags": list(self.flags),
            "deals": [{**d.__dict__, "flags": list(d.flags)} for d in self.deals],
        }


def _days(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / DAY


@dataclass
class _Rate:
    won: float = 0.0  # weighted
    total: float = 0.0  # weighted
    deals: set[str] = field(default_factory=set)  # distinct deals (the fallback path)
    n: int = 0  # distinct deals (the snapshot path)

    def add(self, deal: str, weight: float, won: bool) -> None:
        self.total += weight
        self.won += weight if won else 0.0
        self.deals.add(deal)
        self.n = len(self.deals)

    @property
    def share(self) -> float:
        return self.won / self.total if self.total else 0.0


class Forecaster:
    """See the module docstring and docs/forecast.md."""

    def __init__(
        self,
        simulations: int = 10_000,
        prior: float = 10.0,
        seed: int = 0,
        new_pipeline: bool = True,
        lookback: int = 6,
        snapshot_days: float = 7.0,
        history_days: float = 365.0,
    ) -> None:
        if simulations < 100:
            raise ParameterError(f"--simulations must be 100 or more (got {simulations}).")
        self.simulations = simulations
        self.prior = prior
        self.seed = seed
        self.new_pipeline = new_pipeline
        self.lookback = lookback
        self.snapshot_days = snapshot_days
        self.history_days = history_days

    # -- fit -----------------------------------------------------------------------------------
    def fit(
        self, deals: Mapping[str, Deal], entries: Sequence[tuple[str, str, dt.datetime]], now: dt.datetime
    ) -> Forecaster:
        self.now_ = now
        self.deals_ = {k: d for k, d in deals.items() if d.created_at <= now}
        self.closed_ = {
            k: d for k, d in self.deals_.items() if d.outcome in ("won", "lost") and d.closed_at and d.closed_at <= now
        }
        values = [d.value for d in self.closed_.values() if d.value is not None and d.value > 0]
        self.mean_value_ = sum(values) / len(values) if values else 1.0
        history: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
        for opportunity_id, stage, at in entries:
            if at <= now and opportunity_id in self.deals_:
                history[opportunity_id].append((at, stage))
        for items in history.values():
            items.sort()
        self.history_ = dict(history)
        self.reached_ = reached_stages(entries, self.deals_)
        self.stage_order_ = stage_order(_spells_for_order(entries))
        self._cache: dict[float, tuple[dict[str, _Rate], dict[tuple[str, str | None], _Rate], list[str]]] = {}
        return self

    def _check(self) -> None:
        if not hasattr(self, "deals_"):
            raise ParameterError("The forecaster is not fitted: call fit() first.")

    def weight(self, d: Deal) -> float:
        return d.value / self.mean_value_ if d.value is not None and d.value > 0 else 1.0

    def stage_at(self, d: Deal, t: dt.datetime) -> str:
        """The stage a deal was in at ``t``: its last entry by then, else its stage (no history)."""
        items = self.history_.get(d.opportunity_id)
        if not items:
            return d.stage or NO_STAGE
        at = bisect.bisect_right(items, (t, "\uffff"))
        return items[at - 1][1] if at else items[0][1]

    def rates(self, horizon: float) -> tuple[dict[str, _Rate], dict[tuple[str, str | None], _Rate], list[str]]:
        """Per stage and per (stage, segment): the value won within ``horizon`` of the deals open
        in it on the snapshot dates (see the module docstring)."""
        if horizon in self._cache:
            return self._cache[horizon]
        stage: dict[str, _Rate] = defaultdict(_Rate)
        segment: dict[tuple[str, str | None], _Rate] = defaultdict(_Rate)
        flags: list[str] = []
        last = self.now_ - dt.timedelta(days=horizon)
        first = self.now_ - dt.timedelta(days=self.history_days + horizon)
        snapshots = []
        t = last
        while t >= first:
            snapshots.append(t)
            t -= dt.timedelta(days=self.snapshot_days)
        if snapshots:
            stage, segment = self._snapshot_rates(snapshots, horizon)
        if not snapshots or not stage:
            flags.append("history_shorter_than_horizon")
            stage, segment = defaultdict(_Rate), defaultdict(_Rate)
            for k, d in self.closed_.items():
                for name in self.reached_.get(k) or {NO_STAGE}:
                    stage[name].add(k, self.weight(d), d.outcome == "won")
                    segment[(name, d.segment)].add(k, self.weight(d), d.outcome == "won")
        found = (dict(stage), dict(segment), flags)
        self._cache[horizon] = found
        return found

    def _snapshot_rates(
        self, snapshots: Sequence[dt.datetime], horizon: float
    ) -> tuple[dict[str, _Rate], dict[tuple[str, str | None], _Rate]]:
        """The snapshot rates, vectorised: per snapshot, the deals open then, their stage then,
        and whether they were won within the horizon."""
        deals = list(self.deals_.values())
        if not deals:
            return {}, {}
        now = self.now_
        created = np.array([_days(now, d.created_at) for d in deals])
        closed = np.array(
            [_days(now, d.closed_at) if d.closed_at is not None and d.closed_at <= now else np.inf for d in deals]
        )
        won = np.array([d.outcome == "won" for d in deals]) & np.isfinite(closed)
        weight = np.array([self.weight(d) for d in deals])
        names: dict[str, int] = {}
        fixed = np.array([names.setdefault(d.stage or NO_STAGE, len(names)) for d in deals])
        with_history = np.array([d.opportunity_id in self.history_ for d in deals])
        segments: dict[str | None, int] = {}
        seg = np.array([segments.setdefault(d.segment, len(segments)) for d in deals])
        parts: list[tuple[np.ndarray[Any, Any], ...]] = []
        for t in snapshots:
            at = _days(now, t)
            index = np.flatnonzero((created <= at) & (closed > at))
            stage_now = fixed[index].copy()
            for j in np.flatnonzero(with_history[index]):
                stage_now[j] = names.setdefault(self.stage_at(deals[index[j]], t), len(names))
            parts.append((stage_now, index, weight[index], won[index] & (closed[index] <= at + horizon)))
        if not parts:
            return {}, {}
        st, idx, w, wn = (np.concatenate([p[i] for p in parts]) for i in range(4))
        by_name = {i: n for n, i in names.items()}
        by_segment = {i: n for n, i in segments.items()}
        stage: dict[str, _Rate] = {}
        for key, total, won_w, n in _grouped(st, idx, w, wn):
            stage[by_name[int(key)]] = _Rate(won=won_w, total=total, n=n)
        segment: dict[tuple[str, str | None], _Rate] = {}
        combined = st * len(segments) + seg[idx]
        for key, total, won_w, n in _grouped(combined, idx, w, wn):
            name, part = divmod(int(key), len(segments))
            segment[(by_name[name], by_segment[part])] = _Rate(won=won_w, total=total, n=n)
        return stage, segment

    def _overall(self, stage: Mapping[str, _Rate]) -> _Rate:
        total = _Rate()
        for r in stage.values():
            total.won += r.won
            total.total += r.total
            total.n += r.n  # a deal seen in two stages counts twice: an upper bound
        return total

    def stage_point(self, name: str, horizon: float) -> tuple[float, float]:
        """The stage's rate (Jeffreys posterior mean) and its distinct deals."""
        stage, _, _ = self.rates(horizon)
        r = stage.get(name) or self._overall(stage)
        n = r.n
        return (r.share * n + 0.5) / (n + 1.0), float(n)

    def deal_rate(self, name: str, segment: str | None, horizon: float) -> float:
        """The stage's rate shrunk toward by the segment's own: (k + prior p) / (n + prior)."""
        p, _ = self.stage_point(name, horizon)
        _, seg, _ = self.rates(horizon)
        r = seg.get((name, segment))
        if r is None:
            return p
        n = r.n
        return (r.share * n + self.prior * p) / (n + self.prior)

    # -- predict -------------------------------------------------------------------------------
    def predict(self, horizon_days: float, already_won: float = 0.0) -> Forecast:
        self._check()
        if not horizon_days > 0:
            raise ParameterError(f"The horizon must be a positive number of days (got {horizon_days:g}).")
        now = self.now_
        stage_rates, _, rate_flags = self.rates(horizon_days)
        open_deals = [
            d for d in self.deals_.values() if d.outcome == "open" or (d.closed_at is not None and d.closed_at > now)
        ]
        rows: list[DealForecast] = []
        for d in sorted(open_deals, key=lambda d: d.opportunity_id):
            name = d.stage or NO_STAGE
            flags = []
            if name not in stage_rates:
                flags.append("stage_without_history")
            if d.value is None:
                flags.append("no_amount")
            p, _ = self.stage_point(name, horizon_days)
            rows.append(
                DealForecast(
                    d.opportunity_id,
                    d.owner,
                    name,
                    d.segment,
                    float(d.value or 0.0),
                    round(max(_days(d.created_at, now), 0.0), 2),
                    p,
                    self.deal_rate(name, d.segment, horizon_days),
                    d.forecast_category,
                    tuple(flags),
                )
            )
        totals, new_mean = self._simulate(rows, horizon_days, self.new_pipeline)
        totals += already_won
        flags = list(rate_flags)
        if len(self.closed_) < 30:
            flags.append(f"small_history: {len(self.closed_)} closed deals")
        return Forecast(
            now=now,
            horizon_days=horizon_days,
            already_won=already_won,
            expected=already_won + sum(r.value * r.probability for r in rows) + new_mean,
            p10=float(np.percentile(totals, 10)),
            p50=float(np.percentile(totals, 50)),
            p90=float(np.percentile(totals, 90)),
            new_pipeline=new_mean,
            deals=rows,
            closed_deals=len(self.closed_),
            simulations=self.simulations,
            rates=[
                {"stage": k, "rate": r.share, "deals": r.n, "value_weight": r.total}
                for k, r in sorted(stage_rates.items())
            ],
            flags=flags,
        )

    def simulate(
        self, rows: Sequence[DealForecast], horizon: float, new_pipeline: bool | None = None
    ) -> tuple[npt.NDArray[np.float64], float]:
        """Simulated bookings of ``rows`` (a part of ``predict``'s deals, e.g. one rep's) within the
        horizon, and the expected part from pipeline not yet created (when ``new_pipeline``)."""
        return self._simulate(rows, horizon, self.new_pipeline if new_pipeline is None else new_pipeline)

    def _simulate(
        self, rows: Sequence[DealForecast], horizon: float, new_pipeline: bool = True
    ) -> tuple[npt.NDArray[np.float64], float]:
        rng = np.random.default_rng(self.seed)
        sims = self.simulations
        totals = np.zeros(sims, dtype=np.float64)
        if rows:
            stages = sorted({r.stage for r in rows})
            index = {s: i for i, s in enumerate(stages)}
            deal_stage = np.array([index[r.stage] for r in rows], dtype=np.int64)
            values = np.array([r.value for r in rows], dtype=np.float64)
            points = [self.stage_point(s, horizon) for s in stages]
            point = np.array([p for p, _ in points])
            alpha = np.array([p * n + 0.5 for p, n in points])
            beta = np.array([(1 - p) * n + 0.5 for p, n in points])
            ratio = np.array([r.probability for r in rows]) / np.maximum(point[deal_stage], 1e-12)
            # Deals grouped by stage: each block compares its uniforms with (n, 1) drawn rates x its
            # ratios, a broadcast rather than a gather of every deal's rate.
            blocks = [np.flatnonzero(deal_stage == i) for i in range(len(stages))]
            chunk = max(1, min(sims, 20_000_000 // len(rows)))
            for start in range(0, sims, chunk):
                n = min(chunk, sims - start)
                drawn = rng.beta(alpha, beta, size=(n, len(stages)))
                for i, block in enumerate(blocks):
                    p = np.minimum(drawn[:, i : i + 1] * ratio[block], 1.0)
                    totals[start : start + n] += (rng.random((n, block.size)) < p) @ values[block]
        new_mean = 0.0
        if new_pipeline:
            count, amounts = self._new_pipeline(horizon)
            if count > 0 and amounts.size:
                new_mean = count * float(amounts.mean())
                k = rng.poisson(count, sims)
                picks = rng.integers(0, amounts.size, int(k.sum()))
                owners = np.repeat(np.arange(sims), k)
                totals += np.bincount(owners, weights=amounts[picks], minlength=sims)
        return totals, new_mean

    def _new_pipeline(self, horizon: float) -> tuple[float, npt.NDArray[np.float64]]:
        """Mean count per horizon, over the last ``lookback`` horizons, of deals created and won
        within one horizon, and their amounts."""
        start = self.now_ - dt.timedelta(days=horizon * self.lookback)
        found = [
            d
            for d in self.closed_.values()
            if d.outcome == "won"
            and d.created_at >= start
            and d.closed_at is not None
            and _days(d.created_at, d.closed_at) <= horizon
            and d.value is not None
        ]
        return len(found) / self.lookback, np.array([float(d.value or 0.0) for d in found])

    # -- baselines -----------------------------------------------------------------------------
    def weighted_pipeline(self, horizon_days: float) -> float:
        """Open deals expected to close within the horizon, amount x their stage's fixed probability."""
        self._check()
        order = self.stage_order_
        fixed = {s: (i + 1) / (len(order) + 1) for i, s in enumerate(order)}
        end = (self.now_ + dt.timedelta(days=horizon_days)).date()
        total = 0.0
        for d in self.deals_.values():
            open_now = d.created_at <= self.now_ and (d.outcome == "open" or (d.closed_at or self.now_) > self.now_)
            if not open_now or d.value is None:
                continue
            if d.expected_close_date is not None and d.expected_close_date > end:
                continue
            total += d.value * fixed.get(d.stage or "", 0.5)
        return total

    def run_rate(self, horizon_days: float) -> float:
        """Bookings per day over the last ``lookback`` horizons x the horizon's days."""
        self._check()
        span = horizon_days * self.lookback
        start = self.now_ - dt.timedelta(days=span)
        won = sum(
            d.value or 0.0
            for d in self.closed_.values()
            if d.outcome == "won" and d.closed_at is not None and start < d.closed_at <= self.now_
        )
        return won / span * horizon_days


def _grouped(
    keys: np.ndarray[Any, Any], deals: np.ndarray[Any, Any], weights: np.ndarray[Any, Any], won: np.ndarray[Any, Any]
) -> list[tuple[int, float, float, int]]:
    """Per key: total weight, won weight, distinct deals."""
    out = []
    unique, inverse = np.unique(keys, return_inverse=True)
    totals = np.bincount(inverse, weights=weights)
    wins = np.bincount(inverse, weights=weights * won)
    pairs = np.unique(np.stack([inverse, deals]), axis=1)
    distinct = np.bincount(pairs[0], minlength=unique.size)
    for i, key in enumerate(unique):
        out.append((int(key), float(totals[i]), float(wins[i]), int(distinct[i])))
    return out


def _spells_for_order(entries: Sequence[tuple[str, str, dt.datetime]]) -> list[Spell]:
    return [Spell(o, s, at, 0.0, True, None) for o, s, at in entries]


def score(forecasts: Sequence[float], actuals: Sequence[float]) -> dict[str, float | None]:
    """Mean absolute percentage error (periods with bookings), bias (mean error / mean actual)
    and mean absolute error of a series of forecasts."""
    errors = [f - a for f, a in zip(forecasts, actuals, strict=True)]
    pairs = [(abs(e), a) for e, a in zip(errors, actuals, strict=True) if a]
    mean_actual = sum(actuals) / len(actuals) if actuals else 0.0
    return {
        "mape": sum(e / a for e, a in pairs) / len(pairs) if pairs else None,
        "bias": (sum(errors) / len(errors)) / mean_actual if errors and mean_actual else None,
        "mae": sum(abs(e) for e in errors) / len(errors) if errors else None,
    }
