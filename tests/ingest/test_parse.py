"""Parsing text cells into typed values; expected values written by hand."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from salespilot.errors import MappingError
from salespilot.ingest import parse


def ts(*args: int) -> dt.datetime:
    return dt.datetime(*args)


def test_iso_timestamps_with_and_without_time_and_offsets() -> None:
    values = pa.array(
        [
            "2017-03-01",
            "2017-03-01 10:00:00",
            "2017-03-01T10:00",
            "2017-03-01T10:00:00Z",
            "2017-03-01T10:00:00+02:00",
            "2017-03-01T10:00:00+0200",
            None,
            " 2017-03-02 ",
        ]
    )
    got = parse.parse_timestamp(values, parse.ISO_ONLY, "UTC").to_pylist()
    assert got == [
        ts(2017, 3, 1),
        ts(2017, 3, 1, 10),
        ts(2017, 3, 1, 10),
        ts(2017, 3, 1, 10),
        ts(2017, 3, 1, 8),
        ts(2017, 3, 1, 8),
        None,
        ts(2017, 3, 2),
    ]


def test_local_times_are_converted_from_the_workspace_timezone_across_dst() -> None:
    # Paris is UTC+1 in winter and UTC+2 in summer; an explicit offset wins over the workspace zone.
    values = pa.array(["2017-01-15 09:00", "2017-07-15 09:00", "2017-07-15T09:00:00Z"])
    got = parse.parse_timestamp(values, parse.ISO_ONLY, "Europe/Paris").to_pylist()
    assert got == [ts(2017, 1, 15, 8), ts(2017, 7, 15, 7), ts(2017, 7, 15, 9)]


def test_impossible_dates_are_null_not_rolled_over() -> None:
    values = pa.array(["2017-02-30", "2017-02-28", "2016-02-29", "2017-13-01"])
    assert parse.parse_timestamp(values, parse.ISO_ONLY, "UTC").to_pylist() == [
        None,
        ts(2017, 2, 28),
        ts(2016, 2, 29),
        None,
    ]
    layout = parse.detect_layout(pa.array(["31/01/2017"]), None, "c", "f.csv")
    assert parse.parse_date(pa.array(["30/02/2017", "28/02/2017"]), layout).to_pylist() == [None, dt.date(2017, 2, 28)]


def test_day_first_detected_and_non_padded_values_read() -> None:
    values = pa.array(["1/2/2017", "25/12/2017 14:30", "03/04/2017"])
    layout = parse.detect_layout(values, None, "Close", "f.csv")
    assert parse.parse_date(values, layout).to_pylist() == [
        dt.date(2017, 2, 1),
        dt.date(2017, 12, 25),
        dt.date(2017, 4, 3),
    ]


def test_month_first_detected() -> None:
    values = pa.array(["12/25/2017", "1/2/2017"])
    layout = parse.detect_layout(values, None, "Close", "f.csv")
    assert parse.parse_date(values, layout).to_pylist() == [dt.date(2017, 12, 25), dt.date(2017, 1, 2)]


def test_ambiguous_day_month_order_is_an_error_naming_file_and_column() -> None:
    with pytest.raises(MappingError, match=r"deals\.csv.*Close Date.*date_format"):
        parse.detect_layout(pa.array(["01/02/2017", "03/04/2017"]), None, "Close Date", "deals.csv")


def test_unreadable_dates_are_an_error_and_explicit_format_is_used() -> None:
    with pytest.raises(MappingError, match=r"Created.*not a date"):
        parse.detect_layout(pa.array(["yesterday", "last week"]), None, "Created", "f.csv")
    layout = parse.detect_layout(pa.array(["14 Mar 2017"]), "%d %b %Y", "Created", "f.csv")
    assert parse.parse_date(pa.array(["14 Mar 2017"]), layout).to_pylist() == [dt.date(2017, 3, 14)]
    with pytest.raises(MappingError, match=r'date_format "%d/%m/%Y"'):
        parse.detect_layout(pa.array(["March 14"]), "%d/%m/%Y", "Created", "f.csv")


def test_numbers_with_decimal_comma_and_thousands() -> None:
    values = pa.array(["1 234,50", "-3", "abc", None, "1e3", "12,", "1\u00a0234,5", "1\u202f234"])
    assert parse.parse_float(values, ",", " ").to_pylist() == [1234.5, -3.0, None, None, 1000.0, 12.0, 1234.5, 1234.0]
    assert parse.parse_float(pa.array(["1,234.5"]), ".", ",").to_pylist() == [1234.5]
    assert parse.parse_float(pa.array(["1,234.5"]), ".", None).to_pylist() == [None]


def test_number_traps_are_rejected_not_guessed() -> None:
    # With a decimal comma a point is no decimal mark; separators only between groups of three.
    assert parse.parse_float(pa.array(["1.234", "12.34", "12,34"]), ",", None).to_pylist() == [None, None, 12.34]
    assert parse.parse_float(pa.array(["12,34", "1,2,3", "1,234,567.5", "1234"]), ".", ",").to_pylist() == [
        None,
        None,
        1234567.5,
        1234.0,
    ]
    assert parse.parse_float(pa.array(["1.234.567,5"]), ",", ".").to_pylist() == [1234567.5]
    assert parse.parse_float(pa.array(["1e400", "-1e400", "nan", "inf"]), ".", None).to_pylist() == [None] * 4


def test_integers_refuse_fractions() -> None:
    assert parse.parse_integer(pa.array(["12", "12.0", "12.5", "x"]), ".", None).to_pylist() == [12, 12, None, None]


def test_period_labels() -> None:
    values = pa.array(["2017", "2017-q1", "2017-03", "2017-W11", "2017-03-14", "2017-13", "Q1 2017"])
    assert parse.parse_period(values).to_pylist() == [
        "2017",
        "2017-Q1",
        "2017-03",
        "2017-W11",
        "2017-03-14",
        None,
        None,
    ]
