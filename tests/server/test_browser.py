"""The dashboard in a real headless Chromium: sign in, the overview renders its cards and charts
without console errors, filters change the numbers, and screenshots are kept for review."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import screenshot, sign_in


def test_overview_in_chromium(server: dict[str, Any], browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server["url"] + "/")
    assert page.url.endswith("/login")
    page.close()
    page = sign_in(browser, server["url"], "admin@example.com")
    page.wait_for_selector(".sp-card")
    assert page.locator(".sp-card").count() == 6
    assert page.locator(".sp-card svg.sp-chart").count() == 6
    box = page.locator(".sp-card svg.sp-chart").first.bounding_box()
    assert box is not None and box["width"] > 50  # the chart is drawn, not collapsed
    whole = page.locator('[data-kpi="signatures"] .sp-number').get_attribute("data-value")
    screenshot(page, "overview")
    page.fill("input[name=segment]", "smb")
    page.click(".sp-filters button")
    page.wait_for_url("**segment=smb**")
    narrowed = page.locator('[data-kpi="signatures"] .sp-number').get_attribute("data-value")
    assert whole is not None and narrowed is not None and float(narrowed) < float(whole)
    assert page.locator("input[name=segment]").input_value() == "smb"  # the URL keeps the filter
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "overview-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("a[href='/funnel']")
    page.wait_for_selector("svg.sp-chart-funnel")
    assert page.locator("svg.sp-chart-funnel [data-value]").count() > 0
    screenshot(page, "funnel")
    page.click("a[href='/pipeline']")
    page.wait_for_selector("svg.sp-chart-ranges")
    assert page.locator("[data-table=stuck] tbody tr").count() > 0
    screenshot(page, "pipeline")
    assert not page.errors, page.errors


def test_every_page_loads_on_a_phone_without_errors(server: dict[str, Any], browser: Any) -> None:
    from salespilot.server.pages import registry

    page = sign_in(browser, server["url"], "admin@example.com", width=390)
    paths = [p.path for p in registry() if p.nav]
    assert {"/losses", "/team"} <= set(paths)
    paths += ["/kpi/win_rate", "/kpi/cohort_retention", "/kpi/net_revenue_retention"]  # rows, cohorts, neither
    for path in paths:
        response = page.goto(server["url"] + path)
        assert response is not None and response.status == 200, path
        assert page.locator("svg.sp-chart, form").count() > 0, path
        # nothing wider than the screen but the tables, which scroll in their own box
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, (path, width)
        # a chart keeps a readable size (its 11-unit labels at 9 px or more) and scrolls in its box
        charts = page.locator("svg.sp-chart:not(.sp-chart-sparkline)")
        if charts.count():
            box = charts.first.bounding_box()
            assert box is not None and box["width"] * 11 / 640 >= 9, (path, box)
        screenshot(page, "phone" + path.replace("/", "-"))
    assert not page.errors, page.errors
    page.close()
    # the French rep's pages, whose words are longer, fit too
    page = sign_in(browser, server["url"], "rep@example.com", width=390)
    for path in [p.path for p in registry() if p.nav and not p.admin]:
        response = page.goto(server["url"] + path)
        assert response is not None and response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, (path, width)
    assert not page.errors, page.errors
    page.close()
