"""Marketing and market KPIs on hand-made data, expected numbers worked out by hand.

web_visitors, web_contacts, web_conversion, contact_to_lead_rate, campaign_reach,
campaign_engagements, campaign_engagement_rate, market_size, market_share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.metrics.reference import load, one, series, wilson

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

WEB = (
    ["date", "channel", "visitors", "contacts"],
    [
        ["2024-01-10", "web", 100, 10],
        ["2024-01-11", "web", 50, 5],
        ["2024-01-10", "events", 20, 2],
        # February: no traffic at all
        ["2024-03-01", "web", 10, 3],
    ],
)
LEADS = (
    ["lead_id", "created_at", "channel", "campaign"],
    [[f"LW{i}", "2024-01-12T10:00:00Z", "web", "C1"] for i in range(4)]
    + [[f"LE{i}", "2024-01-13T10:00:00Z", "events", "C2"] for i in range(5)],
)
CAMPAIGNS = (
    ["date", "campaign", "channel", "impressions", "clicks", "engagements"],
    [
        ["2024-01-08", "C1", "web", 1000, 50, 40],
        ["2024-01-15", "C1", "web", 3000, 90, 60],
        ["2024-01-08", "C1", "email", 500, 10, 5],
        ["2024-01-08", "C2", "events", 200, 5, 4],
        ["2024-02-05", "C2", "events", 100, 0, 0],
        ["2024-03-04", "C3", "web", 0, 0, 0],
    ],
)


@pytest.fixture(scope="module")
def marketing(
    tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]
) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("marketing")
    ws = new_workspace(folder)
    for table, (header, rows) in (("web_traffic", WEB), ("leads", LEADS), ("campaign_stats", CAMPAIGNS)):
        assert load(ws, folder, table, header, rows).rejected == 0
    yield ws
    ws.close()


def test_web_visitors_contacts_and_conversion(marketing: Workspace) -> None:
    """Jan: 170 visitors, 17 contacts -> 10% with its Wilson interval; Feb: nothing -> 0, 0 and no rate."""
    rows = marketing.kpi(["web_visitors", "web_contacts", "web_conversion"], output="rows")
    assert series(rows, "web_visitors") == {"2024-01": 170.0, "2024-02": 0.0, "2024-03": 10.0}
    assert series(rows, "web_contacts") == {"2024-01": 17.0, "2024-02": 0.0, "2024-03": 3.0}
    jan = one(rows, "web_conversion", "2024-01")
    assert (jan["numerator"], jan["denominator"], jan["value"]) == (17.0, 170.0, pytest.approx(0.1))
    assert (jan["ci_low"], jan["ci_high"]) == pytest.approx(wilson(17, 170))
    assert jan["flags"] == []
    feb = one(rows, "web_conversion", "2024-02")
    assert feb["value"] is None and feb["reason"]
    march = one(rows, "web_conversion", "2024-03")
    assert march["value"] == pytest.approx(0.3) and march["flags"] == ["small_sample"]  # 10 visitors < 30
    by_channel = marketing.kpi("web_conversion", by="channel", output="rows")
    events = one(by_channel, "web_conversion", "2024-01", channel="events")
    assert (events["value"], events["flags"]) == (pytest.approx(0.1), ["small_sample"])


def test_contact_to_lead_rate_above_one_is_a_value_without_interval(marketing: Workspace) -> None:
    """Events: 5 leads from 2 web contacts = 2.5 (leads come from more than the website): no crash, no interval."""
    rows = marketing.kpi("contact_to_lead_rate", by="channel", output="rows")
    events = one(rows, "contact_to_lead_rate", "2024-01", channel="events")
    assert (events["numerator"], events["denominator"], events["value"]) == (5, 2.0, 2.5)
    assert events.get("ci_low") is None and events.get("ci_high") is None
    web = one(rows, "contact_to_lead_rate", "2024-01", channel="web")
    assert web["value"] == pytest.approx(4 / 15)
    assert (web["ci_low"], web["ci_high"]) == pytest.approx(wilson(4, 15))
    march = one(rows, "contact_to_lead_rate", "2024-03", channel="web")
    assert (march["numerator"], march["value"]) == (0, 0.0)  # contacts but no lead
    total = one(marketing.kpi("contact_to_lead_rate", output="rows"), "contact_to_lead_rate", "2024-01")
    assert total["value"] == pytest.approx(9 / 17)


def test_campaign_reach_engagements_and_rate_by_campaign_and_channel(marketing: Workspace) -> None:
    """Jan: 4700 impressions, 109 engagements; C1 web 100 / 4000, email 5 / 500; C3, 0 impressions: no rate."""
    rows = marketing.kpi(["campaign_reach", "campaign_engagements", "campaign_engagement_rate"], output="rows")
    assert series(rows, "campaign_reach") == {"2024-01": 4700.0, "2024-02": 100.0, "2024-03": 0.0}
    assert series(rows, "campaign_engagements") == {"2024-01": 109.0, "2024-02": 0.0, "2024-03": 0.0}
    jan = one(rows, "campaign_engagement_rate", "2024-01")
    assert jan["value"] == pytest.approx(109 / 4700)
    assert (jan["ci_low"], jan["ci_high"]) == pytest.approx(wilson(109, 4700))
    feb = one(rows, "campaign_engagement_rate", "2024-02")
    assert feb["value"] == 0.0 and (feb["ci_low"], feb["ci_high"]) == pytest.approx(wilson(0, 100))
    assert one(rows, "campaign_engagement_rate", "2024-03")["reason"]
    split = marketing.kpi("campaign_engagement_rate", by=["campaign", "channel"], output="rows")
    assert one(split, "campaign_engagement_rate", "2024-01", campaign="C1", channel="web")["value"] == 0.025
    assert one(split, "campaign_engagement_rate", "2024-01", campaign="C1", channel="email")["value"] == 0.01
    c3 = one(split, "campaign_engagement_rate", "2024-03", campaign="C3", channel="web")
    assert c3["value"] is None and c3["reason"]
    by_campaign = marketing.kpi("campaign_reach", by="campaign", grain="all", output="rows")
    assert {r["campaign"]: r["value"] for r in by_campaign} == {"C1": 4500.0, "C2": 300.0, "C3": 0.0}


MARKET = (
    ["period_start", "segment", "country", "value"],
    [
        ["2023-01-01", "smb", "FR", 1_000_000],
        ["2023-01-01", "mid", "FR", 2_000_000],
        ["2024-01-01", "smb", "FR", 1_200_000],
        ["2024-01-01", "mid", "FR", 2_500_000],
    ],
)
MARKET_DEALS = (
    ["opportunity_id", "created_at", "account_id", "outcome", "closed_at", "amount"],
    [
        ["K1", "2023-01-05T10:00:00Z", "A1", "won", "2023-03-01T10:00:00Z", 50_000],
        ["K2", "2023-01-05T10:00:00Z", "A2", "won", "2023-06-01T10:00:00Z", 100_000],
        ["K3", "2024-01-05T10:00:00Z", "A1", "won", "2024-03-01T10:00:00Z", 60_000],
        ["K4", "2024-01-05T10:00:00Z", "A2", "won", "2024-06-01T10:00:00Z", 25_000],
        ["K5", "2024-01-05T10:00:00Z", "", "won", "2024-07-01T10:00:00Z", 10_000],  # no account, no segment
        ["K6", "2024-01-05T10:00:00Z", "A2", "lost", "2024-07-01T10:00:00Z", 99_000],
    ],
)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("market")
    ws = new_workspace(folder)
    accounts = [["A1", "smb", "FR"], ["A2", "mid", "FR"]]
    assert load(ws, folder, "accounts", ["account_id", "segment", "country"], accounts).rejected == 0
    assert load(ws, folder, "market_size", *MARKET).rejected == 0
    assert load(ws, folder, "opportunities", *MARKET_DEALS).rejected == 0
    yield ws
    ws.close()


def test_market_size_and_share_per_year_and_segment(market: Workspace) -> None:
    """2023: 150k / 3M = 5%; 2024: 95k / 3.7M; smb 2024: 60k / 1.2M = 5%, mid 25k / 2.5M = 1%."""
    rows = market.kpi(["market_size", "market_share"], grain="year", output="rows")
    assert series(rows, "market_size") == {"2023": 3_000_000.0, "2024": 3_700_000.0}
    assert series(rows, "market_share") == {"2023": pytest.approx(0.05), "2024": pytest.approx(95_000 / 3_700_000)}
    share = one(rows, "market_share", "2024")
    assert (share["numerator"], share["denominator"]) == (95_000.0, 3_700_000.0)
    assert "ci_low" not in share  # money over money: no Wilson interval
    assert one(rows, "market_size", "2024")["growth"] == pytest.approx(3.7 / 3 - 1)
    by_segment = market.kpi("market_share", grain="year", by="segment", output="rows")
    assert one(by_segment, "market_share", "2024", segment="smb")["value"] == pytest.approx(0.05)
    assert one(by_segment, "market_share", "2024", segment="mid")["value"] == pytest.approx(0.01)
    no_segment = one(by_segment, "market_share", "2024", segment=None)  # K5's revenue has no market
    assert no_segment["value"] is None and no_segment["reason"]
    by_country = market.kpi("market_share", grain="year", by="country", output="rows")
    assert one(by_country, "market_share", "2023", country="FR")["value"] == pytest.approx(0.05)


def test_market_kpis_refuse_grains_finer_than_a_year(market: Workspace) -> None:
    """Market sizes are yearly: market_share --grain month is refused, naming the KPI."""
    for name in ("market_share", "market_size"):
        with pytest.raises(ParameterError, match=name):
            market.kpi(name, grain="month")
    with pytest.raises(ParameterError, match="market_share"):
        market.kpi("market_share", grain="year", by="channel")
