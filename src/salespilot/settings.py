"""Workspace settings: names, defaults and validation (stored in the store's ``settings`` table)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salespilot.errors import ParameterError, did_you_mean
from salespilot.model import FUNNEL_STEPS, REFERENCE_RATES


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


def parse_funnel_steps(value: str, option: str = "funnel_steps") -> tuple[str, ...]:
    """Two or more consecutive steps of call -> lead -> opportunity -> signature."""
    names = [s.strip().lower() for s in value.split(",") if s.strip()]
    if names and all(n in FUNNEL_STEPS for n in names):
        first = FUNNEL_STEPS.index(names[0])
        if len(names) >= 2 and tuple(names) == FUNNEL_STEPS[first : first + len(names)]:
            return tuple(names)
    raise ParameterError(
        f"{option} {','.join(names) or '(empty)'}: name two or more consecutive steps of "
        f"{' -> '.join(FUNNEL_STEPS)} (e.g. lead,opportunity,signature)."
    )


def _funnel_steps(value: str) -> str:
    return ",".join(parse_funnel_steps(value))


def parse_stage_order(value: str) -> tuple[str, ...]:
    """Stage names in funnel order, comma-separated; empty: none configured."""
    names = [s.strip() for s in value.split(",") if s.strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ParameterError(f"stage_order names {', '.join(repeated)} twice; name each stage once, in funnel order.")
    return tuple(names)


def _stage_order(value: str) -> str:
    return ",".join(parse_stage_order(value))


def parse_reference_rates(value: str) -> dict[str, float]:
    """``call_to_lead=0.1,lead_to_opportunity=0.33,...``: the steps given replace the defaults."""
    rates = dict(REFERENCE_RATES)
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        step, sep, number = (x.strip() for x in part.partition("="))
        if not sep or step not in REFERENCE_RATES:
            known = ", ".join(REFERENCE_RATES)
            raise ParameterError(
                f'reference_rates: "{part}" is not STEP=RATE with STEP one of {known} (e.g. lead_to_opportunity=0.25).'
            )
        try:
            rate = float(number)
        except ValueError:
            rate = -1.0
        if not 0.0 < rate <= 1.0:
            raise ParameterError(f'reference_rates: the rate of {step} "{number}" is not a number in (0, 1].')
        rates[step] = rate
    return rates


def _reference_rates(value: str) -> str:
    return ",".join(f"{k}={v:g}" for k, v in parse_reference_rates(value).items())


def _on_off(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in ("on", "true", "yes", "1"):
        return "on"
    if lowered in ("off", "false", "no", "0"):
        return "off"
    raise ParameterError(f'"{value}" is not on or off.')


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
        Setting("funnel_steps", ",".join(FUNNEL_STEPS), _funnel_steps, "the funnel's steps, consecutive, top first"),
        Setting("funnel_stages", "off", _on_off, "on: the funnel shows the opportunity stages too (as --stages)"),
        Setting(
            "reference_rates",
            ",".join(f"{k}={v:g}" for k, v in REFERENCE_RATES.items()),
            _reference_rates,
            "the funnel's and planner's reference conversion rates (STEP=RATE,...)",
        ),
        Setting(
            "stage_order",
            "",
            _stage_order,
            "opportunity stages in funnel order (comma-separated); others follow by their usual position",
        ),
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
