"""Shared fixtures of the server tests: a demo store served by a real uvicorn on a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.conftest import require_service

from salespilot.engine.workspace import Workspace
from salespilot.server.app import create_app

SCREENSHOTS = Path(os.environ.get("SALESPILOT_SCREENSHOTS", Path(__file__).parent / "screenshots"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '=HYPERLINK("http://evil.example","x")'
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: str, upload_limit_mb: int = 1) -> Iterator[str]:
    """A real uvicorn serving the store ``db`` on a free loopback port; yields its base URL."""
    app = create_app(db, secure_cookies=False, upload_limit_mb=upload_limit_mb)
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    for _ in range(100):
        if instance.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)
        app.state.workspace.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        require_service("Chromium is not installed (apt-get install chromium): the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield instance
        instance.close()


def sign_in(browser: Any, url: str, email: str, width: int = 1280) -> Any:
    """A new page signed in as ``email``, collecting console errors in ``page.errors``."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click(".sp-login button")
    page.wait_for_url(url + "/")
    return page


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = str(tmp_path_factory.mktemp("srv") / "demo.duckdb")
    with Workspace(db) as ws:
        ws.demo("small")
        reps = ws.sql("SELECT rep_id FROM reps WHERE role = 'ae' ORDER BY rep_id").column(0).to_pylist()
        ws.add_user("admin@example.com", PASSWORD, "admin")
        ws.add_user("rep@example.com", PASSWORD, "rep", rep_id=reps[0], language="fr")
        tokens = {
            "admin": ws.new_token("admin@example.com"),
            "rep": ws.new_token("rep@example.com"),
        }
        mine = ws.sql("SELECT opportunity_id FROM opportunities WHERE owner_id = ?", [reps[0]])
        own_ids = set(mine.column(0).to_pylist())
        lost = (
            ws.sql(
                "SELECT opportunity_id FROM opportunities WHERE owner_id = ? AND outcome = 'lost' ORDER BY 1 LIMIT 1",
                [reps[0]],
            )
            .column(0)[0]
            .as_py()
        )
        # a hostile value, as a CRM field could hold: it must not run as a formula in a spreadsheet
        ws.store.execute("UPDATE opportunities SET loss_reason = ? WHERE opportunity_id = ?", [HOSTILE, lost])
        own = len(own_ids)
        stuck_all = {d["opportunity_id"] for d in ws.stuck_deals()}
        won = (
            ws.sql("SELECT count(*) FROM opportunities WHERE owner_id = ? AND outcome = 'won'", [reps[0]])
            .column(0)[0]
            .as_py()
        )
        total_won = ws.sql("SELECT count(*) FROM opportunities WHERE outcome = 'won'").column(0)[0].as_py()
    with serving(db) as url:
        yield {
            "url": url,
            "db": db,  # the store, for SQL checks in the tests (Workspace(db) shares the connection)
            "tokens": tokens,
            "rep": reps[0],
            "other": reps[1],
            "own_deals": own,
            "own_ids": own_ids,
            "stuck_all": stuck_all,
            "own_won": won,
            "total_won": total_won,
        }
