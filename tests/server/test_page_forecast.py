"""The forecast page over real HTTP: what is already won and the open deals checked against plain
SQL over the demo store, the forecast's own arithmetic (already won + expected of the open deals
+ new pipeline), the reps' categories, the track record against the bookings of each month, a
rep's scope (by token and by filter), wrong parameters, the exports, and the page in Chromium in
English and French."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from tests.server.conftest import screenshot, sign_in
from tests.server.page_helpers import get as _get
from tests.server.page_helpers import items as _items
from tests.server.page_helpers import page_view
from tests.server.page_helpers import sql as _sql
from tests.server.test_page_customers import BASE, FX

# The forecast values a deal at the latest rate of its currency (docs/forecast.md).
LATEST = (
    "o.amount * CASE WHEN o.currency = 'EUR' THEN 1 ELSE "
    "(SELECT rate_to_base FROM fx_rates f WHERE f.currency = o.currency ORDER BY f.date DESC LIMIT 1) END"
)


def _view(server: dict[str, Any], user: str = "admin", **params: str) -> dict[str, Any]:
    return page_view(server, "forecast", user, **params)


@pytest.fixture(scope="module")
def month(server: dict[str, Any]) -> dict[str, Any]:
    return _view(server, horizon="month")


def test_already_won_is_the_months_won_deals_so_far(server: dict[str, Any], month: dict[str, Any]) -> None:
    d = month["data"]
    now = dt.datetime.fromisoformat(d["now"])
    start = dt.datetime.fromisoformat(d["from"])  # the workspace's time zone is UTC in the demo
    assert start.day == 1 and start <= now
    won = _sql(
        server,
        f"SELECT count(*) AS n, sum({LATEST}) AS value FROM opportunities o "
        "WHERE outcome = 'won' AND closed_at >= ? AND closed_at <= ?",
        [start, now],
    )[0]
    assert won["n"] > 10
    assert d["already_won"] == pytest.approx(won["value"])
    # the range holds what is already won, and P10 <= P50 <= P90
    assert d["already_won"] <= d["p10"] + 1e-6 <= d["p50"] + 2e-6 <= d["p90"] + 3e-6


def test_the_open_deals_and_the_forecasts_arithmetic(server: dict[str, Any]) -> None:
    view = _view(server)  # the next 90 days: nothing is won yet in the window
    d = view["data"]
    assert d["horizon"] == "90-days" and d["already_won"] == 0
    table = next(t for t in view["tables"] if t["name"] == "deals")
    deals = table["items"]
    open_deals = _sql(server, f"SELECT opportunity_id, {LATEST} AS value FROM opportunities o WHERE outcome = 'open'")
    assert table["total"] == len(open_deals) > len(deals) > 0  # the page lists the 100 that weigh most
    values = {r["opportunity_id"]: r["value"] for r in open_deals}
    for deal in deals:
        assert deal["value"] == pytest.approx(values[deal["opportunity_id"]])
        assert 0 <= deal["probability"] <= 1
        assert deal["expected_value"] == pytest.approx(deal["value"] * deal["probability"])
    weights = [deal["expected_value"] for deal in deals]
    assert weights == sorted(weights, reverse=True)
    # per forecast category: the store's open deals, and the expected value of all of them
    categories = {c["category"]: c for c in _items(view, "categories")}
    counted = _sql(
        server,
        f"SELECT coalesce(forecast_category, '(none)') AS c, count(*) AS n, sum({LATEST}) AS value "
        "FROM opportunities o WHERE outcome = 'open' GROUP BY 1",
    )
    assert {r["c"]: r["n"] for r in counted} == {k: c["deals"] for k, c in categories.items()}
    for r in counted:
        assert categories[r["c"]]["value"] == pytest.approx(r["value"])
    expected_open = sum(c["expected"] for c in categories.values())
    assert d["expected"] == pytest.approx(d["already_won"] + expected_open + d["new_pipeline"])
    assert d["new_pipeline"] > 0  # 90 days ahead, deals not yet created will close too
    # per rep: every open deal belongs to one row
    groups = _items(view, "groups")
    assert sum(g["open_deals"] for g in groups) == len(open_deals)


def test_a_rep_forecasts_only_their_own_deals(server: dict[str, Any]) -> None:
    view = _view(server, "rep")
    ids = {deal["opportunity_id"] for deal in _items(view, "deals")}
    own_open = _sql(
        server, "SELECT count(*) AS n FROM opportunities WHERE outcome = 'open' AND owner_id = ?", [server["rep"]]
    )[0]["n"]
    assert own_open > 0 and len(ids) == own_open and ids <= server["own_ids"]
    assert [g["rep"] for g in _items(view, "groups")] == [server["rep"]]
    # a filter on another rep narrows the rep's scope to nothing; it never widens it
    other = _view(server, "rep", rep=server["other"])
    assert other["tables"] == [] and other["data"] == {"empty": True}
    # while the admin sees the other rep's deals through the same filter
    assert _items(_view(server, rep=server["other"]), "deals")


def test_the_track_record_replays_past_months_against_their_bookings(server: dict[str, Any]) -> None:
    view = _view(server, track="1")
    periods = _items(view, "periods")
    assert len(periods) >= 6
    coverage = view["data"]["track"]["coverage"]
    assert coverage == pytest.approx(sum(p["in_range"] == "yes" for p in periods) / len(periods))
    for p in periods:
        assert p["p10"] <= p["forecast"] + 1e-6 and p["forecast"] <= p["p90"] + 1e-6
        assert p["in_range"] == ("yes" if p["p10"] <= p["actual"] <= p["p90"] else "no")
    # what was booked in a month: its won deals, at the rate of their close day
    chosen = periods[len(periods) // 2]
    first = dt.date.fromisoformat(chosen["period"] + "-01")
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    booked = _sql(
        server,
        f"SELECT sum({BASE}) AS value FROM opportunities o {FX} WHERE o.outcome = 'won' "
        "AND o.closed_at >= ? AND o.closed_at < ?",
        [first, following],
    )[0]["value"]
    assert chosen["actual"] == pytest.approx(booked)
    # the forecast was made the day before the month began
    assert dt.date.fromisoformat(chosen["as_of"]) == first - dt.timedelta(days=1)
    assert {m["method"] for m in _items(view, "methods")} == {"Forecast", "Weighted pipeline", "Run rate"}


def test_wrong_parameters_are_named(server: dict[str, Any]) -> None:
    for name, value in (("horizon", "week"), ("by", "segment"), ("track", "yes")):
        response = _get(server, "/api/v1/pages/forecast", **{name: value})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "ParameterError" and f"Parameter {name}" in error["message"]


def test_the_deals_export_in_the_reps_scope(server: dict[str, Any]) -> None:
    response = _get(server, "/export/forecast/deals.csv", "rep")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert "Affaire" in header  # the rep reads French
    ids = {row[header.index("Affaire")] for row in body}
    assert ids and ids <= server["own_ids"]


def test_the_page_in_chromium(server: dict[str, Any], browser: Any) -> None:
    page = sign_in(browser, server["url"], "admin@example.com")
    page.click("a[href='/forecast']")
    page.wait_for_url("**/forecast")
    assert page.locator("#bookings svg .sp-row").count() == 3  # our range, weighted pipeline, run rate
    before = page.locator("#bookings .sp-card .sp-number").first.inner_text()
    page.locator("#horizon a", has_text="this month").click()
    page.wait_for_url("**horizon=month**")
    assert page.locator("#bookings .sp-card .sp-number").first.inner_text() != before
    page.locator("#track a").click()
    page.wait_for_url("**track=1**")
    assert "horizon=month" in page.url  # the horizon is kept
    assert page.locator("#track svg .sp-row").count() >= 6
    screenshot(page, "forecast")
    assert page.errors == []
    page.close()
    page = sign_in(browser, server["url"], "rep@example.com")
    page.goto(server["url"] + "/forecast")
    assert "Affaires ouvertes qui pèsent le plus" in page.content()
    assert 'Horizon : <strong aria-current="true">90 prochains jours</strong>' in page.content()  # French colon
    assert page.errors == []
    page.close()
