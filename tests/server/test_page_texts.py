"""The words the pages take from the analyses (funnel steps and levers, loss levers) exist in
every language of the interface, so a French page never shows them in English."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from salespilot.analytics.losses import LEVERS
from salespilot.analytics.planner import ADVICE
from salespilot.metrics.catalogue import load_catalogue
from salespilot.server.pages import funnel, kpi, losses


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_funnel_lever_and_step_has_words(lang: str) -> None:
    t = funnel.TEXT[lang]
    for key in ADVICE:
        assert f"lever_{key}" in t, key
        step, next_step = key.split("_to_")
        assert f"step_{step}" in t and f"step_{next_step}" in t, key


def test_a_french_funnel_names_its_lever_in_french() -> None:
    step = SimpleNamespace(step="lead", next_step="opportunity", lever=ADVICE["lead_to_opportunity"])
    assert funnel._lever(funnel.TEXT["fr"], step) == "revoir le ciblage ou la qualification"
    assert funnel._lever(funnel.TEXT["en"], step) == ADVICE["lead_to_opportunity"]
    assert funnel._lever(funnel.TEXT["fr"], SimpleNamespace(step="lead", next_step="x", lever=None)) == ""
    assert funnel._step(funnel.TEXT["fr"], "opportunity") == "opportunité"
    assert funnel._step(funnel.TEXT["fr"], "demo") == "demo"  # a step of the user's own funnel stays as named


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_loss_lever_has_words(lang: str) -> None:
    t = losses.TEXT[lang]
    assert {f"lever_{reason}" for reason, lever in LEVERS.items() if lever} <= set(t)
    assert all(t[f"lever_{r}"] == lever for r, lever in LEVERS.items() if lever) or lang != "en"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_unit_and_dimension_of_the_catalogue_has_words(lang: str) -> None:
    t = kpi.TEXT[lang]
    for definition in load_catalogue().kpis.values():
        assert f"unit_{definition.unit}" in t, definition.name
        assert all(f"dim_{d}" in t for d in definition.dimensions), definition.name
