"""Money KPIs on hand-made data: currencies, margins, costs, customers, CAC, growth and targets.

revenue, gross_margin, costs, new_customers, cac, average_deal_value, cost_per_lead,
cost_per_opportunity; the growth fields (previous, growth, year_ago, growth_yoy) and targets
(target, attainment). Base currency EUR; expected numbers worked out by hand in each docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.metrics.reference import load, one, series

from salespilot.engine.workspace import Workspace

OPP = [
    "opportunity_id",
    "created_at",
    "account_id",
    "lead_id",
    "owner_id",
    "outcome",
    "closed_at",
    "amount",
    "margin",
    "currency",
    "channel",
]
FX = ["date", "currency", "rate_to_base"]
COSTS = ["period_start", "amount", "category", "channel", "campaign", "currency"]


def _check(result: object) -> None:
    assert getattr(result, "rejected") == 0, getattr(result, "rejects")  # noqa: B009


def _shared(
    tmp_path_factory: pytest.TempPathFactory,
    new_workspace: Callable[[Path], Workspace],
    fill: Callable[[Workspace, Path], None],
) -> Iterator[Workspace]:
    """A workspace shared by the tests of this module that only read it."""
    folder = tmp_path_factory.mktemp(fill.__name__.strip("_"))
    ws = new_workspace(folder)
    fill(ws, folder)
    yield ws
    ws.close()


# -- currencies --------------------------------------------------------------------------------

FX_RATES = [["2024-01-01", "USD", 0.9], ["2024-02-15", "USD", 0.8]]
FX_DEALS = [
    ["M1", "2024-01-10T10:00:00Z", "", "", "R1", "won", "2024-02-14T10:00:00Z", 1000, 300, "EUR", ""],
    ["M2", "2024-01-10T10:00:00Z", "", "", "R1", "won", "2024-02-14T12:00:00Z", 1000, "", "USD", ""],  # 0.9
    ["M3", "2024-01-10T10:00:00Z", "", "", "R1", "won", "2024-02-15T08:00:00Z", 1000, "", "usd", ""],  # 0.8
    ["M4", "2024-01-10T10:00:00Z", "", "", "R2", "won", "2024-03-10T10:00:00Z", 500, 100, "USD", ""],  # 0.8
    ["M5", "2024-01-10T10:00:00Z", "", "", "R2", "won", "2024-03-11T10:00:00Z", 200, "", "", ""],  # no currency
    ["M9", "2024-01-10T10:00:00Z", "", "", "R2", "lost", "2024-03-12T10:00:00Z", 9999, "", "USD", ""],  # lost
    ["M6", "2023-11-10T10:00:00Z", "", "", "R1", "won", "2023-12-20T10:00:00Z", 100, "", "USD", ""],  # no rate yet
    ["M7", "2023-11-10T10:00:00Z", "", "", "R1", "won", "2023-12-22T10:00:00Z", 300, "", "EUR", ""],
    ["M8", "2023-10-10T10:00:00Z", "", "", "R1", "won", "2023-11-05T10:00:00Z", 50, "", "USD", ""],  # alone, no rate
]


def _fx(ws: Workspace, folder: Path) -> None:
    _check(load(ws, folder, "fx_rates", FX, FX_RATES))
    _check(load(ws, folder, "opportunities", OPP, FX_DEALS))


@pytest.fixture(scope="module")
def fx_ws(tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    yield from _shared(tmp_path_factory, new_workspace, _fx)


def test_revenue_converts_usd_with_the_last_rate_known_on_the_close_day(fx_ws: Workspace) -> None:
    """Feb: 1000 EUR + 1000 USD x 0.9 (14th) + 1000 usd x 0.8 (15th, new rate) = 2700; Mar: 500 x 0.8 + 200 = 600."""
    rows = fx_ws.kpi(
        ["revenue", "signatures", "average_deal_value"], start="2024-02-01", end="2024-03-31", output="rows"
    )
    assert series(rows, "revenue") == {"2024-02": pytest.approx(2700.0), "2024-03": pytest.approx(600.0)}
    assert one(rows, "revenue", "2024-02")["flags"] == []
    assert series(rows, "signatures") == {"2024-02": 3, "2024-03": 2}
    adv = one(rows, "average_deal_value", "2024-02")
    assert (adv["numerator"], adv["denominator"], adv["value"]) == (pytest.approx(2700.0), 3, pytest.approx(900.0))
    assert one(rows, "average_deal_value", "2024-03")["value"] == pytest.approx(300.0)


def test_gross_margin_uses_the_margin_or_the_default_rate(ws: Workspace, tmp_path: Path) -> None:
    """Feb: 300 (M1's margin) + 0.7 x 900 + 0.7 x 800 = 1490; Mar: 100 USD x 0.8 + 0.7 x 200 = 220; then rate 0.5."""
    _fx(ws, tmp_path)
    fx_ws = ws
    rows = fx_ws.kpi("gross_margin", start="2024-02-01", end="2024-03-31", output="rows")
    assert series(rows, "gross_margin") == {"2024-02": pytest.approx(1490.0), "2024-03": pytest.approx(220.0)}
    fx_ws.set_setting("default_margin_rate", "0.5")
    rows = fx_ws.kpi("gross_margin", start="2024-02-01", end="2024-03-31", output="rows")
    assert series(rows, "gross_margin") == {"2024-02": pytest.approx(1150.0), "2024-03": pytest.approx(180.0)}


def test_amount_without_a_rate_yet_is_left_out_and_flagged(fx_ws: Workspace) -> None:
    """December 2023: 300 EUR counted, 100 USD (no USD rate before 2024) left out: 300 with missing_fx_rate."""
    rows = fx_ws.kpi(["revenue", "gross_margin"], start="2023-12-01", end="2023-12-31", output="rows")
    december = one(rows, "revenue", "2023-12")
    assert december["value"] == pytest.approx(300.0)
    assert december["flags"] == ["missing_fx_rate"] and december["fx_missing_rows"] == 1
    assert one(rows, "gross_margin", "2023-12")["flags"] == ["missing_fx_rate"]


def test_revenue_with_every_amount_unconvertible_has_no_value(fx_ws: Workspace) -> None:
    """November 2023 holds only M8 (50 USD, no rate yet): the revenue is unknown, not 0."""
    november = one(fx_ws.kpi("revenue", start="2023-11-01", end="2023-11-30", output="rows"), "revenue", "2023-11")
    assert "missing_fx_rate" in november["flags"]
    assert november["value"] is None and november["reason"]


def test_average_deal_value_carries_the_missing_fx_rate_flag(fx_ws: Workspace) -> None:
    """A ratio built on a flagged sum must say so."""
    rows = fx_ws.kpi("average_deal_value", start="2023-12-01", end="2023-12-31", output="rows")
    assert "missing_fx_rate" in one(rows, "average_deal_value", "2023-12")["flags"]


def test_fx_rate_is_the_one_of_the_local_anchor_day(ws: Workspace, tmp_path: Path) -> None:
    """Periods are local days; the conversion day must be the same local day."""
    ws.set_setting("timezone", "Europe/Paris")
    _check(load(ws, tmp_path, "fx_rates", FX, [["2024-03-31", "USD", 0.8], ["2024-04-01", "USD", 0.5]]))
    deal = [["F1", "2024-03-01T10:00:00Z", "", "", "R1", "won", "2024-03-31T22:30:00Z", 100, "", "USD", ""]]
    _check(load(ws, tmp_path, "opportunities", OPP, deal))
    rows = ws.kpi("revenue", output="rows")
    assert series(rows, "revenue") == {"2024-04": pytest.approx(50.0)}


def test_costs_convert_at_their_period_start(ws: Workspace, tmp_path: Path) -> None:
    """1000 USD of Feb 1 at the Jan 1 rate 0.9 = 900 + 500 EUR; 200 USD of 2023-12 has no rate yet,
    so December has no value (missing data is never a 0), with the flag and a reason."""
    _check(load(ws, tmp_path, "fx_rates", FX, FX_RATES))
    costs = [
        ["2024-02-01", 1000, "marketing", "web", "", "USD"],
        ["2024-02-01", 500, "sales", "", "", "EUR"],
        ["2023-12-01", 200, "marketing", "web", "", "USD"],
    ]
    _check(load(ws, tmp_path, "costs", COSTS, costs))
    rows = ws.kpi("costs", output="rows")
    assert series(rows, "costs") == {"2023-12": None, "2024-01": 0.0, "2024-02": pytest.approx(1400.0)}
    december = one(rows, "costs", "2023-12")
    assert december["flags"] == ["missing_fx_rate"] and "exchange rate" in december["reason"]
    by_channel = ws.kpi("costs", by="channel", grain="all", output="rows")
    assert {r["channel"]: r["value"] for r in by_channel} == {"web": pytest.approx(900.0), None: 500.0}


# -- customers and acquisition costs -----------------------------------------------------------

ACCOUNTS = (["account_id", "name", "segment"], [[f"A{i}", f"Firm {i}", "smb" if i % 2 else "mid"] for i in range(1, 6)])
LEADS = (
    ["lead_id", "created_at", "channel", "account_id"],
    [
        ["LA1", "2024-01-02T10:00:00Z", "events", "A1"],  # A1's first lead: A1 is an events customer
        ["LA1b", "2024-01-20T10:00:00Z", "web", "A1"],
        ["LA2", "2024-01-05T10:00:00Z", "web", "A2"],
        ["LA3", "2024-01-06T10:00:00Z", "web", "A3"],
    ],
)
CUSTOMER_DEALS = [
    ["N1", "2024-02-01T09:00:00Z", "A1", "LA1b", "R1", "won", "2024-02-10T10:00:00Z", 100, "", "", ""],
    ["N2", "2024-02-01T09:00:00Z", "A1", "", "R2", "won", "2024-03-05T10:00:00Z", 400, "", "", ""],  # 2nd win
    ["N3", "2024-02-01T09:00:00Z", "A2", "LA2", "R2", "won", "2024-02-20T10:00:00Z", 200, "", "", ""],
    ["N4", "2024-02-01T09:00:00Z", "A3", "LA3", "R1", "lost", "2024-02-21T10:00:00Z", 900, "", "", ""],
    ["N5", "2024-02-01T09:00:00Z", "A3", "LA3", "R1", "won", "2024-04-02T10:00:00Z", 300, "", "", ""],
    ["N6", "2024-02-01T09:00:00Z", "A4", "", "R1", "won", "2024-02-25T10:00:00Z", 500, "", "", "partner"],
    ["N7", "2024-02-01T09:00:00Z", "", "", "R1", "won", "2024-02-26T10:00:00Z", 700, "", "", ""],  # no account
    ["N8", "2024-02-01T09:00:00Z", "A5", "", "R2", "won", "2024-02-27T10:00:00Z", 600, "", "", ""],  # no channel
]
CUSTOMER_COSTS = [
    ["2024-01-01", 300, "marketing", "web", "", ""],
    ["2024-01-01", 100, "marketing", "events", "", ""],
    ["2024-02-01", 600, "marketing", "web", "", ""],
    ["2024-02-01", 300, "marketing", "events", "", ""],
    ["2024-02-01", 900, "sales", "", "", ""],  # sales costs carry no channel
    ["2024-03-01", 100, "marketing", "web", "", ""],
    ["2024-04-01", 200, "marketing", "web", "", ""],
    ["2024-04-01", 400, "sales", "", "", ""],
]


def _customers(ws: Workspace, folder: Path) -> None:
    _check(load(ws, folder, "reps", ["rep_id", "team"], [["R1", "North"], ["R2", "South"]]))
    _check(load(ws, folder, "accounts", *ACCOUNTS))
    _check(load(ws, folder, "leads", *LEADS))
    _check(load(ws, folder, "opportunities", OPP, CUSTOMER_DEALS))
    _check(load(ws, folder, "costs", COSTS, CUSTOMER_COSTS))


@pytest.fixture(scope="module")
def customers(
    tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]
) -> Iterator[Workspace]:
    yield from _shared(tmp_path_factory, new_workspace, _customers)


