"""The funnel settings: what they accept, the errors they give, and their effect on the funnel
and the planner (hand-made store of tests/analytics/planner_store.py: 40 calls, 8 leads, 4
converted, 4 opportunities, 2 won)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.analytics.planner_store import build

import salespilot
from salespilot.errors import ParameterError
from salespilot.settings import parse_funnel_steps, parse_reference_rates, parse_stage_order, validate


def test_funnel_steps_are_consecutive() -> None:
    assert parse_funnel_steps(" Lead, opportunity ,signature") == ("lead", "opportunity", "signature")
    assert validate("funnel_steps", "call,lead") == "call,lead"
    for wrong in ("lead,signature", "lead", "", "call,lead,deal"):
        with pytest.raises(ParameterError, match=r"funnel_steps .*consecutive steps of call -> lead"):
            parse_funnel_steps(wrong)


def test_reference_rates_replace_only_the_steps_given() -> None:
    assert parse_reference_rates("lead_to_opportunity=0.25") == {
        "call_to_lead": 0.10,
        "lead_to_opportunity": 0.25,
        "opportunity_to_signature": 0.33,
    }
    assert validate("reference_rates", "call_to_lead = 0.2") == (
        "call_to_lead=0.2,lead_to_opportunity=0.33,opportunity_to_signature=0.33"
    )
    with pytest.raises(ParameterError, match=r'"lead_to_deal=0\.2" is not STEP=RATE'):
        parse_reference_rates("lead_to_deal=0.2")
    with pytest.raises(ParameterError, match="not STEP=RATE"):
        parse_reference_rates("0.2")
    for wrong in ("1.5", "0", "a third"):
        with pytest.raises(ParameterError, match=f'the rate of call_to_lead "{wrong}" is not a number in'):
            parse_reference_rates(f"call_to_lead={wrong}")


def test_stage_order_and_on_off() -> None:
    assert parse_stage_order(" qualification, demo ,, proposal") == ("qualification", "demo", "proposal")
    assert parse_stage_order("") == ()
    with pytest.raises(ParameterError, match="names demo twice"):
        parse_stage_order("demo,proposal,demo")
    assert validate("funnel_stages", "Yes") == "on" and validate("funnel_stages", "false") == "off"
    with pytest.raises(ParameterError, match='"maybe" is not on or off'):
        validate("funnel_stages", "maybe")


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("settings"))


def test_saved_settings_shape_the_funnel(hand_db: Path) -> None:
    with salespilot.open(hand_db) as ws:
        ws.set_setting("funnel_steps", "lead,opportunity,signature")
        ws.set_setting("reference_rates", "lead_to_opportunity=0.8")
        try:
            (period,) = ws.funnel(grain="all")
            explicit = ws.funnel(grain="all", steps="call,lead", references={"call_to_lead": 0.5})
        finally:
            ws.set_setting("funnel_steps", "call,lead,opportunity,signature")
            ws.set_setting("reference_rates", "")
        (default,) = ws.funnel(grain="all")
    assert [s.step for s in period.steps] == ["lead", "opportunity", "signature"]
    lead = period.steps[0]
    # 4 of 8 leads converted: 0.5, Wilson 95% interval 0.215 to 0.785, wholly below 0.8.
    assert (lead.rate, lead.reference, lead.below_reference) == (0.5, 0.8, True)
    assert lead.lever == "adjust the target or the qualification process"
    assert [(s.step, s.reference) for s in explicit[0].steps] == [("call", 0.5), ("lead", None)]
    assert [s.step for s in default.steps] == ["call", "lead", "opportunity", "signature"]
    assert (default.steps[1].reference, default.steps[1].below_reference) == (0.33, False)


def test_saved_reference_rates_drive_the_plan(hand_db: Path) -> None:
    with salespilot.open(hand_db) as ws:
        ws.set_setting("reference_rates", "call_to_lead=0.2,lead_to_opportunity=0.5,opportunity_to_signature=0.25")
        try:
            forward = ws.plan(calls=100)
            back = ws.plan(signatures=5)
        finally:
            ws.set_setting("reference_rates", "")
        default = ws.plan(calls=100)
    volumes = {v.name: v.value for v in forward.volumes}
    # 100 calls x 0.2 = 20 leads, x 0.5 = 10 opportunities, x 0.25 = 2.5 signatures.
    assert volumes["leads"] == pytest.approx(20) and volumes["opportunities"] == pytest.approx(10)
    assert volumes["signatures"] == pytest.approx(2.5)
    assert {v.name: v.value for v in back.volumes}["calls"] == pytest.approx(200)
    assert {v.name: v.value for v in default.volumes}["signatures"] == pytest.approx(100 * 0.1 * 0.33 * 0.33)
