"""Vectorised parsing of text columns into typed Arrow arrays.

Each parser takes a ``pa.StringArray`` (nulls for empty cells) and returns the typed array,
with null where a value could not be parsed; the caller compares the two null masks to find
the bad cells. Arrow does the bulk of the work; Python only looks at the rare values Arrow
will not decide (non-padded dates, impossible dates such as 2017-02-30).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from salespilot.errors import MappingError

ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?$"
ISO_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$"
NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
PERIOD = (
    r"^(?:\d{4}(?:-Q[1-4]|-W(?:0[1-9]|[1-4]\d|5[0-3])|-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?"
    r"|FY\d{4}(?:-Q[1-4])?)$"
)

# Families of day-first / month-first / other layouts; each tries the formats in order.
FAMILIES: dict[str, tuple[str, ...]] = {
    f"{name}{sep}": tuple(f"{base}{t}" for t in (" %H:%M:%S", " %H:%M", ""))
    for name, layout in (("dmy", "%d{s}%m{s}%Y"), ("mdy", "%m{s}%d{s}%Y"), ("ymd", "%Y{s}%m{s}%d"))
    for sep in ("/", ".", "-")
    for base in (layout.format(s=sep),)
    if not (name == "ymd" and sep == "-")
}
# Dates outside these years are placeholders ("9999-12-31", "1900-01-01"), not events.
FIRST_YEAR, LAST_YEAR = 1901, 2199
EXAMPLE = {"dmy": "14/03/2017", "mdy": "03/14/2017", "ymd": "2017/03/14"}


@dataclass(frozen=True)
class DateLayout:
    """How a column writes its dates: ISO always, plus one family or one explicit format."""

    formats: tuple[str, ...]
    label: str


ISO_ONLY = DateLayout((), "ISO 8601 (2017-03-14 or 2017-03-14T09:30:00)")


def trim(values: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(values)


def explicit_layout(fmt: str) -> DateLayout:
    """A user's date_format, also read with or without a time part (ISO is always read too)."""
    if "%H" in fmt or "%I" in fmt:
        date_part = fmt.split(" ")[0]
        formats: tuple[str, ...] = (fmt, date_part) if date_part != fmt and "%" in date_part else (fmt,)
    else:
        formats = (f"{fmt} %H:%M:%S", f"{fmt} %H:%M", fmt)
    return DateLayout(formats, f"format {fmt} (or ISO 8601)")


def detect_layout(sample: pa.Array, explicit: str | None, column: str, file: str) -> DateLayout:
    """Choose how ``column`` writes dates from its distinct non-null values in ``sample``."""
    values = pc.unique(trim(sample.drop_null()))
    iso = pc.or_(pc.match_substring_regex(values, ISO_NAIVE), pc.match_substring_regex(values, ISO_OFFSET))
    others = pc.filter(values, pc.invert(iso))
    if explicit is not None:
        layout = explicit_layout(explicit)
        if len(others) and _parse_local(others, layout).null_count == len(others):
            raise MappingError(
                f'File {file}, column "{column}": no value parses as a date with date_format "{explicit}" '
                f'(e.g. "{others[0].as_py()}"). Fix options.date_format in the mapping.'
            )
        return layout
    if len(others) == 0:
        return ISO_ONLY
    parsed = {name: _parse_local(others, DateLayout(formats, name)) for name, formats in FAMILIES.items()}
    scores = {name: len(others) - p.null_count for name, p in parsed.items()}
    best = max(scores.values())
    if best == 0:
        if len(others) < len(values):
            return ISO_ONLY  # mostly ISO: the odd values are rejected row by row
        raise MappingError(
            f'File {file}, column "{column}": "{others[0].as_py()}" is not a date SalesPilot can read '
            "(expected ISO 2017-03-14, 14/03/2017, 03/14/2017, with an optional time). "
            'Set options.date_format in a mapping file, e.g. date_format: "%d %b %Y".'
        )
    winners = [name for name, score in scores.items() if score == best]
    if len(winners) > 1:
        first, second = parsed[winners[0]], parsed[winners[1]]
        only_first = pc.filter(others, pc.and_(pc.is_valid(first), pc.is_null(second)))
        only_second = pc.filter(others, pc.and_(pc.is_null(first), pc.is_valid(second)))
        if len(only_first) and len(only_second):
            raise MappingError(
                f'File {file}, column "{column}" mixes day-first and month-first dates (e.g. '
                f'"{only_first[0].as_py()}" and "{only_second[0].as_py()}"). Make them consistent in the file.'
            )
        timed = pc.any(pc.match_substring(others, ":")).as_py()
        sep = winners[0][3]
        hint = f"%d{sep}%m{sep}%Y" if not timed else f"%d{sep}%m{sep}%Y %H:%M"
        alt = f"%m{sep}%d{sep}%Y" if not timed else f"%m{sep}%d{sep}%Y %H:%M"
        raise MappingError(
            f'File {file}, column "{column}": dates such as "{others[0].as_py()}" can be read day-first or '
            f"month-first and all {len(others):,} distinct values fit both. Say which with options.date_format "
            f'in a mapping file ("{hint}" or "{alt}"; a time part is optional either way).'
        )
    name = winners[0]
    return DateLayout(FAMILIES[name], f"{EXAMPLE[name[:3]].replace('/', name[3])} (day/month order as in the file)")