def test_new_customers_count_each_account_once_at_its_first_win(customers: Workspace) -> None:
    """Feb: A1 (N1), A2, A4, A5; A1's second win in March is no new customer; A3 lost then won in April."""
    rows = customers.kpi("new_customers", output="rows")
    assert series(rows, "new_customers") == {"2024-02": 4, "2024-03": 0, "2024-04": 1}
    by_rep = customers.kpi("new_customers", by="rep", grain="all", output="rows")
    assert {r["rep"]: r["value"] for r in by_rep} == {"R1": 3, "R2": 2}  # owner of the first win (A1: R1, not R2)
    by_segment = customers.kpi("new_customers", by="segment", grain="all", output="rows")
    assert {r["segment"]: r["value"] for r in by_segment} == {"smb": 3, "mid": 2}  # A1 A3 A5 / A2 A4


def test_new_customer_channel_is_the_channel_of_its_first_lead(customers: Workspace) -> None:
    """A1 won through a web lead but its first lead came from events: an events customer."""
    rows = customers.kpi("new_customers", by="channel", output="rows")
    assert one(rows, "new_customers", "2024-02", channel="events")["value"] == 1
    assert one(rows, "new_customers", "2024-02", channel="web")["value"] == 1  # A2
    assert one(rows, "new_customers", "2024-02", channel="partner")["value"] == 1  # A4, no lead: its deal's own
    assert one(rows, "new_customers", "2024-04", channel="web")["value"] == 1  # A3


