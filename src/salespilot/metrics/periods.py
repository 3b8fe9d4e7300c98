"""Periods: grains, fiscal years, labels, the grid of periods, and local time.

Timestamps are stored in UTC; a period is a stretch of the workspace's local calendar. The
conversion to local time is written as a piecewise offset (one branch per daylight-saving
change in the data's range) so that it means exactly the same thing on every engine.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from salespilot.errors import ParameterError


class Grain(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ALL = "all"


ALL_LABEL = "all"
ALL_START = dt.date(1900, 1, 1)  # the one period of grain "all"


@dataclass(frozen=True)
class Calendar:
    grain: Grain
    fiscal: bool = False
    fiscal_start_month: int = 1

    @property
    def shift_months(self) -> int:
        """Months the fiscal year starts after January (0 for calendar periods)."""
        if self.fiscal and self.grain in (Grain.QUARTER, Grain.YEAR):
            return self.fiscal_start_month - 1
        return 0

    def start_of(self, day: dt.date) -> dt.date:
        """The first day of the period holding ``day``."""
        match self.grain:
            case Grain.DAY:
                return day
            case Grain.WEEK:
                return day - dt.timedelta(days=day.weekday())
            case Grain.MONTH:
                return day.replace(day=1)
            case Grain.QUARTER | Grain.YEAR:
                shifted = add_months(day.replace(day=1), -self.shift_months)
                months = 3 if self.grain is Grain.QUARTER else 12
                first = shifted.replace(month=(shifted.month - 1) // months * months + 1)
                return add_months(first, self.shift_months)
            case Grain.ALL:
                return ALL_START

    def next_start(self, start: dt.date) -> dt.date:
        match self.grain:
            case Grain.DAY:
                return start + dt.timedelta(days=1)
            case Grain.WEEK:
                return start + dt.timedelta(days=7)
            case Grain.MONTH:
                return add_months(start, 1)
            case Grain.QUARTER:
                return add_months(start, 3)
            case Grain.YEAR:
                return add_months(start, 12)
            case Grain.ALL:
                return dt.date(9999, 12, 31)

    def shift(self, start: dt.date, periods: int) -> dt.date:
        """The start of the period ``periods`` before (negative) or after ``start``."""
        match self.grain:
            case Grain.DAY:
                return start + dt.timedelta(days=periods)
            case Grain.WEEK:
                return start + dt.timedelta(days=7 * periods)
            case Grain.MONTH:
                return add_months(start, periods)
            case Grain.QUARTER:
                return add_months(start, 3 * periods)
            case Grain.YEAR:
                return add_months(start, 12 * periods)
            case Grain.ALL:
                return start

    def year_ago(self, start: dt.date) -> dt.date:
        """The start of the same period a year before (a day: the same date; a week: 52 weeks)."""
        match self.grain:
            case Grain.DAY:
                try:
                    return start.replace(year=start.year - 1)
                except ValueError:  # 29 February
                    return start.replace(year=start.year - 1, day=28)
            case Grain.WEEK:
                return start - dt.timedelta(weeks=52)
            case Grain.ALL:
                return start
            case _:
                return add_months(start, -12)

    def periods_per_year(self) -> int | None:
        return {Grain.DAY: None, Grain.WEEK: 52, Grain.MONTH: 12, Grain.QUARTER: 4, Grain.YEAR: 1}.get(self.grain)

    def label(self, start: dt.date) -> str:
        match self.grain:
            case Grain.DAY:
                return start.isoformat()
            case Grain.WEEK:
                year, week, _ = start.isocalendar()
                return f"{year}-W{week:02d}"
            case Grain.MONTH:
                return f"{start.year}-{start.month:02d}"
            case Grain.QUARTER | Grain.YEAR:
                if self.shift_months:
                    # A fiscal year is named after the calendar year it ends in (FY2018 = Feb 2017-Jan 2018).
                    ends_in = start.year + 1 if start.month >= self.fiscal_start_month else start.year
                    if self.grain is Grain.YEAR:
                        return f"FY{ends_in}"
                    return f"FY{ends_in}-Q{(start.month - self.fiscal_start_month) % 12 // 3 + 1}"
                if self.grain is Grain.QUARTER:
                    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
                return str(start.year)
            case Grain.ALL:
                return ALL_LABEL

    def grid(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        """Every period start from the period of ``first`` to the period of ``last``."""
        if self.grain is Grain.ALL:
            yield self.start_of(first)
            return
        current = self.start_of(first)
        end = self.start_of(last)
        while current <= end:
            yield current
            current = self.next_start(current)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by ``months`` calendar months (the 31st becomes the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1) if day.day == 1 else _clamp(index, day.day)


def _clamp(index: int, day: int) -> dt.date:
    year, month = index // 12, index % 12 + 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return dt.date(year, month, min(day, (following - dt.timedelta(days=1)).day))


def parse_grain(value: str) -> Grain:
    try:
        return Grain(value)
    except ValueError:
        from salespilot.errors import did_you_mean

        choices = [g.value for g in Grain]
        raise ParameterError(
            f'--grain "{value}" is not a grain.{did_you_mean(value, choices)} Grains: {", ".join(choices)}.'
        ) from None


# -- local time on the engine -----------------------------------------------------------------


def utc_offsets(timezone: str, first_year: int, last_year: int) -> list[tuple[dt.datetime, int]]:
    """[(utc_instant, offset_seconds_from_then_on)], starting before ``first_year``."""
    zone = ZoneInfo(timezone)
    start = dt.datetime(first_year - 1, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(last_year + 2, 1, 1, tzinfo=dt.UTC)
    changes: list[tuple[dt.datetime, int]] = []
    current = _offset(zone, start)
    changes.append((start, current))
    probe = start
    step = dt.timedelta(hours=6)
    while probe < end:
        nxt = probe + step
        offset = _offset(zone, nxt)
        if offset != current:
            low, high = probe, nxt  # find the exact instant (to the second) by bisection
            while (high - low) > dt.timedelta(seconds=1):
                mid = low + (high - low) / 2
                if _offset(zone, mid) == current:
                    low = mid
                else:
                    high = mid
            changes.append((high.replace(microsecond=0), offset))
            current = offset
        probe = nxt
    return changes


def _offset(zone: ZoneInfo, instant: dt.datetime) -> int:
    delta = instant.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def to_local(ts: ir.TimestampValue, timezone: str, first_year: int, last_year: int) -> ir.TimestampValue:
    """``ts`` (UTC) as local wall-clock time in ``timezone``."""
    if timezone in ("UTC", "Etc/UTC"):
        return ts
    changes = utc_offsets(timezone, first_year, last_year)
    if len({offset for _, offset in changes}) == 1:
        return ts + ibis.interval(seconds=changes[0][1])
    branches = []
    for (_, offset), (until, _) in itertools.pairwise(changes):
        limit = ibis.literal(until.replace(tzinfo=None), type="timestamp")
        branches.append((ts < limit, ts + ibis.interval(seconds=offset)))
    last_offset = changes[-1][1]
    return ibis.cases(*branches, else_=ts + ibis.interval(seconds=last_offset))


def period_start(local: ir.TimestampValue, calendar: Calendar) -> ir.DateValue:
    """The first day of the period of each local timestamp, computed on the engine."""
    grain = calendar.grain
    if grain is Grain.ALL:
        return ibis.literal(ALL_START, type="date")
    if grain in (Grain.DAY, Grain.WEEK, Grain.MONTH) or not calendar.shift_months:
        unit = {Grain.DAY: "D", Grain.WEEK: "W", Grain.MONTH: "M", Grain.QUARTER: "Q", Grain.YEAR: "Y"}[grain]
        return local.truncate(unit).cast("date")
    # Fiscal quarters and years: count months from year 0, step back to the period's first month.
    months = 3 if grain is Grain.QUARTER else 12
    index = local.year().cast("int64") * 12 + local.month().cast("int64") - 1
    back = (index - calendar.shift_months) % months
    first = index - back
    return ibis.date((first // 12).cast("int32"), (first % 12 + 1).cast("int32"), ibis.literal(1, type="int32"))
