"""The only module that talks to the database driver.

A ``Store`` wraps one DuckDB file. Driver exceptions are translated here, once, into the
``StoreError`` family; nothing above this room imports ``duckdb``.

Concurrency: DuckDB lets one process write a file at a time and takes an OS lock on it. A
second process that opens the store while an import runs waits (``lock_timeout`` seconds,
``SALESPILOT_LOCK_TIMEOUT``, default 30) and then gets a ``StoreBusyError``; it never sees
half an import because an import is one transaction.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from salespilot.errors import InternalError, StoreBusyError, StoreError, UserInputError

DEFAULT_DB = "salespilot.duckdb"
_LOCK_RE = re.compile(r"Could not set lock on file|Conflicting lock", re.IGNORECASE)
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    """``--db`` first, then ``SALESPILOT_DB``, then ``./salespilot.duckdb``."""
    if db is None or str(db) == "":
        db = os.environ.get("SALESPILOT_DB") or DEFAULT_DB
    return Path(db).expanduser()


def quote_ident(name: str) -> str:
    """Quote an identifier that comes from our own model (never from user text)."""
    if not _IDENT_RE.match(name):
        raise InternalError(f"refusing to quote suspicious identifier {name!r}")
    return f'"{name}"'


class Store:
    """One open DuckDB store file."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        self.path = resolve_db_path(path)
        self.read_only = read_only
        if lock_timeout is None:
            lock_timeout = float(os.environ.get("SALESPILOT_LOCK_TIMEOUT", "30"))
        if read_only and not self.path.exists():
            raise UserInputError(
                f"No store at {self.path}. Create one with 'salespilot demo' or 'salespilot import FILE', "
                "or point to an existing one with --db PATH or SALESPILOT_DB."
            )
        if not self.path.parent.exists():
            raise UserInputError(f"Cannot create the store {self.path}: folder {self.path.parent} does not exist.")
        self._con = self._connect(lock_timeout)

    def _connect(self, lock_timeout: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + lock_timeout
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=self.read_only)
            except duckdb.Error as exc:
                message = str(exc)
                if _LOCK_RE.search(message):
                    if time.monotonic() < deadline:
                        time.sleep(delay)
                        delay = min(delay * 2, 0.5)
                        continue
                    pid = re.search(r"PID (\d+)", message)
                    holder = f" (process {pid.group(1)})" if pid else ""
                    raise StoreBusyError(
                        f"The store {self.path} is in use by another process{holder}, probably an import "
                        f"or a server; waited {lock_timeout:g} s. Try again when it is done, or raise "
                        "SALESPILOT_LOCK_TIMEOUT."
                    ) from None
                if "not a valid DuckDB database" in message or "Unable to open database" in message:
                    raise StoreError(f"{self.path} is not a SalesPilot store (DuckDB file): {message}") from None
                raise StoreError(f"Cannot open the store {self.path}: {message}") from None

    # -- queries -------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | None) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(sql, params) if params is not None else self._con.execute(sql)
        except duckdb.Error as exc:
            raise _translate(exc, sql) from exc

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement whose result is not wanted (DDL, DML)."""
        result = self._run(sql, params)
        try:
            result.fetchall()  # a statement's result must be consumed before the next one
        except duckdb.Error as exc:
            raise _translate(exc, sql) from exc

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        result = self._run(sql, params)
        try:
            rows: list[tuple[Any, ...]] = result.fetchall()
        except duckdb.Error as exc:
            raise _translate(exc, sql) from exc
        return rows

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        try:
            table: pa.Table = self._con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise _translate(exc, sql) from exc
        return table

    def append_arrow(self, table_name: str, data: pa.Table) -> None:
        """Bulk-append an Arrow table whose columns are a subset of ``table_name``'s."""
        view = f"_sp_append_{id(data)}"
        cols = ", ".join(quote_ident(c) for c in data.column_names)
        try:
            self._con.register(view, data)
            try:
                self._con.execute(
                    f"INSERT INTO {quote_ident(table_name)} ({cols}) SELECT {cols} FROM {quote_ident(view)}"
                )
            finally:
                self._con.unregister(view)
        except duckdb.Error as exc:
            raise _translate(exc, f"append to {table_name}") from exc

    def table_exists(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
                [name],
            )
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit when the block ends, roll back on any exception."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self._con.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _translate(exc: duckdb.Error, context: str) -> Exception:
    message = str(exc)
    if isinstance(exc, duckdb.IOException) and _LOCK_RE.search(message):
        return StoreBusyError(f"The store is in use by another process: {message}")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return StoreError(f"The store ran out of memory: {message}")
    if isinstance(exc, duckdb.IOException):
        return StoreError(f"The store could not be read or written: {message}")
    if isinstance(exc, duckdb.ConstraintException):
        return StoreError(f"A constraint of the store was violated: {message}")
    return InternalError(f"Store query failed ({context.strip()[:200]}): {message}")
