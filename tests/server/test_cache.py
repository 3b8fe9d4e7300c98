"""The page cache: a view is served again only to the same scope and while the data, the settings
and the day are the same; a write through the importer (here a target) shows at once; and the
cache keeps at most its size."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError
from salespilot.server.cache import SIZE_VAR, PageCache, size_from_environment


def _headline(server: dict[str, Any], user: str = "admin") -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {server['tokens'][user]}"}
    response = httpx.get(server["url"] + "/api/v1/pages/overview", headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    table = next(t for t in response.json()["tables"] if t["name"] == "headline")
    return {row["kpi"]: row for row in table["items"]}


def test_a_write_through_the_importer_shows_at_once_and_a_bypass_does_not(server: dict[str, Any]) -> None:
    first = _headline(server)["Signatures"]
    period = first["period"]
    with Workspace(server["db"]) as ws:  # a raw SQL write: no import recorded, so the cached view stays
        ws.store.execute(
            "INSERT INTO targets (period, metric, value, scope, scope_id) "
            "VALUES (?, 'signatures', 4242, 'company', NULL)",
            [period],
        )
    assert _headline(server)["Signatures"]["target"] == first["target"]
    body = {"metric": "signatures", "value": 777, "period": period}
    headers = {"Authorization": f"Bearer {server['tokens']['admin']}"}
    assert httpx.put(server["url"] + "/api/v1/targets", json=body, headers=headers, timeout=60).status_code == 200
    assert _headline(server)["Signatures"]["target"] == 777


def test_a_scope_never_gets_another_scopes_view(server: dict[str, Any]) -> None:
    admin = _headline(server)
    rep = _headline(server, "rep")  # same URL, right after the admin's view was cached
    assert rep["Signatures"]["value"] < admin["Signatures"]["value"]
    assert _headline(server)["Signatures"]["value"] == admin["Signatures"]["value"]


def test_the_cache_keeps_at_most_its_size_and_zero_keeps_nothing() -> None:
    cache = PageCache(2)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") is None and cache.get("b") == "B" and cache.get("c") == "C"
    cache.put("d", "D")  # b was used before c: b goes
    assert cache.get("b") is None and cache.get("c") == "C"
    none = PageCache(0)
    none.put("a", "A")
    assert none.get("a") is None


def test_the_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SIZE_VAR, "12")
    assert size_from_environment() == 12
    monkeypatch.setenv(SIZE_VAR, "many")
    with pytest.raises(ParameterError, match=SIZE_VAR):
        size_from_environment()
