"""``analytics.funnel`` on hand-made KPI rows: volumes, conversions, references and levers."""

from __future__ import annotations

from typing import Any

import pytest

from salespilot.analytics.funnel import STEPS, as_rows, below, build, parse_steps
from salespilot.analytics.planner import ADVICE, REFERENCE_RATES
from salespilot.errors import ParameterError
from salespilot.metrics.stats import wilson


def _rate(kpi: str, num: int, den: int, period: str = "2024-Q1", **extra: Any) -> dict[str, Any]:
    low, high = wilson(num, den)
    return {
        "kpi": kpi,
        "period": period,
        "value": num / den,
        "numerator": num,
        "denominator": den,
        "ci_low": low,
        "ci_high": high,
        "flags": [],
        **extra,
    }


def _count(kpi: str, value: int, period: str = "2024-Q1", **extra: Any) -> dict[str, Any]:
    return {"kpi": kpi, "period": period, "value": value, **extra}


# 1,000 calls -> 100 leads (10%: on the reference); of the 100 leads, 30 converted (30%: within,
# the interval 21.9%-39.6% holds 33%); of 200 opportunities, 30 won (15%: interval 10.7%-20.6%,
# all below 33%: flagged with the loss-reasons lever); 30 signatures.
ROWS = [
    _count("activities", 1000),
    _count("leads", 100),
    _count("opportunities", 200),
    _count("signatures", 30),
    _rate("lead_to_opportunity_rate", 30, 100),
    _rate("opportunity_to_signature_rate", 30, 200),
]


def test_steps_volumes_rates_references_and_levers() -> None:
    [period] = build(ROWS)
    steps = {s.step: s for s in period.steps}
    assert [s.step for s in period.steps] == list(STEPS)
    assert [steps[s].volume for s in STEPS] == [1000, 100, 200, 30]
    call = steps["call"]
    assert call.rate == pytest.approx(0.10) and (call.ci_low, call.ci_high) == pytest.approx(wilson(100, 1000))
    assert call.reference == REFERENCE_RATES["call_to_lead"] == 0.10
    assert not call.below_reference and call.lever is None
    lead = steps["lead"]
    assert lead.reference == 0.33 and lead.rate == pytest.approx(0.30)
    assert lead.ci_high is not None and lead.ci_high > 0.33
    assert not lead.below_reference and lead.lever is None
    opp = steps["opportunity"]
    assert opp.reference == 0.33 and opp.ci_high is not None and opp.ci_high < 0.33
    assert opp.below_reference and opp.lever == ADVICE["opportunity_to_signature"]
    assert "loss reasons" in (opp.lever or "")
    assert steps["signature"].next_step is None and steps["signature"].rate is None


def test_lead_to_opportunity_below_reference_asks_for_the_target_or_qualification() -> None:
    rows = [*ROWS[:4], _rate("lead_to_opportunity_rate", 10, 100), ROWS[5]]
    lead = next(s for s in build(rows)[0].steps if s.step == "lead")
    assert lead.below_reference
    assert lead.lever == "adjust the target or the qualification process"


def test_call_to_lead_more_leads_than_calls_has_no_interval() -> None:
    rows = [_count("activities", 10), *ROWS[1:]]
    call = build(rows)[0].steps[0]
    assert call.rate == pytest.approx(10.0) and call.ci_low is None and call.flags == ("not_a_proportion",)
    assert not call.below_reference


def test_split_by_dimension_and_flat_rows() -> None:
    rows = [{**r, "rep": rep} for rep in ("R1", "R2") for r in ROWS]
    funnel = build(
        rows, by=("rep",), steps=("lead", "opportunity", "signature"), references={"lead_to_opportunity": 0.5}
    )
    assert [p.dims for p in funnel] == [{"rep": "R1"}, {"rep": "R2"}]
    flat = as_rows(funnel)
    assert len(flat) == 6 and flat[0]["rep"] == "R1" and flat[0]["reference"] == 0.5
    assert flat[0]["below_reference"] is True  # 30/100 against a reference of 50%


def test_parse_steps_and_below() -> None:
    assert parse_steps(None) == STEPS
    assert parse_steps("lead, opportunity,signature") == ("lead", "opportunity", "signature")
    for wrong in ("lead,signature", "signature,lead", "call", "calls,lead"):
        with pytest.raises(ParameterError):
            parse_steps(wrong)
    assert below(0.2, 0.33) and not below(0.4, 0.33) and not below(None, 0.33)
