"""One import: read a file, map it, validate it, and land it in the store whole or not at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from salespilot.errors import InternalError, MappingError, ParameterError, did_you_mean
from salespilot.ingest.convert import Converter
from salespilot.ingest.mapping import (
    ColumnSpec,
    Mapping,
    MappingOptions,
    automatic_specs,
    guess_table,
    load_mapping,
    mapping_from_data,
    resolve,
    table_candidates,
)
from salespilot.ingest.readers import ReadOptions, open_source
from salespilot.model import TABLES
from salespilot.safe_csv import write_csv
from salespilot.store import loader as store_loader
from salespilot.store.connection import Store
from salespilot.store.settings import get_setting

REJECTS_SHOWN = 100
GIVEN = "given as data"  # the origin of a mapping passed as a dict (the server's forms and API)


@dataclass
class ImportResult:
    import_id: int
    table: str
    file: str
    mapping: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    warnings: int
    stage_changes: int
    ignored_columns: list[str]
    rejects: list[dict[str, Any]] = field(default_factory=list)  # first REJECTS_SHOWN problems
    rejects_file: str | None = None
    warning_summary: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "table": self.table,
            "file": self.file,
            "mapping": self.mapping,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "stage_changes": self.stage_changes,
            "ignored_columns": self.ignored_columns,
            "rejects": self.rejects,
            "rejects_file": self.rejects_file,
            "warning_summary": self.warning_summary,
            "notes": self.notes,
        }


# progress(phase, done, total): phase "reading" with bytes of the file, then "merging" (done = total).
Progress = Callable[[str, int, int], None]


@dataclass
class _Prepared:
    """A file opened, its table chosen and its columns mapped: what an import and a preview share."""

    file: Path
    mapping: Mapping | None
    source: Any
    canonical: Any
    specs: dict[str, ColumnSpec]
    ignored: list[str]
    converter: Converter


def _prepare(store: Store, path: str | Path, table: str | None, mapping: str | Path | Mapping | None) -> _Prepared:
    file = Path(path)
    mapping_obj = mapping if isinstance(mapping, Mapping) or mapping is None else load_mapping(mapping)
    opts = mapping_obj.options if mapping_obj is not None else None
    read_options = ReadOptions(
        format=opts.format if opts else None,
        delimiter=opts.delimiter if opts else None,
        encoding=opts.encoding if opts else None,
        sheet=opts.sheet if opts else None,
        skip_rows=opts.skip_rows if opts else 0,
    )
    source = open_source(file, read_options)
    table_name = _choose_table(table, mapping_obj, file, source.columns)
    canonical = TABLES[table_name]
    specs = resolve(mapping_obj, canonical, source.columns, str(file))
    for key in canonical.key:  # a key column with a default (targets.scope) is always given
        column = canonical.column(key)
        if key not in specs and column.default is not None:
            specs[key] = ColumnSpec(key, constant=column.default)
    used = {s.source for s in specs.values() if s.source is not None}
    ignored = [c for c in source.columns if c not in used]
    converter = Converter(
        canonical,
        specs,
        opts if opts is not None else MappingOptions(),
        get_setting(store, "timezone"),
        str(file),
    )
    return _Prepared(file, mapping_obj, source, canonical, specs, ignored, converter)


def mapping_of(ref: str | Path | Mapping | dict[str, Any] | None) -> str | Path | Mapping | None:
    """A mapping reference as the importer takes it; a dict is a mapping file's content (table,
    options, columns, description), checked as a file's is."""
    if isinstance(ref, dict):
        return mapping_from_data(ref, GIVEN)
    return ref


def inspect_file(path: str | Path, table: str | None = None) -> dict[str, Any]:
    """What a file holds before any mapping: its format, its columns, the table it is for
    (``table``, else guessed from its name or id column, else None) and, for that table, the
    automatic mapping (canonical column: source column). Reads the head of the file only."""
    file = Path(path)
    source = open_source(file, ReadOptions())
    chosen = _choose_table(table, None, file, source.columns) if table is not None else None
    chosen = chosen or guess_table(file.name, source.columns)
    candidates = [name for name, _ in table_candidates(source.columns)]
    automatic = {}
    if chosen is not None:
        specs = automatic_specs(TABLES[chosen], source.columns)
        automatic = {name: str(spec.source) for name, spec in specs.items()}
    return {
        "file": file.name,
        "format": source.format,
        "columns": source.columns,
        "table": chosen,
        "candidates": candidates,  # the tables whose id column it has, best fit first
        "automatic": automatic,
    }


