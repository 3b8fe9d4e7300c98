"""Funnel KPIs on hand-made data, each test one trap, the expected numbers worked out by hand.

leads, lead_to_opportunity_rate, lead_to_win_rate, opportunities, signatures, win_rate,
opportunity_to_signature_rate, sales_cycle_days, activities.

The base data (workspace in UTC):

    lead L1 2024-01-05 web     R1 -> O1 won (closed 2024-03-10), O2 lost (closed 2024-03-12)
    lead L2 2024-01-10 web     R1 -> O3 open
    lead L3 2024-01-20 events  R2 -> nothing
    (no lead and no opportunity in February)
    lead L4 2024-03-02 events  R2 -> O4 lost (closed 2024-03-20)
    activities: three on O1, one on O3, one of R2's in March
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.metrics.reference import load, one, percentile, series, wilson

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

REPS = (["rep_id", "name", "team", "role"], [["R1", "Ann", "North", "ae"], ["R2", "Bob", "South", "ae"]])
LEADS = (
    ["lead_id", "created_at", "channel", "owner_id"],
    [
        ["L1", "2024-01-05T10:00:00Z", "web", "R1"],
        ["L2", "2024-01-10T10:00:00Z", "web", "R1"],
        ["L3", "2024-01-20T10:00:00Z", "events", "R2"],
        ["L4", "2024-03-02T10:00:00Z", "events", "R2"],
    ],
)
OPP_HEADER = ["opportunity_id", "created_at", "lead_id", "owner_id", "outcome", "closed_at", "amount", "stage"]
OPPS = [
    ["O1", "2024-01-15T09:00:00Z", "L1", "R1", "won", "2024-03-10T09:00:00Z", 1000, "Closed"],
    ["O2", "2024-01-20T09:00:00Z", "L1", "R1", "lost", "2024-03-12T09:00:00Z", 500, "Closed"],
    ["O3", "2024-01-25T09:00:00Z", "L2", "R1", "open", "", 800, "Proposal"],
    ["O4", "2024-03-05T09:00:00Z", "L4", "R2", "lost", "2024-03-20T12:00:00Z", 300, "Closed"],
]
ACTIVITIES = (
    ["activity_id", "rep_id", "type", "occurred_at", "opportunity_id"],
    [
        ["X1", "R1", "call", "2024-01-16T10:00:00Z", "O1"],
        ["X2", "R1", "email", "2024-01-17T10:00:00Z", "O1"],
        ["X3", "R1", "meeting", "2024-01-18T10:00:00Z", "O1"],
        ["X4", "R1", "call", "2024-01-26T10:00:00Z", "O3"],
        ["X5", "R2", "call", "2024-03-06T10:00:00Z", "O4"],
    ],
)


def _funnel_workspace(new_workspace: Callable[[Path], Workspace], folder: Path) -> Workspace:
    ws = new_workspace(folder)
    for table, (header, rows) in (
        ("reps", REPS),
        ("leads", LEADS),
        ("opportunities", (OPP_HEADER, OPPS)),
        ("activities", ACTIVITIES),
    ):
        result = load(ws, folder, table, header, rows)
        assert result.rejected == 0, result.rejects
    return ws


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    """The base data, shared by the tests that only read it."""
    ws = _funnel_workspace(new_workspace, tmp_path_factory.mktemp("funnel"))
    yield ws
    ws.close()


@pytest.fixture
def funnel(tmp_path: Path, new_workspace: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    """A private copy of the base data, for the tests that change it."""
    ws = _funnel_workspace(new_workspace, tmp_path)
    yield ws
    ws.close()


def test_lead_with_several_opportunities_counts_once_as_converted_and_won(shared: Workspace) -> None:
    """L1 has two opportunities (one won, one lost): one lead, converted once, won once."""
    rows = shared.kpi(["leads", "lead_to_opportunity_rate", "lead_to_win_rate"], output="rows")
    assert one(rows, "leads", "2024-01")["value"] == 3
    conv = one(rows, "lead_to_opportunity_rate", "2024-01")
    assert (conv["numerator"], conv["denominator"]) == (2, 3)  # L1 and L2, not 3 of 3 nor 3 of 4
    assert conv["value"] == pytest.approx(2 / 3)
    assert (conv["ci_low"], conv["ci_high"]) == pytest.approx(wilson(2, 3))
    won = one(rows, "lead_to_win_rate", "2024-01")
    assert (won["numerator"], won["denominator"]) == (1, 3)
    by_rep = shared.kpi(["leads", "lead_to_opportunity_rate"], by="rep", output="rows")
    assert one(by_rep, "leads", "2024-01", rep="R1")["value"] == 2
    r1 = one(by_rep, "lead_to_opportunity_rate", "2024-01", rep="R1")
    assert (r1["numerator"], r1["denominator"]) == (2, 2)


def test_opportunity_with_several_activities_is_counted_once(shared: Workspace) -> None:
    """O1 has three activities: still one opportunity, one signature, its amount once; activities count each."""
    rows = shared.kpi(["opportunities", "signatures", "revenue", "activities"], by="rep", output="rows")
    assert one(rows, "opportunities", "2024-01", rep="R1")["value"] == 3
    assert one(rows, "signatures", "2024-03", rep="R1")["value"] == 1
    assert one(rows, "revenue", "2024-03", rep="R1")["value"] == 1000.0
    assert one(rows, "activities", "2024-01", rep="R1")["value"] == 4
    assert one(rows, "activities", "2024-03", rep="R2")["value"] == 1
    by_type = shared.kpi("activities", by="type", grain="all", output="rows")
    assert {r["type"]: r["value"] for r in by_type} == {"call": 3, "email": 1, "meeting": 1}


def test_open_deal_stays_in_cohort_denominator_but_not_in_win_rate(shared: Workspace) -> None:
    """O3 is open: 1 won of 3 created in January (cohort), but win rate is 1 won of 3 closed in March."""
    rows = shared.kpi(["opportunity_to_signature_rate", "win_rate"], output="rows")
    cohort = one(rows, "opportunity_to_signature_rate", "2024-01")
    assert (cohort["numerator"], cohort["denominator"], cohort["value"]) == (1, 3, pytest.approx(1 / 3))
    closed = one(rows, "win_rate", "2024-03")  # O1 won, O2 and O4 lost; O3 is in no closed period
    assert (closed["numerator"], closed["denominator"]) == (1, 3)
    assert (closed["ci_low"], closed["ci_high"]) == pytest.approx(wilson(1, 3))
    assert all(r["denominator"] <= 3 for r in rows if r["kpi"] == "win_rate")


def test_empty_month_gives_count_zero_rate_null_with_reason_and_growth_null(shared: Workspace) -> None:
    """February has no lead: leads 0 (growth -100%), the rates no value but a reason; March's growth is null."""
    rows = shared.kpi(["leads", "lead_to_opportunity_rate", "opportunities", "activities"], output="rows")
    assert series(rows, "leads") == {"2024-01": 3, "2024-02": 0, "2024-03": 1}
    feb = one(rows, "leads", "2024-02")
    assert (feb["previous"], feb["growth"]) == (3, pytest.approx(-1.0))
    march = one(rows, "leads", "2024-03")
    assert march["previous"] == 0 and march["growth"] is None  # nothing to grow from
    assert one(rows, "leads", "2024-01")["previous"] is None  # before the data
    rate = one(rows, "lead_to_opportunity_rate", "2024-02")
    assert rate["value"] is None and rate["reason"]
    assert (rate["numerator"], rate["denominator"], rate["ci_low"], rate["ci_high"]) == (0, 0, None, None)
    assert one(rows, "opportunities", "2024-02")["value"] == 0
    assert one(rows, "activities", "2024-02")["value"] == 0


