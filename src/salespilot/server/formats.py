"""Locale formatting of the dashboard's numbers, amounts, rates, durations and dates, in English and French.

Every string comes from Babel (https://babel.pocoo.org), the well-kept Python library of the Unicode CLDR
locale data: the group and decimal separators, the currency symbols and their placement, the percent sign's
spacing, the month names, the plural forms and the compact "M" / "k" abbreviations are CLDR's, not ours.
French therefore groups with the narrow no-break space U+202F and puts a no-break space U+00A0 before
"%", "€" and the unit names, exactly as Babel gives them.

Conventions shared by every function here:

* ``lang`` is ``"en"`` or ``"fr"`` (anything else raises ``ValueError``).
* A missing value, ``None``, NaN or an infinity, is shown as an en dash ``"–"``.
* Rounding is half up (2.5 -> 3, 0.9995 at three decimals -> 1.000), as people expect on a dashboard,
  on the decimal text of the value (1.005 at two decimals -> 1.01), not on its binary float.
* A value that rounds to zero is shown without a sign ("0", never "-0").
* Negative numbers carry the CLDR minus sign of the locale, which for English and French is the ASCII
  hyphen-minus "-" (Babel's output, used as is everywhere, growth() included, so the strings stay consistent
  and paste into a spreadsheet as numbers).
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import functools
import math
import re
from typing import Final

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel import units as babel_units
from babel.numbers import NumberPattern

__all__ = [
    "DASH",
    "LANGS",
    "compact_money",
    "date",
    "days",
    "growth",
    "money",
    "number",
    "percent",
    "period",
    "value",
]

DASH: Final = "–"
LANGS: Final = ("en", "fr")
# The ISO week's abbreviation: CLDR has no short "week 10" label that fits a chart axis.
_WEEK_PREFIX: Final = {"en": "W", "fr": "S"}

Number = float | decimal.Decimal


@functools.cache
def _locale(lang: str) -> Locale:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}: expected one of {', '.join(LANGS)}")
    return Locale.parse(lang)


def _missing(value: Number | None) -> bool:
    if value is None:
        return True
    if isinstance(value, decimal.Decimal):
        return not value.is_finite()
    return not math.isfinite(value)


def _check_decimals(decimals: int) -> None:
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")


def _decimal(value: Number, decimals: int, scale: int = 0) -> decimal.Decimal:
    """The value as a Decimal from its decimal text; exactly 0 when it rounds to zero (no "-0")."""
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    quantum = decimal.Decimal(1).scaleb(-(decimals + scale))
    if number.quantize(quantum, rounding=decimal.ROUND_HALF_UP).is_zero():
        return decimal.Decimal(0)
    return number


def _pattern(pattern: NumberPattern, decimals: int) -> NumberPattern:
    """The locale's own pattern with exactly ``decimals`` fraction digits."""
    fixed = copy.copy(pattern)
    fixed.frac_prec = (decimals, decimals)
    return fixed


def _half_up() -> decimal.Context:
    context = decimal.getcontext().copy()
    context.rounding = decimal.ROUND_HALF_UP
    return context


def number(value: Number | None, lang: str, decimals: int = 0) -> str:
    """A plain number: ``1,234,567`` / ``1 234 567`` (U+202F), ``0.25`` / ``0,25``."""
    locale = _locale(lang)
    _check_decimals(decimals)
    if _missing(value):
        return DASH
    assert value is not None
    pattern = _pattern(locale.decimal_formats[None], decimals)
    with decimal.localcontext(_half_up()):
        return babel_numbers.format_decimal(_decimal(value, decimals), format=pattern, locale=locale)


def money(value: Number | None, lang: str, currency: str = "EUR", decimals: int = 0) -> str:
    """An amount: ``€1,234,567`` / ``1 234 567 €``; ``$1,234`` / ``1 234 $US``."""
    locale = _locale(lang)
    _check_decimals(decimals)
    if _missing(value):
        return DASH
    assert value is not None
    pattern = _pattern(locale.currency_formats["standard"], decimals)
    with decimal.localcontext(_half_up()):
        return babel_numbers.format_currency(
            _decimal(value, decimals), currency, format=pattern, locale=locale, currency_digits=False
        )


def compact_money(value: Number | None, lang: str, currency: str = "EUR", decimals: int = 1) -> str:
    """An amount for a card: ``€1.2M`` / ``1,2 M €``, ``€12.3K`` / ``12,3 k €`` (trailing zeros dropped).

    Babel >= 2.14 (the project's floor) always has ``format_compact_currency``.
    """
    locale = _locale(lang)
    _check_decimals(decimals)
    if _missing(value):
        return DASH
    assert value is not None
    with decimal.localcontext(_half_up()):
        return babel_numbers.format_compact_currency(
            _decimal(value, decimals), currency, locale=locale, fraction_digits=decimals
        )


