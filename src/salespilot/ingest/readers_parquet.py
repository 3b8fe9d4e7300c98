"""Parquet reading: stream record batches and turn every column into text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from salespilot.errors import FileFormatError
from salespilot.ingest.readers_base import (
    ProgressReporter,
    RawBatch,
    ReadOptions,
    cell_text,
    make_batch,
    row_numbers,
    unique_names,
)

_SECONDS_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _open(path: Path) -> Any:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise FileFormatError(f'"{path}" is not a readable Parquet file: {e}') from None


def parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file, made unique (see ``unique_names``)."""
    parquet = _open(path)
    try:
        return unique_names([str(n) for n in parquet.schema_arrow.names])
    finally:
        parquet.close()


def read_parquet_batches(
    path: Path, size: int, columns: list[str], options: ReadOptions, report: ProgressReporter
) -> Iterator[RawBatch]:
    parquet = _open(path)
    total = max(1, parquet.metadata.num_rows)
    done = 0
    try:
        for batch in parquet.iter_batches(batch_size=options.batch_rows, use_threads=True):
            texts = [to_text(column) for column in batch.columns]
            out = make_batch(texts, columns, row_numbers(done + 1, batch.num_rows), drop_empty_records=False)
            done += batch.num_rows
            if out is not None:
                report(size * done // total)
                yield out
    except pa.ArrowException as e:
        raise FileFormatError(f'"{path}" cannot be read as Parquet after row {done}: {e}') from None
    finally:
        parquet.close()
    report.done()


def to_text(array: pa.Array) -> pa.Array:
    """An Arrow array as text: ISO dates and times ("T" separator, UTC offset "+00:00" when
    time-zone aware), numbers in decimal, bools as true/false, nested values as JSON."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return to_text(array.dictionary_decode())
    if pa.types.is_timestamp(kind):
        return _timestamp_text(array)
    if pa.types.is_null(kind):
        return pa.nulls(len(array), type=pa.string())
    simple = (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )
    if simple:
        try:
            return array.cast(pa.string())
        except pa.ArrowException:
            pass  # e.g. binary that is not UTF-8: falls back to Python below
    return pa.array([cell_text(v) for v in array.to_pylist()], type=pa.string())


def _timestamp_text(array: pa.Array) -> pa.Array:
    kind = array.type
    if kind.tz is not None:
        array = array.cast(pa.timestamp(kind.unit, tz="UTC"))
    fractions = False
    if kind.unit != "s":
        try:
            array = array.cast(pa.timestamp("s", tz=array.type.tz), safe=True)
        except pa.ArrowInvalid:
            fractions = True  # some values have fractions of a second: keep those
    text = pc.strftime(array, format=_SECONDS_FORMAT)
    if fractions:
        text = pc.replace_substring_regex(text, pattern=r"\.0+$", replacement="")
    if kind.tz is not None:
        text = pc.binary_join_element_wise(text, pa.scalar("+00:00"), pa.scalar(""))
    return text