def test_cac_is_costs_over_new_customers_by_channel_with_sales_costs_only_in_total(customers: Workspace) -> None:
    """Feb total: (600 + 300 + 900) / 4 = 450; web 600 / 1; events 300 / 1; partner 0 / 1; March: 100 / 0 -> null."""
    rows = customers.kpi("cac", output="rows")
    feb = one(rows, "cac", "2024-02")
    assert (feb["numerator"], feb["denominator"], feb["value"]) == (1800.0, 4, 450.0)
    march = one(rows, "cac", "2024-03")
    assert march["value"] is None and march["reason"] and march["numerator"] == 100.0
    assert one(rows, "cac", "2024-04")["value"] == 600.0
    assert "ci_low" not in feb  # a currency ratio has no interval
    by_channel = customers.kpi("cac", by="channel", output="rows")
    web = one(by_channel, "cac", "2024-02", channel="web")
    assert (web["numerator"], web["denominator"], web["value"]) == (600.0, 1, 600.0)
    assert one(by_channel, "cac", "2024-02", channel="events")["value"] == 300.0
    assert one(by_channel, "cac", "2024-02", channel="partner")["value"] == 0.0  # customers without spend
    assert one(by_channel, "cac", "2024-04", channel="web")["value"] == 200.0
    named = sum(r["numerator"] for r in by_channel if r["period"] == "2024-02" and r["channel"] is not None)
    assert named == 900.0  # the 900 of sales costs is in no channel's CAC


