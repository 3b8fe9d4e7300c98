"""Bulk upsert of validated rows into a canonical table, inside the caller's transaction.

Rows arrive as Arrow batches and are appended to a temporary staging table (the database's
bulk path; no row-by-row inserts). ``finish`` then, in SQL:

1. rejects later rows of the file that repeat a key (the first one wins);
2. records warnings for references to rows the store does not hold;
3. classifies each staged row as inserted, updated or unchanged against the table;
4. appends to ``stage_changes`` when an opportunity's stage or outcome changes;
5. applies the updates and inserts; columns the file does not carry keep their values;
6. records the import, its rejects and its warnings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from salespilot.model import TABLES, ColumnType, Table
from salespilot.store.connection import Store, quote_ident

Row = dict[str, Any]

_SQL_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.DATE: "DATE",
    ColumnType.FLOAT: "DOUBLE PRECISION",
    ColumnType.INTEGER: "BIGINT",
    ColumnType.PERIOD: "VARCHAR",
}
STAGE = "_sp_stage"
CMP = "_sp_cmp"
PROBLEMS = "_sp_problems"
WARNINGS = "_sp_warnings"


@dataclass(frozen=True)
class LoadCounts:
    inserted: int
    updated: int
    unchanged: int
    rejected: int  # distinct rows rejected (conversion, unreadable rows, duplicate keys)
    warnings: int
    stage_changes: int


class Loader:
    """Stages the rows of one import and merges them into ``table``."""

    def __init__(self, store: Store, table: Table, columns: list[str]) -> None:
        self.store = store
        self.table = table
        self.columns = [c for c in table.column_names if c in columns]
        self.row_col = "_row"
        defs = ", ".join(f"{quote_ident(c)} {_SQL_TYPES[table.column(c).type]}" for c in self.columns)
        store.execute(f"DROP TABLE IF EXISTS {STAGE}")
        store.execute(f"DROP TABLE IF EXISTS {PROBLEMS}")
        store.execute(f"CREATE TEMP TABLE {STAGE} ({defs}, _row BIGINT)")
        store.execute(
            f"CREATE TEMP TABLE {PROBLEMS} (row_number BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR)"
        )

    def add_rows(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self.store.append_arrow(STAGE, rows)

    def add_problems(self, problems: pa.Table) -> None:
        """Problems with columns row, column, value, reason (one line per failing cell)."""
        if problems.num_rows:
            renamed = problems.rename_columns(["row_number", "column_name", "value", "reason"])
            self.store.append_arrow(PROBLEMS, renamed)

    def finish(self, import_id: int, now: dt.datetime, defaults: dict[str, str]) -> LoadCounts:
        s, t = self.store, self.table
        target = quote_ident(t.name)
        s.analyze(STAGE)
        # A key column the file does not carry is NULL for every row of it (costs without campaign).
        key_match = " AND ".join(
            _eq(f"s.{quote_ident(k)}" if k in self.columns else "NULL", f"t.{quote_ident(k)}", t) for k in t.key
        )
        keys = ", ".join(f"s.{quote_ident(k)}" for k in t.key if k in self.columns)
        key_text = (
            "concat_ws(', ', "
            + ", ".join(f"CAST(s.{quote_ident(k)} AS VARCHAR)" for k in t.key if k in self.columns)
            + ")"
        )

        # 1. duplicate keys inside the file: the first row wins, the others are rejected.
        has_duplicates = s.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM {STAGE} s GROUP BY {keys} HAVING count(*) > 1) d"
        )
        if has_duplicates:
            s.execute(
                f"""INSERT INTO {PROBLEMS}
                SELECT d._row, ?, d._key, ? || CAST(d._first AS VARCHAR)
                FROM (SELECT s._row, min(s._row) OVER (PARTITION BY {keys}) AS _first, {key_text} AS _key
                      FROM {STAGE} s) d
                WHERE d._row <> d._first""",
                [", ".join(t.key), duplicate_reason(t, "")],
            )
            s.execute(
                f"DELETE FROM {STAGE} WHERE _row IN "
                f"(SELECT row_number FROM {PROBLEMS} WHERE reason LIKE 'duplicate key (%')"
            )

        # 2. references to unknown rows are warnings (the row is still loaded), one per unknown value.
        for name in self.columns:
            ref = t.column(name).references
            if ref is None:
                continue
            ref_table, ref_col = ref.split(".")
            col = quote_ident(name)
            self_ref = (
                f" AND NOT EXISTS (SELECT 1 FROM {STAGE} x WHERE x.{quote_ident(ref_col)} = s.{col})"
                if ref_table == t.name and ref_col in self.columns
                else ""
            )
            s.execute(
                f"""INSERT INTO {WARNINGS}
                SELECT ?, s.{col}, ?, count(*), min(s._row)
                FROM {STAGE} s
                WHERE s.{col} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM {quote_ident(ref_table)} r
                                  WHERE r.{quote_ident(ref_col)} = s.{col}){self_ref}
                GROUP BY s.{col}""",
                [name, unknown_reason(name, ref)],
            )

        # 3. classify: insert (key not in the table), update (a value differs) or same.
        data_cols = [c for c in self.columns if c not in t.key]
        changed = " OR ".join(f"s.{quote_ident(c)} IS DISTINCT FROM t.{quote_ident(c)}" for c in data_cols) or "FALSE"
        s.execute(f"DROP TABLE IF EXISTS {CMP}")
        if s.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {target} LIMIT 1) t"):
            s.execute(
                f"""CREATE TEMP TABLE {CMP} AS
                SELECT s.*, CASE WHEN t._hit IS NULL THEN 'insert' WHEN {changed} THEN 'update' ELSE 'same' END
                    AS _state
                FROM {STAGE} s LEFT JOIN (SELECT *, TRUE AS _hit FROM {target}) t ON {key_match}"""
            )
            s.analyze(CMP)
            counts = dict(s.fetchall(f"SELECT _state, count(*) FROM {CMP} GROUP BY _state"))
            source = f"{CMP} s WHERE s._state = 'insert'"
        else:  # first load of the table: everything is an insert, no comparison needed
            counts = {"insert": int(s.scalar(f"SELECT count(*) FROM {STAGE}"))}
            source = f"{STAGE} s"

        # 4. stage history.
        history = 0
        tracked = {"stage", "outcome", "amount", "expected_close_date"}
        if t.name == "opportunities" and counts.get("update") and (tracked & set(self.columns)):
            history = self._stage_history(import_id, now)

        # 5. apply.
        if counts.get("update") and data_cols:
            sets = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in data_cols)
            s.execute(
                f"""UPDATE {target} AS t SET {sets}, _import_id = ?
                FROM {CMP} s WHERE s._state = 'update' AND {key_match}""",
                [import_id],
            )
        if counts.get("insert"):
            extra = {c: v for c, v in defaults.items() if c not in self.columns}
            cols = [*self.columns, *extra, "_import_id"]
            values = [f"s.{quote_ident(c)}" for c in self.columns] + ["?" for _ in extra] + ["?"]
            s.execute(
                f"INSERT INTO {target} ({', '.join(quote_ident(c) for c in cols)}) "
                f"SELECT {', '.join(values)} FROM {source}",
                [*extra.values(), import_id],
            )
        rejected = int(s.scalar(f"SELECT count(DISTINCT row_number) FROM {PROBLEMS}") or 0)
        rejected += int(s.scalar(f"SELECT count(*) FROM {PROBLEMS} WHERE row_number IS NULL") or 0)
        warnings = int(s.scalar(f"SELECT coalesce(sum(rows), 0) FROM {WARNINGS}") or 0)
        return LoadCounts(
            inserted=int(counts.get("insert", 0)),
            updated=int(counts.get("update", 0)),
            unchanged=int(counts.get("same", 0)),
            rejected=rejected,
            warnings=warnings,
            stage_changes=history,
        )

    def _stage_history(self, import_id: int, now: dt.datetime) -> int:
        s = self.store
        has_stage = "stage" in self.columns
        has_outcome = "outcome" in self.columns
        new_stage = "s.stage" if has_stage else "t.stage"
        new_outcome = "s.outcome" if has_outcome else "t.outcome"
        closed = "s.closed_at" if "closed_at" in self.columns else "t.closed_at"
        amount = "s.amount" if "amount" in self.columns else "t.amount"
        expected = "s.expected_close_date" if "expected_close_date" in self.columns else "t.expected_close_date"
        # A change of stage or outcome, or of the amount or expected close date (the history keeps
        # them for the store as of a date; readers of stage spells skip the repeated stage).
        moved = " OR ".join(
            p
            for p, ok in (
                ("s.stage IS DISTINCT FROM t.stage", has_stage),
                ("s.outcome IS DISTINCT FROM t.outcome", has_outcome),
                ("s.amount IS DISTINCT FROM t.amount", "amount" in self.columns),
                ("s.expected_close_date IS DISTINCT FROM t.expected_close_date", "expected_close_date" in self.columns),
            )
            if ok
        )
        entered = (
            f"CASE WHEN {new_outcome} IN ('won', 'lost') AND {new_outcome} IS DISTINCT FROM t.outcome "
            f"AND {closed} IS NOT NULL THEN {closed} ELSE CAST(? AS TIMESTAMP) END"
        )
        # The state a changed deal had before, when no history of it exists yet: a 'snapshot' row
        # dated at the import that wrote it, so that the store as of an earlier date shows it.
        # Stage spells and conversions skip snapshots (the deal entered that stage earlier).
        s.execute(
            f"""INSERT INTO stage_changes (opportunity_id, stage, entered_at, amount, expected_close_date, source,
                                           _import_id)
            SELECT t.opportunity_id, coalesce(t.stage, t.outcome), i.started_at, t.amount, t.expected_close_date,
                   'snapshot', t._import_id
            FROM {CMP} s JOIN opportunities t ON s.opportunity_id = t.opportunity_id
                 JOIN imports i ON i.import_id = t._import_id
            WHERE s._state = 'update' AND ({moved})
              AND NOT EXISTS (SELECT 1 FROM stage_changes x WHERE x.opportunity_id = t.opportunity_id)"""
        )
        before = int(s.scalar("SELECT count(*) FROM stage_changes") or 0)  # the count says changes, not snapshots
        s.execute(
            f"""INSERT INTO stage_changes (opportunity_id, stage, entered_at, amount, expected_close_date, source,
                                           _import_id)
            SELECT c.opportunity_id, c.stage, c.entered_at, c.amount, c.expected_close_date, 'import', ?
            FROM (SELECT s.opportunity_id, coalesce({new_stage}, {new_outcome}) AS stage, {entered} AS entered_at,
                         {amount} AS amount, {expected} AS expected_close_date
                  FROM {CMP} s JOIN opportunities t ON s.opportunity_id = t.opportunity_id
                  WHERE s._state = 'update' AND ({moved})) c
            WHERE NOT EXISTS (SELECT 1 FROM stage_changes x WHERE x.opportunity_id = c.opportunity_id
                              AND x.stage = c.stage AND x.entered_at = c.entered_at)""",
            [import_id, now],
        )
        return int(s.scalar("SELECT count(*) FROM stage_changes") or 0) - before


def prepare_warnings(store: Store) -> None:
    store.execute(f"DROP TABLE IF EXISTS {WARNINGS}")
    store.execute(
        f"CREATE TEMP TABLE {WARNINGS} (column_name VARCHAR, value VARCHAR, reason VARCHAR, rows BIGINT, "
        "first_row BIGINT)"
    )


def record_import(
    store: Store,
    import_id: int,
    table: str,
    file: str,
    sha256: str,
    mapping: str,
    started: dt.datetime,
    finished: dt.datetime,
    rows_read: int,
    counts: LoadCounts,
) -> None:
    store.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            import_id,
            table,
            file,
            sha256,
            mapping,
            started,
            finished,
            rows_read,
            counts.inserted,
            counts.updated,
            counts.unchanged,
            counts.rejected,
            counts.warnings,
        ],
    )
    store.execute(
        f"INSERT INTO import_rejects SELECT ?, ?, row_number, column_name, value, reason FROM {PROBLEMS}",
        [import_id, file],
    )
    store.execute(
        f"INSERT INTO import_warnings SELECT ?, ?, column_name, value, reason, rows, first_row FROM {WARNINGS}",
        [import_id, file],
    )


def next_import_id(store: Store) -> int:
    return int(store.scalar("SELECT coalesce(max(import_id), 0) + 1 FROM imports"))


def duplicate_reason(table: Table, first: object) -> str:
    """Why a row repeating a key is rejected (``first``: the row that gave it, "" for SQL to append)."""
    return f"duplicate key ({', '.join(table.key)}) already given at row {first}"


def unknown_reason(column: str, reference: str) -> str:
    """Why a row referring to an unknown row is warned about (``reference``: ``reps.rep_id``)."""
    return f"{column}: unknown {reference} (row loaded anyway)"


def preview_checks(store: Store, table: Table, rows: list[dict[str, Any]]) -> tuple[list[Row], list[Row]]:
    """What ``finish`` would reject and warn about in ``rows`` (a file's first rows, converted,
    with their ``_row``), read-only: the rows repeating a key given above them (rejected, the first
    one wins) and each value referring to a row the store does not hold (a warning, the row is
    loaded anyway). The same reasons as an import's, so a preview tells what the import will."""
    rejects: list[Row] = []
    first: dict[tuple[Any, ...], int] = {}
    kept = []
    for row in rows:
        key = tuple(row.get(k) for k in table.key)
        if key in first:
            rejects.append(
                {
                    "row": row["_row"],
                    "column": ", ".join(table.key),
                    "value": ", ".join(str(v) for v in key if v is not None),
                    "reason": duplicate_reason(table, first[key]),
                }
            )
        else:
            first[key] = row["_row"]
            kept.append(row)
    warnings: list[Row] = []
    for column in table.columns:
        if column.references is None:
            continue
        ref_table, ref_col = column.references.split(".")
        where: dict[Any, list[int]] = {}  # each value and the rows giving it
        for r in kept:
            if r.get(column.name) is not None:
                where.setdefault(r[column.name], []).append(r["_row"])
        if ref_table == table.name:  # a rep's manager given in the same file
            for r in kept:
                where.pop(r.get(ref_col), None)
        known: set[Any] = set()
        listed = sorted(where, key=str)
        ref = quote_ident(ref_col)
        for start in range(0, len(listed), 500):  # bound the number of parameters of one query
            chunk = listed[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            known |= {
                v
                for (v,) in store.fetchall(
                    f"SELECT {ref} FROM {quote_ident(ref_table)} WHERE {ref} IN ({marks})",
                    chunk,
                )
            }
        for value in listed:
            if value in known:
                continue
            hits = where[value]
            warnings.append(
                {
                    "first_row": min(hits),
                    "column": column.name,
                    "value": str(value),
                    "rows": len(hits),
                    "reason": unknown_reason(column.name, column.references),
                }
            )
    return rejects, sorted(warnings, key=lambda w: w["first_row"])


def _eq(left: str, right: str, table: Table) -> str:
    return f"{left} IS NOT DISTINCT FROM {right}" if table.natural_key else f"{left} = {right}"


def canonical_tables() -> list[str]:
    return list(TABLES)