def percent(value: Number | None, lang: str, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.253 -> ``25.3%`` / ``25,3 %`` (U+00A0 before the sign in French)."""
    locale = _locale(lang)
    _check_decimals(decimals)
    if _missing(value):
        return DASH
    assert value is not None
    pattern = _pattern(locale.percent_formats[None], decimals)
    with decimal.localcontext(_half_up()):
        return babel_numbers.format_percent(_decimal(value, decimals, scale=2), format=pattern, locale=locale)


def growth(value: Number | None, lang: str, decimals: int = 1) -> str:
    """A signed change as a percentage: 0.12 -> ``+12.0%`` / ``+12,0 %``, -0.034 -> ``-3.4%`` / ``-3,4 %``.

    Zero, and anything that rounds to it, has no sign: ``0.0%``.
    """
    text = percent(value, lang, decimals)
    if text == DASH:
        return text
    assert value is not None
    if _decimal(value, decimals, scale=2) > 0:
        return babel_numbers.get_plus_sign_symbol(_locale(lang)) + text
    return text


def days(value: Number | None, lang: str, decimals: int = 0) -> str:
    """A duration in days with the CLDR plural: ``12 days`` / ``12 jours``, ``1 day`` / ``1 jour``.

    French counts 0 and 1 (and 1.5) in the singular: ``0 jour``, as CLDR says.
    """
    locale = _locale(lang)
    _check_decimals(decimals)
    if _missing(value):
        return DASH
    assert value is not None
    # format_unit takes a pattern string; English's and French's decimal pattern is "#,##0.###".
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    with decimal.localcontext(_half_up()):
        rounded = _decimal(value, decimals).quantize(decimal.Decimal(1).scaleb(-decimals))
        return babel_units.format_unit(rounded, "duration-day", length="long", format=pattern, locale=locale)


def date(value: dt.date | None, lang: str) -> str:
    """A day in the medium format: ``Mar 5, 2026`` / ``5 mars 2026``."""
    locale = _locale(lang)
    if value is None:
        return DASH
    return babel_dates.format_date(value, format="medium", locale=locale)


def moment(value: dt.datetime | None, lang: str) -> str:
    """A time the server recorded (UTC): ``Dec 7, 2026, 09:55 UTC`` / ``7 déc. 2026, 09:55 UTC``."""
    if value is None:
        return DASH
    day = babel_dates.format_date(value.date(), format="medium", locale=_locale(lang))
    return f"{day}, {value:%H:%M} UTC"


def period(start: dt.date | None, grain: str, lang: str) -> str:
    """The period of a time series that starts on ``start``.

    day: ``Mar 5, 2026`` / ``5 mars 2026``; week (ISO): ``W10 2026`` / ``S10 2026``;
    month: ``Mar 2026`` / ``mars 2026``; quarter: ``Q1 2026`` / ``T1 2026``; year: ``2026``.
    """
    locale = _locale(lang)
    if grain not in ("day", "week", "month", "quarter", "year"):
        raise ValueError(f"unknown grain {grain!r}: expected day, week, month, quarter or year")
    if start is None:
        return DASH
    if grain == "day":
        return date(start, lang)
    if grain == "week":
        iso = start.isocalendar()
        return f"{_WEEK_PREFIX[lang]}{iso.week} {iso.year}"
    skeleton = {"month": "yMMM", "quarter": "yQQQ", "year": "y"}[grain]
    return babel_dates.format_skeleton(skeleton, start, locale=locale)


def value(value: Number | None, unit: str, lang: str, currency: str = "EUR") -> str:
    """A KPI value by its unit: count, currency, rate (a fraction), ratio (two decimals) or days."""
    if unit == "count":
        return number(value, lang)
    if unit == "currency":
        return money(value, lang, currency)
    if unit == "rate":
        return percent(value, lang)
    if unit == "ratio":
        return number(value, lang, decimals=2)
    if unit == "days":
        return days(value, lang)
    raise ValueError(f"unknown KPI unit {unit!r}: expected count, currency, rate, ratio or days")


def day(value: dt.date | str) -> dt.date:
    """A day given as a date or as ISO text (a timestamp's date part)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def colon(lang: str) -> str:
    """The colon between a label and its value: French sets a space before it."""
    return " : " if lang == "fr" else ": "


_LABELS = (
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-W(\d{2})$"), "week"),
    (re.compile(r"^(\d{4})$"), "year"),
)


def label_words(label: str, lang: str) -> str:
    """A period label of the engine in words: ``2026-06`` is ``Jun 2026`` / ``juin 2026``,
    ``2026-Q2`` ``Q2 2026`` / ``T2 2026``, ``2026-W10`` ``W10 2026`` / ``S10 2026``; a fiscal
    label (``FY2026-Q1``) or any other text stays as it is."""
    for pattern, grain in _LABELS:
        found = pattern.match(label)
        if found is None:
            continue
        year = int(found.group(1))
        try:
            if grain == "month":
                start = dt.date(year, int(found.group(2)), 1)
            elif grain == "quarter":
                start = dt.date(year, 3 * int(found.group(2)) - 2, 1)
            elif grain == "week":
                start = dt.date.fromisocalendar(year, int(found.group(2)), 1)
            else:
                start = dt.date(year, 1, 1)
        except ValueError:
            return label
        return period(start, grain, lang)
    return label


def period_label(label: str, start: dt.date | str | None, grain: str, lang: str) -> str:
    """A KPI row's period in words (``juin 2026``, ``T2 2026``); a fiscal label (``FY2018-Q1``)
    or a row without its start stays as the engine wrote it."""
    if start is None or label.startswith("FY") or grain not in ("day", "week", "month", "quarter", "year"):
        return label
    return period(day(start), grain, lang)