def test_cac_has_no_row_for_costs_without_channel(customers: Workspace) -> None:
    """No CAC value for 'no channel': it would mix sales costs with unattributed customers."""
    rows = customers.kpi("cac", by="channel", output="rows")
    assert all(r["value"] is None for r in rows if r["channel"] is None)


def test_new_customer_channel_falls_back_to_its_first_deal_effective_channel(ws: Workspace, tmp_path: Path) -> None:
    """The account has no lead of its own, its first won deal came from a partner lead."""
    _check(
        load(ws, tmp_path, "leads", ["lead_id", "created_at", "channel"], [["L6", "2024-01-05T10:00:00Z", "partner"]])
    )
    deal = [["O6", "2024-01-10T10:00:00Z", "A6", "L6", "R1", "won", "2024-01-20T10:00:00Z", 100, "", "", ""]]
    _check(load(ws, tmp_path, "opportunities", OPP, deal))
    rows = ws.kpi(["signatures", "new_customers"], by="channel", output="rows")
    assert one(rows, "signatures", "2024-01", channel="partner")["value"] == 1
    assert one(rows, "new_customers", "2024-01", channel="partner")["value"] == 1


def test_average_deal_value_is_revenue_over_signatures(customers: Workspace) -> None:
    """Feb: won N1 100 + N3 200 + N6 500 + N7 700 + N8 600 = 2100 over 5 signatures = 420; by rep too."""
    rows = customers.kpi(["average_deal_value", "revenue", "signatures"], output="rows")
    feb = one(rows, "average_deal_value", "2024-02")
    assert (feb["numerator"], feb["denominator"], feb["value"]) == (2100.0, 5, 420.0)
    for period in ("2024-02", "2024-03", "2024-04"):
        adv = one(rows, "average_deal_value", period)["value"]
        assert adv == one(rows, "revenue", period)["value"] / one(rows, "signatures", period)["value"]
    by_rep = customers.kpi("average_deal_value", by="rep", grain="all", output="rows")
    assert {r["rep"]: r["value"] for r in by_rep} == {"R1": (100 + 300 + 500 + 700) / 4, "R2": (400 + 200 + 600) / 3}


