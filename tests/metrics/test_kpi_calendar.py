"""Periods: time zones at period boundaries, daylight saving, fiscal years, ISO weeks, grain all, --from/--to.

Workspace time zone Europe/Paris (UTC+1 in winter, UTC+2 in summer). Expected periods are
computed with zoneinfo by the reference (tests/metrics/reference.py) or written by hand.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

from tests.metrics.reference import load, one, period_of, series, to_local

from salespilot.engine.workspace import Workspace

PARIS = "Europe/Paris"
OPP = ["opportunity_id", "created_at", "owner_id", "outcome", "closed_at", "amount"]
LEAD = ["lead_id", "created_at", "channel"]


def _paris(ws: Workspace, fiscal_start: int = 1) -> Workspace:
    ws.set_setting("timezone", PARIS)
    ws.set_setting("fiscal_year_start_month", str(fiscal_start))
    return ws


def _deals(closes: list[str], outcome: str = "won") -> list[list[object]]:
    return [[f"O{i:03d}", "2023-01-01T00:00:00Z", "R1", outcome, c, 100 + i] for i, c in enumerate(closes)]


def test_deal_closed_late_utc_belongs_to_the_next_local_month(ws: Workspace, tmp_path: Path) -> None:
    """2024-03-31T22:30Z is 00:30 on 1 April in Paris (summer time); 2024-01-31T23:30Z is 00:30 on 1 February."""
    _paris(ws)
    load(
        ws,
        tmp_path,
        "opportunities",
        OPP,
        _deals(["2024-03-31T22:30:00Z", "2024-01-31T23:30:00Z", "2024-03-31T21:30:00Z"]),
    )
    rows = ws.kpi(["signatures", "revenue", "win_rate"], output="rows")
    assert series(rows, "signatures") == {"2024-02": 1, "2024-03": 1, "2024-04": 1}
    assert series(rows, "revenue") == {"2024-02": 101.0, "2024-03": 102.0, "2024-04": 100.0}
    assert one(rows, "win_rate", "2024-04")["numerator"] == 1
    quarters = ws.kpi("signatures", grain="quarter", output="rows")
    assert series(quarters, "signatures") == {"2024-Q1": 2, "2024-Q2": 1}


def test_local_time_without_offset_in_a_file_is_read_in_the_workspace_zone(ws: Workspace, tmp_path: Path) -> None:
    """A file saying 2024-03-31 23:30 (no offset) in a Paris workspace: 23:30 local, so March (docs/kpis.md)."""
    _paris(ws)
    load(ws, tmp_path, "opportunities", OPP, _deals(["2024-03-31 23:30:00", "2024-04-01 00:10:00"]))
    stored = ws.sql("SELECT closed_at FROM opportunities ORDER BY opportunity_id").to_pylist()
    assert [r["closed_at"] for r in stored] == [dt.datetime(2024, 3, 31, 21, 30), dt.datetime(2024, 3, 31, 22, 10)]
    rows = ws.kpi("signatures", output="rows")
    assert series(rows, "signatures") == {"2024-03": 1, "2024-04": 1}


# Instants around the 2024 daylight-saving changes in Paris (01:00 UTC on 31 March and 27 October).
DST_INSTANTS = [
    "2024-03-30T22:59:00Z",  # 23:59 on the 30th (UTC+1)
    "2024-03-30T23:00:00Z",  # 00:00 on the 31st
    "2024-03-31T00:59:59Z",  # 01:59:59, just before the jump
    "2024-03-31T01:00:00Z",  # 03:00 summer time
    "2024-03-31T21:59:00Z",  # 23:59 on the 31st (UTC+2)
    "2024-03-31T22:00:00Z",  # 00:00 on 1 April
    "2024-10-26T21:59:00Z",  # 23:59 on the 26th (UTC+2)
    "2024-10-26T22:00:00Z",  # 00:00 on the 27th
    "2024-10-27T00:30:00Z",  # 02:30 first time
    "2024-10-27T01:30:00Z",  # 02:30 second time (UTC+1)
    "2024-10-27T22:59:00Z",  # 23:59 on the 27th (UTC+1)
    "2024-10-27T23:00:00Z",  # 00:00 on the 28th
]


def test_daylight_saving_days_put_each_instant_on_its_local_day(ws: Workspace, tmp_path: Path) -> None:
    """Leads at instants around both 2024 changes, plus 400 random ones over three years, by local day and week."""
    _paris(ws)
    rng = random.Random(7)
    start = dt.datetime(2023, 1, 1)
    instants = [
        f"{start + dt.timedelta(minutes=rng.randrange(3 * 365 * 24 * 60)):%Y-%m-%dT%H:%M:%SZ}" for _ in range(400)
    ]
    instants += DST_INSTANTS
    load(ws, tmp_path, "leads", LEAD, [[f"L{i:03d}", t, "web"] for i, t in enumerate(instants)])

    def local_day(text: str) -> dt.date:
        return to_local(dt.datetime.fromisoformat(text.removesuffix("Z")), PARIS).date()

    days = Counter(local_day(t).isoformat() for t in instants)
    got = {k: v for k, v in series(ws.kpi("leads", grain="day", output="rows"), "leads").items() if v}
    assert got == dict(days)
    for text, day in zip(DST_INSTANTS, ["2024-03-30", "2024-03-31", "2024-03-31", "2024-03-31", "2024-03-31",
                                        "2024-04-01", "2024-10-26", "2024-10-27", "2024-10-27", "2024-10-27",
                                        "2024-10-27", "2024-10-28"], strict=True):  # fmt: skip
        assert local_day(text).isoformat() == day, text  # the reference's own check
    weeks = Counter(period_of(local_day(t), "week").label for t in instants)
    got_weeks = {k: v for k, v in series(ws.kpi("leads", grain="week", output="rows"), "leads").items() if v}
    assert got_weeks == dict(weeks)


def test_fiscal_quarters_and_years_from_april(ws: Workspace, tmp_path: Path) -> None:
    """fiscal_year_start_month 4: FY2025 runs April 2024 - March 2025; labels FY2025-Q1..Q4, FY2025."""
    _paris(ws, fiscal_start=4)
    closes = [
        "2024-03-31T12:00:00Z",  # FY2024-Q4
        "2024-03-31T22:30:00Z",  # 1 April local: FY2025-Q1
        "2024-06-30T12:00:00Z",  # FY2025-Q1
        "2024-07-01T12:00:00Z",  # FY2025-Q2
        "2024-12-31T12:00:00Z",  # FY2025-Q3
        "2025-01-01T12:00:00Z",  # FY2025-Q4
        "2025-03-31T12:00:00Z",  # FY2025-Q4
        "2025-04-01T12:00:00Z",  # FY2026-Q1
    ]
    load(ws, tmp_path, "opportunities", OPP, _deals(closes))
    rows = ws.kpi("signatures", grain="quarter", fiscal=True, output="rows")
    assert series(rows, "signatures") == {
        "FY2024-Q4": 1,
        "FY2025-Q1": 2,
        "FY2025-Q2": 1,
        "FY2025-Q3": 1,
        "FY2025-Q4": 2,
        "FY2026-Q1": 1,
    }
    assert series(rows, "signatures", "period_start") == {
        "FY2024-Q4": "2024-01-01",
        "FY2025-Q1": "2024-04-01",
        "FY2025-Q2": "2024-07-01",
        "FY2025-Q3": "2024-10-01",
        "FY2025-Q4": "2025-01-01",
        "FY2026-Q1": "2025-04-01",
    }
    q4 = one(rows, "signatures", "FY2025-Q4")
    assert (q4["previous"], q4["year_ago"]) == (1, 1)  # FY2025-Q3, FY2024-Q4
    years = ws.kpi("signatures", grain="year", fiscal=True, output="rows")
    assert series(years, "signatures") == {"FY2024": 1, "FY2025": 6, "FY2026": 1}
    assert series(years, "signatures", "period_start") == {
        "FY2024": "2023-04-01",
        "FY2025": "2024-04-01",
        "FY2026": "2025-04-01",
    }
    # Without --fiscal, calendar quarters; months are months either way.
    calendar = ws.kpi("signatures", grain="quarter", output="rows")
    assert series(calendar, "signatures") == {
        "2024-Q1": 1,
        "2024-Q2": 2,
        "2024-Q3": 1,
        "2024-Q4": 1,
        "2025-Q1": 2,
        "2025-Q2": 1,
    }
    months = ws.kpi("signatures", grain="month", fiscal=True, start="2024-03-01", end="2024-04-30", output="rows")
    assert series(months, "signatures") == {"2024-03": 1, "2024-04": 1}


def test_fiscal_year_starting_in_november_spans_two_calendar_years(ws: Workspace, tmp_path: Path) -> None:
    """fiscal_year_start_month 11: FY2025-Q1 is Nov 2024 - Jan 2025."""
    _paris(ws, fiscal_start=11)
    load(
        ws,
        tmp_path,
        "opportunities",
        OPP,
        _deals(["2024-10-31T12:00:00Z", "2024-11-01T12:00:00Z", "2025-01-31T12:00:00Z", "2025-02-01T12:00:00Z"]),
    )
    rows = ws.kpi("signatures", grain="quarter", fiscal=True, output="rows")
    assert series(rows, "signatures") == {"FY2024-Q4": 1, "FY2025-Q1": 2, "FY2025-Q2": 1}
    assert one(rows, "signatures", "FY2025-Q1")["period_start"] == "2024-11-01"


def test_iso_week_labels_across_the_year_boundary(ws: Workspace, tmp_path: Path) -> None:
    """2024-12-30 (a Monday) opens 2025-W01; 2024-12-29 is in 2024-W52; 2021-01-03 is in 2020-W53."""
    leads = [
        ["W1", "2024-12-29T12:00:00Z", "web"],
        ["W2", "2024-12-30T12:00:00Z", "web"],
        ["W3", "2025-01-05T12:00:00Z", "web"],
        ["W4", "2025-01-06T12:00:00Z", "web"],
    ]
    load(ws, tmp_path, "leads", LEAD, leads)
    rows = ws.kpi("leads", grain="week", output="rows")
    assert series(rows, "leads") == {"2024-W52": 1, "2025-W01": 2, "2025-W02": 1}
    assert series(rows, "leads", "period_start") == {
        "2024-W52": "2024-12-23",
        "2025-W01": "2024-12-30",
        "2025-W02": "2025-01-06",
    }
    load(
        ws,
        tmp_path,
        "leads",
        LEAD,
        [["W5", "2020-12-31T12:00:00Z", "web"], ["W6", "2021-01-03T12:00:00Z", "web"]],
        tag="-2020",
    )
    rows = ws.kpi("leads", grain="week", start="2020-12-28", end="2021-01-10", output="rows")
    assert series(rows, "leads") == {"2020-W53": 2, "2021-W01": 0}
    # A year later, the same week number: 2025-W01 a year before is 2024-W01 (empty, but after the data's start).
    assert one(ws.kpi("leads", grain="week", output="rows"), "leads", "2025-W01")["year_ago"] == 0


def test_grain_all_is_one_row_without_growth(ws: Workspace, tmp_path: Path) -> None:
    """Grain all: one row labelled 'all' with no period start, no growth, no cohort age."""
    _paris(ws)
    deals = [
        *_deals(["2023-05-01T10:00:00Z", "2024-05-01T10:00:00Z"]),
        ["X1", "2023-02-01T10:00:00Z", "R1", "lost", "2023-06-01T10:00:00Z", 5],
        ["X2", "2024-02-01T10:00:00Z", "R1", "open", "", 5],
    ]
    load(ws, tmp_path, "opportunities", OPP, deals)
    rows = ws.kpi(
        ["revenue", "win_rate", "opportunity_to_signature_rate", "sales_cycle_days"], grain="all", output="rows"
    )
    assert [(r["kpi"], r["period"], r["period_start"]) for r in rows] == [
        ("revenue", "all", None),
        ("win_rate", "all", None),
        ("opportunity_to_signature_rate", "all", None),
        ("sales_cycle_days", "all", None),
    ]
    revenue = one(rows, "revenue", "all")
    assert revenue["value"] == 201.0 and "previous" not in revenue and "growth_yoy" not in revenue
    win = one(rows, "win_rate", "all")
    assert (win["numerator"], win["denominator"]) == (2, 3)
    cohort = one(rows, "opportunity_to_signature_rate", "all")
    assert (cohort["numerator"], cohort["denominator"]) == (2, 4) and "cohort_age_days" not in cohort
    assert one(rows, "sales_cycle_days", "all")["n"] == 2


# Deals closed around the April 2024 month edges, in Paris time.
EDGES = [
    "2024-03-31T21:59:00Z",  # 23:59 on 31 March: out
    "2024-03-31T22:00:00Z",  # 00:00 on 1 April: in
    "2024-04-15T10:00:00Z",  # in
    "2024-04-30T21:59:59Z",  # 23:59:59 on 30 April: in
    "2024-04-30T22:00:00Z",  # 00:00 on 1 May: out
]


def test_from_to_are_inclusive_local_days(ws: Workspace, tmp_path: Path) -> None:
    """--from 2024-04-01 --to 2024-04-30 keeps the three deals of local April, whatever their UTC date."""
    _paris(ws)
    load(ws, tmp_path, "opportunities", OPP, _deals(EDGES))
    rows = ws.kpi(["signatures", "revenue", "win_rate"], start="2024-04-01", end="2024-04-30", output="rows")
    assert [r["period"] for r in rows] == ["2024-04"] * 3
    assert one(rows, "signatures", "2024-04")["value"] == 3
    assert one(rows, "revenue", "2024-04")["value"] == 101.0 + 102.0 + 103.0
    assert one(rows, "win_rate", "2024-04")["denominator"] == 3
    assert one(rows, "signatures", "2024-04")["previous"] == 1  # 31 March 23:59, before --from
    days = ws.kpi("signatures", grain="day", start="2024-04-01", end="2024-04-30", output="rows")
    assert len(days) == 30 and sum(r["value"] for r in days) == 3
    assert series(days, "signatures")["2024-04-01"] == 1 and series(days, "signatures")["2024-04-30"] == 1
    # --to only: the last local day is included.
    until = ws.kpi("signatures", grain="all", end="2024-04-30", output="rows")
    assert until[0]["value"] == 4


def test_mid_period_from_is_honoured_by_counts_and_sums(ws: Workspace, tmp_path: Path) -> None:
    """Counts and sums must cover the same days as rates: --from 2024-04-15 to 2024-04-30."""
    _paris(ws)
    load(ws, tmp_path, "opportunities", OPP, _deals(EDGES))
    rows = ws.kpi(["signatures", "revenue", "win_rate"], start="2024-04-15", end="2024-04-30", output="rows")
    assert one(rows, "win_rate", "2024-04")["denominator"] == 2
    assert one(rows, "signatures", "2024-04")["value"] == 2
    assert one(rows, "revenue", "2024-04")["value"] == 205.0


def test_grain_all_honours_from(ws: Workspace, tmp_path: Path) -> None:
    """Grain all over a range: the range's total."""
    _paris(ws)
    load(ws, tmp_path, "opportunities", OPP, _deals(EDGES))
    rows = ws.kpi(["signatures", "win_rate"], grain="all", start="2024-04-01", end="2024-04-30", output="rows")
    assert one(rows, "win_rate", "all")["denominator"] == 3
    assert one(rows, "signatures", "all")["value"] == 3


