"""What the tests of the pages that write share: a demo store of their own served by a real
uvicorn (so that the shared store stays unchanged), signed-in browser-like sessions with their
CSRF token, and SQL on the store the server writes (the same process shares DuckDB's instance)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.server.conftest import PASSWORD, serving

from salespilot.engine.workspace import Workspace

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def own_site(folder: Path) -> Iterator[dict[str, Any]]:
    """A small demo store with an admin, a rep and a viewer, served on a loopback port."""
    db = str(folder / "demo.duckdb")
    with Workspace(db) as ws:
        ws.demo("small")
        reps = ws.sql("SELECT rep_id FROM reps WHERE role = 'ae' ORDER BY rep_id").column(0).to_pylist()
        ws.add_user("admin@example.com", PASSWORD, "admin")
        ws.add_user("rep@example.com", PASSWORD, "rep", rep_id=reps[0], language="fr")
        ws.add_user("viewer@example.com", PASSWORD, "viewer")
        tokens = {role: ws.new_token(f"{role}@example.com") for role in ("admin", "rep", "viewer")}
    with serving(db) as url:
        yield {"url": url, "db": db, "tokens": tokens, "reps": reps}


def sql(site: dict[str, Any], query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with Workspace(site["db"]) as ws:
        rows: list[dict[str, Any]] = ws.sql(query, params).to_pylist()
    return rows


def scalar(site: dict[str, Any], query: str, params: list[Any] | None = None) -> Any:
    return next(iter(sql(site, query, params)[0].values()))


def bearer(site: dict[str, Any], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site['tokens'][role]}"}


@contextmanager
def session(site: dict[str, Any], email: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A client signed in with the session cookie, as a browser is."""
    with httpx.Client(base_url=site["url"], timeout=60) as client:
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 303 and response.headers["location"] == "/", response.text
        yield client


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    page = client.get(path)
    found = _CSRF.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)