def test_cost_per_lead_and_per_opportunity_by_channel(customers: Workspace) -> None:
    """Jan: 400 / 4 leads = 100 (web 300 / 3, events 100 / 1); Feb: 1800 / 8 opportunities, web 600 / 4."""
    leads = customers.kpi("cost_per_lead", by="channel", output="rows")
    assert one(leads, "cost_per_lead", "2024-01", channel="web")["value"] == 100.0
    assert one(leads, "cost_per_lead", "2024-01", channel="events")["value"] == 100.0
    feb_web = one(leads, "cost_per_lead", "2024-02", channel="web")
    assert feb_web["value"] is None and feb_web["reason"]  # no lead in February
    assert one(customers.kpi("cost_per_lead", output="rows"), "cost_per_lead", "2024-01")["value"] == 100.0
    opps = customers.kpi("cost_per_opportunity", output="rows")
    assert one(opps, "cost_per_opportunity", "2024-02")["value"] == 225.0
    by_channel = customers.kpi("cost_per_opportunity", by="channel", output="rows")
    web = one(by_channel, "cost_per_opportunity", "2024-02", channel="web")  # N1, N3, N4, N5 via their web leads
    assert (web["numerator"], web["denominator"], web["value"]) == (600.0, 4, 150.0)
    events = one(by_channel, "cost_per_opportunity", "2024-02", channel="events")
    assert events["value"] is None and events["reason"] and events["numerator"] == 300.0


# -- growth ------------------------------------------------------------------------------------

GROWTH_DEALS = [
    ["G1", "2022-12-01T10:00:00Z", "", "", "R1", "won", "2023-01-31T10:00:00Z", 100, "", "", ""],
    ["G2", "2023-12-01T10:00:00Z", "", "", "R1", "won", "2024-01-15T10:00:00Z", 150, "", "", ""],
    ["G3", "2023-12-01T10:00:00Z", "", "", "R2", "won", "2024-02-15T10:00:00Z", 300, "", "", ""],
    ["G4", "2023-12-01T10:00:00Z", "", "", "R2", "lost", "2024-02-16T10:00:00Z", 999, "", "", ""],
]


def _growth(ws: Workspace, folder: Path) -> None:
    _check(load(ws, folder, "opportunities", OPP, GROWTH_DEALS))


