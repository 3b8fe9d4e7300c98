"""The one application object: every face (CLI, Python API, later the server) goes through it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from salespilot.engine import importing
from salespilot.engine.demo import load_demo
from salespilot.ingest.mapping import Mapping
from salespilot.store import settings as store_settings
from salespilot.store.connection import Store
from salespilot.store.migrations import migrate
from salespilot.store.status import status


class Workspace:
    """A SalesPilot store and everything done with it.

    ``Workspace(db)`` opens (and creates or upgrades) the store ``db``: a path to a DuckDB
    file; ``None`` means ``SALESPILOT_DB`` or ``./salespilot.duckdb``.
    """

    def __init__(self, db: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> None:
        self.store = Store(db, read_only=read_only)
        try:
            migrate(self.store)
        except BaseException:
            self.store.close()
            raise

    @property
    def path(self) -> Path:
        return self.store.path

    # -- data in ---------------------------------------------------------------------------
    def import_file(
        self,
        path: str | os.PathLike[str],
        table: str | None = None,
        mapping: str | os.PathLike[str] | Mapping | None = None,
        progress: importing.Progress | None = None,
    ) -> importing.ImportResult:
        """Import one file (CSV, XLSX, Parquet, JSON, NDJSON) into a canonical table."""
        mapping_ref = mapping if isinstance(mapping, Mapping) or mapping is None else os.fspath(mapping)
        return importing.import_file(self.store, Path(path), table, mapping_ref, progress)

    def demo(self, size: str = "small", seed: int = 42, replace: bool = False) -> dict[str, int]:
        """Fill the store with the demo company; returns rows written per table."""
        return load_demo(self.store, size, seed, replace)

    # -- data out --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return status(self.store)

    def rejects(self, import_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows set aside by an import (the last one by default)."""
        if import_id is None:
            import_id = self.store.scalar("SELECT max(import_id) FROM imports")
            if import_id is None:
                return []
        sql = (
            "SELECT import_id, file, row_number, column_name, value, reason FROM import_rejects "
            "WHERE import_id = ? ORDER BY row_number NULLS LAST"
        )
        params: list[Any] = [import_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        keys = ("import_id", "file", "row", "column", "value", "reason")
        return [dict(zip(keys, r, strict=True)) for r in self.store.fetchall(sql, params)]

    def settings(self) -> dict[str, str]:
        return store_settings.all_settings(self.store)

    def get_setting(self, name: str) -> str:
        return store_settings.get_setting(self.store, name)

    def set_setting(self, name: str, value: str) -> str:
        return store_settings.set_setting(self.store, name, value)

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """Run a read query on the store and return an Arrow table (for analysts)."""
        return self.store.arrow(query, params)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(db: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> Workspace:
    """Open the SalesPilot store ``db`` (see ``Workspace``)."""
    return Workspace(db, read_only=read_only)
