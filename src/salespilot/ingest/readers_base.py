"""Shared pieces of the file readers: options, batches, issues, header and value helpers.

Everything here turns file content into text; nothing knows a database. The public names are
re-exported by :mod:`salespilot.ingest.readers`, which is where callers import them from.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file; every field left at its default is detected from the file."""

    format: str | None = None  # "csv" | "xlsx" | "parquet" | "json" | "ndjson"
    delimiter: str | None = None  # csv: None = sniffed
    encoding: str | None = None  # csv/json: None = sniffed
    sheet: str | int | None = None  # xlsx: sheet name or 0-based index; None = first sheet
    skip_rows: int = 0  # lines (rows) to skip before the header
    batch_rows: int = 262_144  # soft target for batch size


@dataclass(frozen=True)
class RowIssue:
    """A row that cannot be read at all (for example a CSV row with the wrong field count)."""

    row: int  # the row number as a user sees it
    reason: str  # e.g. "has 5 fields, expected 8 (the header's)"
    text: str | None  # the raw text of the row if known (truncated to 200 chars)


@dataclass
class RawBatch:
    """Records of a file as text: one ``pa.string()`` column per source column.

    ``rows`` holds, for each record, its row number as the user sees it: the spreadsheet row
    for CSV and XLSX, the 1-based position of the record (the line for NDJSON) otherwise.
    Empty and whitespace-only values are null; every other value is kept exactly as read.
    """

    table: pa.Table
    rows: pa.Array


def clip(text: str, limit: int = 200) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unique_names(raw: Sequence[str]) -> list[str]:
    """Header names stripped; empty ones named ``column_N``; duplicates made unique.

    Names are compared without regard to case (databases mostly do), so ``Email, email``
    becomes ``Email, email_2``. A suffix never collides with a name present in the header.
    """
    names = [(str(name).replace("\ufeff", "").strip() or f"column_{i}") for i, name in enumerate(raw, 1)]
    taken = {name.lower() for name in names}
    seen: set[str] = set()
    result: list[str] = []
    for name in names:
        key = name.lower()
        if key in seen:
            n = 2
            while f"{key}_{n}" in taken or f"{key}_{n}" in seen:
                n += 1
            name, key = f"{name}_{n}", f"{key}_{n}"
        seen.add(key)
        result.append(name)
    return result


def null_blanks(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as text, with empty and whitespace-only values made null.

    Whitespace is Unicode whitespace, the same set as Python's ``str.isspace``. Works on the
    whole chunked column at once (few calls, whatever the number of chunks) and reuses the
    value buffers, only attaching a validity bitmap, whenever it can.
    """
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    if chunked.type != pa.string():
        chunked = chunked.cast(pa.string())
    if len(chunked) == 0:
        return chunked
    blank = pc.or_(pc.equal(pc.binary_length(chunked), 0), pc.utf8_is_space(chunked))
    if blank.null_count:
        blank = pc.fill_null(blank, False)
    if not pc.any(blank).as_py():
        return chunked
    valid = pc.invert(blank)
    if [len(c) for c in valid.chunks] != [len(c) for c in chunked.chunks]:
        return pc.if_else(valid, chunked, pa.scalar(None, pa.string()))
    return pa.chunked_array([_with_validity(c, v) for c, v in zip(chunked.chunks, valid.chunks, strict=True)])


def _with_validity(chunk: pa.Array, valid: pa.Array) -> pa.Array:
    if chunk.null_count == 0 and chunk.offset == 0 and valid.offset == 0:
        _, offsets, data = chunk.buffers()
        return pa.Array.from_buffers(pa.string(), len(chunk), [valid.buffers()[1], offsets, data])
    return pc.if_else(valid, chunk, pa.scalar(None, pa.string()))


def make_batch(
    columns: Sequence[pa.Array | pa.ChunkedArray],
    names: Sequence[str],
    rows: pa.Array,
    *,
    drop_empty_records: bool,
) -> RawBatch | None:
    """Build a RawBatch: blanks made null; records with no value dropped when asked.

    Returns None when no record is left.
    """
    chunked = [null_blanks(c) for c in columns]
    table = pa.Table.from_arrays(chunked, names=list(names))
    if drop_empty_records and chunked and table.num_rows and all(c.null_count for c in chunked):
        empty = pc.is_null(chunked[0])
        for column in chunked[1:]:
            empty = pc.and_(empty, pc.is_null(column))
        if pc.any(empty).as_py():
            keep = pc.invert(empty)
            table = table.filter(keep)
            rows = rows.filter(keep.combine_chunks())
    if table.num_rows == 0:
        return None
    return RawBatch(table=table, rows=rows)


def row_numbers(first: int, count: int) -> pa.Array:
    """Consecutive row numbers ``first, first + 1, ...`` as an int64 array."""
    return pa.array(np.arange(first, first + count, dtype=np.int64))


def cell_text(value: object) -> str | None:
    """Text of a Python value read from a spreadsheet or JSON document.

    Integral floats print without ``.0``; bools as ``true``/``false``; a datetime at
    midnight as its date; nested values as JSON.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return _datetime_text(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _timedelta_text(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=cell_text)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    return str(value)


def _datetime_text(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    elif value.time() == dt.time(0, 0):
        return value.date().isoformat()
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")


def _timedelta_text(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    seconds = abs(value.total_seconds())
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


class CountingReader(io.RawIOBase):
    """A read-only binary stream over an open file that counts the bytes handed out."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        self.count += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data


class ProgressReporter:
    """Calls ``progress`` with bytes consumed, never going backwards nor past the file size."""

    def __init__(self, progress: Progress | None, size: int) -> None:
        self._progress = progress
        self._size = size
        self._last = 0

    def __call__(self, consumed: int) -> None:
        if self._progress is None:
            return
        self._last = max(self._last, min(consumed, self._size))
        self._progress(self._last)

    def done(self) -> None:
        self(self._size)