@pytest.fixture(scope="module")
def growth(tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    yield from _shared(tmp_path_factory, new_workspace, _growth)


def test_growth_against_previous_period_and_a_year_before(growth: Workspace) -> None:
    """Month: Jan 2024 150 vs Dec 0 (growth null) and Jan 2023 100 (+50%); Feb 300 vs 150 (+100%), Feb 2023 0."""
    rows = growth.kpi(["revenue", "signatures", "win_rate"], output="rows")
    jan = one(rows, "revenue", "2024-01")
    assert (jan["previous"], jan["growth"], jan["year_ago"], jan["growth_yoy"]) == (0.0, None, 100.0, 0.5)
    feb = one(rows, "revenue", "2024-02")
    assert (feb["previous"], feb["growth"], feb["year_ago"], feb["growth_yoy"]) == (150.0, 1.0, 0.0, None)
    first = one(rows, "revenue", "2023-01")
    assert first["previous"] is None and first["year_ago"] is None  # before the data
    assert one(rows, "signatures", "2024-02")["growth"] == 0.0  # 1 vs 1
    # A rate against its previous value: Feb 1 won of 2 closed (0.5), Jan 1 of 1 (1.0); December
    # 2023 closed nothing, so January's previous is None (no rate), not 0.
    rate = one(rows, "win_rate", "2024-02")
    assert (rate["value"], rate["previous"], rate["growth"], rate["year_ago"]) == (0.5, 1.0, -0.5, None)
    assert one(rows, "win_rate", "2024-01")["previous"] is None
    quarter = one(growth.kpi("revenue", grain="quarter", output="rows"), "revenue", "2024-Q1")
    assert (quarter["previous"], quarter["growth"], quarter["year_ago"], quarter["growth_yoy"]) == (
        0.0,
        None,
        100.0,
        3.5,
    )
    year = one(growth.kpi("revenue", grain="year", output="rows"), "revenue", "2024")
    assert (year["previous"], year["growth"], year["year_ago"], year["growth_yoy"]) == (100.0, 3.5, 100.0, 3.5)
    assert "previous" not in growth.kpi("revenue", grain="all", output="rows")[0]


def test_growth_reaches_before_from(growth: Workspace) -> None:
    """--from 2024-02-01: February's previous (January) comes from before the range; so does Q1 2023."""
    rows = growth.kpi("revenue", start="2024-02-01", end="2024-02-29", output="rows")
    assert [r["period"] for r in rows] == ["2024-02"]
    assert (rows[0]["value"], rows[0]["previous"], rows[0]["growth"]) == (300.0, 150.0, 1.0)
    quarter = growth.kpi("revenue", grain="quarter", start="2024-01-01", end="2024-03-31", output="rows")
    assert (quarter[0]["value"], quarter[0]["year_ago"], quarter[0]["growth_yoy"]) == (450.0, 100.0, 3.5)


def test_year_ago_does_not_depend_on_from(growth: Workspace) -> None:
    """The same period's year_ago is the same with or without --from."""
    whole = one(growth.kpi("revenue", output="rows"), "revenue", "2024-02")
    ranged = one(growth.kpi("revenue", start="2024-02-01", end="2024-02-29", output="rows"), "revenue", "2024-02")
    assert whole["year_ago"] == 0.0
    assert ranged["year_ago"] == whole["year_ago"]


def test_growth_by_dimension_compares_the_same_dimension_value(growth: Workspace) -> None:
    """By rep: R1 Jan 2024 150 vs Jan 2023 100; R2 has nothing a year before."""
    rows = growth.kpi("revenue", by="rep", output="rows")
    r1 = one(rows, "revenue", "2024-01", rep="R1")
    assert (r1["year_ago"], r1["growth_yoy"]) == (100.0, 0.5)
    r2 = one(rows, "revenue", "2024-02", rep="R2")
    assert (r2["value"], r2["previous"], r2["growth"], r2["year_ago"]) == (300.0, 0.0, None, 0.0)


def test_day_grain_year_ago_is_the_same_date_a_year_before(ws: Workspace, tmp_path: Path) -> None:
    """The same period a year before a day is the same calendar date."""
    deals = [
        ["D1", "2023-02-01T10:00:00Z", "", "", "R1", "won", "2023-03-01T10:00:00Z", 100, "", "", ""],
        ["D2", "2024-02-01T10:00:00Z", "", "", "R1", "won", "2024-03-01T10:00:00Z", 150, "", "", ""],
    ]
    _check(load(ws, tmp_path, "opportunities", OPP, deals))
    row = one(ws.kpi("revenue", grain="day", output="rows"), "revenue", "2024-03-01")
    assert (row["value"], row["year_ago"], row["growth_yoy"]) == (150.0, 100.0, 0.5)


# -- targets -----------------------------------------------------------------------------------

TARGETS = ["period", "metric", "value", "scope", "scope_id"]


def test_targets_company_scope_without_by_and_rep_scope_with_by_rep(ws: Workspace, tmp_path: Path) -> None:
    """Company: Feb 2024 revenue 300 vs 200 -> 1.5; win rate Q1 2/3 vs 0.4. Rep R2: 300 vs 600 -> 0.5."""
    _growth(ws, tmp_path)
    growth = ws
    targets = [
        ["2024-02", "revenue", 200, "company", ""],
        ["2024-Q1", "win_rate", 0.4, "company", ""],
        ["2024-Q1", "revenue", 600, "rep", "R2"],
        ["2024-Q1", "revenue", 100, "rep", "R1"],
        ["2024-Q1", "revenue", 1000, "team", "North"],
    ]
    _check(load(growth, tmp_path, "targets", TARGETS, targets))
    rows = growth.kpi(["revenue", "win_rate"], output="rows")
    feb = one(rows, "revenue", "2024-02")
    assert (feb["target"], feb["attainment"]) == (200.0, 1.5)
    assert "target" not in one(rows, "revenue", "2024-01")  # no target that month
    quarter = growth.kpi(["revenue", "win_rate"], grain="quarter", output="rows")
    win = one(quarter, "win_rate", "2024-Q1")
    assert (win["value"], win["target"], win["attainment"]) == (pytest.approx(2 / 3), 0.4, pytest.approx(2 / 3 / 0.4))
    assert "target" not in one(quarter, "revenue", "2024-Q1")  # only rep and team targets for that quarter
    by_rep = growth.kpi("revenue", grain="quarter", by="rep", output="rows")
    r2 = one(by_rep, "revenue", "2024-Q1", rep="R2")
    assert (r2["target"], r2["attainment"]) == (600.0, 0.5)
    r1 = one(by_rep, "revenue", "2024-Q1", rep="R1")
    assert (r1["target"], r1["attainment"]) == (100.0, 1.5)
    # --by channel has no scope of targets.
    assert all("target" not in r for r in growth.kpi("revenue", grain="quarter", by="product", output="rows"))


def test_team_target_with_by_team(ws: Workspace, tmp_path: Path) -> None:
    """Team scope: North (R1) won N1, N6, N7 in Feb = 1300 against 1000 -> 1.3."""
    _customers(ws, tmp_path)
    customers = ws
    _check(load(customers, tmp_path, "targets", TARGETS, [["2024-02", "revenue", 1000, "team", "North"]]))
    rows = customers.kpi("revenue", by="team", output="rows")
    north = one(rows, "revenue", "2024-02", team="North")
    assert (north["value"], north["target"], north["attainment"]) == (1300.0, 1000.0, 1.3)
    assert "target" not in one(rows, "revenue", "2024-02", team="South")


def test_fiscal_period_targets(ws: Workspace, tmp_path: Path) -> None:
    """Fiscal year from April: FY2024-Q4 is Jan-Mar 2024 (revenue 450), target 900 -> attainment 0.5."""
    _growth(ws, tmp_path)
    growth = ws
    growth.set_setting("fiscal_year_start_month", "4")
    _check(load(growth, tmp_path, "targets", TARGETS, [["FY2024-Q4", "revenue", 900, "company", ""]]))
    row = one(growth.kpi("revenue", grain="quarter", fiscal=True, output="rows"), "revenue", "FY2024-Q4")
    assert (row["value"], row["target"], row["attainment"]) == (450.0, 900.0, 0.5)
