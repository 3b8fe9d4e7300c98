"""Workspace settings: names, defaults and validation (stored in the store's ``settings`` table)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salespilot.errors import ParameterError, did_you_mean


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones

        raise ParameterError(
            f'timezone "{value}" is not a known IANA time zone (expected e.g. "Europe/Paris" or "UTC").'
            f"{did_you_mean(value, available_timezones())}"
        ) from None
    return value


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ParameterError(f'base_currency "{value}" is not an ISO 4217 code (expected three letters, e.g. EUR).')
    return value.upper()


def _int_between(low: int, high: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise ParameterError(f'"{value}" is not a whole number between {low} and {high}.')
        return str(number)

    return check


def _rate(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise ParameterError(f'"{value}" is not a rate between 0 and 1.')
    return str(number)


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    check: Callable[[str], str]
    description: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("timezone", "UTC", _timezone, "time zone of the workspace; local times in files are read in it"),
        Setting("base_currency", "EUR", _currency, "currency every amount is converted to"),
        Setting("fiscal_year_start_month", "1", _int_between(1, 12), "first month of the fiscal year (1-12)"),
        Setting(
            "active_window_months",
            "12",
            _int_between(1, 120),
            "without contracts, a customer is active when it won a deal in this many trailing months",
        ),
        Setting("renewal_grace_days", "30", _int_between(0, 365), "a contract starting this late still renews"),
        Setting("small_sample", "30", _int_between(1, 100000), "results on fewer observations are flagged"),
        Setting("default_margin_rate", "0.7", _rate, "gross margin rate used when deals carry no margin"),
    )
}


def validate(name: str, value: str) -> str:
    """Return the normalised value of setting ``name`` or raise ``ParameterError``."""
    if name not in SETTINGS:
        raise ParameterError(
            f'"{name}" is not a setting.{did_you_mean(name, SETTINGS)} Settings: {", ".join(SETTINGS)}.'
        )
    try:
        return SETTINGS[name].check(value)
    except ParameterError as exc:
        raise ParameterError(f"setting {name}: {exc}") from None
