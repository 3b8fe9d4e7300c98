"""XLSX reading with openpyxl in read-only mode: cells become text, rows keep their numbers."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from salespilot.errors import FileFormatError, did_you_mean
from salespilot.ingest.readers_base import (
    ProgressReporter,
    RawBatch,
    ReadOptions,
    RowIssue,
    cell_text,
    make_batch,
    unique_names,
)


@dataclass(frozen=True)
class XlsxLayout:
    sheet: str
    columns: list[str]
    header_row: int  # row number of the header in the sheet
    row_estimate: int | None  # last row according to the sheet's recorded dimension


def _open_workbook(path: Path) -> Any:
    try:
        with warnings.catch_warnings():  # openpyxl warns about styles and extensions it skips
            warnings.simplefilter("ignore", UserWarning)
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except InvalidFileException as e:
        raise FileFormatError(f'"{path}" cannot be read as an XLSX workbook: {e}') from None
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as e:
        raise FileFormatError(
            f'"{path}" is not a valid XLSX workbook ({type(e).__name__}: {e}). '
            "Open it in a spreadsheet program and save it as .xlsx, or export it as CSV."
        ) from None


def _sheet_name(workbook: Any, path: Path, sheet: str | int | None) -> str:
    names: list[str] = list(workbook.sheetnames)
    listing = ", ".join(f'"{n}"' for n in names)
    if sheet is None:
        worksheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        if not worksheets:
            raise FileFormatError(f'"{path}" has no worksheet with cells (its sheets: {listing}).')
        return str(worksheets[0].title)
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return names[sheet]
        raise FileFormatError(
            f'"{path}" has no sheet number {sheet} (counting from 0); it has {len(names)} sheet(s): {listing}.'
        )
    if sheet in names:
        return sheet
    folded = {n.strip().casefold(): n for n in names}
    if sheet.strip().casefold() in folded:
        return folded[sheet.strip().casefold()]
    if sheet.strip().isdigit() and int(sheet) < len(names):
        return names[int(sheet)]
    raise FileFormatError(f'"{path}" has no sheet "{sheet}". Its sheets are: {listing}.{did_you_mean(sheet, names)}')


def _rows(workbook: Any, path: Path, name: str) -> tuple[Any, int | None]:
    worksheet = workbook[name]
    if not hasattr(worksheet, "iter_rows"):
        raise FileFormatError(f'"{path}": sheet "{name}" is a chart sheet, it has no cells to read.')
    estimate = worksheet.max_row
    worksheet.reset_dimensions()  # recorded dimensions are often wrong; read what is there
    return worksheet.iter_rows(values_only=True), estimate


def inspect_xlsx(path: Path, options: ReadOptions) -> XlsxLayout:
    """Choose the sheet and find its header: the first non-empty row after ``skip_rows``."""
    workbook = _open_workbook(path)
    try:
        name = _sheet_name(workbook, path, options.sheet)
        rows, estimate = _rows(workbook, path, name)
        for number, values in enumerate(rows, 1):
            if number <= options.skip_rows:
                continue
            texts = [(cell_text(v) or "").strip() for v in values]
            filled = [i for i, t in enumerate(texts) if t]
            if filled:
                rows.close()
                header = texts[: filled[-1] + 1]
                return XlsxLayout(name, unique_names(header), number, estimate)
        rows.close()
    finally:
        workbook.close()
    skipped = f" after the {options.skip_rows} skipped row(s)" if options.skip_rows else ""
    raise FileFormatError(f'"{path}": sheet "{name}" is empty{skipped}; expected a header row and data rows.')


def read_xlsx_batches(
    path: Path, size: int, layout: XlsxLayout, options: ReadOptions, report: ProgressReporter, issues: list[RowIssue]
) -> Iterator[RawBatch]:
    width = len(layout.columns)
    workbook = _open_workbook(path)
    rows: Any = iter(())
    try:
        rows, _ = _rows(workbook, path, layout.sheet)
        records: list[list[str | None]] = []
        numbers: list[int] = []
        number = 0
        for number, values in enumerate(rows, 1):
            if number <= layout.header_row:
                continue
            texts = [cell_text(v) for v in values]
            if len(texts) > width:
                extra = [i for i in range(width, len(texts)) if (texts[i] or "").strip()]
                if extra:
                    issues.append(_past_header_issue(number, texts, extra[0], width))
                    continue
                del texts[width:]
            elif len(texts) < width:
                texts.extend([None] * (width - len(texts)))
            records.append(texts)
            numbers.append(number)
            if len(records) >= options.batch_rows:
                batch = _batch(records, numbers, layout.columns)
                records, numbers = [], []
                if batch is not None:
                    report(size * number // max(layout.row_estimate or 0, number + 1))
                    yield batch
        if records:
            batch = _batch(records, numbers, layout.columns)
            if batch is not None:
                report(size * number // max(layout.row_estimate or 0, number + 1))
                yield batch
    except (zipfile.BadZipFile, OSError, SyntaxError, IndexError, KeyError) as e:
        raise FileFormatError(f'"{path}": sheet "{layout.sheet}" cannot be read ({type(e).__name__}: {e}).') from None
    finally:
        if hasattr(rows, "close"):
            rows.close()
        workbook.close()
    report.done()


def _past_header_issue(number: int, texts: list[str | None], index: int, width: int) -> RowIssue:
    value = texts[index] or ""
    return RowIssue(
        row=number,
        reason=(
            f"has a value in column {get_column_letter(index + 1)} ({value[:40]!r}), right of the "
            f"last header column {get_column_letter(width)}"
        ),
        text=None,
    )


def _batch(records: list[list[str | None]], numbers: list[int], names: list[str]) -> RawBatch | None:
    columns = [pa.array(values, type=pa.string()) for values in zip(*records, strict=True)]
    return make_batch(columns, names, pa.array(numbers, type=pa.int64()), drop_empty_records=True)
