"""The losses and qualification page over real HTTP: the lost deals per reason, competitor and rep
checked against plain SQL over the demo store (count and value in the base currency), the
qualification figures recomputed from the six fields, a rep's scope, hostile CRM text escaped
in the page and neutralised in the exports, a wrong parameter, and the page in Chromium."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from typing import Any

import pytest
from openpyxl import load_workbook
from tests.server.conftest import HOSTILE, screenshot, sign_in
from tests.server.page_helpers import get as _get
from tests.server.page_helpers import items as _items
from tests.server.page_helpers import page_view
from tests.server.page_helpers import sql as _sql
from tests.server.test_page_customers import BASE, FX

from salespilot.engine.workspace import Workspace

REASONS = ("bad_target", "no_pain", "no_fit", "competitor", "budget", "timing", "no_decision")
FIELDS = ("pain_point", "objective", "success_criteria", "competition", "budget", "decision_date")


def _view(server: dict[str, Any], user: str = "admin", **params: str) -> dict[str, Any]:
    return page_view(server, "losses", user, **params)


@pytest.fixture(scope="module")
def hostile(server: dict[str, Any]) -> str:
    """A lost deal of the rep whose competitor and written reason are a formula."""
    deal = _sql(
        server,
        "SELECT opportunity_id FROM opportunities WHERE owner_id = ? AND outcome = 'lost' AND closed_at IS NOT NULL "
        "ORDER BY 1 DESC LIMIT 1",
        [server["rep"]],
    )[0]["opportunity_id"]
    with Workspace(server["db"]) as ws:
        ws.store.execute(
            "UPDATE opportunities SET competitor = ?, loss_reason_text = ? WHERE opportunity_id = ?",
            [HOSTILE, HOSTILE, deal],
        )
    return str(deal)


def _lost_by_reason(server: dict[str, Any], mine: str = "", params: list[Any] | None = None) -> dict[str, Any]:
    """Lost deals with a close date, per reason of the taxonomy (anything else counts as other)."""
    listed = ", ".join(f"'{r}'" for r in REASONS)
    rows = _sql(
        server,
        f"SELECT CASE WHEN o.loss_reason IN ({listed}) THEN o.loss_reason ELSE 'other' END AS reason, "
        f"count(*) AS n, sum({BASE}) AS value FROM opportunities o {FX} "
        f"WHERE o.outcome = 'lost' AND o.closed_at IS NOT NULL {mine} GROUP BY 1",
        params,
    )
    return {r["reason"]: (r["n"], r["value"] or 0.0) for r in rows}


def test_losses_by_reason_match_sql_in_count_and_value(server: dict[str, Any]) -> None:
    view = _view(server)
    expected = _lost_by_reason(server)
    got: dict[str, list[float]] = {}
    for row in _items(view, "losses"):
        entry = got.setdefault(row["reason"], [0, 0.0])
        entry[0] += row["lost"]
        entry[1] += row["lost_value"]
    labels = {"bad_target": "bad target", "no_pain": "no pain", "no_fit": "no fit"}
    labels |= {"competitor": "lost to a competitor", "budget": "budget", "timing": "timing"}
    labels |= {"no_decision": "no decision", "other": "other"}
    assert {labels[k] for k in expected} == set(got)
    for reason, (n, value) in expected.items():
        assert got[labels[reason]][0] == n, reason
        assert math.isclose(got[labels[reason]][1], value, abs_tol=0.01 * n + 0.01), reason
    assert view["data"]["lost"] == sum(n for n, _ in expected.values())
    # the window's summary is the sum of its periods
    summary = {r["reason"]: (r["lost"], r["lost_value"]) for r in _items(view, "summary")}
    assert set(summary) == set(got)
    for reason, (n, value) in summary.items():
        assert n == got[reason][0] and math.isclose(value, got[reason][1], abs_tol=0.01 * n + 0.01)
    # one period's shares add up to 1
    first = _items(view, "losses")[0]["period"]
    shares = [r["share_of_lost"] for r in _items(view, "losses") if r["period"] == first]
    assert math.isclose(sum(shares), 1.0, abs_tol=0.001 * len(shares))


def test_losses_of_a_quarter_follow_the_period_filter(server: dict[str, Any]) -> None:
    start, end = "2025-01-01", "2025-03-31"
    view = _view(server, grain="quarter", **{"from": start, "to": end})
    rows = _items(view, "losses")
    assert {r["period"] for r in rows} == {"2025-Q1"}
    n = _sql(
        server,
        "SELECT count(*) AS n FROM opportunities WHERE outcome = 'lost' AND CAST(closed_at AS DATE) BETWEEN ? AND ?",
        [start, end],
    )[0]["n"]
    assert n > 0
    assert sum(r["lost"] for r in rows) == n == view["data"]["lost"]


def test_the_segment_filter_narrows_the_losses(server: dict[str, Any]) -> None:
    view = _view(server, segment="smb")
    n = _sql(
        server,
        "SELECT count(*) AS n FROM opportunities o JOIN accounts a USING (account_id) "
        "WHERE o.outcome = 'lost' AND o.closed_at IS NOT NULL AND a.segment = 'smb'",
    )[0]["n"]
    assert 0 < n < _view(server)["data"]["lost"]
    assert view["data"]["lost"] == n


def test_losses_by_rep_give_each_reps_win_rate(server: dict[str, Any]) -> None:
    view = _view(server, by="rep", grain="year")
    rows = _items(view, "losses")
    want = _sql(
        server,
        "SELECT owner_id, count(*) FILTER (WHERE outcome = 'won') AS won, count(*) AS closed FROM opportunities "
        "WHERE outcome IN ('won', 'lost') AND closed_at IS NOT NULL GROUP BY 1",
    )
    closed: Counter[str] = Counter()
    won: Counter[str] = Counter()
    for r in rows:
        closed[r["rep"]] += r["closed"]
        won[r["rep"]] += r["won"]
    assert {w["owner_id"]: (w["won"], w["closed"]) for w in want} == {k: (won[k], closed[k]) for k in closed}
    for r in rows:
        assert r["ci_low"] <= r["win_rate"] <= r["ci_high"]
    window = {r["rep"]: (r["won"], r["closed"]) for r in _items(view, "summary")}
    assert window == {k: (won[k], closed[k]) for k in closed}


def test_qualification_matches_the_six_fields(server: dict[str, Any]) -> None:
    view = _view(server)
    filled = " AND ".join(f"coalesce(trim(CAST({f} AS VARCHAR)), '') <> ''" for f in FIELDS)
    rows = _sql(
        server,
        f"SELECT ({filled}) AS fully, count(*) AS closed, count(*) FILTER (WHERE outcome = 'won') AS won "
        "FROM opportunities WHERE outcome IN ('won', 'lost') GROUP BY 1",
    )
    want = {("fully" if r["fully"] else "partly"): (r["closed"], r["won"]) for r in rows}
    got = {r["qualified"]: (r["closed"], r["won"]) for r in _items(view, "comparison")}
    assert got == {"fully qualified": want["fully"], "partly qualified": want["partly"]}
    effects = {r["field"]: r for r in _items(view, "effects")}
    pain = _sql(
        server,
        "SELECT count(*) AS closed, count(*) FILTER (WHERE outcome = 'won') AS won FROM opportunities "
        "WHERE outcome IN ('won', 'lost') AND coalesce(trim(pain_point), '') <> ''",
    )[0]
    assert effects["pain point"]["filled_closed"] == pain["closed"]
    assert math.isclose(effects["pain point"]["filled_win_rate"], pain["won"] / pain["closed"], abs_tol=1e-4)
    row = effects["pain point"]
    assert math.isclose(row["difference"], row["filled_win_rate"] - row["empty_win_rate"], abs_tol=2e-4)
    # the late deals: open, at proposal or later, missing a field
    late = _items(view, "late")
    assert late and all(r["missing"] for r in late)
    ids = [r["opportunity_id"] for r in late]
    opened = _sql(server, "SELECT opportunity_id, outcome FROM opportunities WHERE opportunity_id IN ?", [ids])
    assert {r["outcome"] for r in opened} == {"open"}


def test_a_rep_sees_only_their_own_losses(server: dict[str, Any], hostile: str) -> None:
    view = _view(server, "rep", by="rep")
    rows = _items(view, "losses")
    assert rows and {r["rep"] for r in rows} == {server["rep"]}
    mine = _lost_by_reason(server, "AND o.owner_id = ?", [server["rep"]])
    assert view["data"]["lost"] == sum(n for n, _ in mine.values())
    # a rep's filter on another rep shows nothing
    other = _view(server, "rep", by="rep", rep=server["other"])
    assert _items(other, "losses") == [] and other["data"]["lost"] == 0
    # nor do the qualification tables name anybody else
    for name in ("by_rep", "late"):
        owners = {r.get("rep") or r.get("owner") for r in _items(_view(server, "rep"), name)}
        assert owners <= {server["rep"]}


def test_hostile_text_is_escaped_in_the_page_and_neutralised_in_the_exports(
    server: dict[str, Any], hostile: str
) -> None:
    page = _get(server, "/losses", by="competitor")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "=HYPERLINK(&quot;http://evil.example&quot;" in page.text
    text = _get(server, "/export/losses/losses.csv", by="competitor").content.decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert "'" + HOSTILE in cells and HOSTILE not in cells
    reasons = _get(server, "/export/losses/losses.csv").content.decode("utf-8-sig")
    written = [c for row in csv.reader(io.StringIO(reasons)) for c in row if "HYPERLINK" in c]
    assert written and all(c.startswith("'") for c in written)
    book = load_workbook(io.BytesIO(_get(server, "/export/losses/losses.xlsx", by="competitor").content))
    strings = [c for row in book.active.iter_rows() for c in row if c.value == HOSTILE]
    assert strings and all(c.data_type == "s" for c in strings)


def test_a_wrong_grouping_is_a_400_that_names_it(server: dict[str, Any]) -> None:
    response = _get(server, "/api/v1/pages/losses", by="weather")
    assert response.status_code == 400
    assert "Parameter by" in response.json()["error"]["message"] and "competitor" in response.json()["error"]["message"]


def test_the_page_in_chromium(server: dict[str, Any], browser: Any, hostile: str) -> None:
    page = sign_in(browser, server["url"], "admin@example.com")
    page.goto(server["url"] + "/losses?by=competitor&grain=quarter")
    bars = page.locator("#losses-chart svg .sp-bar")
    assert bars.count() > 0
    assert page.locator("#qualification svg .sp-bar").count() == len(FIELDS)
    before = page.locator("#losses-total").inner_text()
    # the filter bar keeps the grouping
    page.fill("input[name=segment]", "smb")
    page.click(".sp-filters button")
    page.wait_for_url("**segment=smb**")
    assert "by=competitor" in page.url
    assert page.locator("#losses-total").inner_text() != before
    page.goto(server["url"] + "/losses")
    page.locator("#by a", has_text="rep").first.click()
    page.wait_for_url("**by=rep**")
    screenshot(page, "losses")
    assert page.errors == []
    page.close()
    # the rep reads it in French
    page = sign_in(browser, server["url"], "rep@example.com")
    page.goto(server["url"] + "/losses")
    assert "Valeur perdue par motif" in page.content()
    assert page.errors == []
    page.close()