def parse_timestamp(values: pa.Array, layout: DateLayout, timezone: str) -> pa.Array:
    """Timestamps in UTC (naive). Values without an offset are local times in ``timezone``."""
    values = trim(values)
    naive_mask = pc.fill_null(pc.match_substring_regex(values, ISO_NAIVE), False)
    offset_mask = pc.fill_null(pc.match_substring_regex(values, ISO_OFFSET), False)
    null_str = pa.nulls(len(values), pa.string())
    local = _cast_iso(pc.if_else(naive_mask, values, null_str), aware=False)
    if layout.formats:
        other = pc.if_else(pc.or_(naive_mask, offset_mask), null_str, values)
        local = pc.coalesce(local, _parse_local(other, layout))
    if timezone not in ("UTC", "Etc/UTC"):
        # A local time skipped by a daylight-saving change (02:30 on the spring day) is read as
        # the first valid instant after it; a repeated one (autumn) as its first occurrence.
        local = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="latest")
        local = pc.cast(local, pa.timestamp("us"))
    aware = _cast_iso(pc.if_else(offset_mask, values, null_str), aware=True)
    return pc.coalesce(local, aware)


def parse_date(values: pa.Array, layout: DateLayout) -> pa.Array:
    """Calendar dates; a time part is dropped, an offset ignored (the date as written)."""
    values = pc.replace_substring_regex(trim(values), r"(?:Z|[+-]\d{2}:?\d{2})$", "")
    naive_mask = pc.fill_null(pc.match_substring_regex(values, ISO_NAIVE), False)
    null_str = pa.nulls(len(values), pa.string())
    parsed = _cast_iso(pc.if_else(naive_mask, values, null_str), aware=False)
    if layout.formats:
        parsed = pc.coalesce(parsed, _parse_local(pc.if_else(naive_mask, null_str, values), layout))
    return pc.cast(pc.cast(parsed, pa.timestamp("us")), pa.date32())


def parse_float(values: pa.Array, decimal: str, thousands: str | None) -> pa.Array:
    """Numbers with the file's decimal mark; a thousands separator only between groups of three.

    Spaces, including the no-break spaces spreadsheets write between thousands, are dropped.
    With a decimal comma, a point is not a decimal mark: "1.234" is rejected rather than guessed.
    """
    values = pc.replace_substring_regex(trim(values), r"[\s\x{00A0}\x{202F}]+", "")
    sep = thousands if thousands is not None and thousands.strip() else None
    dec = re.escape(decimal)
    exponent = r"(?:[eE][+-]?\d+)?"
    if sep is not None:
        grouped = rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+"
        pattern = rf"^[+-]?(?:(?:{grouped}|\d+)(?:{dec}\d*)?|{dec}\d+){exponent}$"
    else:
        pattern = rf"^[+-]?(?:\d+(?:{dec}\d*)?|{dec}\d+){exponent}$"
    ok = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    clean = pc.if_else(ok, values, pa.nulls(len(values), pa.string()))
    if sep is not None:
        clean = pc.replace_substring(clean, sep, "")
    if decimal == ",":
        clean = pc.replace_substring(clean, ",", ".")
    numbers = pc.cast(clean, pa.float64())
    return pc.if_else(pc.fill_null(pc.is_finite(numbers), False), numbers, pa.nulls(len(numbers), pa.float64()))


def parse_integer(values: pa.Array, decimal: str, thousands: str | None) -> pa.Array:
    floats = parse_float(values, decimal, thousands)
    integral = pc.and_(pc.equal(pc.floor(floats), floats), pc.less(pc.abs(floats), 2.0**53))
    return pc.cast(pc.if_else(integral, floats, pa.nulls(len(floats), pa.float64())), pa.int64())


def parse_period(values: pa.Array) -> pa.Array:
    values = pc.utf8_upper(trim(values))
    ok = pc.fill_null(pc.match_substring_regex(values, PERIOD), False)
    return pc.if_else(ok, values, pa.nulls(len(values), pa.string()))


def normalize_token(values: pa.Array) -> pa.Array:
    """'Closed Won ' -> 'closed_won': how enum values and value maps compare."""
    lowered = pc.utf8_lower(trim(values))
    return pc.replace_substring_regex(lowered, r"[\s\-]+", "_")


# -- internals -------------------------------------------------------------------------------


def _cast_iso(values: pa.Array, aware: bool) -> pa.Array:
    target = pa.timestamp("us", tz="UTC") if aware else pa.timestamp("us")
    try:
        result = pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        result = pa.array([_py_iso(v, aware) for v in values.to_pylist()], target)
    return pc.cast(result, pa.timestamp("us")) if aware else result


def _py_iso(text: str | None, aware: bool) -> dt.datetime | None:
    if text is None:
        return None
    candidate = text.replace(" ", "T", 1)
    if re.search(r"[+-]\d{4}$", candidate):
        candidate = candidate[:-2] + ":" + candidate[-2:]
    try:
        value = dt.datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if aware and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def _parse_local(values: pa.Array, layout: DateLayout) -> pa.Array:
    """Parse with the layout's formats; a value counts only if it writes back the same."""
    result = pa.nulls(len(values), pa.timestamp("us"))
    for fmt in layout.formats:
        parsed = pc.strptime(values, format=fmt, unit="us", error_is_null=True)
        written = pc.strftime(pc.cast(parsed, pa.timestamp("s"), safe=False), format=fmt)
        exact = pc.fill_null(pc.equal(written, values), False)
        result = pc.coalesce(result, pc.if_else(exact, parsed, pa.nulls(len(values), pa.timestamp("us"))))
    leftover = pc.and_(pc.is_valid(values), pc.is_null(result))
    if layout.formats and pc.any(leftover).as_py():
        # Non-padded values ("1/2/2017") and impossible dates: Python decides, one by one.
        texts = pc.filter(values, leftover).to_pylist()
        fixed = pa.array([_py_strptime(t, layout.formats) for t in texts], pa.timestamp("us"))
        result = pc.replace_with_mask(result, leftover, fixed)
    return result


def _py_strptime(text: str | None, formats: tuple[str, ...]) -> dt.datetime | None:
    if text is None:
        return None
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