def test_period_without_closed_deal_has_no_win_rate_and_a_reason(shared: Workspace) -> None:
    """--from January: January and February close nothing, so win rate and cycle have no value, with a reason."""
    rows = shared.kpi(["win_rate", "sales_cycle_days"], start="2024-01-01", end="2024-03-31", output="rows")
    for period in ("2024-01", "2024-02"):
        win = one(rows, "win_rate", period)
        assert win["value"] is None and win["reason"] and win["denominator"] == 0
        cycle = one(rows, "sales_cycle_days", period)
        assert cycle["value"] is None and cycle["reason"] and cycle["n"] == 0


def test_reopened_deal_is_no_longer_won_after_reimport(funnel: Workspace, tmp_path: Path) -> None:
    """O1 won in March is reopened by a later export (open, no close date): the store keeps the latest."""
    reopened = [["O1", "2024-01-15T09:00:00Z", "L1", "R1", "open", "", 1000, "Negotiation"]]
    result = load(funnel, tmp_path, "opportunities", OPP_HEADER, reopened, tag="-reopened")
    assert (result.updated, result.rejected) == (1, 0)
    names = ["signatures", "revenue", "win_rate", "opportunity_to_signature_rate", "lead_to_win_rate"]
    rows = funnel.kpi(names, grain="quarter", start="2024-01-01", end="2024-03-31", output="rows")
    assert one(rows, "signatures", "2024-Q1")["value"] == 0
    assert one(rows, "revenue", "2024-Q1")["value"] == 0.0
    win = one(rows, "win_rate", "2024-Q1")
    assert (win["numerator"], win["denominator"]) == (0, 2)  # O2 and O4 lost; O1 no longer closed
    cohort = one(rows, "opportunity_to_signature_rate", "2024-Q1")
    assert (cohort["numerator"], cohort["denominator"]) == (0, 4)  # O1 back in the open ones
    assert one(rows, "lead_to_win_rate", "2024-Q1")["numerator"] == 0
    # Won again later, at another date: counted once, in its new period.
    rewon = [["O1", "2024-01-15T09:00:00Z", "L1", "R1", "won", "2024-04-02T09:00:00Z", 1200, "Closed"]]
    load(funnel, tmp_path, "opportunities", OPP_HEADER, rewon, tag="-rewon")
    rows = funnel.kpi(["signatures", "revenue"], grain="quarter", start="2024-01-01", output="rows")
    assert series(rows, "signatures") == {"2024-Q1": 0, "2024-Q2": 1}
    assert series(rows, "revenue") == {"2024-Q1": 0.0, "2024-Q2": 1200.0}


