"""The dashboard in a real headless Chromium: sign in, the overview renders its cards and charts
without console errors, filters change the numbers, and screenshots are kept for review."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import require_service
from tests.server.conftest import PASSWORD

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


@pytest.fixture(scope="module")
def browser() -> Any:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        require_service("Chromium is not installed (apt-get install chromium): the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield instance
        instance.close()


def test_overview_in_chromium(server: dict[str, Any], browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server["url"] + "/")
    assert page.url.endswith("/login")
    page.fill("input[name=email]", "admin@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button")
    page.wait_for_selector(".sp-card")
    assert page.locator(".sp-card").count() == 6
    assert page.locator(".sp-card svg.sp-chart").count() == 6
    box = page.locator(".sp-card svg.sp-chart").first.bounding_box()
    assert box is not None and box["width"] > 50  # the chart is drawn, not collapsed
    whole = page.locator('[data-kpi="signatures"] .sp-number').get_attribute("data-value")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
    page.fill("input[name=segment]", "smb")
    page.click(".sp-filters button")
    page.wait_for_url("**segment=smb**")
    narrowed = page.locator('[data-kpi="signatures"] .sp-number').get_attribute("data-value")
    assert whole is not None and narrowed is not None and float(narrowed) < float(whole)
    assert page.locator("input[name=segment]").input_value() == "smb"  # the URL keeps the filter
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "overview-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("a[href='/funnel']")
    page.wait_for_selector("svg.sp-chart-funnel")
    assert page.locator("svg.sp-chart-funnel [data-value]").count() > 0
    page.screenshot(path=str(SCREENSHOTS / "funnel.png"), full_page=True)
    page.click("a[href='/pipeline']")
    page.wait_for_selector("svg.sp-chart-ranges")
    assert page.locator("#stuck tbody tr").count() > 0
    page.screenshot(path=str(SCREENSHOTS / "pipeline.png"), full_page=True)
    assert not errors, errors
