"""CSV reading: layout sniffing, a fast pyarrow path and a careful csv-module path.

The fast path streams the file through ``pyarrow.csv.open_csv`` with threads. pyarrow cannot
tell which row was malformed when it uses threads, so the first malformed row (or any parse
error) stops the fast path; the careful path, with Python's csv module and exact record
numbers, takes over from the first record not yet emitted, records a RowIssue per unreadable
row and reads the rest. Both paths give identical batches for the same records.

Leniencies, none losing a value: an Excel ``sep=;`` first line sets the delimiter (it is not
a row); extra fields that are all empty (trailing delimiters) are ignored; blank lines are
not records but keep their row numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from salespilot.errors import FileFormatError, ParameterError
from salespilot.ingest.readers_base import (
    CountingReader,
    ProgressReporter,
    RawBatch,
    ReadOptions,
    RowIssue,
    clip,
    make_batch,
    row_numbers,
    unique_names,
)
from salespilot.ingest.sniff import (
    UTF8_BOM,
    describe_delimiter,
    ensure_text_file,
    sniff_delimiter,
    sniff_encoding,
    split_lines,
)

SAMPLE_BYTES = 64 * 1024
MAX_SAMPLE_BYTES = 64 * 1024 * 1024
MIN_BLOCK = 2 << 20  # small blocks keep the parser threads and the consumer busy together
MAX_BLOCK = 64 << 20
PREFETCH = 4  # parsed blocks waiting for the consumer, at most
UNCLOSED_QUOTE = 'opens a quote (") that is never closed, so the rest of the file fell into this row'
_EXCEL_SEP = re.compile(r"sep=([^\r\n\"])\r?\n?$", re.IGNORECASE)
_DELIMITER_ALIASES = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


@dataclass(frozen=True)
class CsvLayout:
    """Where the records of a CSV file start and how they are written."""

    encoding: str  # as reported: "utf-8", "utf-8-sig", "cp1252", "latin-1", ...
    codec: str  # Python codec for the bytes after the byte-order mark
    delimiter: str
    columns: list[str]
    data_offset: int  # byte offset of the first record after the header
    header_row: int  # row number of the header as a spreadsheet shows it
    block_size: int  # pyarrow block size


def inspect_csv(path: Path, head: bytes, options: ReadOptions) -> CsvLayout:
    """Sniff encoding, delimiter and header of a CSV file (raises FileFormatError)."""
    ensure_text_file(path, head, "CSV")
    encoding = sniff_encoding(path, head, options.encoding)
    start = len(UTF8_BOM) if encoding == "utf-8-sig" and head.startswith(UTF8_BOM) else 0
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    sample, _, complete = _read_sample(path, start, codec, options.skip_rows + 100)
    lines = split_lines(sample)
    if not complete:
        lines.pop()  # may be cut short
    excel_sep = _EXCEL_SEP.match(lines[0]) if lines else None
    if excel_sep:  # Excel's "sep=;" line: not a row, it names the delimiter
        start += len(lines.pop(0).encode(codec))
    if len(lines) <= options.skip_rows:
        raise FileFormatError(
            f'"{path}" has {len(lines)} line(s); after skipping {options.skip_rows} there is no '
            "header row left. Lower the number of rows to skip."
        )
    before = lines[: options.skip_rows]
    rest = lines[options.skip_rows :]
    while rest and not rest[0].strip():
        before.append(rest.pop(0))
    if not rest:
        raise FileFormatError(f'"{path}" has no header row: every line after the skipped ones is blank.')
    delimiter = (
        _delimiter(options.delimiter)
        or (excel_sep.group(1) if excel_sep else None)
        or sniff_delimiter("".join(rest), complete)
    )
    reader = csv.reader(iter(rest), delimiter=delimiter, quotechar='"', strict=False)
    header = next(reader)
    consumed = before + rest[: reader.line_num]
    data_offset = start + len("".join(consumed).encode(codec))
    longest = max(len(line) for line in lines) * 4  # room for the widest record seen, in bytes
    return CsvLayout(
        encoding=encoding,
        codec=codec,
        delimiter=delimiter,
        columns=unique_names(header),
        data_offset=data_offset,
        header_row=len(before) + 1,
        block_size=min(MAX_BLOCK, max(MIN_BLOCK, 8 * longest)),
    )


def _delimiter(requested: str | None) -> str | None:
    if requested is None:
        return None
    delimiter = _DELIMITER_ALIASES.get(requested.lower(), requested)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ParameterError(
            f"Invalid delimiter {requested!r}: give one character other than a quote or a newline "
            '(for example ",", ";", "|" or "tab").'
        )
    return delimiter


def _read_sample(path: Path, start: int, codec: str, want_lines: int) -> tuple[str, int, bool]:
    """Decoded text from ``start``: at least SAMPLE_BYTES and ``want_lines`` lines, or all of it."""
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    parts: list[str] = []
    total = 0
    newlines = 0
    with path.open("rb") as f:
        f.seek(start)
        while total < MAX_SAMPLE_BYTES:
            chunk = f.read(SAMPLE_BYTES)
            if not chunk:
                parts.append(decoder.decode(b"", final=True))
                return "".join(parts), total, True
            total += len(chunk)
            newlines += chunk.count(b"\n") + chunk.count(b"\r")
            parts.append(decoder.decode(chunk))
            if newlines > want_lines:
                break
    return "".join(parts), total, False


@dataclass
class _FastOutcome:
    emitted: int = 0  # records (blank ones included) handed out in batches
    failed: bool = False


def read_csv_batches(
    path: Path, size: int, layout: CsvLayout, options: ReadOptions, report: ProgressReporter, issues: list[RowIssue]
) -> Iterator[RawBatch]:
    """Batches of the records of a CSV file; unreadable rows go to ``issues``."""
    outcome = _FastOutcome()
    yield from _fast_batches(path, layout, options, report, outcome)
    if outcome.failed:
        yield from _careful_batches(path, layout, options, report, issues, outcome.emitted)
    report.done()


def _fast_batches(
    path: Path, layout: CsvLayout, options: ReadOptions, report: ProgressReporter, outcome: _FastOutcome
) -> Iterator[RawBatch]:
    names = layout.columns
    malformed = False

    def on_invalid_row(row: object) -> str:
        nonlocal malformed
        malformed = True
        return "skip"

    read_options = pacsv.ReadOptions(
        use_threads=True,
        block_size=layout.block_size,
        column_names=names,
        encoding="utf8" if layout.codec == "utf-8" else layout.codec,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=layout.delimiter,
        quote_char='"',
        double_quote=True,
        escape_char=False,
        newlines_in_values=True,
        ignore_empty_lines=False,
        invalid_row_handler=on_invalid_row,
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=layout.codec != "utf-8",  # UTF-8 was validated over the whole file
    )
    first_row = layout.header_row + 1
    with path.open("rb") as raw:
        raw.seek(layout.data_offset)
        counter = CountingReader(raw)
        reader = _Prefetch(
            lambda: pacsv.open_csv(counter, read_options, parse_options, convert_options), lambda: malformed
        )
        try:
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            while True:
                item = reader.get()
                if item is _FAILED:
                    outcome.failed = True
                    return
                batch = item if isinstance(item, pa.RecordBatch) else None
                if batch is not None:
                    pending.append(batch)
                    pending_rows += batch.num_rows
                if batch is None and pending_rows and _ends_in_open_quote(path, layout.codec, pending):
                    outcome.failed = True  # the careful path reports the row
                    return
                # one record stays pending until the end, for the open-quote check above
                while pending_rows and (pending_rows > options.batch_rows or batch is None):
                    table = pa.Table.from_batches(pending, schema=pending[0].schema)
                    take = min(options.batch_rows, pending_rows)
                    out = make_batch(
                        table.slice(0, take).columns,
                        names,
                        row_numbers(first_row + outcome.emitted, take),
                        drop_empty_records=True,
                    )
                    outcome.emitted += take
                    pending = table.slice(take).to_batches()
                    pending_rows -= take
                    if out is not None:
                        report(counter.count)
                        yield out
                if batch is None:
                    return
        finally:
            reader.close()


def _unclosed_quote(raw: str, record: list[str]) -> bool:
    """A record that ends with the file inside a quoted, multi-line last field."""
    last = record[-1] if record else ""
    return ("\n" in last or "\r" in last) and raw.endswith('"' + last)


def _ends_in_open_quote(path: Path, codec: str, batches: list[pa.RecordBatch]) -> bool:
    """The same test as ``_unclosed_quote`` on the last record pyarrow read (it accepts a
    quote left open at the end of the file without a word)."""
    last = next(b for b in reversed(batches) if b.num_rows)
    value = last.column(last.num_columns - 1)[last.num_rows - 1].as_py()
    if not value or ("\n" not in value and "\r" not in value):
        return False
    tail = b'"' + value.encode(codec)
    with path.open("rb") as f:
        size = f.seek(0, io.SEEK_END)
        if size < len(tail):
            return False
        f.seek(size - len(tail))
        return bool(f.read() == tail)


_FAILED = object()
_END = object()


class _Prefetch:
    """Runs a pyarrow CSV reader in a thread, a few blocks ahead of the consumer.

    ``get()`` returns a RecordBatch, ``_END``, or ``_FAILED`` as soon as a malformed row or a
    parse error is met: the batch in which it happened is never handed out.
    """

    def __init__(self, open_reader: Callable[[], Iterable[pa.RecordBatch]], malformed: Callable[[], bool]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=PREFETCH)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(open_reader, malformed), name="salespilot-csv", daemon=True
        )
        self._thread.start()

    def _run(self, open_reader: Callable[[], Iterable[pa.RecordBatch]], malformed: Callable[[], bool]) -> None:
        try:
            for batch in open_reader():
                if malformed():  # pyarrow calls the row handler before it hands out the block
                    break
                if not self._put(batch):
                    return
            self._put(_FAILED if malformed() else _END)
        except pa.ArrowException:
            self._put(_FAILED)
        except BaseException as e:  # handed to the consumer, raised there
            self._put(e)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> object:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _careful_batches(
    path: Path,
    layout: CsvLayout,
    options: ReadOptions,
    report: ProgressReporter,
    issues: list[RowIssue],
    skip: int,
) -> Iterator[RawBatch]:
    names = layout.columns
    width = len(names)
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))
    with path.open("rb") as raw:
        raw.seek(layout.data_offset)
        counter = CountingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(counter), encoding=layout.codec, newline="")
        consumed: list[str] = []
        exhausted = False

        def lines() -> Iterator[str]:
            nonlocal exhausted
            for line in text:
                consumed.append(line)
                yield line
            exhausted = True  # only seen by a record still open at the end of the file

        reader = csv.reader(lines(), delimiter=layout.delimiter, quotechar='"', doublequote=True, strict=False)
        row = layout.header_row
        records: list[list[str]] = []
        rows: list[int] = []
        while True:
            try:
                record = next(reader, None)
            except csv.Error as e:
                raise FileFormatError(f'"{path}" cannot be read as CSV near row {row + 1}: {e}.') from None
            if record is not None:
                row += 1
                if skip:
                    skip -= 1
                elif exhausted and _unclosed_quote("".join(consumed), record):
                    issues.append(RowIssue(row=row, reason=UNCLOSED_QUOTE, text=clip("".join(consumed))))
                elif len(record) == width:
                    records.append(record)
                    rows.append(row)
                elif len(record) > width and not "".join(record[width:]).strip():
                    records.append(record[:width])  # trailing delimiters: nothing is lost
                    rows.append(row)
                elif record and not (len(record) == 1 and (not record[0] or record[0].isspace())):
                    reason = f"has {len(record)} field(s), expected {width} (the header's)"
                    if width > 1 and len(record) == 1:
                        reason += f"; is the delimiter really {describe_delimiter(layout.delimiter)}?"
                    issues.append(RowIssue(row=row, reason=reason, text=clip("".join(consumed).rstrip("\r\n"))))
                consumed.clear()
            if records and (len(records) >= options.batch_rows or record is None):
                columns = [pa.array(values, type=pa.string()) for values in zip(*records, strict=True)]
                out = make_batch(columns, names, pa.array(rows, type=pa.int64()), drop_empty_records=True)
                records, rows = [], []
                if out is not None:
                    report(counter.count)
                    yield out
            if record is None:
                return
