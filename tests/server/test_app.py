"""The server over real HTTP: uvicorn on a loopback port, httpx as the client, a demo store."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from tests.server.conftest import HOSTILE, PASSWORD


def _get(server: dict[str, Any], path: str, role: str | None = "admin", **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server['tokens'][role]}"} if role else {}
    return httpx.get(server["url"] + path, headers=headers, params=params, timeout=60)


def _signatures(response: httpx.Response) -> float:
    return float(sum(r["value"] or 0 for r in response.json()["items"]))


def test_api_needs_authentication_with_one_error_shape(server: dict[str, Any]) -> None:
    response = _get(server, "/api/v1/me", role=None)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401
    bad = httpx.get(server["url"] + "/api/v1/me", headers={"Authorization": "Bearer sp_nope"})
    assert bad.status_code == 401 and "unknown" in bad.json()["error"]["message"]


def test_pages_redirect_to_login_and_carry_security_headers(server: dict[str, Any]) -> None:
    response = httpx.get(server["url"] + "/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    login = httpx.get(server["url"] + "/login")
    assert login.status_code == 200
    assert "default-src 'self'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY"


def test_me_and_the_catalogue(server: dict[str, Any]) -> None:
    assert _get(server, "/api/v1/me").json()["role"] == "admin"
    catalogue = _get(server, "/api/v1/kpis").json()
    assert {"revenue", "win_rate"} <= {k["name"] for k in catalogue["items"]}
    schema = httpx.get(server["url"] + "/api/v1/openapi.json").json()
    assert "/api/v1/kpis/{name}" in schema["paths"]


def test_the_api_reference_is_served_by_the_server_itself(server: dict[str, Any]) -> None:
    docs = httpx.get(server["url"] + "/api/v1/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "<code>POST /api/v1/tokens</code>" in docs.text and "<code>GET /api/v1/kpis/{name}</code>" in docs.text
    assert "<td><code>limit</code></td>" in docs.text  # parameters listed
    assert "<script" not in docs.text and "http://" not in docs.text and "https://" not in docs.text  # no CDN
    assert "<title>API · SalesPilot</title>" in docs.text
    # the query parameters read from the request (filters, a page's own) are declared too
    schema = httpx.get(server["url"] + "/api/v1/openapi.json").json()["paths"]

    def names(path: str) -> list[str]:
        return [p["name"] for p in schema[path]["get"].get("parameters", [])]

    assert {"grain", "from", "to", "rep", "team", "channel", "segment"} <= set(names("/api/v1/kpis/{name}"))
    assert {"rep", "segment", "horizon", "by", "track"} <= set(names("/api/v1/pages/forecast"))
    assert "grain" not in names("/api/v1/pages/forecast")  # a page of the present has no period
    assert {"revenue", "horizon", "working_days"} <= set(names("/api/v1/plan"))
    horizon = next(p for p in schema["/api/v1/pages/forecast"]["get"]["parameters"] if p["name"] == "horizon")
    assert "90-days" in horizon["description"]


def test_missing_things_answer_404_in_the_one_shape(server: dict[str, Any]) -> None:
    rejects = _get(server, "/api/v1/imports/999/rejects")
    assert rejects.status_code == 404 and rejects.json()["error"]["code"] == "NotFound"
    assert "no import 999" in rejects.json()["error"]["message"]
    nowhere = _get(server, "/api/v1/nowhere")
    assert nowhere.status_code == 404
    assert nowhere.json()["error"] == {"code": "NotFound", "message": "Not Found", "status": 404}


def test_a_token_from_an_email_and_password(server: dict[str, Any]) -> None:
    """POST /api/v1/tokens: the way to a token while the server holds the store."""
    url = server["url"] + "/api/v1/tokens"
    wrong = httpx.post(url, json={"email": "rep@example.com", "password": "not it"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "Wrong e-mail or password."
    shapeless = httpx.post(url, json={"email": "rep@example.com"})
    assert shapeless.status_code == 400 and '"password"' in shapeless.json()["error"]["message"]
    made = httpx.post(url, json={"email": "rep@example.com", "password": PASSWORD, "name": "my script"})
    assert made.status_code == 201 and made.json()["role"] == "rep"
    token = made.json()["token"]
    assert token.startswith("sp_") and token not in server["tokens"].values()
    me = httpx.get(server["url"] + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == "rep@example.com"


def test_signatures_match_the_store_for_admin_and_rep(server: dict[str, Any]) -> None:
    everything = _signatures(_get(server, "/api/v1/kpis/signatures", grain="year"))
    assert everything == server["total_won"]
    mine = _signatures(_get(server, "/api/v1/kpis/signatures", role="rep", grain="year"))
    assert mine == server["own_won"] and 0 < mine < everything


def test_a_rep_cannot_reach_another_reps_deals(server: dict[str, Any]) -> None:
    other = server["other"]
    # by filter: the filter narrows the rep's own scope, it never widens it
    response = _get(server, "/api/v1/kpis/signatures", role="rep", grain="year", rep=other)
    assert response.status_code == 200 and _signatures(response) == 0
    # by the rows behind a number
    rows = _get(server, "/api/v1/kpis/opportunities/rows", role="rep", limit=1000).json()
    assert rows["total"] == server["own_deals"]
    assert {r["opportunity_id"] for r in rows["items"]} == server["own_ids"]
    assert _get(server, "/api/v1/kpis/opportunities/rows", role="rep", rep=other).json()["total"] == 0
    # by the pipeline
    stuck = _get(server, "/api/v1/pipeline", role="rep").json()["stuck_deals"]["items"]
    assert {d["opportunity_id"] for d in stuck} == server["stuck_all"] & server["own_ids"]
    assert server["stuck_all"] - server["own_ids"]  # there were others' stuck deals to hide
    # by the users list
    assert _get(server, "/api/v1/users", role="rep").status_code == 403


def test_parameters_are_validated_with_the_parameter_named(server: dict[str, Any]) -> None:
    response = _get(server, "/api/v1/kpis/revenue", grain="fortnight")
    assert response.status_code == 400 and "grain" in response.json()["error"]["message"]
    response = _get(server, "/api/v1/kpis/revenue", **{"from": "2026-13-01"})
    assert response.status_code == 400 and "from" in response.json()["error"]["message"]
    response = _get(server, "/api/v1/kpis/costs", rep="R0001")
    assert response.status_code == 400 and "rep" in response.json()["error"]["message"]
    assert _get(server, "/api/v1/kpis/nope").status_code == 400
    assert _get(server, "/api/v1/kpis/revenue/rows", limit=0).status_code == 400
    # a page shows the error in the page's frame, in the user's language (the rep reads French)
    page = _get(server, "/losses", role="rep", by="mood")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in page.text and "Cette page ne peut pas être affichée" in page.text
    assert "Paramètre by : valeur attendue parmi" in page.text and "Retour à la vue d&#x27;ensemble" in page.text
    assert "This page cannot be shown" in _get(server, "/losses", by="mood").text


def test_uploads_are_bounded(server: dict[str, Any]) -> None:
    response = httpx.post(
        server["url"] + "/api/v1/kpis",
        content=b"x" * (2 * 1024 * 1024),
        headers={"Authorization": f"Bearer {server['tokens']['admin']}"},
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_browser_login_session_and_csrf(server: dict[str, Any]) -> None:
    with httpx.Client(base_url=server["url"], follow_redirects=False) as client:
        wrong = client.post("/login", data={"email": "rep@example.com", "password": "wrong password!"})
        assert wrong.status_code == 401
        ok = client.post("/login", data={"email": "rep@example.com", "password": PASSWORD})
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        page = client.get("/")
        assert page.status_code == 200
        assert "Se déconnecter" in page.text and 'lang="fr"' in page.text  # the rep chose French
        assert 'data-kpi="revenue"' in page.text and "<svg" in page.text
        assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
        assert client.get("/").status_code == 200  # still signed in


def test_logins_are_rate_limited(server: dict[str, Any]) -> None:
    with httpx.Client(base_url=server["url"]) as client:
        codes = [
            client.post("/login", data={"email": "admin@example.com", "password": f"bad password {i}"}).status_code
            for i in range(7)
        ]
    assert codes[:5] == [401] * 5 and codes[-1] == 429


def test_a_segment_filter_narrows_the_numbers(server: dict[str, Any]) -> None:
    whole = _signatures(_get(server, "/api/v1/kpis/signatures", grain="year"))
    smb = _signatures(_get(server, "/api/v1/kpis/signatures", grain="year", segment="smb"))
    assert 0 < smb < whole


def test_csv_export_is_scoped_and_formula_safe(server: dict[str, Any]) -> None:
    response = _get(server, "/export/kpis/opportunities/rows.csv", role="rep")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # a BOM, so that Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["opportunity_id"] for r in rows} == server["own_ids"]
    reasons = [r["loss_reason"] for r in rows if "HYPERLINK" in r["loss_reason"]]
    assert reasons == ["'" + HOSTILE]


def test_the_login_page_speaks_the_browsers_language(server: dict[str, Any]) -> None:
    french = httpx.get(server["url"] + "/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}).text
    assert 'lang="fr"' in french and "Mot de passe" in french and "Se connecter" in french
    assert '<a href="/login?lang=en"' in french  # the way to the other language
    english = httpx.get(server["url"] + "/login", headers={"Accept-Language": "de-DE,en;q=0.5,fr;q=0.4"}).text
    assert 'lang="en"' in english and "Password" in english
    assert "Mot de passe" in httpx.get(server["url"] + "/login", params={"lang": "fr"}).text
    # a failed sign-in answers in the form's language, with the form again
    wrong = httpx.post(
        server["url"] + "/login", data={"email": "nobody@example.com", "password": "not it at all", "lang": "fr"}
    )
    assert wrong.status_code == 401
    assert "E-mail ou mot de passe incorrect." in wrong.text and 'name="password"' in wrong.text


def test_an_unknown_address_is_a_page_for_a_browser_and_json_for_the_api(server: dict[str, Any]) -> None:
    anonymous = httpx.get(server["url"] + "/nope", headers={"Accept-Language": "fr"})
    assert anonymous.status_code == 404 and anonymous.headers["content-type"].startswith("text/html")
    assert "Il n'y a pas de page à l'adresse /nope." in anonymous.text.replace("&#x27;", "'")
    assert 'class="sp-nav"' not in anonymous.text  # nobody signed in: no navigation
    signed = _get(server, "/nope")
    assert signed.status_code == 404 and 'class="sp-nav"' in signed.text and 'href="/funnel"' in signed.text
    assert "There is no page at /nope." in signed.text
    api = _get(server, "/api/v1/nope")
    assert api.status_code == 404 and api.json()["error"]["code"] == "NotFound"
    # an input error on a page: the page frame too, with the user's navigation
    bad = _get(server, "/funnel", grain="decade")
    assert bad.status_code == 400 and 'class="sp-nav"' in bad.text and "grain" in bad.text
