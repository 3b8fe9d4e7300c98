"""What the page tests share: a GET with a user's API token, a page's view as JSON, one of its
tables, and plain SQL on the served store."""

from __future__ import annotations

from typing import Any

import httpx

from salespilot.engine.workspace import Workspace


def get(server: dict[str, Any], path: str, user: str = "admin", **params: str) -> httpx.Response:
    """``GET path`` as ``user`` (admin or rep: their API token); ``params``: the query string."""
    headers = {"Authorization": f"Bearer {server['tokens'][user]}"}
    return httpx.get(server["url"] + path, headers=headers, params=params, timeout=120)


def page_view(server: dict[str, Any], page: str, user: str = "admin", **params: str) -> dict[str, Any]:
    """The view of ``page`` as JSON (``/api/v1/pages/<page>``), which must answer 200."""
    response = get(server, f"/api/v1/pages/{page}", user, **params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def items(view: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The rows of the view's table ``name``."""
    return list(next(t for t in view["tables"] if t["name"] == name)["items"])


def sql(server: dict[str, Any], query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Plain SQL on the served store (a second Workspace in this process shares its database)."""
    with Workspace(server["db"]) as ws:
        return list(ws.sql(query, params or []).to_pylist())