def preview_file(
    store: Store,
    path: str | Path,
    table: str | None = None,
    mapping: str | Path | Mapping | None = None,
    rows: int = 20,
) -> dict[str, Any]:
    """What importing ``path`` would do, without writing: the table chosen, each canonical column
    and the source column it comes from, the ignored columns, the first ``rows`` rows as they would
    land (typed, in the canonical columns) and, in the first batch, the problems (the rows the import
    would reject, keys given twice included) and the warnings (references the store does not hold)."""
    prep = _prepare(store, path, table, mapping)
    first = next(iter(prep.source.batches()), None)
    landed: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    read = 0
    if first is not None:
        read = first.table.num_rows
        converted = prep.converter.convert(first)
        shown = [c for c in prep.converter.output_columns if c in converted.rows.column_names]
        # what the load would reject (a key given twice) and warn about (an unknown owner, account...),
        # read on the columns that tell (a batch is up to 262,144 rows)
        canonical = prep.canonical
        telling = [*canonical.key, *(c.name for c in canonical.columns if c.references), "_row"]
        checked = converted.rows.select([c for c in dict.fromkeys(telling) if c in converted.rows.column_names])
        twice, warnings = store_loader.preview_checks(store, canonical, checked.to_pylist())
        repeated = {p["row"] for p in twice}
        head = converted.rows.slice(0, rows + len(repeated)).to_pylist()
        landed = [{c: r.get(c) for c in shown} for r in head if r["_row"] not in repeated][:rows]
        problems = [
            {"row": p["row"], "column": p["column"], "value": p["value"], "reason": p["reason"]}
            for p in converted.problems.to_pylist()
        ]
        problems = sorted(problems + twice, key=lambda p: p["row"])[:rows]
        warnings = warnings[:rows]
    problems += [{"row": i.row, "column": None, "value": i.text, "reason": i.reason} for i in prep.source.issues[:rows]]
    return {
        "file": prep.file.name,
        "table": prep.canonical.name,
        "format": prep.source.format,
        "mapping": prep.mapping.origin if prep.mapping is not None else "automatic",
        "columns": [{"column": name, "from": spec.describe()} for name, spec in prep.specs.items()],
        "ignored_columns": prep.ignored,
        "rows_read": read,
        "rows": landed,
        "problems": problems,
        "warnings": warnings,  # each unknown reference: column, value, rows, first_row, reason
    }


def import_file(
    store: Store,
    path: str | Path,
    table: str | None = None,
    mapping: str | Path | Mapping | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    name: str | None = None,
) -> ImportResult:
    """``name``: what the import log records as the file (default: its path), e.g. the name of
    an upload rather than the server's temporary copy."""
    prep = _prepare(store, path, table, mapping)
    file, mapping_obj, source, canonical = prep.file, prep.mapping, prep.source, prep.canonical
    table_name, ignored, converter = canonical.name, prep.ignored, prep.converter
    defaults = {c.name: c.default for c in canonical.columns if c.default is not None}
    started = now or _utcnow()
    digest = _sha256(file)
    mapping_label = mapping_obj.origin if mapping_obj is not None else "automatic"

    with store.transaction():
        import_id = store_loader.next_import_id(store)
        store_loader.prepare_warnings(store)
        load = store_loader.Loader(store, canonical, converter.output_columns)
        rows_read = 0
        callback = None if progress is None else (lambda done: progress("reading", done, source.size_bytes))
        for batch in source.batches(callback):
            rows_read += batch.table.num_rows
            converted = converter.convert(batch)
            load.add_rows(converted.rows)
            load.add_problems(converted.problems)
        if source.issues:
            rows_read += len(source.issues)
            load.add_problems(
                pa.table(
                    {
                        "row": pa.array([i.row for i in source.issues], pa.int64()),
                        "column": pa.nulls(len(source.issues), pa.string()),
                        "value": pa.array([i.text for i in source.issues], pa.string()),
                        "reason": pa.array([i.reason for i in source.issues], pa.string()),
                    }
                )
            )
        if progress is not None:
            progress("merging", source.size_bytes, source.size_bytes)
        counts = load.finish(import_id, started, defaults)
        total = counts.inserted + counts.updated + counts.unchanged + counts.rejected
        if total != rows_read:
            raise InternalError(
                f"import of {file} does not add up: read {rows_read} rows but inserted {counts.inserted} + "
                f"updated {counts.updated} + unchanged {counts.unchanged} + rejected {counts.rejected} = {total}; "
                "nothing was written"
            )
        record = store_loader.record_import
        label = name or str(file)
        record(store, import_id, table_name, label, digest, mapping_label, started, _utcnow(), rows_read, counts)
        shown = store.fetchall(
            "SELECT row_number, column_name, value, reason FROM import_rejects WHERE import_id = ? "
            "ORDER BY row_number NULLS LAST LIMIT ?",
            [import_id, REJECTS_SHOWN],
        )
        warning_summary = store.fetchall(
            "SELECT column_name, reason, CAST(sum(rows) AS BIGINT) AS n, count(*) AS v, min(value) AS example "
            "FROM import_warnings WHERE import_id = ? GROUP BY column_name, reason ORDER BY n DESC",
            [import_id],
        )

    result = ImportResult(
        import_id=import_id,
        table=table_name,
        file=label,
        mapping=mapping_label,
        rows_read=rows_read,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        rejected=counts.rejected,
        warnings=counts.warnings,
        stage_changes=counts.stage_changes,
        ignored_columns=ignored,
        rejects=[{"row": r, "column": c, "value": v, "reason": why} for r, c, v, why in shown],
        warning_summary=[
            {"column": c, "reason": why, "rows": n, "values": v, "example": ex} for c, why, n, v, ex in warning_summary
        ],
    )
    if counts.rejected:
        try:
            result.rejects_file = str(write_rejects_csv(store, import_id, table_name))
        except OSError as exc:  # the import is in the store already; only the copy beside it is missing
            result.notes.append(f"the rejects CSV could not be written ({exc}); 'salespilot rejects' lists them")
    return result


