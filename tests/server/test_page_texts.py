"""The words the pages take from the analyses (funnel steps and levers, loss levers) exist in
every language of the interface, so a French page never shows them in English."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

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


def test_every_setting_has_a_french_meaning() -> None:
    from salespilot.server.pages.settings import MEANING_FR
    from salespilot.settings import SETTINGS

    assert set(MEANING_FR) == set(SETTINGS)


def test_the_data_codes_show_in_the_users_words(server: dict[str, Any]) -> None:
    """The French rep: stages, forecast categories and segments in French, reps by name, the rows
    behind a KPI headed in French, periods in words; the API keeps the codes."""
    from tests.server.page_helpers import get, items, page_view, sql

    rep_id = sql(server, "SELECT rep_id FROM users WHERE email = 'rep@example.com'")[0]["rep_id"]
    name = sql(server, "SELECT name FROM reps WHERE rep_id = ?", [rep_id])[0]["name"]
    deals = items(page_view(server, "forecast", "rep"), "deals")
    assert deals and {d["owner"] for d in deals} == {rep_id}  # the API: the ids and codes
    assert {d["stage"] for d in deals} <= {"qualification", "discovery", "demo", "proposal", "negotiation"}
    page = get(server, "/forecast", "rep").text
    table = re.search(r'data-table="deals">.*?</table>', page, re.S)
    assert table is not None and f">{name}</td>" in table.group(0) and f">{rep_id}</td>" not in table.group(0)
    shown = set(re.findall(r'<td class="sp-u-text" data-value="(?:commit|best_case|pipeline)">([^<]+)</td>', page))
    assert shown and shown <= {"engagé", "meilleur cas", "pipeline"}
    assert 'id="fx-note">Les affaires ouvertes sont valorisées au dernier taux de change' in page
    assert 'id="learnt-here">Appris sur les seules affaires de cette vue' in page  # a rep's forecast
    assert 'id="learnt-here"' not in get(server, "/forecast").text  # the company's, unfiltered
    stages = get(server, "/pipeline", "rep").text
    assert ">négociation</td>" in stages or ">proposition</td>" in stages
    rows = get(server, "/kpi/revenue", "rep").text
    head = re.search(r'data-table="rows"><thead>(.*?)</thead>', rows, re.S)
    assert head is not None and ">montant</th>" in head.group(1) and ">amount</th>" not in head.group(1)
    assert "Enregistrements comptés</dt><dd>Chiffre d" in rows
    assert re.search(r'data-value="2026-06">juin 2026</td>', rows)


def test_the_tryouts_leftovers_are_in_french(server: dict[str, Any]) -> None:
    """What a French tryout still found in English or as codes: chart labels, headings, the rows'
    columns, role names, the team's note and period."""
    from tests.server.page_helpers import get

    pipeline = get(server, "/pipeline", "rep").text
    chart = re.search(r"<svg[^>]*sp-chart-ranges.*?</svg>", pipeline, re.S)
    assert chart is not None and "négociation" in chart.group(0) and ">negotiation<" not in chart.group(0)
    losses = get(server, "/losses", "rep").text
    assert "Affaires ouvertes à l&#x27;étape proposition ou au-delà" in losses
    rows = get(server, "/kpi/revenue", "rep").text
    head = re.search(r'data-table="rows"><thead>(.*?)</thead>', rows, re.S)
    assert head is not None and "cycle_days" not in head.group(1) and "amount_base" not in head.group(1)
    assert ">nouvelle affaire</td>" in rows or ">renouvellement</td>" in rows or ">vente additionnelle</td>" in rows
    team = get(server, "/team", "rep").text
    assert "tous les commerciaux du même rôle dans l&#x27;entreprise" in team and "Rôle :" in team
    assert "(ae)" not in team and "(2026-06)" not in team


def test_revenue_retention_reads_as_a_percentage(server: dict[str, Any]) -> None:
    """NRR and GRR (ratios: 1.05 is 105 %) are shown as percentages, as the other rates of the page
    and their 100 % reference line; the API keeps the ratio."""
    from tests.server.page_helpers import page_view

    view = page_view(server, "customers")
    columns = {c["key"]: c["unit"] for t in view["tables"] for c in t["columns"]}
    assert columns["net_revenue_retention"] == columns["gross_revenue_retention"] == "rate"
    values = [r["net_revenue_retention"] for t in view["tables"] for r in t["items"] if r.get("net_revenue_retention")]
    assert values and all(0.3 < v < 3 for v in values)  # the ratio itself, not a percentage
