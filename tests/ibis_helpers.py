"""Ibis backends over the stores, for tests that compare engines."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from salespilot.store.connection import Store


def duckdb_ibis(store: Store) -> Any:
    """An Ibis DuckDB backend over ``store`` (its own ``ibis()`` when it has one)."""
    own = getattr(store, "ibis", None)
    if callable(own):
        return own()
    import ibis

    return ibis.duckdb.from_connection(store._con)


def sorted_table(table: pa.Table) -> pa.Table:
    """``table`` sorted by every column, nulls last: two engines' rows in the same order."""
    return table.sort_by([(name, "ascending", "at_end") for name in table.column_names])


def sorted_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table``, sorted by every column (nulls last), as Python values."""
    return sorted_table(table).to_pylist()
