"""Turn a file into batches of text records: ``open_source(path, options).batches()``.

Reading is separate from loading: a reader knows files, not databases. Every value comes out
as text (or null for an empty or whitespace-only value), with the row number a user would
look for in the file. Rows that cannot be read at all are listed in ``Source.issues`` while
``batches()`` runs; nothing else is dropped, except records with no value at all in CSV and
XLSX files (blank lines, empty spreadsheet rows), which are not data. Their row numbers are
still counted, so later rows keep the numbers a spreadsheet shows.

Formats: CSV (delimiter and encoding sniffed), XLSX, Parquet, JSON (an array of objects),
NDJSON (one object per line). See ``ReadOptions`` for what can be forced.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from salespilot.errors import FileFormatError, ParameterError
from salespilot.ingest.readers_base import ProgressReporter, RawBatch, ReadOptions, RowIssue
from salespilot.ingest.readers_csv import CsvLayout, inspect_csv, read_csv_batches
from salespilot.ingest.readers_json import JsonLayout, inspect_json, read_json_batches
from salespilot.ingest.readers_parquet import parquet_columns, read_parquet_batches
from salespilot.ingest.readers_xlsx import XlsxLayout, inspect_xlsx, read_xlsx_batches
from salespilot.ingest.sniff import detect_format, read_head

__all__ = ["RawBatch", "ReadOptions", "RowIssue", "Source", "open_source"]

Layout = CsvLayout | XlsxLayout | JsonLayout | None


class Source:
    """A file ready to be read: what was detected about it, and its batches.

    ``batches()`` can be called more than once; each call reads the file again from the start
    and refills ``issues``.
    """

    def __init__(
        self,
        path: Path,
        format: str,
        columns: list[str],
        size_bytes: int,
        options: ReadOptions,
        layout: Layout,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.encoding = encoding
        self.delimiter = delimiter
        self.columns = columns
        self.size_bytes = size_bytes
        self.issues: list[RowIssue] = []
        self._options = options
        self._layout = layout

    def __repr__(self) -> str:
        return (
            f"Source(path={str(self.path)!r}, format={self.format!r}, encoding={self.encoding!r}, "
            f"delimiter={self.delimiter!r}, columns={self.columns!r})"
        )

    def batches(self, progress: Callable[[int], None] | None = None) -> Iterator[RawBatch]:
        """Yield the records in batches of about ``batch_rows`` (never an empty batch).

        ``progress(bytes_consumed_so_far)`` is called at least once per batch and, at the end,
        with ``size_bytes``.
        """
        self.issues = []
        report = ProgressReporter(progress, self.size_bytes)
        layout, options = self._layout, self._options
        if isinstance(layout, CsvLayout):
            return read_csv_batches(self.path, self.size_bytes, layout, options, report, self.issues)
        if isinstance(layout, XlsxLayout):
            return read_xlsx_batches(self.path, self.size_bytes, layout, options, report, self.issues)
        if isinstance(layout, JsonLayout):
            return read_json_batches(self.path, self.size_bytes, layout, options, report, self.issues)
        return read_parquet_batches(self.path, self.size_bytes, self.columns, options, report)


DEFAULT_OPTIONS = ReadOptions()


def open_source(path: str | os.PathLike[str], options: ReadOptions = DEFAULT_OPTIONS) -> Source:
    """Detect what ``path`` holds and return a Source to read it.

    Raises FileFormatError (the file is missing, empty, binary, of an unknown or wrong
    format, badly encoded...) or ParameterError (an option value is impossible).
    """
    file = Path(path)
    _check_options(options)
    try:
        if not file.exists():
            raise FileFormatError(f'"{file}" does not exist. Check the path and the current directory.')
        if not file.is_file():
            raise FileFormatError(f'"{file}" is not a file (it is a directory or a device).')
        size = file.stat().st_size
        head = read_head(file)
        fmt = detect_format(file, options.format, head)
        if size == 0:
            raise FileFormatError(f'"{file}" is empty (0 bytes); expected a {fmt.upper()} file.')
        if fmt == "csv":
            csv_layout = inspect_csv(file, head, options)
            return Source(
                file, "csv", csv_layout.columns, size, options, csv_layout, csv_layout.encoding, csv_layout.delimiter
            )
        if fmt == "xlsx":
            xlsx_layout = inspect_xlsx(file, options)
            return Source(file, "xlsx", xlsx_layout.columns, size, options, xlsx_layout)
        if fmt == "parquet":
            return Source(file, "parquet", parquet_columns(file), size, options, None)
        json_layout = inspect_json(file, head, options, fmt)
        return Source(file, json_layout.format, json_layout.columns, size, options, json_layout, json_layout.encoding)
    except PermissionError:
        raise FileFormatError(f'"{file}" cannot be read: permission denied.') from None
    except IsADirectoryError:
        raise FileFormatError(f'"{file}" is a directory, not a file.') from None


def _check_options(options: ReadOptions) -> None:
    if options.skip_rows < 0:
        raise ParameterError(f"skip_rows must be 0 or more, not {options.skip_rows}.")
    if options.batch_rows < 1:
        raise ParameterError(f"batch_rows must be 1 or more, not {options.batch_rows}.")
    if isinstance(options.sheet, int) and options.sheet < 0:
        raise ParameterError(f"sheet must be a name or an index from 0, not {options.sheet}.")