def test_duplicate_id_in_a_file_is_rejected_and_counted_once(ws: Workspace, tmp_path: Path) -> None:
    """The same lead (or opportunity) id twice in one file: the first row wins, the second is rejected."""
    rows = [
        ["L1", "2024-01-05T10:00:00Z", "web", ""],
        ["L1", "2024-02-05T10:00:00Z", "events", ""],
        ["L2", "2024-01-06T10:00:00Z", "web", ""],
    ]
    result = load(ws, tmp_path, "leads", ["lead_id", "created_at", "channel", "owner_id"], rows)
    assert (result.inserted, result.rejected) == (2, 1)
    assert result.rejects[0]["row"] == 3 and "duplicate" in result.rejects[0]["reason"]
    got = ws.kpi("leads", by="channel", grain="all", output="rows")
    assert {r["channel"]: r["value"] for r in got} == {"web": 2}
    # Importing the same file again changes nothing.
    again = load(ws, tmp_path, "leads", ["lead_id", "created_at", "channel", "owner_id"], rows)
    assert (again.inserted, again.unchanged) == (0, 2)
    assert ws.kpi("leads", grain="all", output="rows")[0]["value"] == 2
    # The same with an opportunity given twice with another outcome and amount: the first row counts.
    deals = [
        ["D1", "2024-01-15T09:00:00Z", "", "R1", "won", "2024-02-10T09:00:00Z", 100, ""],
        ["D1", "2024-01-15T09:00:00Z", "", "R1", "lost", "2024-02-11T09:00:00Z", 999, ""],
    ]
    result = load(ws, tmp_path, "opportunities", OPP_HEADER, deals)
    assert (result.inserted, result.rejected) == (1, 1)
    rows = ws.kpi(["signatures", "revenue", "win_rate"], grain="all", output="rows")
    assert (one(rows, "signatures", "all")["value"], one(rows, "revenue", "all")["value"]) == (1, 100.0)
    assert one(rows, "win_rate", "all")["denominator"] == 1


