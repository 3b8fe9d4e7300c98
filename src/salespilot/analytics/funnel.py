"""The funnel (KPIS.md section 5): per period and dimension value, each step's volume and its
measured conversion to the next step, against the reference rate of the planner.

Pure: it takes the KPI layer's rows (``leads``, ``opportunities``, ``signatures``, ``activities``
of type call, ``lead_to_opportunity_rate``, ``opportunity_to_signature_rate`` and optionally
``stage_conversion``) and returns the steps; the engine (``engine/funnel.py``) fetches the rows.

Conversions:

- call -> lead: leads of the period / calls of the period, a ratio of two volumes (not a cohort);
  it has a Wilson interval when leads <= calls, else none (flag ``not_a_proportion``).
- lead -> opportunity and opportunity -> signature: the cohort rates of the KPI layer (of the
  leads, or opportunities, created in the period, the share converted so far), with their
  Wilson intervals and flags (``small_sample``, ``immature_cohort``).
- opportunity stages (optional, between opportunity and signature): ``stage_conversion``, with no
  reference rate.

A step is **below reference** when its whole 95% interval lies below the reference rate; it then
carries the lever to pull (the planner's advice).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from salespilot.analytics.planner import ADVICE
from salespilot.metrics.stats import wilson
from salespilot.model import FUNNEL_STEPS, REFERENCE_RATES
from salespilot.settings import parse_funnel_steps

STEPS = FUNNEL_STEPS
# The KPI that counts each step's volume, and the transition to the next step.
VOLUME_KPIS = {"call": "activities", "lead": "leads", "opportunity": "opportunities", "signature": "signatures"}
TRANSITIONS = {"call": "call_to_lead", "lead": "lead_to_opportunity", "opportunity": "opportunity_to_signature"}
COHORT_KPIS = {
    "lead_to_opportunity": "lead_to_opportunity_rate",
    "opportunity_to_signature": "opportunity_to_signature_rate",
}

Row = dict[str, Any]


@dataclass(frozen=True)
class Step:
    step: str  # call, lead, opportunity, signature, or "stage:NAME"
    next_step: str | None  # the step converted to (None for the last)
    volume: float | None  # the step's count in the period (stages: the deals that entered it)
    rate: float | None = None  # measured conversion to next_step
    ci_low: float | None = None
    ci_high: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    reference: float | None = None  # the planner's reference rate (none for stages)
    below_reference: bool = False  # the whole interval lies below the reference
    lever: str | None = None  # what to do when below reference
    reason: str | None = None  # why there is no rate
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunnelPeriod:
    period: str
    period_start: str | None
    dims: dict[str, Any]
    steps: list[Step] = field(default_factory=list)


def parse_steps(steps: str | Sequence[str] | None) -> tuple[str, ...]:
    """A run of consecutive steps of call -> lead -> opportunity -> signature (at least two)."""
    if steps is None:
        return STEPS
    return parse_funnel_steps(steps if isinstance(steps, str) else ",".join(steps), option="--steps")


def below(ci_high: float | None, reference: float | None) -> bool:
    """Significantly below the reference: the whole 95% interval is under it."""
    return ci_high is not None and reference is not None and ci_high < reference


def build(
    rows: Iterable[Row],
    by: Sequence[str] = (),
    steps: Sequence[str] = STEPS,
    references: dict[str, float] | None = None,
) -> list[FunnelPeriod]:
    """The funnel of every period and dimension value found in ``rows`` (KPI layer rows)."""
    refs = {**REFERENCE_RATES, **(references or {})}
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    heads: dict[tuple[Any, ...], tuple[str, str | None]] = {}
    stages: dict[tuple[Any, ...], list[Row]] = {}
    for r in rows:
        key = (r["period"], *(r.get(d) for d in by))
        heads.setdefault(key, (str(r["period"]), r.get("period_start")))
        if r["kpi"] == "stage_conversion":
            if r.get("stage") is not None:
                stages.setdefault(key, []).append(r)
        else:
            found.setdefault(key, {})[r["kpi"]] = r
    out = []
    for key in sorted(heads, key=lambda k: tuple((v is None, str(v)) for v in k)):
        period, start = heads[key]
        kpis = found.get(key, {})
        result: list[Step] = []
        for i, name in enumerate(steps):
            volume_row = kpis.get(VOLUME_KPIS[name])
            volume = volume_row.get("value") if volume_row else None
            if i + 1 == len(steps):
                result.append(Step(name, None, volume))
                continue
            result.append(_transition(name, steps[i + 1], volume, kpis, refs))
            if name == "opportunity":
                result.extend(_stage_steps(stages.get(key, [])))
        dims = {d: v for d, v in zip(by, key[1:], strict=True)}
        out.append(FunnelPeriod(period, start, dims, result))
    return out


def _transition(name: str, following: str, volume: Any, kpis: dict[str, Row], refs: dict[str, float]) -> Step:
    transition = TRANSITIONS[name]
    reference = refs.get(transition)
    flags: tuple[str, ...] = ()
    if transition == "call_to_lead":
        calls = kpis.get("activities", {}).get("value")
        leads = kpis.get("leads", {}).get("value")
        num: Any = int(leads or 0)
        den: Any = int(calls or 0)
        rate = num / den if den else None
        low, high = wilson(num, den) if den and num <= den else (None, None)
        if den and num > den:
            flags = ("not_a_proportion",)
        reason = None if den else "no call in the period"
    else:
        r = kpis.get(COHORT_KPIS[transition], {})
        num, den = r.get("numerator"), r.get("denominator")
        rate, low, high = r.get("value"), r.get("ci_low"), r.get("ci_high")
        reason = r.get("reason") if r else "no measure in the period"
        flags = tuple(r.get("flags") or ())
    flagged = below(high, reference)
    return Step(
        step=name,
        next_step=following,
        volume=volume,
        rate=rate,
        ci_low=low,
        ci_high=high,
        numerator=num,
        denominator=den,
        reference=reference,
        below_reference=flagged,
        lever=ADVICE[transition] if flagged else None,
        reason=reason,
        flags=flags,
    )


def _stage_steps(rows: list[Row]) -> list[Step]:
    return [
        Step(
            step=f"stage:{r['stage']}",
            next_step=f"stage:{r['next_stage']}" if r.get("next_stage") not in (None, "won") else "signature",
            volume=r.get("denominator"),
            rate=r.get("value"),
            ci_low=r.get("ci_low"),
            ci_high=r.get("ci_high"),
            numerator=r.get("numerator"),
            denominator=r.get("denominator"),
            reason=r.get("reason"),
            flags=tuple(r.get("flags") or ()),
        )
        for r in sorted(rows, key=lambda r: int(r.get("stage_order") or 0))
    ]


def as_rows(funnel: Iterable[FunnelPeriod]) -> list[Row]:
    """One flat row per period, dimension value and step (what --format json and csv print)."""
    return [
        {"period": p.period, "period_start": p.period_start, **p.dims, **asdict(step)}
        for p in funnel
        for step in p.steps
    ]