def list_imports(store: Store, limit: int | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The imports, newest first, and their number."""
    keys = ("import_id", "table", "file", "mapping", "started_at", "finished_at")
    counts = ("rows_read", "inserted", "updated", "unchanged", "rejected", "warnings")
    sql = (
        "SELECT import_id, table_name, file, mapping, started_at, finished_at, "
        f"{', '.join(counts)} FROM imports ORDER BY import_id DESC"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    if offset:
        sql += " OFFSET ?"
        params.append(offset)
    with store.snapshot():
        rows = [dict(zip(keys + counts, r, strict=True)) for r in store.fetchall(sql, params)]
        total = int(store.scalar("SELECT count(*) FROM imports"))
    return rows, total


def rejects_path(store: Store, import_id: int, table: str) -> Path:
    """Beside a store file: ``<store name>-rejects/``; for a server: ``./salespilot-rejects/<database>-``."""
    name = f"{import_id:04d}-{table}.csv"
    if store.path is not None:
        return store.path.parent / f"{store.path.stem}-rejects" / name
    database = re.sub(r"[^A-Za-z0-9_.-]+", "_", store.name)
    return Path.cwd() / "salespilot-rejects" / f"{database}-{name}"


def write_rejects_csv(store: Store, import_id: int, table: str) -> Path:
    rows = store.fetchall(
        "SELECT file, row_number, column_name, value, reason FROM import_rejects WHERE import_id = ? "
        "ORDER BY row_number NULLS LAST",
        [import_id],
    )
    path = rejects_path(store, import_id, table)
    write_csv(path, ["file", "row", "column", "value", "reason"], rows)
    return path


def _choose_table(table: str | None, mapping: Mapping | None, file: Path, columns: list[str]) -> str:
    if table is not None and table not in TABLES:
        raise ParameterError(
            f'--table "{table}" is not a canonical table.{did_you_mean(table, TABLES)} Tables: {", ".join(TABLES)}.'
        )
    if table is not None and mapping is not None and mapping.table is not None and mapping.table != table:
        raise MappingError(f"--table {table} contradicts mapping {mapping.origin}, which is for table {mapping.table}.")
    chosen = table or (mapping.table if mapping is not None else None) or guess_table(file.name, columns)
    if chosen is None:
        raise ParameterError(
            f"Cannot tell which table {file} is for ({why_no_table(columns)}). Pass --table, one of: "
            f"{', '.join(TABLES)}, or a mapping file with 'table:'."
        )
    return chosen


def why_no_table(columns: list[str]) -> str:
    """Why the file's name and columns do not say its table."""
    ranked = table_candidates(columns)
    if not ranked:
        return "its name names no table and it has none of the tables' id columns (lead_id, opportunity_id...)"
    tied = [name for name, n in ranked if n == ranked[0][1]]
    return f"its name names no table and its columns fit {' and '.join(tied)} as well"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