def test_rep_who_changed_team_counts_in_current_team(funnel: Workspace, tmp_path: Path) -> None:
    """The reps table holds one current team: after R1 moves North -> South, all R1's history is South's.

    Documented in docs/kpis.md ("Rep and team come from the reps table (a rep's current team)").
    """
    names = ["leads", "opportunities", "signatures", "revenue", "activities", "win_rate"]
    before = funnel.kpi(names, grain="all", by="team", output="rows")
    assert one(before, "revenue", "all", team="North")["value"] == 1000.0
    moved = load(funnel, tmp_path, "reps", REPS[0], [["R1", "Ann", "South", "ae"]], tag="-moved")
    assert moved.updated == 1
    after = funnel.kpi(names, grain="all", by="team", output="rows")
    assert not [r for r in after if r["team"] == "North"]
    assert one(after, "leads", "all", team="South")["value"] == 4
    assert one(after, "opportunities", "all", team="South")["value"] == 4
    assert one(after, "revenue", "all", team="South")["value"] == 1000.0
    assert one(after, "activities", "all", team="South")["value"] == 5
    win = one(after, "win_rate", "all", team="South")
    assert (win["numerator"], win["denominator"]) == (1, 3)


def test_cohort_is_immature_until_90_days_after_its_period(funnel: Workspace, tmp_path: Path) -> None:
    """Data ends 2024-04-30: January (age 90 days) is mature, February (61) and March (30) are not;
    April, the data's last month, is listed too (no lead in it: no value, age 0)."""
    load(funnel, tmp_path, "activities", ACTIVITIES[0], [["X9", "R2", "call", "2024-04-30T12:00:00Z", ""]], tag="-end")
    rows = funnel.kpi(["lead_to_opportunity_rate", "opportunity_to_signature_rate", "win_rate"], output="rows")
    for kpi in ("lead_to_opportunity_rate", "opportunity_to_signature_rate"):
        ages = series(rows, kpi, "cohort_age_days")
        assert ages == {"2024-01": 90, "2024-02": 61, "2024-03": 30, "2024-04": 0}
        assert one(rows, kpi, "2024-04")["value"] is None
        flags = series(rows, kpi, "flags")
        assert "immature_cohort" not in flags["2024-01"]
        assert "immature_cohort" in flags["2024-02"] and "immature_cohort" in flags["2024-03"]
    # A closed-basis rate is no cohort: no age, no maturity flag.
    march = one(rows, "win_rate", "2024-03")
    assert "cohort_age_days" not in march and "immature_cohort" not in march["flags"]
    # Grain all has no cohort period to age.
    total = funnel.kpi("opportunity_to_signature_rate", grain="all", output="rows")[0]
    assert "immature_cohort" not in total["flags"] and "cohort_age_days" not in total


