"""The funnel planner (KPIS.md section 5): from a target back to the volumes and headcount it
needs, and from a volume or today's team forward to the signatures and revenue it yields.

An estimator in the house style: construct it with the rates' source, the capacities and
today's team; ``fit`` it on measured counts (for ``measured`` and ``per-rep`` rates); then
``backward`` and ``forward`` return a ``Plan``; ``summary`` lists the rates used.

Uncertainty of measured rates: each step's rate carries its 95% Wilson score interval
(``metrics.stats.wilson``); a volume's range multiplies (or divides by) the bounds of every
step it goes through: the extreme corners of the intervals, hence conservative (the joint
coverage is above 95%). Reference rates are constants: their plans carry no range.

The planner holds no database code: the engine counts, the planner computes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from salespilot.errors import ParameterError
from salespilot.metrics.stats import wilson
from salespilot.model import REFERENCE_RATES

STEPS = ("call_to_lead", "lead_to_opportunity", "opportunity_to_signature")
STEP_LABELS = {
    "call_to_lead": "call -> lead",
    "lead_to_opportunity": "lead -> opportunity",
    "opportunity_to_signature": "opportunity -> signature",
}
RATE_SOURCES = ("reference", "measured", "per-rep")
MONTH_DAYS = 365.25 / 12
HORIZONS = {"month": MONTH_DAYS, "quarter": 3 * MONTH_DAYS, "year": 12 * MONTH_DAYS}
INTERVAL_METHOD = "wilson-95-product-of-bounds"
FAR_BELOW = 0.5  # a measured rate under half the reference is flagged
ADVICE = {
    "call_to_lead": "check the call lists and the pitch",
    "lead_to_opportunity": "adjust the target or the qualification process",
    "opportunity_to_signature": "look at the loss reasons",
}


@dataclass(frozen=True)
class Capacity:
    """What one person of a role handles (defaults documented in docs/planner.md)."""

    sdr_calls_per_day: float = 60.0
    ae_opportunities_per_month: float = 25.0
    working_days_per_month: float = 21.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value > 0:
                raise ParameterError(f"The capacity {name.replace('_', '-')} must be above 0 (got {value}).")


@dataclass(frozen=True)
class Team:
    """Today's headcount: the ids of the active SDRs and AEs."""

    sdrs: tuple[str, ...] = ()
    aes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunnelCounts:
    """Measured counts over a window: calls made, leads created, of these leads the ones that
    became an opportunity, opportunities created, of these the ones won."""

    calls: int = 0
    leads: int = 0
    converted_leads: int = 0
    opportunities: int = 0
    won: int = 0

    def pairs(self) -> dict[str, tuple[int, int]]:
        return {
            "call_to_lead": (self.leads, self.calls),
            "lead_to_opportunity": (self.converted_leads, self.leads),
            "opportunity_to_signature": (self.won, self.opportunities),
        }


@dataclass(frozen=True)
class Rate:
    step: str
    value: float | None  # None: no observation in the window
    low: float | None
    high: float | None
    successes: float | None = None
    trials: float | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Volume:
    name: str  # calls, leads, opportunities, signatures, revenue
    value: float
    low: float | None = None  # None: no range (reference rates), or unbounded
    high: float | None = None


@dataclass(frozen=True)
class Headcount:
    role: str  # sdr, ae
    needed: float | None
    today: int
    capacity_per_month: float
    unit: str


