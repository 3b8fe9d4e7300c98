"""The settings page and API over a store of their own: users added, removed and given a new
password through forms with the CSRF token; targets set through the API show in
Workspace.targets() and in the overview; settings validated as the CLI validates them (a bad
currency is a 400 naming it, and nothing is written); only an admin may do any of it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.server.conftest import PASSWORD, screenshot, sign_in
from tests.server.writes_helpers import bearer, csrf_of, own_site, scalar, session, sql

from salespilot.engine.workspace import Workspace
from salespilot.settings import SETTINGS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with own_site(tmp_path_factory.mktemp("settings")) as found:
        yield found


def _notice(client: httpx.Client, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    found = re.search(r'<p class="(sp-ok|sp-error)" role="status">(.*?)</p>', page.text)
    assert found is not None, page.text[:300]
    return f"{found.group(1)}: {html.unescape(found.group(2))}"


def _users(site: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["email"]: r for r in sql(site, "SELECT email, role, rep_id, team, language, name FROM users")}


def _signs_in(site: dict[str, Any], email: str, password: str) -> bool:
    response = httpx.post(site["url"] + "/login", data={"email": email, "password": password})
    return response.status_code == 303


def test_users_are_added_reset_and_removed_through_the_forms(site: dict[str, Any]) -> None:
    rep = site["reps"][1]
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/settings")
        form = {
            "csrf": csrf,
            "email": "Ann@Example.com",
            "name": "Ann",
            "password": "a long enough password",
            "role": "rep",
            "rep_id": rep,
            "team": "",
            "language": "fr",
        }
        assert _notice(client, client.post("/settings/users/add", data=form)).startswith("sp-ok: User ann@example.com")
        added = _users(site)["ann@example.com"]
        assert (added["role"], added["rep_id"], added["language"], added["name"]) == ("rep", rep, "fr", "Ann")
        assert _signs_in(site, "ann@example.com", "a long enough password")
        # the engine's validation, message and all: nothing added
        short = _notice(
            client, client.post("/settings/users/add", data={**form, "email": "bob@example.com", "password": "short"})
        )
        assert short.startswith("sp-error") and "at least 10 characters" in short
        no_rep = _notice(
            client, client.post("/settings/users/add", data={**form, "email": "bob@example.com", "rep_id": ""})
        )
        assert "rep id" in no_rep
        bad_rep = _notice(
            client, client.post("/settings/users/add", data={**form, "email": "bob@example.com", "rep_id": "R9999"})
        )
        assert 'no rep "R9999"' in bad_rep
        bad_role = _notice(
            client, client.post("/settings/users/add", data={**form, "email": "bob@example.com", "role": "boss"})
        )
        assert 'role "boss"' in bad_role
        assert "bob@example.com" not in _users(site)
        again = _notice(client, client.post("/settings/users/add", data=form))
        assert "already a user" in again
        # a new password: the old one no longer opens a session
        reset = {"csrf": csrf, "email": "ann@example.com", "password": "another long password"}
        assert _notice(client, client.post("/settings/users/password", data=reset)).startswith("sp-ok")
        assert not _signs_in(site, "ann@example.com", "a long enough password")
        assert _signs_in(site, "ann@example.com", "another long password")
        weak = _notice(client, client.post("/settings/users/password", data={**reset, "password": "x"}))
        assert weak.startswith("sp-error")
        # removal; not of oneself
        myself = _notice(
            client, client.post("/settings/users/remove", data={"csrf": csrf, "email": "admin@example.com"})
        )
        assert myself.startswith("sp-error") and "admin@example.com" in _users(site)
        gone = _notice(client, client.post("/settings/users/remove", data={"csrf": csrf, "email": "ann@example.com"}))
        assert gone.startswith("sp-ok") and "ann@example.com" not in _users(site)
        assert not _signs_in(site, "ann@example.com", "another long password")
        page = client.get("/settings")
        users = re.search(r'data-table="users">.*?<tbody>(.*?)</tbody>', page.text, re.S)
        assert users is not None and users.group(1).count("<tr>") == len(_users(site)) == 3


def test_a_notice_is_signed_for_its_session(site: dict[str, Any]) -> None:
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/settings")
        done = client.post("/settings/settings", data={"csrf": csrf, "name": "small_sample", "value": "30"})
        shown = client.get(done.headers["location"])
        assert "Setting small_sample = 30." in shown.text
        # made-up words are not shown, nor a notice signed for another session
        forged = client.get("/settings", params={"notice": "You have been hacked"})
        assert forged.status_code == 200 and "hacked" not in forged.text
    with session(site, "admin@example.com") as other:
        assert "Setting small_sample = 30." not in other.get(done.headers["location"]).text


def _last_period(site: dict[str, Any]) -> str:
    overview = httpx.get(site["url"] + "/api/v1/pages/overview", headers=bearer(site, "admin"), timeout=60).json()
    headline = next(t for t in overview["tables"] if t["name"] == "headline")
    return str(next(r for r in headline["items"] if r["kpi"] == "Revenue")["period"])


def _overview_target(site: dict[str, Any]) -> float:
    overview = httpx.get(site["url"] + "/api/v1/pages/overview", headers=bearer(site, "admin"), timeout=60).json()
    headline = next(t for t in overview["tables"] if t["name"] == "headline")
    return float(next(r for r in headline["items"] if r["kpi"] == "Revenue")["target"])


def test_a_target_set_through_the_api_shows_in_the_workspace_and_the_overview(site: dict[str, Any]) -> None:
    period = _last_period(site)
    url = site["url"] + "/api/v1/targets"
    admin = bearer(site, "admin")
    response = httpx.put(url, json={"metric": "revenue", "value": 1234567.5, "period": period}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["target"] == {
        "period": period,
        "metric": "revenue",
        "value": 1234567.5,
        "scope": "company",
        "scope_id": None,
    }
    with Workspace(site["db"]) as ws:
        stored = ws.targets(period=period, metric="revenue", scope="company")
    assert [t["value"] for t in stored] == [1234567.5]
    assert _overview_target(site) == 1234567.5
    listed = httpx.get(url, params={"period": period, "metric": "revenue"}, headers=admin).json()
    assert [(t["scope"], t["value"]) for t in listed["items"] if t["scope"] == "company"] == [("company", 1234567.5)]
    # a rep's target
    rep = site["reps"][0]
    mine = httpx.put(url, json={"metric": "signatures", "value": 7, "period": period, "rep": rep}, headers=admin)
    assert mine.status_code == 200 and mine.json()["result"] == "set"
    again = httpx.put(url, json={"metric": "signatures", "value": 7, "period": period, "rep": rep}, headers=admin)
    assert again.json()["result"] == "unchanged"
    row = sql(
        site, "SELECT value FROM targets WHERE period = ? AND metric = 'signatures' AND scope_id = ?", [period, rep]
    )
    assert row == [{"value": 7.0}]
    paged = httpx.get(url, params={"limit": 5, "offset": 5}, headers=admin).json()
    assert paged["total"] == scalar(site, "SELECT count(*) FROM targets") and len(paged["items"]) == 5


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"metric": "revenu", "value": 1, "period": "2026-07"}, "metric"),
        ({"metric": "revenue", "value": -1, "period": "2026-07"}, "value"),
        ({"metric": "revenue", "value": "lots", "period": "2026-07"}, "value"),
        ({"metric": "revenue", "value": True, "period": "2026-07"}, "value"),
        ({"metric": "revenue", "value": 1, "period": "July"}, "period"),
        ({"metric": "revenue", "value": 1}, "period"),
        ({"metric": "revenue", "value": 1, "period": "2026-07", "rep": "R9999"}, "rep"),
        ({"metric": "revenue", "value": 1, "period": "2026-07", "team": "nowhere"}, "team"),
        ({"metric": "revenue", "value": 1, "period": "2026-07", "rep": "R0001", "team": "x"}, "rep or team"),
        ({"metric": "revenue", "value": 1, "period": "2026-07", "scope": "rep"}, "scope"),
    ],
)
def test_a_bad_target_is_a_400_naming_the_field(site: dict[str, Any], body: dict[str, Any], named: str) -> None:
    before = scalar(site, "SELECT count(*) FROM targets")
    response = httpx.put(site["url"] + "/api/v1/targets", json=body, headers=bearer(site, "admin"))
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    assert scalar(site, "SELECT count(*) FROM targets") == before


def test_the_target_form_sets_one(site: dict[str, Any]) -> None:
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/settings")
        form = {"csrf": csrf, "metric": "leads", "value": "321", "period": "2031-01", "rep": "", "team": ""}
        assert _notice(client, client.post("/settings/targets", data=form)).startswith("sp-ok: Target set")
        bad = _notice(client, client.post("/settings/targets", data={**form, "value": "-5"}))
        assert bad.startswith("sp-error") and "value" in bad
    assert sql(site, "SELECT value, scope FROM targets WHERE period = '2031-01' AND metric = 'leads'") == [
        {"value": 321.0, "scope": "company"}
    ]


def test_settings_are_read_and_changed_with_the_clis_validation(site: dict[str, Any]) -> None:
    url = site["url"] + "/api/v1/settings"
    admin = bearer(site, "admin")
    listed = httpx.get(url, headers=admin).json()
    assert [i["name"] for i in listed["items"]] == list(SETTINGS)
    changed = httpx.patch(url, json={"base_currency": "usd", "stage_order": "Discovery, Demo"}, headers=admin)
    assert changed.status_code == 200, changed.text
    values = {i["name"]: i["value"] for i in changed.json()["items"]}
    assert values["base_currency"] == "USD" and values["stage_order"] == "Discovery,Demo"
    with Workspace(site["db"]) as ws:
        assert ws.settings()["base_currency"] == "USD"
    bad = httpx.patch(url, json={"timezone": "Europe/Paris", "base_currency": "DOLLARS"}, headers=admin)
    assert bad.status_code == 400 and "base_currency" in bad.json()["error"]["message"]
    with Workspace(site["db"]) as ws:  # validated whole: the good one was not written either
        assert ws.settings()["timezone"] == "UTC" and ws.settings()["base_currency"] == "USD"
    unknown = httpx.patch(url, json={"timezone_": "UTC"}, headers=admin)
    assert unknown.status_code == 400 and 'Did you mean "timezone"' in unknown.json()["error"]["message"]
    for body in ([1], {}, {"small_sample": None}, {"small_sample": "0"}):
        response = httpx.patch(url, json=body, headers=admin)
        assert response.status_code == 400, body
    assert httpx.patch(url, content=b"{nope", headers=admin).status_code == 400
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/settings")
        form = client.post("/settings/settings", data={"csrf": csrf, "name": "base_currency", "value": "EURO"})
        assert "base_currency" in _notice(client, form)
        assert scalar(site, "SELECT value FROM settings WHERE key = 'base_currency'") == "USD"
        back = client.post("/settings/settings", data={"csrf": csrf, "name": "base_currency", "value": "eur"})
        assert _notice(client, back) == "sp-ok: Setting base_currency = EUR."
    with Workspace(site["db"]) as ws:
        assert ws.settings()["base_currency"] == "EUR"
    httpx.patch(url, json={"stage_order": ""}, headers=admin)


def test_the_forms_need_the_csrf_token(site: dict[str, Any]) -> None:
    users = _users(site)
    with session(site, "admin@example.com") as client:
        add = {"email": "eve@example.com", "password": "a long enough password", "role": "viewer"}
        assert client.post("/settings/users/add", data=add).status_code == 403
        assert client.post("/settings/users/add", data={**add, "csrf": "forged"}).status_code == 403
        assert client.post("/settings/users/remove", data={"email": "viewer@example.com"}).status_code == 403
        assert (
            client.post(
                "/settings/users/password", data={"email": "viewer@example.com", "password": "x" * 12}
            ).status_code
            == 403
        )
        assert client.post("/settings/settings", data={"name": "base_currency", "value": "USD"}).status_code == 403
        target = {"metric": "revenue", "value": "1", "period": "2030-01"}
        assert client.post("/settings/targets", data=target).status_code == 403
    assert _users(site) == users
    assert scalar(site, "SELECT count(*) FROM targets WHERE period = '2030-01'") == 0
    assert scalar(site, "SELECT count(*) FROM settings WHERE key = 'base_currency' AND value = 'USD'") == 0
    assert _signs_in(site, "viewer@example.com", PASSWORD)


@pytest.mark.parametrize("role", ["rep", "viewer"])
def test_only_an_admin_may_change_settings(site: dict[str, Any], role: str) -> None:
    headers, url = bearer(site, role), site["url"]
    users = _users(site)
    before = scalar(site, "SELECT count(*) FROM targets")
    body = {"metric": "revenue", "value": 1, "period": "2030-02"}
    assert httpx.put(url + "/api/v1/targets", json=body, headers=headers).status_code == 403
    assert httpx.put(url + "/api/v1/targets", content=b"{bad", headers=headers).status_code == 403
    assert httpx.get(url + "/api/v1/targets", headers=headers).status_code == 403
    assert httpx.get(url + "/api/v1/settings", headers=headers).status_code == 403
    assert httpx.patch(url + "/api/v1/settings", json={"base_currency": "USD"}, headers=headers).status_code == 403
    assert httpx.get(url + "/api/v1/pages/settings", headers=headers).status_code == 403
    assert httpx.get(url + "/export/settings/users.csv", headers=headers).status_code == 403
    with session(site, f"{role}@example.com") as client:
        assert client.get("/settings").status_code == 403
        assert 'href="/settings"' not in client.get("/").text
        csrf = csrf_of(client, "/")
        add = {"csrf": csrf, "email": "mal@example.com", "password": "a long enough password", "role": "admin"}
        assert client.post("/settings/users/add", data=add).status_code == 403
        assert (
            client.post("/settings/users/remove", data={"csrf": csrf, "email": "admin@example.com"}).status_code == 403
        )
        reset = {"csrf": csrf, "email": "admin@example.com", "password": "taken over password"}
        assert client.post("/settings/users/password", data=reset).status_code == 403
        assert client.post("/settings/targets", data={"csrf": csrf, **body}).status_code == 403
        assert (
            client.post("/settings/settings", data={"csrf": csrf, "name": "timezone", "value": "UTC"}).status_code
            == 403
        )
    assert _users(site) == users and scalar(site, "SELECT count(*) FROM targets") == before
    assert _signs_in(site, "admin@example.com", PASSWORD)


def test_settings_in_chromium(site: dict[str, Any], browser: Any) -> None:
    page = sign_in(browser, site["url"], "admin@example.com")
    page.click("a[href='/settings']")
    page.wait_for_selector("#add-user")
    page.fill("#add-user input[name=email]", "carol@example.com")
    page.fill("#add-user input[name=name]", "Carol")
    page.fill("#add-user input[name=password]", "carol's long password")
    page.select_option("#add-user select[name=role]", "viewer")
    page.click("#add-user button")
    page.wait_for_selector(".sp-ok")
    assert "carol@example.com" in page.locator(".sp-ok").inner_text()
    assert "carol@example.com" in page.locator("[data-table=users]").inner_text()
    assert _users(site)["carol@example.com"]["role"] == "viewer"
    assert page.locator("[data-table=targets] tbody tr").count() > 0
    screenshot(page, "settings")
    assert not page.errors, page.errors