def _closed_deals(n_won: int, n_lost: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for i in range(n_won + n_lost):
        outcome = "won" if i < n_won else "lost"
        created = dt.datetime(2024, 1, 1, 8) + dt.timedelta(hours=7 * i)
        closed = dt.datetime(2024, 5, 1, 8) + dt.timedelta(hours=5 * i)
        rows.append(
            [
                f"S{i:02d}",
                f"{created:%Y-%m-%dT%H:%M:%SZ}",
                "",
                "R1",
                outcome,
                f"{closed:%Y-%m-%dT%H:%M:%SZ}",
                100 + i,
                "",
            ]
        )
    return rows


@pytest.mark.parametrize(("n_won", "n_lost", "flagged"), [(20, 10, False), (20, 9, True)])
def test_small_sample_flag_below_30_observations(
    ws: Workspace, tmp_path: Path, n_won: int, n_lost: int, flagged: bool
) -> None:
    """30 closed deals: no flag; 29: small_sample on the rate and on the cycle (29 < 30)."""
    load(ws, tmp_path, "opportunities", OPP_HEADER, _closed_deals(n_won, n_lost))
    rows = ws.kpi(["win_rate", "sales_cycle_days"], output="rows")
    win = one(rows, "win_rate", "2024-05")
    assert (win["numerator"], win["denominator"]) == (n_won, n_won + n_lost)
    assert ("small_sample" in win["flags"]) is flagged
    assert "small_sample" in one(rows, "sales_cycle_days", "2024-05")["flags"]  # only 20 won
    ws.set_setting("small_sample", "5")
    rows = ws.kpi(["win_rate", "sales_cycle_days"], output="rows")
    assert one(rows, "win_rate", "2024-05")["flags"] == []
    assert one(rows, "sales_cycle_days", "2024-05")["flags"] == []


def test_sales_cycle_days_of_won_deals_match_numpy(ws: Workspace, tmp_path: Path) -> None:
    """Cycle = closed_at - created_at in days (fractions kept) of won deals only; lost and open ones excluded."""
    deals = [
        ["C1", "2024-01-01T00:00:00Z", "", "R1", "won", "2024-01-11T00:00:00Z", 1, ""],  # 10 days
        ["C2", "2024-01-02T00:00:00Z", "", "R1", "won", "2024-01-13T00:00:00Z", 1, ""],  # 11
        ["C3", "2024-01-03T00:00:00Z", "", "R2", "won", "2024-01-17T00:00:00Z", 1, ""],  # 14
        ["C4", "2024-01-04T00:00:00Z", "", "R2", "won", "2024-01-23T12:00:00Z", 1, ""],  # 19.5
        ["C5", "2024-01-05T00:00:00Z", "", "R2", "lost", "2024-01-06T00:00:00Z", 1, ""],  # lost: out
        ["C6", "2024-01-05T00:00:00Z", "", "R2", "open", "", 1, ""],  # open: out
    ]
    load(ws, tmp_path, "opportunities", OPP_HEADER, deals)
    days = [10.0, 11.0, 14.0, 19.5]
    row = one(ws.kpi("sales_cycle_days", output="rows"), "sales_cycle_days", "2024-01")
    assert row["n"] == 4
    assert row["median"] == pytest.approx(percentile(days, 50)) == row["value"]
    assert row["mean"] == pytest.approx(statistics.fmean(days))
    assert row["p90"] == pytest.approx(percentile(days, 90))  # 14 + 0.7 * 5.5 = 17.85
    assert row["p90"] == pytest.approx(17.85)
    by_rep = ws.kpi("sales_cycle_days", by="rep", output="rows")
    assert one(by_rep, "sales_cycle_days", "2024-01", rep="R2")["mean"] == pytest.approx(16.75)


def test_dimension_without_meaning_is_refused_naming_the_kpi_and_its_dimensions(shared: Workspace) -> None:
    """win_rate --by stage: a closed deal's stage is its last one, meaningless here -> ParameterError."""
    with pytest.raises(ParameterError) as raised:
        shared.kpi("win_rate", by="stage")
    message = str(raised.value)
    assert "win_rate" in message and '"stage"' in message
    assert "rep, team, channel, campaign, segment, industry, country, product, type" in message
    with pytest.raises(ParameterError, match="win_rate"):
        shared.kpi("win_rate", filters={"stage": "Closed"})
    with pytest.raises(ParameterError, match="activities"):
        shared.kpi("activities", by="channel")
    with pytest.raises(ParameterError, match="leads"):
        shared.kpi("leads", by="product")
    # opportunities may be split by stage (the current stage of the deals created in the period).
    rows = shared.kpi("opportunities", by="stage", grain="all", output="rows")
    assert {r["stage"]: r["value"] for r in rows} == {"Closed": 3, "Proposal": 1}


def test_dimension_filter_keeps_only_matching_rows(shared: Workspace) -> None:
    """--filter rep=R2 and channel=web, across leads, rates and counts."""
    rows = shared.kpi(["leads", "opportunities", "win_rate"], grain="all", filters={"rep": "R2"}, output="rows")
    assert one(rows, "leads", "all")["value"] == 2
    assert one(rows, "opportunities", "all")["value"] == 1
    assert (one(rows, "win_rate", "all")["numerator"], one(rows, "win_rate", "all")["denominator"]) == (0, 1)
    web = shared.kpi(
        ["leads", "opportunities", "lead_to_opportunity_rate"], grain="all", filters={"channel": "web"}, output="rows"
    )
    assert one(web, "leads", "all")["value"] == 2
    assert one(web, "opportunities", "all")["value"] == 3  # O1, O2, O3 inherit their lead's channel
    assert one(web, "lead_to_opportunity_rate", "all")["value"] == 1.0