@dataclass(frozen=True)
class Plan:
    direction: str  # backward, forward
    rates_source: str
    horizon_days: float
    working_days: float
    deal_value: float | None
    volumes: list[Volume]
    rates: list[Rate]
    headcount: list[Headcount]
    interval_method: str | None
    flags: list[str] = field(default_factory=list)
    window: dict[str, str | None] = field(default_factory=dict)

    def volume(self, name: str) -> Volume:
        for v in self.volumes:
            if v.name == name:
                return v
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_horizon(text: str | float) -> float:
    """``month``, ``quarter``, ``year``, ``N-days`` (or a number of days) -> calendar days."""
    if isinstance(text, int | float):
        days = float(text)
    else:
        key = text.strip().lower()
        if key in HORIZONS:
            return HORIZONS[key]
        number = key.removesuffix("-days").removesuffix("days").removesuffix("d").strip()
        try:
            days = float(number)
        except ValueError:
            raise ParameterError(
                f'--horizon "{text}" is not a horizon: use month, quarter, year or N-days (e.g. 90-days).'
            ) from None
    if not days > 0:
        raise ParameterError(f"--horizon must be a positive number of days (got {text}).")
    return days


def _rate(
    step: str, successes: int, trials: int, small_sample: int, references: dict[str, float] | None = None
) -> Rate:
    if trials <= 0:
        return Rate(step, None, None, None, successes, trials, ("no_data",))
    value = successes / trials
    low, high = wilson(successes, trials)
    flags: list[str] = []
    if low is None or high is None:  # more leads than calls: a ratio, no proportion
        low = high = value
        flags.append("not_a_proportion")
    if trials < small_sample:
        flags.append("small_sample")
    if value < FAR_BELOW * (references or REFERENCE_RATES)[step]:
        flags.append(f"far_below_reference: {ADVICE[step]}")
    return Rate(step, value, low, high, successes, trials, tuple(flags))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class Planner:
    """The funnel both ways; see the module docstring and docs/planner.md."""

    def __init__(
        self,
        rates: str = "reference",
        capacity: Capacity | None = None,
        team: Team | None = None,
        small_sample: int = 30,
        references: dict[str, float] | None = None,
    ) -> None:
        if rates not in RATE_SOURCES:
            raise ParameterError(f'--rates "{rates}" must be one of {", ".join(RATE_SOURCES)}.')
        self.rates_source = rates
        self.capacity = capacity or Capacity()
        self.team = team or Team()
        self.small_sample = small_sample
        self.references = {**REFERENCE_RATES, **(references or {})}
        self.rates_: dict[str, Rate] | None = None
        if rates == "reference":
            self.rates_ = {s: Rate(s, v, v, v) for s, v in self.references.items()}

    # -- fit ------------------------------------------------------------------------------------
    def fit(self, counts: FunnelCounts, per_rep: dict[str, FunnelCounts] | None = None) -> Planner:
        """Rates from measured counts (the company's), and for ``per-rep`` each active rep's own:
        SDRs carry call -> lead and lead -> opportunity, AEs opportunity -> signature. A rep
        without observations of a step takes the company's rate (flag ``rep_without_data``)."""
        if self.rates_source == "reference":
            return self
        company = {s: _rate(s, k, n, self.small_sample, self.references) for s, (k, n) in counts.pairs().items()}
        if self.rates_source == "measured":
            self.rates_ = company
            return self
        per_rep = per_rep or {}
        if not self.team.sdrs:
            raise ParameterError("--rates per-rep needs active SDRs in the reps table; there are none.")
        r1, r2 = [], []  # per SDR: (value, low, high) of call->lead and lead->opportunity
        flags: dict[str, list[str]] = {s: [] for s in STEPS}
        observed = {s: [0, 0] for s in STEPS}  # the active reps' own successes and trials
        for rep in self.team.sdrs:
            own = per_rep.get(rep, FunnelCounts()).pairs()
            pair = []
            for step in ("call_to_lead", "lead_to_opportunity"):
                observed[step] = [a + b for a, b in zip(observed[step], own[step], strict=True)]
                rate = _rate(step, *own[step], self.small_sample, self.references)
                if rate.value is None:
                    rate = company[step]
                    flags[step].append(f"rep_without_data: {rep}")
                pair.append(rate)
            r1.append(pair[0])
            r2.append(pair[1])
        r3 = []
        for rep in self.team.aes:
            own3 = per_rep.get(rep, FunnelCounts()).pairs()[STEPS[2]]
            observed[STEPS[2]] = [a + b for a, b in zip(observed[STEPS[2]], own3, strict=True)]
            rate = _rate(STEPS[2], *own3, self.small_sample, self.references)
            if rate.value is None:
                rate = company[STEPS[2]]
                flags[STEPS[2]].append(f"rep_without_data: {rep}")
            r3.append(rate)
        if not r3:
            r3 = [company[STEPS[2]]]
            flags[STEPS[2]].append("no_active_ae: company rate")
        rates: dict[str, Rate] = {}
        # Work is split evenly: leads = calls x mean(r1), opportunities = calls x mean(r1 x r2).
        for attr in ("value", "low", "high"):
            if any(getattr(r, attr) is None for r in [*r1, *r2, *r3]):
                raise ParameterError(
                    "The window holds no calls, leads or opportunities to measure rates on: "
                    "widen it (--from/--to) or use --rates reference."
                )
        m1 = {a: _mean([getattr(r, a) for r in r1]) for a in ("value", "low", "high")}
        m12 = {a: _mean([getattr(x, a) * getattr(y, a) for x, y in zip(r1, r2, strict=True)]) for a in m1}
        m2 = {a: (m12[a] / m1[a] if m1[a] > 0 else 0.0) for a in m1}
        m3 = {a: _mean([getattr(r, a) for r in r3]) for a in m1}
        for step, m in zip(STEPS, (m1, m2, m3), strict=True):
            base = company[step]
            k, n = observed[step]
            rates[step] = Rate(step, m["value"], m["low"], m["high"], k, n, tuple(flags[step]) + base.flags)
        self.rates_ = rates
        return self

    def summary(self) -> list[dict[str, Any]]:
        """The rates used, one dict per step."""
        return [{"label": STEP_LABELS[r.step], **asdict(r)} for r in self._rates().values()]

    # -- predict --------------------------------------------------------------------------------
    def backward(
        self,
        *,
        revenue: float | None = None,
        signatures: float | None = None,
        horizon_days: float = MONTH_DAYS,
        deal_value: float | None = None,
    ) -> Plan:
        """From a revenue (with a deal value) or a number of signatures to the volumes needed."""
        if (revenue is None) == (signatures is None):
            raise ParameterError("Plan backward from one target: a revenue or a number of signatures, not both.")
        rates = self._rates()
        for step in STEPS:
            rate = rates[step]
            if not rate.value:
                raise ParameterError(
                    f"The {STEP_LABELS[step]} rate is {'unknown' if rate.value is None else 0} over the window "
                    f"({rate.successes or 0:g} of {rate.trials or 0:g}): no volume reaches the target. "
                    "Widen the window (--from/--to) or use --rates reference."
                )
        if revenue is not None:
            _positive("--revenue", revenue)
            if deal_value is None:
                raise ParameterError(
                    "A revenue target needs an average deal value, and the data has no won deal in the "
                    "window: give one with --deal-value, or plan from --signatures."
                )
            _positive("--deal-value", deal_value)
            signatures = revenue / deal_value
        assert signatures is not None
        _positive("--signatures", signatures)
        point, low, high = [signatures], [signatures], [signatures]
        for step in reversed(STEPS):
            r = rates[step]
            assert r.value is not None and r.low is not None and r.high is not None
            point.insert(0, point[0] / r.value)
            low.insert(0, low[0] / r.high)
            high.insert(0, high[0] / r.low if r.low > 0 else math.inf)
        names = ("calls", "leads", "opportunities", "signatures")
        volumes = [self._volume(n, p, lo, hi) for n, p, lo, hi in zip(names, point, low, high, strict=True)]
        if deal_value is not None:
            target = signatures * deal_value
            volumes.append(self._volume("revenue", target, target, target))
        return self._plan("backward", volumes, horizon_days, deal_value)

    def forward(
        self,
        *,
        calls: float | None = None,
        leads: float | None = None,
        team: Team | None = None,
        horizon_days: float = MONTH_DAYS,
        deal_value: float | None = None,
    ) -> Plan:
        """From a number of calls, of leads, or today's team at capacity to the expected results."""
        if sum(x is not None for x in (calls, leads, team)) != 1:
            raise ParameterError("Plan forward from one start: --calls, --leads or --team, one of them.")
        rates = self._rates()
        if team is not None:
            if not team.sdrs:
                raise ParameterError("Forward from the team needs active SDRs in the reps table; there are none.")
            calls = len(team.sdrs) * self.capacity.sdr_calls_per_day * self._working_days(horizon_days)
        start = "calls" if calls is not None else "leads"
        first = calls if calls is not None else leads
        assert first is not None
        _positive(f"--{start}", first)
        names = ["calls", "leads", "opportunities", "signatures"][0 if start == "calls" else 1 :]
        point, low, high = [first], [first], [first]
        for step in STEPS[len(STEPS) - len(names) + 1 :]:
            r = rates[step]
            if r.value is None or r.low is None or r.high is None:
                raise ParameterError(
                    f"The {STEP_LABELS[step]} rate is unknown: the window holds no observation of it. "
                    "Widen the window (--from/--to) or use --rates reference."
                )
            point.append(point[-1] * r.value)
            low.append(low[-1] * r.low)
            high.append(high[-1] * r.high)
        volumes = [self._volume(n, p, lo, hi) for n, p, lo, hi in zip(names, point, low, high, strict=True)]
        if deal_value is not None:
            _positive("--deal-value", deal_value)
            volumes.append(self._volume("revenue", point[-1] * deal_value, low[-1] * deal_value, high[-1] * deal_value))
        return self._plan("forward", volumes, horizon_days, deal_value)

    # -- helpers --------------------------------------------------------------------------------
    def _rates(self) -> dict[str, Rate]:
        if self.rates_ is None:
            raise ParameterError(f"The planner with {self.rates_source} rates must be fitted first (Planner.fit).")
        return self.rates_

    def _working_days(self, horizon_days: float) -> float:
        return horizon_days / MONTH_DAYS * self.capacity.working_days_per_month

    def _volume(self, name: str, value: float, low: float, high: float | None) -> Volume:
        if self.rates_source == "reference":
            return Volume(name, value)
        return Volume(name, value, low, None if high is None or math.isinf(high) else high)

    def _plan(self, direction: str, volumes: list[Volume], horizon_days: float, deal_value: float | None) -> Plan:
        _positive("--horizon", horizon_days)
        months = horizon_days / MONTH_DAYS
        by_name = {v.name: v.value for v in volumes}
        sdr_capacity = self.capacity.sdr_calls_per_day * self.capacity.working_days_per_month
        ae_capacity = self.capacity.ae_opportunities_per_month
        calls, opportunities = by_name.get("calls"), by_name.get("opportunities")
        headcount = [
            Headcount(
                "sdr",
                None if calls is None else calls / (sdr_capacity * months),
                len(self.team.sdrs),
                sdr_capacity,
                "calls per month",
            ),
            Headcount(
                "ae",
                None if opportunities is None else opportunities / (ae_capacity * months),
                len(self.team.aes),
                ae_capacity,
                "opportunities per month",
            ),
        ]
        rates = list(self._rates().values())
        flags = [f"{r.step}: {f}" for r in rates for f in r.flags]
        for h in headcount:
            if h.needed is not None and h.needed > h.today:
                flags.append(f"understaffed: {h.role} needs {h.needed:.1f}, has {h.today}")
        return Plan(
            direction=direction,
            rates_source=self.rates_source,
            horizon_days=horizon_days,
            working_days=self._working_days(horizon_days),
            deal_value=deal_value,
            volumes=volumes,
            rates=rates,
            headcount=headcount,
            interval_method=None if self.rates_source == "reference" else INTERVAL_METHOD,
            flags=flags,
        )


def _positive(option: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ParameterError(f"{option} must be a positive number (got {value:g}).")
