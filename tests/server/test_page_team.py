"""The team page over real HTTP: each rep's signatures and revenue checked against plain SQL, the
top quartile recomputed with the standard library (linear interpolation, type 7), ranks, the
gap's parts adding up, a rep's scope (their own card only, whatever the filter), wrong
parameters, exports, and the page in Chromium in both languages."""

from __future__ import annotations

import csv
import io
import math
import statistics
from typing import Any

from tests.server.conftest import screenshot, sign_in
from tests.server.page_helpers import get as _get
from tests.server.page_helpers import items as _items
from tests.server.page_helpers import page_view
from tests.server.page_helpers import sql as _sql
from tests.server.test_page_customers import BASE, FX


def _view(server: dict[str, Any], user: str = "admin", **params: str) -> dict[str, Any]:
    return page_view(server, "team", user, **params)


def test_signatures_and_revenue_per_rep_match_sql(server: dict[str, Any]) -> None:
    start, end = "2025-01-01", "2025-03-31"
    view = _view(server, role="ae", grain="quarter", **{"from": start, "to": end})
    cards = _items(view, "scorecards")
    assert cards and {c["period"] for c in cards} == {"2025-Q1"} and {c["role"] for c in cards} == {"ae"}
    want = {
        r["owner_id"]: r
        for r in _sql(
            server,
            f"SELECT o.owner_id, count(*) AS n, sum({BASE}) AS revenue FROM opportunities o {FX} "
            "WHERE o.outcome = 'won' AND CAST(o.closed_at AS DATE) BETWEEN ? AND ? GROUP BY 1",
            [start, end],
        )
    }
    assert any(c["rep"] in want for c in cards)
    for card in cards:
        row = want.get(card["rep"], {"n": 0, "revenue": 0.0})
        assert card["signatures"] == row["n"], card["rep"]
        assert math.isclose(card["revenue"], row["revenue"] or 0.0, abs_tol=0.01 * (row["n"] + 1)), card["rep"]


def test_top_quartile_and_ranks_among_the_peers(server: dict[str, Any]) -> None:
    view = _view(server, role="ae", measure="revenue", grain="quarter", **{"from": "2025-01-01", "to": "2025-03-31"})
    rows = _items(view, "versus")
    values = [r["value"] for r in rows if r["value"] is not None]
    assert len(values) >= 4
    top = statistics.quantiles(values, n=4, method="inclusive")[2]
    for r in rows:
        assert math.isclose(r["top_quartile"], top, rel_tol=1e-9)
        assert math.isclose(r["gap"], r["value"] - top, abs_tol=1e-6)
        assert r["rank"] == 1 + sum(v > r["value"] for v in values)
        assert r["peers"] == len(rows)


def test_the_gap_parts_add_up_to_the_gap(server: dict[str, Any]) -> None:
    view = _view(server)
    gaps = _items(view, "gaps")
    parts = _items(view, "parts")
    assert gaps
    for g in gaps:
        own = [p["contribution"] for p in parts if p["rep"] == g["rep"]]
        assert own and math.isclose(sum(own), g["gap"], abs_tol=0.01)
        assert math.isclose(g["gap"], g["revenue"] - g["benchmark_revenue"], abs_tol=0.01)


def test_the_gaps_causes_and_advice_in_french(server: dict[str, Any]) -> None:
    from salespilot.analytics.team import CHAINS, COACHING
    from salespilot.server.pages.team import ADVICE_FR, FACTORS_FR, _advice, _factor

    # every factor and every advice of the decomposition has its French words
    assert {label for _, labels in CHAINS.values() for label in labels} <= set(FACTORS_FR)
    assert set(COACHING.values()) <= set(ADVICE_FR)
    behind = [g for g in _items(_view(server), "gaps") if g["focus"] is not None]
    assert behind and all(g["advice"] in COACHING.values() for g in behind)  # the admin reads English
    mine = _items(_view(server, "rep"), "gaps")[0]  # the rep reads French
    assert mine["focus"] is None or mine["focus"].split(" + ")[0] in FACTORS_FR.values()
    assert mine["advice"] is None or mine["advice"] in ADVICE_FR.values()
    assert _factor("activity volume + call -> lead", "fr") == "volume d'activité + appel → lead"
    assert _advice(behind[0]["advice"], "fr") in ADVICE_FR.values()
    parts = {p["factor"] for p in _items(_view(server, "rep"), "parts")}
    assert parts and all(part.split(" + ")[0] in FACTORS_FR.values() for part in parts)


def test_a_rep_sees_only_their_own_card(server: dict[str, Any]) -> None:
    view = _view(server, "rep")
    for name in ("versus", "scorecards", "gaps", "parts"):
        reps = {r["rep"] for r in _items(view, name)}
        assert reps == {server["rep"]}, name
    assert "team-scoped" in _get(server, "/team", "rep").text
    other = _view(server, "rep", rep=server["other"])
    assert all(_items(other, name) == [] for name in ("versus", "scorecards", "gaps", "parts"))
    text = _get(server, "/export/team/scorecards.csv", "rep").content.decode("utf-8-sig")
    ids = {row[1] for row in list(csv.reader(io.StringIO(text)))[1:]}
    assert ids == {server["rep"]}


def test_wrong_parameters_are_400s_that_name_them(server: dict[str, Any]) -> None:
    for params, name in (({"role": "ceo"}, "role"), ({"measure": "happiness"}, "measure")):
        response = _get(server, "/api/v1/pages/team", **params)
        assert response.status_code == 400
        assert f"Parameter {name}" in response.json()["error"]["message"]
    page = _get(server, "/team", role="ceo")
    assert page.status_code == 400 and "Parameter role" in page.text


def test_the_page_in_chromium(server: dict[str, Any], browser: Any) -> None:
    page = sign_in(browser, server["url"], "admin@example.com")
    page.goto(server["url"] + "/team?role=ae")
    assert page.locator("#versus-chart svg .sp-bar").count() == len(_items(_view(server, role="ae"), "versus"))
    assert page.locator("#versus-chart svg .sp-ref").count() > 0
    assert page.locator("#gaps-chart svg .sp-bar").count() > 0
    title = page.locator("#versus-chart h2").inner_text()
    page.select_option("#measure-form select", "win_rate")
    page.click("#measure-form button")
    page.wait_for_url("**measure=win_rate**")
    assert "role=ae" in page.url and page.locator("#versus-chart h2").inner_text() != title
    # the filter bar keeps the role and the measure
    page.fill("input[name=segment]", "smb")
    page.click(".sp-filters button")
    page.wait_for_url("**segment=smb**")
    assert "role=ae" in page.url and "measure=win_rate" in page.url
    screenshot(page, "team")
    assert page.errors == []
    page.close()
    page = sign_in(browser, server["url"], "rep@example.com")
    page.goto(server["url"] + "/team")
    assert "Tableaux de bord individuels" in page.content()
    assert page.errors == []
    page.close()