def test_a_kpi_rows_do_not_depend_on_the_other_kpis_asked(ws: Workspace, tmp_path: Path) -> None:
    """signatures alone or with win_rate and revenue: the same rows (periods, values, growth)."""
    deals = [
        *_deals(["2024-01-10T10:00:00Z"], "lost"),
        ["W1", "2023-12-01T10:00:00Z", "R1", "won", "2024-03-10T10:00:00Z", 50],
    ]
    load(ws, tmp_path, "opportunities", OPP, deals)
    alone = ws.kpi("signatures", output="rows")
    together = [r for r in ws.kpi(["win_rate", "signatures", "revenue"], output="rows") if r["kpi"] == "signatures"]
    assert together == alone
    assert series(alone, "signatures") == {"2024-03": 1}


def test_sales_cycle_counts_local_days_across_daylight_saving(ws: Workspace, tmp_path: Path) -> None:
    """1 March to 1 April is 31 days on a Paris calendar, whatever the clocks did on 31 March."""
    _paris(ws)
    deals = [
        ["S1", "2024-03-01", "R1", "won", "2024-04-01", 1],
        ["S2", "2024-10-01", "R1", "won", "2024-11-01", 1],
    ]
    load(ws, tmp_path, "opportunities", OPP, deals)
    rows = ws.kpi("sales_cycle_days", output="rows")
    assert one(rows, "sales_cycle_days", "2024-04")["median"] == 31.0
    assert one(rows, "sales_cycle_days", "2024-11")["median"] == 31.0


def test_sales_cycle_counts_days_within_one_clock_regime(ws: Workspace, tmp_path: Path) -> None:
    """Without a daylight-saving change in between, local days and elapsed days agree: 2024-04-01 to 05-01 is 30."""
    _paris(ws)
    load(ws, tmp_path, "opportunities", OPP, [["S1", "2024-04-01", "R1", "won", "2024-05-01 12:00", 1]])
    assert ws.kpi("sales_cycle_days", grain="all", output="rows")[0]["median"] == 30.5


def test_cohort_age_counts_to_the_local_last_day(ws: Workspace, tmp_path: Path) -> None:
    """The data's last day is a local day like every period."""
    _paris(ws)
    deals = [
        ["C1", "2024-01-10T10:00:00Z", "R1", "won", "2024-02-10T10:00:00Z", 1],
        ["C2", "2024-02-10T10:00:00Z", "R1", "lost", "2024-04-29T22:30:00Z", 1],
    ]
    load(ws, tmp_path, "opportunities", OPP, deals)
    january = one(ws.kpi("opportunity_to_signature_rate", output="rows"), "opportunity_to_signature_rate", "2024-01")
    assert january["cohort_age_days"] == 90
    assert "immature_cohort" not in january["flags"]
