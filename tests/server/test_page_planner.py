"""The planner page and ``/api/v1/plan`` over real HTTP: the needed volumes and headcount checked by
hand arithmetic (target / deal value, then divided by each rate back up the funnel; people and
calls rounded up), the deal value of the data against SQL (in a rep's scope, over their own won
deals), invalid inputs refused with the field named (400 JSON; an error on the page), exports,
and the form in Chromium."""

from __future__ import annotations

import io
import math
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from openpyxl import load_workbook
from tests.server.conftest import screenshot, sign_in

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

MONTH_DAYS = 365.25 / 12
# An amount in the base currency (EUR), at the last rate known on the close day.
BASE = "o.amount * CASE WHEN o.currency = 'EUR' THEN 1 ELSE fx.rate_to_base END"
FX = "ASOF LEFT JOIN fx_rates fx ON o.currency = fx.currency AND CAST(o.closed_at AS DATE) >= fx.date"


def _get(server: dict[str, Any], path: str, role: str = "admin", **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server['tokens'][role]}"}
    return httpx.get(server["url"] + path, headers=headers, params=params, timeout=60)


def _plan(server: dict[str, Any], role: str = "admin", **params: str) -> dict[str, Any]:
    response = _get(server, "/api/v1/plan", role, **params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _volumes(body: dict[str, Any]) -> dict[str, float]:
    return {v["name"]: v["value"] for v in body["plan"]["volumes"]}


def _table(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return list(next(t for t in body["tables"] if t["name"] == name)["items"])


def _sql(server: dict[str, Any], query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Plain SQL on the served store (a second Workspace in this process shares its database)."""
    with Workspace(server["db"]) as ws:
        return list(ws.sql(query, params or []).to_pylist())


def test_needed_volumes_and_headcount_by_hand(server: dict[str, Any]) -> None:
    body = _plan(
        server,
        revenue="500000",
        horizon="quarter",
        deal_value="20000",
        call_to_lead="0.1",
        lead_to_opportunity="0.25",
        opportunity_to_signature="0.5",
    )
    # 500,000 / 20,000 = 25 signatures; / 0.5 = 50 opportunities; / 0.25 = 200 leads; / 0.1 = 2,000 calls
    assert _volumes(body) == pytest.approx(
        {"signatures": 25, "opportunities": 50, "leads": 200, "calls": 2000, "revenue": 500_000}
    )
    whole = {r["name"]: r["whole"] for r in _table(body, "volumes")}
    assert whole == {"calls": 2000, "leads": 200, "opportunities": 50, "signatures": 25}
    # a quarter is 3 months: SDRs = 2,000 calls / (60 calls x 21 days x 3); AEs = 50 / (25 x 3)
    heads = {h["role"]: h for h in body["plan"]["headcount"]}
    assert heads["sdr"]["needed"] == pytest.approx(2000 / (60 * 21 * 3))
    assert heads["ae"]["needed"] == pytest.approx(50 / (25 * 3))
    staff = {r["whole"]: r for r in _table(body, "headcount")}
    assert set(staff) == {1}  # 0.53 SDR and 0.67 AE: one of each, rounded up
    assert body["plan"]["rates_source"] == "reference" and body["plan"]["window"]["deal_value_source"] == "option"
    assert {r["name"]: r["source"] for r in _table(body, "rates")} == dict.fromkeys(
        ("call_to_lead", "lead_to_opportunity", "opportunity_to_signature"), "override"
    )


def test_reference_rates_of_the_settings_and_a_capacity(server: dict[str, Any]) -> None:
    body = _plan(server, signatures="11", horizon="90-days", sdr_calls_per_day="50", working_days="20")
    # the demo's reference_rates setting: 10%, 33%, 33% (docs/planner.md: 1.1 signatures need 100 calls)
    expected_calls = 11 / 0.33 / 0.33 / 0.1
    volumes = _volumes(body)
    assert volumes["calls"] == pytest.approx(expected_calls)
    assert "revenue" in volumes  # the data's deal value gives the revenue of 11 signatures
    whole = {r["name"]: r["whole"] for r in _table(body, "volumes")}
    assert whole["calls"] == math.ceil(expected_calls) == 1011
    months = 90 / MONTH_DAYS
    sdr = next(h for h in body["plan"]["headcount"] if h["role"] == "sdr")
    assert sdr["needed"] == pytest.approx(expected_calls / (50 * 20 * months))
    assert body["plan"]["horizon_days"] == 90 and body["plan"]["working_days"] == pytest.approx(20 * months)


def test_the_deal_value_of_the_data_in_the_users_scope(server: dict[str, Any]) -> None:
    admin, rep = _plan(server, revenue="1000000"), _plan(server, "rep", revenue="1000000")
    window = admin["plan"]["window"]
    assert (window["from"], window["to"]) == ("2025-06-30", "2026-06-29")  # 12 months to the data's end
    query = (
        f"SELECT sum({BASE}) / count(*) AS value FROM opportunities o {FX} WHERE o.outcome = 'won' "
        "AND CAST(o.closed_at AS DATE) BETWEEN ? AND ?"
    )
    everyone = _sql(server, query, [window["from"], window["to"]])[0]["value"]
    own = _sql(server, query + " AND o.owner_id = ?", [window["from"], window["to"], server["rep"]])[0]["value"]
    assert admin["plan"]["deal_value"] == pytest.approx(everyone)
    assert rep["plan"]["deal_value"] == pytest.approx(own) and own != pytest.approx(everyone)
    assert _volumes(rep)["signatures"] == pytest.approx(1_000_000 / own)
    # today's headcount in a rep's scope: only the rep (an AE)
    today = {h["role"]: h["today"] for h in rep["plan"]["headcount"]}
    assert today == {"sdr": 0, "ae": 1}


def test_measured_rates_carry_ranges(server: dict[str, Any]) -> None:
    body = _plan(server, revenue="500000", rates="measured", deal_value="25000")
    rates = {r["step"]: r for r in body["plan"]["rates"]}
    calls = _volumes(body)["calls"]
    chain = 20 / rates["opportunity_to_signature"]["value"] / rates["lead_to_opportunity"]["value"]
    assert calls == pytest.approx(chain / rates["call_to_lead"]["value"])
    row = next(r for r in _table(body, "volumes") if r["name"] == "calls")
    assert row["low"] < row["needed"] < row["high"]
    assert (
        rates["call_to_lead"]["trials"]
        == _sql(
            server,
            "SELECT count(*) AS n FROM activities WHERE type = 'call' AND CAST(occurred_at AS DATE) BETWEEN ? AND ?",
            [body["plan"]["window"]["from"], body["plan"]["window"]["to"]],
        )[0]["n"]
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"revenue": "-500000"}, "revenue"),
        ({"revenue": "abc"}, "revenue"),
        ({"signatures": "0"}, "signatures"),
        ({"revenue": "1000", "lead_to_opportunity": "1.5"}, "lead_to_opportunity"),
        ({"revenue": "1000", "call_to_lead": "0"}, "call_to_lead"),
        ({"revenue": "1000", "rates": "observed"}, "rates"),
        ({"revenue": "1000", "horizon": "fortnight"}, "horizon"),
        ({"revenue": "1000", "working_days": "-1"}, "working_days"),
        ({"revenue": "1000", "signatures": "3"}, "signatures"),
        ({"revenue": "1000", "rates": "measured", "call_to_lead": "0.2"}, "call_to_lead"),
        ({"revenue": "1000", "target": "3"}, "target"),
        ({}, "revenue"),
        ({"revenue": "1000", "rates": "measured", "from": "2020-01-01", "to": "2020-03-31"}, "rates"),
    ],
)
def test_invalid_inputs_name_their_field(server: dict[str, Any], params: dict[str, str], field: str) -> None:
    response = _get(server, "/api/v1/plan", **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ParameterError" and error["message"].startswith(f"Parameter {field}:")
    if not params:
        return  # the empty form is the page's start, not an error
    page = _get(server, "/planner", **params)
    assert page.status_code == 400  # the page shows the error beside the form, with the status of one
    assert 'id="plan-error"' in page.text and f"Parameter {field}:" in page.text.replace("&#x27;", "'")
    if field != "target":  # a field of the form is marked invalid
        assert re.search(f'name="{field}"[^>]*aria-invalid="true"', page.text), field
    assert "Traceback" not in page.text
    answer = _get(server, "/api/v1/pages/planner", **params)
    view = answer.json()
    assert answer.status_code == 400 and view["data"]["error"]["field"] == field and view["tables"] == []


def test_the_page_json_and_exports_hold_the_same_plan(server: dict[str, Any]) -> None:
    params = {"revenue": "750000", "horizon": "year", "deal_value": "15000"}
    api = _plan(server, **params)
    page = _get(server, "/api/v1/pages/planner", **params).json()
    assert page["data"]["plan"] == api["plan"] and page["data"]["inputs"] == api["inputs"]
    html = _get(server, "/planner", **params).text
    assert 'value="750000"' in html and "svg" in html and 'data-table="volumes"' in html
    xlsx = _get(server, "/export/planner/volumes.xlsx", **params)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["signatures"][2] == pytest.approx(50) and rows["calls"][3] == math.ceil(50 / 0.33 / 0.33 / 0.1)
    # the funnel chart says what the table's whole column says (4,592 calls, not a rounded 4,600)
    funnel = re.search(r"<svg[^>]*sp-chart-funnel.*?</svg>", html, re.S)
    assert funnel is not None and f">{math.ceil(50 / 0.33 / 0.33 / 0.1):,}</text>" in funnel.group(0)
    french = _get(server, "/planner", "rep", **params).text
    assert "Volumes nécessaires" in french and 'lang="fr"' in french


def test_the_form_in_the_browser(server: dict[str, Any], browser: Any) -> None:
    page = sign_in(browser, server["url"], "admin@example.com")
    page.goto(server["url"] + "/planner")
    assert page.locator("#plan-error").count() == 0
    page.fill("input[name=revenue]", "500000")
    page.fill("input[name=horizon]", "quarter")
    page.fill("input[name=deal_value]", "20000")
    page.click(".sp-plan-form button[type=submit]")
    page.wait_for_url("**revenue=500000**")
    calls = 'table[data-table="volumes"] tbody tr:first-child td:nth-child(2)'
    first = float(page.locator(calls).get_attribute("data-value") or "nan")
    assert first == pytest.approx(25 / 0.33 / 0.33 / 0.1)
    assert page.locator("svg.sp-chart-funnel rect.sp-funnel-step[data-value]").count() == 4
    assert page.locator("svg.sp-chart-bars rect.sp-bar[data-value]").count() == 2
    page.fill("input[name=revenue]", "1000000")
    page.click(".sp-plan-form button[type=submit]")
    page.wait_for_url("**revenue=1000000**")
    second = float(page.locator(calls).get_attribute("data-value") or "nan")
    assert second == pytest.approx(2 * first)
    query = parse_qs(urlparse(page.url).query)
    assert query["revenue"] == ["1000000"] and query["horizon"] == ["quarter"]  # the URL keeps the plan
    assert page.input_value("input[name=revenue]") == "1000000"
    assert page.errors == []
    screenshot(page, "planner")
    page.fill("input[name=revenue]", "-3")
    page.click(".sp-plan-form button[type=submit]")
    page.wait_for_url("**revenue=-3**")
    assert "Parameter revenue" in page.locator("#plan-error").inner_text()
    assert page.locator("input[name=revenue]").get_attribute("aria-invalid") == "true"
    page.close()


def test_the_engine_checks_rate_overrides_as_the_setting(server: dict[str, Any]) -> None:
    with Workspace(server["db"]) as ws:
        plan = ws.plan(signatures=10, references={"opportunity_to_signature": 0.5})
        assert plan.volume("opportunities").value == pytest.approx(20)
        assert plan.volume("leads").value == pytest.approx(20 / 0.33)  # the other steps keep the setting's
        for wrong in ({"call_to_lead": 1.5}, {"call_to_lead": 0.0}, {"call_to_meeting": 0.2}):
            with pytest.raises(ParameterError, match="reference_rates"):
                ws.plan(signatures=10, references=wrong)
