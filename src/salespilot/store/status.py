"""What the store holds: tables, row counts, date ranges, recent imports."""

from __future__ import annotations

from typing import Any

from salespilot.model import TABLES
from salespilot.store.connection import Store, quote_ident
from salespilot.store.migrations import current_version

# The timestamp that places a row in time, per table (the KPIs' anchor dates).
DATE_COLUMNS: dict[str, str | None] = {
    "reps": None,
    "accounts": "created_at",
    "leads": "created_at",
    "opportunities": "created_at",
    "stage_changes": "entered_at",
    "activities": "occurred_at",
    "contracts": "start_date",
    "costs": "period_start",
    "web_traffic": "date",
    "campaign_stats": "date",
    "market_size": "period_start",
    "targets": None,
    "fx_rates": "date",
}


def table_counts(store: Store) -> dict[str, int]:
    return {name: int(store.scalar(f"SELECT count(*) FROM {quote_ident(name)}")) for name in TABLES}


def status(store: Store, recent: int = 5) -> dict[str, Any]:
    """One consistent view: an import that commits meanwhile is seen whole or not at all."""
    with store.snapshot():
        return _status(store, recent)


def _status(store: Store, recent: int) -> dict[str, Any]:
    tables = []
    for name in TABLES:
        column = DATE_COLUMNS[name]
        if column is None:
            rows, first, last = int(store.scalar(f"SELECT count(*) FROM {quote_ident(name)}")), None, None
        else:
            row = store.fetchone(
                f"SELECT count(*), min({quote_ident(column)}), max({quote_ident(column)}) FROM {quote_ident(name)}"
            )
            assert row is not None
            rows, first, last = int(row[0]), row[1], row[2]
        tables.append(
            {
                "table": name,
                "rows": rows,
                "date_column": column,
                "first": None if first is None else first.isoformat(),
                "last": None if last is None else last.isoformat(),
            }
        )
    imports = [
        {
            "import_id": r[0],
            "table": r[1],
            "file": r[2],
            "finished_at": r[3].isoformat(),
            "rows_read": r[4],
            "inserted": r[5],
            "updated": r[6],
            "unchanged": r[7],
            "rejected": r[8],
        }
        for r in store.fetchall(
            "SELECT import_id, table_name, file, finished_at, rows_read, inserted, updated, unchanged, rejected "
            "FROM imports ORDER BY import_id DESC LIMIT ?",
            [recent],
        )
    ]
    return {
        "store": store.label,
        "schema_version": current_version(store),
        "tables": tables,
        "imports": imports,
    }
