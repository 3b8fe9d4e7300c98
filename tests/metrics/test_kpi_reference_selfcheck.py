"""The reference itself, checked against published values and the calendar, before it judges the product."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.metrics.reference import Period, grid, percentile, period_end, period_of, to_local, wilson, year_ago_period


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe R.G. (1998), "Two-sided confidence intervals for the single proportion:
        # comparison of seven methods", Statistics in Medicine 17, Table I, method 3 (score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_reference_wilson_matches_newcombe_1998(successes: int, trials: int, low: float, high: float) -> None:
    """The textbook Wilson formula of the reference gives the published intervals to 4 decimals."""
    got_low, got_high = wilson(successes, trials)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def test_reference_wilson_without_trials_is_none() -> None:
    """No trials, no interval."""
    assert wilson(0, 0) == (None, None)


def test_reference_percentile_is_linear_interpolation() -> None:
    """numpy's default percentile: p90 of 10, 11, 14, 19 is 14 + 0.7 * 5 = 17.5; median 12.5."""
    values = [10.0, 11.0, 14.0, 19.0]
    assert percentile(values, 50) == 12.5
    assert percentile(values, 90) == pytest.approx(17.5)


@pytest.mark.parametrize(
    ("day", "grain", "fiscal_start", "label", "start"),
    [
        ("2024-12-30", "week", 1, "2025-W01", "2024-12-30"),  # ISO: the Monday of 2025's first week
        ("2025-01-05", "week", 1, "2025-W01", "2024-12-30"),
        ("2024-12-29", "week", 1, "2024-W52", "2024-12-23"),
        ("2021-01-03", "week", 1, "2020-W53", "2020-12-28"),
        ("2024-03-31", "quarter", 4, "FY2024-Q4", "2024-01-01"),
        ("2024-04-01", "quarter", 4, "FY2025-Q1", "2024-04-01"),
        ("2024-12-31", "quarter", 4, "FY2025-Q3", "2024-10-01"),
        ("2025-01-01", "quarter", 4, "FY2025-Q4", "2025-01-01"),
        ("2024-04-01", "year", 4, "FY2025", "2024-04-01"),
        ("2025-03-31", "year", 4, "FY2025", "2024-04-01"),
        ("2024-11-15", "quarter", 11, "FY2025-Q1", "2024-11-01"),
        ("2025-01-15", "quarter", 11, "FY2025-Q1", "2024-11-01"),
        ("2025-02-01", "quarter", 11, "FY2025-Q2", "2025-02-01"),
        ("2024-05-17", "quarter", 1, "2024-Q2", "2024-04-01"),
    ],
)
def test_reference_period_labels(day: str, grain: str, fiscal_start: int, label: str, start: str) -> None:
    """ISO weeks across year ends; fiscal years named after the calendar year they end in."""
    assert period_of(dt.date.fromisoformat(day), grain, fiscal_start) == Period(dt.date.fromisoformat(start), label)


def test_reference_grid_and_period_ends() -> None:
    """A grid lists every period, empty ones included; a fiscal quarter ends on its last day."""
    labels = [p.label for p in grid(dt.date(2024, 2, 10), dt.date(2024, 7, 1), "quarter", 4)]
    assert labels == ["FY2024-Q4", "FY2025-Q1", "FY2025-Q2"]
    assert period_end(period_of(dt.date(2024, 2, 10), "quarter", 4), "quarter", 4) == dt.date(2024, 3, 31)
    assert year_ago_period(period_of(dt.date(2024, 3, 1), "day"), "day").label == "2023-03-01"


def test_reference_local_time_follows_daylight_saving() -> None:
    """Paris is UTC+1 in winter and UTC+2 in summer; the switch is at 01:00 UTC."""
    paris = "Europe/Paris"
    assert to_local(dt.datetime(2024, 3, 31, 0, 59), paris) == dt.datetime(2024, 3, 31, 1, 59)
    assert to_local(dt.datetime(2024, 3, 31, 1, 0), paris) == dt.datetime(2024, 3, 31, 3, 0)
    assert to_local(dt.datetime(2024, 10, 27, 0, 59), paris) == dt.datetime(2024, 10, 27, 2, 59)
    assert to_local(dt.datetime(2024, 10, 27, 1, 0), paris) == dt.datetime(2024, 10, 27, 2, 0)
