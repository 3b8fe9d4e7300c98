"""The dashboard's locale formatting, English and French, against strings written by hand.

French spacing is spelled out: NNBSP (U+202F, narrow no-break space) groups the thousands, NBSP (U+00A0)
stands before "%", "€" and the unit names, as CLDR (through Babel) has it.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from salespilot.server import formats

NNBSP = "\u202f"
NBSP = "\u00a0"
DASH = "–"


@pytest.mark.parametrize(
    ("value", "decimals", "en", "fr"),
    [
        (1234567, 0, "1,234,567", f"1{NNBSP}234{NNBSP}567"),
        (-1234567, 0, "-1,234,567", f"-1{NNBSP}234{NNBSP}567"),
        (0, 0, "0", "0"),
        (0.0, 2, "0.00", "0,00"),
        (999, 0, "999", "999"),
        (1000, 0, "1,000", f"1{NNBSP}000"),
        (1234.5, 2, "1,234.50", f"1{NNBSP}234,50"),
        (1234.5, 0, "1,235", f"1{NNBSP}235"),  # half up, not half even
        (2.5, 0, "3", "3"),
        (1.005, 2, "1.01", "1,01"),  # rounded on the decimal text, not the binary float 1.00499...
        (0.9995, 3, "1.000", "1,000"),
        (0.9995, 2, "1.00", "1,00"),
        (-0.4, 0, "0", "0"),  # rounds to zero: no "-0"
        (-0.004, 2, "0.00", "0,00"),
        (1e12, 0, "1,000,000,000,000", f"1{NNBSP}000{NNBSP}000{NNBSP}000{NNBSP}000"),
        (decimal.Decimal("-9876.543"), 1, "-9,876.5", f"-9{NNBSP}876,5"),
    ],
)
def test_number(value: float, decimals: int, en: str, fr: str) -> None:
    assert formats.number(value, "en", decimals) == en
    assert formats.number(value, "fr", decimals) == fr


@pytest.mark.parametrize("missing", [None, float("nan"), float("inf"), float("-inf"), decimal.Decimal("NaN")])
def test_missing_values_are_a_dash_everywhere(missing: float | None) -> None:
    for lang in ("en", "fr"):
        assert formats.number(missing, lang) == DASH
        assert formats.money(missing, lang) == DASH
        assert formats.compact_money(missing, lang) == DASH
        assert formats.percent(missing, lang) == DASH
        assert formats.growth(missing, lang) == DASH
        assert formats.days(missing, lang) == DASH
        for unit in ("count", "currency", "rate", "ratio", "days"):
            assert formats.value(missing, unit, lang) == DASH
    assert formats.date(None, "fr") == DASH
    assert formats.period(None, "month", "en") == DASH


@pytest.mark.parametrize(
    ("value", "decimals", "en", "fr"),
    [
        (1234567, 0, "€1,234,567", f"1{NNBSP}234{NNBSP}567{NBSP}€"),
        (-1234567, 0, "-€1,234,567", f"-1{NNBSP}234{NNBSP}567{NBSP}€"),
        (0, 0, "€0", f"0{NBSP}€"),
        (1234.5, 0, "€1,235", f"1{NNBSP}235{NBSP}€"),
        (1234.5, 2, "€1,234.50", f"1{NNBSP}234,50{NBSP}€"),
        (-0.3, 0, "€0", f"0{NBSP}€"),
        (0.9995, 2, "€1.00", f"1,00{NBSP}€"),
        (12_000_000_000, 0, "€12,000,000,000", f"12{NNBSP}000{NNBSP}000{NNBSP}000{NBSP}€"),
    ],
)
def test_money_eur(value: float, decimals: int, en: str, fr: str) -> None:
    assert formats.money(value, "en", decimals=decimals) == en
    assert formats.money(value, "fr", decimals=decimals) == fr


def test_money_other_currencies_as_babel_gives_them() -> None:
    assert formats.money(1234, "en", "USD") == "$1,234"
    assert formats.money(1234, "fr", "USD") == f"1{NNBSP}234{NBSP}$US"
    assert formats.money(-1234, "fr", "USD") == f"-1{NNBSP}234{NBSP}$US"
    assert formats.money(1234, "en", "GBP") == "£1,234"
    assert formats.money(1234, "fr", "GBP") == f"1{NNBSP}234{NBSP}£GB"
    # The decimals are ours, not the currency's: yen at two decimals still shows two.
    assert formats.money(1234, "en", "JPY", decimals=2) == "¥1,234.00"


@pytest.mark.parametrize(
    ("value", "en", "fr"),
    [
        (1234567, "€1.2M", f"1,2{NBSP}M{NBSP}€"),
        (-1234567, "-€1.2M", f"-1,2{NBSP}M{NBSP}€"),
        (12345, "€12.3K", f"12,3{NBSP}k{NBSP}€"),
        (950, "€950", f"950{NBSP}€"),
        (0, "€0", f"0{NBSP}€"),
        (999_999, "€1M", f"1{NBSP}M{NBSP}€"),  # 1.0 drops its trailing zero
        (1_500_000_000, "€1.5B", f"1,5{NBSP}Md{NBSP}€"),
    ],
)
def test_compact_money(value: float, en: str, fr: str) -> None:
    assert formats.compact_money(value, "en") == en
    assert formats.compact_money(value, "fr") == fr


def test_compact_money_in_dollars() -> None:
    assert formats.compact_money(1234567, "en", "USD") == "$1.2M"
    assert formats.compact_money(1234567, "fr", "USD") == f"1,2{NBSP}M{NBSP}$US"
    assert formats.compact_money(1234567, "en", decimals=2) == "€1.23M"


@pytest.mark.parametrize(
    ("value", "decimals", "en", "fr"),
    [
        (0.253, 1, "25.3%", f"25,3{NBSP}%"),
        (-0.034, 1, "-3.4%", f"-3,4{NBSP}%"),
        (0, 1, "0.0%", f"0,0{NBSP}%"),
        (1, 1, "100.0%", f"100,0{NBSP}%"),
        (0.9995, 1, "100.0%", f"100,0{NBSP}%"),
        (0.9994, 1, "99.9%", f"99,9{NBSP}%"),
        (0.25, 0, "25%", f"25{NBSP}%"),
        (0.125, 0, "13%", f"13{NBSP}%"),  # half up
        (-0.0001, 1, "0.0%", f"0,0{NBSP}%"),
        (12.5, 1, "1,250.0%", f"1{NNBSP}250,0{NBSP}%"),
        (0.12345, 2, "12.35%", f"12,35{NBSP}%"),
    ],
)
def test_percent(value: float, decimals: int, en: str, fr: str) -> None:
    assert formats.percent(value, "en", decimals) == en
    assert formats.percent(value, "fr", decimals) == fr


@pytest.mark.parametrize(
    ("value", "en", "fr"),
    [
        (0.12, "+12.0%", f"+12,0{NBSP}%"),
        (-0.034, "-3.4%", f"-3,4{NBSP}%"),
        (0, "0.0%", f"0,0{NBSP}%"),
        (0.00001, "0.0%", f"0,0{NBSP}%"),  # rounds to zero: no sign
        (-0.00001, "0.0%", f"0,0{NBSP}%"),
        (1.5, "+150.0%", f"+150,0{NBSP}%"),
        (-1, "-100.0%", f"-100,0{NBSP}%"),
        (0.0005, "+0.1%", f"+0,1{NBSP}%"),
    ],
)
def test_growth(value: float, en: str, fr: str) -> None:
    assert formats.growth(value, "en") == en
    assert formats.growth(value, "fr") == fr


@pytest.mark.parametrize(
    ("value", "en", "fr"),
    [
        (12, "12 days", f"12{NBSP}jours"),
        (1, "1 day", f"1{NBSP}jour"),
        (0, "0 days", f"0{NBSP}jour"),  # French counts 0 in the singular
        (1.4, "1 day", f"1{NBSP}jour"),  # the plural follows the shown, rounded number
        (2.5, "3 days", f"3{NBSP}jours"),
        (-3, "-3 days", f"-3{NBSP}jours"),
        (1234, "1,234 days", f"1{NNBSP}234{NBSP}jours"),
    ],
)
def test_days(value: float, en: str, fr: str) -> None:
    assert formats.days(value, "en") == en
    assert formats.days(value, "fr") == fr


def test_days_with_decimals() -> None:
    assert formats.days(1.5, "en", decimals=1) == "1.5 days"
    assert formats.days(1.5, "fr", decimals=1) == f"1,5{NBSP}jour"
    assert formats.days(12.25, "fr", decimals=1) == f"12,3{NBSP}jours"


def test_date() -> None:
    assert formats.date(dt.date(2026, 3, 5), "en") == "Mar 5, 2026"
    assert formats.date(dt.date(2026, 3, 5), "fr") == "5 mars 2026"
    assert formats.date(dt.date(2025, 12, 31), "en") == "Dec 31, 2025"
    assert formats.date(dt.date(2025, 12, 31), "fr") == "31 déc. 2025"
    assert formats.date(dt.date(2026, 2, 1), "fr") == "1 févr. 2026"


@pytest.mark.parametrize(
    ("start", "grain", "en", "fr"),
    [
        (dt.date(2026, 3, 5), "day", "Mar 5, 2026", "5 mars 2026"),
        (dt.date(2026, 3, 2), "week", "W10 2026", "S10 2026"),
        (dt.date(2025, 12, 29), "week", "W1 2026", "S1 2026"),  # ISO week: its year is the Thursday's
        (dt.date(2026, 3, 1), "month", "Mar 2026", "mars 2026"),
        (dt.date(2026, 7, 1), "month", "Jul 2026", "juil. 2026"),
        (dt.date(2026, 1, 1), "quarter", "Q1 2026", "T1 2026"),
        (dt.date(2026, 10, 1), "quarter", "Q4 2026", "T4 2026"),
        (dt.date(2026, 1, 1), "year", "2026", "2026"),
    ],
)
def test_period(start: dt.date, grain: str, en: str, fr: str) -> None:
    assert formats.period(start, grain, "en") == en
    assert formats.period(start, grain, "fr") == fr


@pytest.mark.parametrize(
    ("unit", "value", "en", "fr"),
    [
        ("count", 1234, "1,234", f"1{NNBSP}234"),
        ("currency", 1234, "€1,234", f"1{NNBSP}234{NBSP}€"),
        ("rate", 0.253, "25.3%", f"25,3{NBSP}%"),
        ("ratio", 3.14159, "3.14", "3,14"),
        ("ratio", 0, "0.00", "0,00"),
        ("days", 45, "45 days", f"45{NBSP}jours"),
    ],
)
def test_value_dispatches_on_the_unit(unit: str, value: float, en: str, fr: str) -> None:
    assert formats.value(value, unit, "en") == en
    assert formats.value(value, unit, "fr") == fr


def test_value_in_another_currency() -> None:
    assert formats.value(1234, "currency", "fr", currency="USD") == f"1{NNBSP}234{NBSP}$US"


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="language"):
        formats.number(1, "de")
    with pytest.raises(ValueError, match="language"):
        formats.number(None, "de")
    with pytest.raises(ValueError, match="unit"):
        formats.value(1, "furlongs", "en")
    with pytest.raises(ValueError, match="grain"):
        formats.period(dt.date(2026, 1, 1), "decade", "en")
    with pytest.raises(ValueError, match="decimals"):
        formats.number(1, "en", -1)


def test_a_kpi_rows_period_in_words() -> None:
    assert formats.period_label("2026-06", "2026-06-01", "month", "fr") == "juin 2026"
    assert formats.period_label("2026-Q2", dt.date(2026, 4, 1), "quarter", "fr") == "T2 2026"
    assert formats.period_label("2026-Q2", dt.date(2026, 4, 1), "quarter", "en") == "Q2 2026"
    assert formats.period_label("FY2027-Q1", "2026-04-01", "quarter", "fr") == "FY2027-Q1"  # a fiscal label stays
    assert formats.period_label("2026-06", None, "month", "fr") == "2026-06"


@pytest.mark.parametrize(
    ("label", "en", "fr"),
    [
        ("2026-06", "Jun 2026", "juin 2026"),
        ("2026-Q2", "Q2 2026", "T2 2026"),
        ("2026-W10", "W10 2026", "S10 2026"),
        ("2026", "2026", "2026"),
        ("FY2026-Q1", "FY2026-Q1", "FY2026-Q1"),  # fiscal: the engine's label
        ("2026-13", "2026-13", "2026-13"),  # not a period: as it is
        ("all", "all", "all"),
    ],
)
def test_a_period_label_in_words(label: str, en: str, fr: str) -> None:
    assert (formats.label_words(label, "en"), formats.label_words(label, "fr")) == (en, fr)
