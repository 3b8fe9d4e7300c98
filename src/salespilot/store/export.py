"""Export the canonical tables to a folder of Parquet files, for Spark and other engines.

The folder holds ``<table>.parquet`` for every canonical table (every column the store has,
``_import_id`` included), ``settings.json`` (the workspace settings) and ``manifest.json``
(what was written: tables, row counts, schema version, export time). It appears whole or not
at all: everything is written into a hidden sibling folder, then renamed into place.

DuckDB writes each table itself (``COPY ... TO ... (FORMAT parquet)``); other databases go
through Arrow batches. Either way a table streams in row groups and never sits in memory whole.
Timestamps are written as Parquet ``TIMESTAMP(isAdjustedToUTC=false, MICROS)``: naive UTC, to
the microsecond.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from salespilot.errors import InternalError, UserInputError
from salespilot.model import TABLES
from salespilot.store.connection import Store, quote_ident
from salespilot.store.migrations import current_version
from salespilot.store.settings import all_settings

FORMAT = "salespilot-parquet"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SETTINGS = "settings.json"
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size


def table_file(table: str) -> str:
    """The file name of ``table`` in an export folder."""
    if table not in TABLES:
        raise InternalError(f"{table!r} is not a canonical table")
    return f"{table}.parquet"


def export_parquet(store: Store, table: str, path: str | os.PathLike[str]) -> int:
    """Write the whole of ``table`` (every column) to the Parquet file ``path``; return its rows."""
    sql = f"SELECT * FROM {quote_ident(table)}"
    if store.kind == "duckdb":
        rows = store.scalar(f"COPY ({sql}) TO ? (FORMAT parquet)", [os.fspath(path)])
        return int(rows)
    # Other databases (PostgreSQL): Arrow batches through the store's Ibis backend, one at a time.
    con = store.ibis()
    reader = con.to_pyarrow_batches(con.table(table), chunk_size=ROW_GROUP_ROWS)
    rows = 0
    with pq.ParquetWriter(os.fspath(path), reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            rows += int(batch.num_rows)
    return rows


def export_folder(store: Store, directory: str | os.PathLike[str], *, replace: bool = False) -> dict[str, Any]:
    """Export every canonical table, the settings and a manifest into ``directory``; return the manifest.

    ``directory`` must not exist, or be empty; with ``replace`` it may hold an earlier export,
    which is swapped out only once the new one is complete. A failure leaves it untouched.
    """
    target = Path(os.path.abspath(os.fspath(directory)))
    _check_target(target, replace)
    parent = target.parent
    if not parent.is_dir():
        raise UserInputError(f"Cannot export to {target}: folder {parent} does not exist.")
    started = time.monotonic()
    try:
        staging = _new_sibling(target, "partial")
    except OSError as exc:
        raise UserInputError(f"Cannot export to {target}: cannot write in {parent} ({exc.strerror}).") from None
    try:
        manifest = _write_export(store, staging)
        manifest["seconds"] = round(time.monotonic() - started, 3)
        _write_json(staging / MANIFEST, manifest)  # last: its presence marks a complete export
        _sync_folder(staging)
        _swap_into_place(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise UserInputError(f"Cannot export to {target}: {exc.strerror or exc}{where}. Nothing was written.") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of the export in ``directory``; ``UserInputError`` when it is not one."""
    folder = Path(directory)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise UserInputError(f"No Parquet export at {folder}. Make one with 'salespilot export --parquet {folder}'.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(
            f"{folder} is not a SalesPilot Parquet export (no {MANIFEST}); make one with "
            f"'salespilot export --parquet {folder}'."
        ) from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"Cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserInputError(f"{path} is not the manifest of a SalesPilot Parquet export.")
    return manifest


# -- internals -------------------------------------------------------------------------------
def _check_target(target: Path, replace: bool) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise UserInputError(f"Cannot export to {target}: it is a file, not a folder.")
    if not any(target.iterdir()):
        return
    if not replace:
        raise UserInputError(
            f"{target} is not empty. Use --replace to replace an earlier export, or choose another folder."
        )
    if not (target / MANIFEST).is_file():
        raise UserInputError(
            f"{target} is not empty and holds no SalesPilot export ({MANIFEST} is missing): refusing to "
            "replace it. Choose another folder."
        )


def _write_export(store: Store, staging: Path) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    # Every table is read from the same snapshot of the store.
    with store.snapshot():
        schema_version = current_version(store)
        settings = all_settings(store)
        for name in TABLES:
            file = staging / table_file(name)
            rows = export_parquet(store, name, file)
            tables[name] = {"file": file.name, "rows": rows, "columns": pq.read_schema(file).names}
    _write_json(staging / SETTINGS, settings)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": schema_version,
        "exported_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
        "source": {"kind": store.kind, "store": store.label},
        "timestamps": "naive UTC, microseconds",
        "tables": tables,
    }


def _new_sibling(target: Path, kind: str) -> Path:
    """A new hidden folder beside ``target`` (created with the usual permissions, unlike mkdtemp)."""
    path = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.{kind}"
    path.mkdir()
    return path


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sync_folder(folder: Path) -> None:
    """Flush every file of ``folder`` to disk before it is renamed into place."""
    for entry in folder.iterdir():
        fd = os.open(entry, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap_into_place(staging: Path, target: Path) -> None:
    if target.exists() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        staging.rename(target)
        return
    # An earlier export: move it aside, move the new one in, then drop the old one.
    old = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.old"
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        with contextlib.suppress(OSError):
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
