"""The page framework over real HTTP: a KPI's page (definition, values, the rows behind the
clicked number), every page's view as JSON, table exports in the user's scope, the language
switch, and errors shown as a page rather than a traceback."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from openpyxl import load_workbook
from tests.server.conftest import PASSWORD
from tests.server.page_helpers import sql


def _get(server: dict[str, Any], path: str, role: str = "admin", **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server['tokens'][role]}"}
    return httpx.get(server["url"] + path, headers=headers, params=params, timeout=60)


def _table(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in view["tables"] if t["name"] == name)


def test_a_click_on_a_number_shows_its_definition_and_the_rows_behind_it(server: dict[str, Any]) -> None:
    overview = _get(server, "/")
    link = re.search(r'data-kpi="signatures".*?<a class="sp-number" href="([^"]+)"', overview.text, re.S)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/kpi/signatures?") and "rows_from=" in href and "rows_to=" in href
    path, _, query = href.partition("?")
    params = dict(parse_qsl(query))
    page = _get(server, path, **params)
    assert page.status_code == 200 and 'id="definition"' in page.text and "svg" in page.text
    view = _get(server, "/api/v1/pages" + path, **params).json()
    series = _table(view, "series")["items"]
    rows = _table(view, "rows")
    # the rows behind the clicked (last) period add up to its value: one won deal per signature
    assert rows["total"] == series[-1]["value"] > 0
    assert len({r["opportunity_id"] for r in rows["items"]}) == rows["total"]


def test_the_rows_behind_a_number_stay_in_the_reps_scope(server: dict[str, Any]) -> None:
    view = _get(server, "/api/v1/pages/kpi/opportunities", role="rep").json()
    ids = {r["opportunity_id"] for r in _table(view, "rows")["items"]}
    assert ids and ids <= server["own_ids"]
    other = _get(server, "/api/v1/pages/kpi/opportunities", role="rep", rep=server["other"]).json()
    assert _table(other, "rows")["total"] == 0  # a filter cannot widen the scope


def test_page_tables_export_to_xlsx_and_csv_in_scope(server: dict[str, Any]) -> None:
    view = _get(server, "/api/v1/pages/pipeline", role="rep").json()
    stuck = _table(view, "stuck")
    assert {r["opportunity_id"] for r in stuck["items"]} == server["stuck_all"] & server["own_ids"]
    xlsx = _get(server, "/export/pipeline/stuck.xlsx", role="rep")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    exported = [row for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(str(r[0]) for r in exported) == sorted(r["opportunity_id"] for r in stuck["items"])
    csv_file = _get(server, "/export/pipeline/stages.csv")
    assert csv_file.status_code == 200 and csv_file.content.startswith(b"\xef\xbb\xbf")
    missing = _get(server, "/export/pipeline/nothing.csv")
    assert missing.status_code == 400 and "stuck" in missing.json()["error"]["message"]
    assert _get(server, "/export/pipeline/stuck.pdf").json()["error"]["code"] == "ParameterError"


def test_every_page_answers_as_json_with_tables(server: dict[str, Any]) -> None:
    for name in ("overview", "funnel", "pipeline"):
        response = _get(server, f"/api/v1/pages/{name}", grain="quarter")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["page"] == name and body["tables"] and all("columns" in t for t in body["tables"])
    headline = _table(_get(server, "/api/v1/pages/overview").json(), "headline")["items"]
    assert len(headline) == 6


def test_the_overview_sets_every_headline_kpi_against_the_previous_period(server: dict[str, Any]) -> None:
    """Rates, ratios and durations too: June 2026 against May 2026, counted in SQL (the store is UTC)."""
    may = sql(
        server,
        "SELECT count(*) FILTER (WHERE outcome = 'won') AS won, count(*) AS closed, "
        "sum(amount * coalesce((SELECT rate_to_base FROM fx_rates f WHERE f.currency = o.currency AND f.date <= "
        "CAST(o.closed_at AS DATE) ORDER BY f.date DESC LIMIT 1), 1)) FILTER (WHERE outcome = 'won') AS revenue "
        "FROM opportunities o WHERE outcome IN ('won', 'lost') "
        "AND closed_at >= TIMESTAMP '2026-05-01' AND closed_at < TIMESTAMP '2026-06-01'",
    )[0]
    headline = {r["kpi"]: r for r in _table(_get(server, "/api/v1/pages/overview").json(), "headline")["items"]}
    assert all(r["previous"] is not None and r["period"] == "2026-06" for r in headline.values()), headline
    assert headline["Win rate"]["previous"] == pytest.approx(may["won"] / may["closed"])
    assert headline["Average deal value"]["previous"] == pytest.approx(may["revenue"] / may["won"])
    card = re.search(r'data-kpi="win_rate".*?</article>', _get(server, "/").text, re.S)
    assert card is not None and f"previous period: {may['won'] / may['closed']:.1%}" in card.group(0)


def test_the_funnel_obeys_the_filters(server: dict[str, Any]) -> None:
    whole = _table(_get(server, "/api/v1/pages/funnel", grain="year").json(), "steps")["items"]
    narrowed = _table(_get(server, "/api/v1/pages/funnel", grain="year", segment="smb").json(), "steps")["items"]
    first = [r["volume"] for r in whole if r["step"] == "lead"]
    smb = [r["volume"] for r in narrowed if r["step"] == "lead"]
    assert sum(smb) < sum(first)
    # the page shows every period of the range, the latest first, in words, and exports them
    page = _get(server, "/funnel", grain="quarter", **{"from": "2025-07-01", "to": "2026-06-30"}).text
    every = re.search(r'data-table="steps">.*?</table>', page, re.S)
    assert every is not None
    shown = list(dict.fromkeys(re.findall(r'data-value="(20\d\d-Q\d)">', every.group(0))))
    assert shown == ["2026-Q2", "2026-Q1", "2025-Q4", "2025-Q3"] and ">Q2 2026</td>" in every.group(0)
    assert 'href="/export/funnel/steps.csv?grain=quarter' in page
    nobody = _table(_get(server, "/api/v1/pages/funnel", grain="year", rep="nobody").json(), "steps")["items"]
    assert all(not r["volume"] for r in nobody)


def test_the_language_switch_needs_the_csrf_token(server: dict[str, Any]) -> None:
    with httpx.Client(base_url=server["url"], follow_redirects=False, timeout=60) as client:
        client.post("/login", data={"email": "rep@example.com", "password": PASSWORD})
        page = client.get("/funnel")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None and 'lang="fr"' in page.text
        forged = client.post("/language", data={"language": "en", "csrf": "forged", "back": "/funnel"})
        assert forged.status_code == 403
        done = client.post("/language", data={"language": "en", "csrf": csrf.group(1), "back": "/funnel"})
        assert done.status_code == 303 and done.headers["location"] == "/funnel"
        assert 'lang="en"' in client.get("/funnel").text
        away = client.post("/language", data={"language": "fr", "csrf": csrf.group(1), "back": "//evil.example"})
        assert away.headers["location"] == "/"  # never redirected off the site
        assert 'lang="fr"' in client.get("/").text


def test_a_bad_parameter_on_a_page_is_an_error_page(server: dict[str, Any]) -> None:
    response = _get(server, "/funnel", grain="week")
    assert response.status_code == 400 and "text/html" in response.headers["content-type"]
    assert "Parameter grain" in response.text
    unknown = _get(server, "/kpi/nonsense")
    assert unknown.status_code == 400 and "Unknown KPI" in unknown.text


def test_the_filter_bar_offers_periods_only_where_the_page_reads_them(server: dict[str, Any]) -> None:
    funnel = _get(server, "/funnel").text
    pipeline = _get(server, "/pipeline").text
    assert 'name="grain"' in funnel and 'name="from"' in funnel
    bar = re.search(r'<form class="sp-filters".*?</form>', pipeline, re.S)
    assert bar is not None and 'name="segment"' in bar.group(0)  # the pipeline's dimensions stay
    assert 'name="grain"' not in bar.group(0) and 'name="from"' not in bar.group(0)  # open deals today: no period


def test_a_kpis_definition_speaks_the_users_language(server: dict[str, Any]) -> None:
    french = _get(server, "/kpi/win_rate", role="rep").text  # the rep reads French
    assert "<dd>taux</dd>" in french and "<dd>commercial, équipe, canal, campagne, segment, secteur" in french
    assert "<dd>rate</dd>" in _get(server, "/kpi/win_rate").text
    # the definition itself, and the overview's periods and flags, in French too
    assert "gagnées / (gagnées + perdues) parmi les opportunités closes" in french
    overview = _get(server, "/", role="rep").text
    assert 'data-period="2026-06">juin 2026</p>' in overview and "période précédente :" in overview
    assert 'data-period="2026-06">Jun 2026</p>' in _get(server, "/").text


def test_every_kpi_opens_on_its_page(server: dict[str, Any]) -> None:
    """A KPI without a single list of rows (a retention, a cohort) shows its figures and says why
    there are no rows; a yearly KPI asked by month is shown by year, with a note; in both languages."""
    names = [k["name"] for k in _get(server, "/api/v1/kpis").json()["items"]]
    assert {"renewal_rate", "logo_retention", "cohort_retention", "stage_conversion", "market_share"} <= set(names)
    for name in names:
        for role in ("admin", "rep"):
            page = _get(server, f"/kpi/{name}", role=role)
            assert page.status_code == 200, (name, role, page.text[:300])
    view = _get(server, "/api/v1/pages/kpi/logo_retention").json()
    assert [t["name"] for t in view["tables"]] == ["series"] and view["tables"][0]["items"]
    assert any(r["value"] is not None for r in view["tables"][0]["items"])
    assert "no single list of records" in _get(server, "/kpi/logo_retention").text
    assert "aucune liste unique" in _get(server, "/kpi/logo_retention", role="rep").text
    cohort = _get(server, "/api/v1/pages/kpi/cohort_retention", grain="quarter").json()["tables"][0]["items"]
    first = [r for r in cohort if r["period"] == cohort[0]["period"]]
    assert [r["periods_since"] for r in first] == list(range(len(first))) and len(first) > 1
    # the rows endpoint of the API still says why, as a 400 naming the KPI
    rows = _get(server, "/api/v1/kpis/logo_retention/rows")
    assert rows.status_code == 400 and "logo_retention" in rows.json()["error"]["message"]
    market = _get(server, "/api/v1/pages/kpi/market_share", grain="month").json()
    assert market["data"]["grain"] == "year"
    assert all(str(r["period"]).isdigit() for r in market["tables"][0]["items"])  # 2025, 2026: years
    assert (
        "Shown by year: this KPI is only defined by year or the whole range."
        in _get(server, "/kpi/market_share", grain="month").text
    )


def test_a_kpis_page_exports_its_tables(server: dict[str, Any]) -> None:
    """The export links of /kpi/{name} carry the KPI in their query: the CSV holds the page's rows."""
    page = _get(server, "/kpi/revenue", rows_from="2026-05-01", rows_to="2026-05-31").text
    link = re.search(r'href="(/export/kpi/rows\.csv\?[^"]+)"', page)
    assert link is not None and "kpi=revenue" in link.group(1)
    shown = _table(
        _get(server, "/api/v1/pages/kpi/revenue", rows_from="2026-05-01", rows_to="2026-05-31").json(), "rows"
    )["items"]
    exported = _get(server, "/export/kpi/rows.csv", kpi="revenue", rows_from="2026-05-01", rows_to="2026-05-31")
    assert exported.status_code == 200
    lines = exported.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == len(shown) + 1 and shown
    series = _get(server, "/export/kpi/series.csv", kpi="win_rate")
    assert series.status_code == 200 and series.content.decode("utf-8-sig").count("\n") > 12
    missing = _get(server, "/export/kpi/series.csv")
    assert missing.status_code == 400
