"""JSON (an array of objects) and NDJSON (one object per line) reading."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from salespilot.errors import FileFormatError
from salespilot.ingest.readers_base import (
    ProgressReporter,
    RawBatch,
    ReadOptions,
    RowIssue,
    cell_text,
    clip,
    make_batch,
    unique_names,
)
from salespilot.ingest.sniff import ensure_text_file, sniff_encoding

_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _kind(value: object) -> str:
    return "null" if value is None else _KINDS.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class JsonLayout:
    format: str  # "json" or "ndjson" (a .json file holding one object per line)
    encoding: str
    keys: list[str]  # raw keys, in order of first appearance
    columns: list[str]  # the keys made unique
    records: list[Any] | None  # the parsed array (json only)


def _codec(encoding: str) -> str:
    return "utf-8" if encoding == "utf-8-sig" else encoding


def inspect_json(path: Path, head: bytes, options: ReadOptions, fmt: str) -> JsonLayout:
    """Parse a JSON array (kept in memory) or scan an NDJSON file for its keys."""
    ensure_text_file(path, head, "JSON" if fmt == "json" else "NDJSON")
    encoding = sniff_encoding(path, head, options.encoding)
    if fmt == "ndjson" or _looks_like_ndjson(path, encoding):
        return _inspect_ndjson(path, encoding)
    text = path.read_bytes().decode(encoding).lstrip("\ufeff")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise FileFormatError(
            f'"{path}" is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno} '
            f"(character {e.pos}). Expected an array of objects."
        ) from None
    if not isinstance(document, list):
        hint = ""
        if isinstance(document, dict):
            lists = [k for k, v in document.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
            if lists:
                hint = f' The records seem to be under the key "{lists[0]}": extract that array.'
        raise FileFormatError(
            f'"{path}" holds a JSON {_kind(document)}, not an array of objects '
            f'([{{"id": 1, ...}}, ...]) nor NDJSON (one object per line).{hint}'
        )
    if document and not any(isinstance(r, dict) for r in document):
        raise FileFormatError(
            f'"{path}" holds an array of {_kind(document[0])}s, not of objects; expected '
            '[{"column": value, ...}, ...].'
        )
    keys = list(dict.fromkeys(k for r in document if isinstance(r, dict) for k in r))
    return JsonLayout("json", encoding, keys, unique_names(keys), document)


def _looks_like_ndjson(path: Path, encoding: str) -> bool:
    """A .json file whose first line is a whole object and that has more after it."""
    with path.open("rb") as f:
        first = f.readline().decode(_codec(encoding), errors="replace").lstrip("\ufeff").strip()
        if not first.startswith("{"):
            return False
        try:
            if not isinstance(json.loads(first), dict):
                return False
        except json.JSONDecodeError:
            return False
        while line := f.readline():
            if line.strip():
                return True
    return False


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, int, str]]:
    """(line number, bytes consumed, text) of each non-blank line."""
    codec = _codec(encoding)
    consumed = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            consumed += len(raw)
            text = raw.decode(codec)
            if number == 1:
                text = text.lstrip("\ufeff")
            if text.strip():
                yield number, consumed, text


def _parse_line(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"is not valid JSON: {e.msg} at column {e.colno}"
    if not isinstance(value, dict):
        return None, f"is a JSON {_kind(value)}, not an object"
    return value, None


def _inspect_ndjson(path: Path, encoding: str) -> JsonLayout:
    keys: dict[str, None] = {}
    first_error: str | None = None
    objects = 0
    for number, _, text in _lines(path, encoding):
        record, error = _parse_line(text)
        if record is None:
            first_error = first_error or f"line {number} {error}"
            continue
        objects += 1
        keys.update(dict.fromkeys(record))
    if not objects:
        raise FileFormatError(
            f'"{path}" has no line holding a JSON object ({first_error}); expected NDJSON: one JSON object per line.'
        )
    return JsonLayout("ndjson", encoding, list(keys), unique_names(list(keys)), None)


def read_json_batches(
    path: Path, size: int, layout: JsonLayout, options: ReadOptions, report: ProgressReporter, issues: list[RowIssue]
) -> Iterator[RawBatch]:
    if layout.records is not None:
        count = max(1, len(layout.records))
        source: Iterable[tuple[int, int, Any]] = ((i, size * i // count, r) for i, r in enumerate(layout.records, 1))
    else:
        source = ((n, c, t) for n, c, t in _lines(path, layout.encoding))
    records: list[list[str | None]] = []
    numbers: list[int] = []
    consumed = 0
    for number, consumed, item in source:
        if layout.records is None:
            record, error = _parse_line(item)
        else:
            record, error = (
                (item, None) if isinstance(item, dict) else (None, f"is a JSON {_kind(item)}, not an object")
            )
        if record is None:
            text = item if isinstance(item, str) and layout.records is None else json.dumps(item, ensure_ascii=False)
            issues.append(RowIssue(row=number, reason=error or "is not an object", text=clip(text.rstrip("\r\n"))))
            continue
        records.append([cell_text(record.get(k)) for k in layout.keys])
        numbers.append(number)
        if len(records) >= options.batch_rows:
            yield from _emit(records, numbers, layout.columns, report, consumed)
            records, numbers = [], []
    if records:
        yield from _emit(records, numbers, layout.columns, report, consumed)
    report.done()


def _emit(
    records: list[list[str | None]], numbers: list[int], names: list[str], report: ProgressReporter, consumed: int
) -> Iterator[RawBatch]:
    if not names:
        return
    columns = [pa.array(values, type=pa.string()) for values in zip(*records, strict=True)]
    batch = make_batch(columns, names, pa.array(numbers, type=pa.int64()), drop_empty_records=False)
    if batch is not None:
        report(consumed)
        yield batch
