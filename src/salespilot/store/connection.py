"""The store's contract, the embedded DuckDB store, and the factory that picks a backend.

``Store`` is the contract every backend keeps (execute, fetchall, fetchone, scalar, arrow,
append_arrow, table_exists, transaction, ibis, close, path, read_only, kind, label).
``DuckDBStore`` wraps one DuckDB file; ``salespilot.store.postgres.PostgresStore`` a PostgreSQL database.
``open_store(db)`` picks by the ``db`` string: ``postgresql://`` or ``postgres://`` is a
PostgreSQL URL, anything else a DuckDB file path. SQL above the store is written once, with
``?`` placeholders, in the subset both databases run. Driver exceptions are translated here,
once, into the ``StoreError`` family; nothing above this room imports a database driver.

Concurrency: DuckDB lets one process write a file at a time and takes an OS lock on it. A
second process that opens the store while an import runs waits (``lock_timeout`` seconds,
``SALESPILOT_LOCK_TIMEOUT``, default 30) and then gets a ``StoreBusyError``; it never sees
half an import because an import is one transaction.
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from salespilot.errors import InternalError, StoreBusyError, StoreError, UserInputError

if TYPE_CHECKING:
    from ibis import BaseBackend as IbisBackend

DEFAULT_DB = "salespilot.duckdb"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_LOCK_RE = re.compile(r"Could not set lock on file|Conflicting lock", re.IGNORECASE)
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def resolve_db(db: str | os.PathLike[str] | None) -> str:
    """``--db`` first, then ``SALESPILOT_DB``, then ``./salespilot.duckdb``: a path or a URL."""
    if db is None or str(db) == "":
        db = os.environ.get("SALESPILOT_DB") or DEFAULT_DB
    return os.fspath(db)


def is_postgres_url(db: str | os.PathLike[str]) -> bool:
    return isinstance(db, str) and db.lower().startswith(POSTGRES_SCHEMES)


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    """The DuckDB file for ``db`` (see ``resolve_db``)."""
    return Path(resolve_db(db)).expanduser()


def open_store(
    db: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    lock_timeout: float | None = None,
) -> Store:
    """Open the store ``db``: a PostgreSQL URL, else a DuckDB file (``None``: see ``resolve_db``)."""
    spec = resolve_db(db)
    if not is_postgres_url(spec):
        return DuckDBStore(spec, read_only=read_only, lock_timeout=lock_timeout)
    try:
        from salespilot.store.postgres import PostgresStore
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "psycopg":
            raise
        raise StoreError(
            f"PostgreSQL support is not installed, so the store {postgres_label(spec)} cannot be opened. "
            "Install it with: pip install 'salespilot[postgres]'."
        ) from None
    return PostgresStore(spec, read_only=read_only, lock_timeout=lock_timeout)


def postgres_label(url: str) -> str:
    """The URL without its password or query (which may carry one): safe to print."""
    scheme, _, rest = url.partition("://")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    userinfo, at, hostpath = rest.rpartition("@")
    if at:
        rest = f"{userinfo.split(':', 1)[0]}@{hostpath}"
    return f"{scheme}://{rest}"


def lock_timeout_seconds(lock_timeout: float | None) -> float:
    if lock_timeout is not None:
        return lock_timeout
    try:
        return float(os.environ.get("SALESPILOT_LOCK_TIMEOUT", "30"))
    except ValueError:
        raise UserInputError(
            f"SALESPILOT_LOCK_TIMEOUT must be a number of seconds, not {os.environ['SALESPILOT_LOCK_TIMEOUT']!r}."
        ) from None


def quote_ident(name: str) -> str:
    """Quote an identifier that comes from our own model (never from user text)."""
    if not _IDENT_RE.match(name):
        raise InternalError(f"refusing to quote suspicious identifier {name!r}")
    return f'"{name}"'


class Store(abc.ABC):
    """The contract of an open store, whatever the database behind it.

    ``kind`` is ``"duckdb"`` or ``"postgres"``; ``label`` names the store in messages (a path,
    or a URL without its password); ``name`` is short (the file's stem, the database's name);
    ``path`` is the DuckDB file, ``None`` for a server.
    """

    kind: str
    label: str
    name: str
    path: Path | None
    read_only: bool

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement whose result is not wanted (DDL, DML)."""

    @abc.abstractmethod
    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    @abc.abstractmethod
    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query and return its rows as an Arrow table."""

    @abc.abstractmethod
    def append_arrow(self, table_name: str, data: pa.Table) -> None:
        """Bulk-append an Arrow table whose columns are a subset of ``table_name``'s."""

    def table_exists(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = ? AND table_schema = current_schema()",
                [name],
            )
        )

    @abc.abstractmethod
    def analyze(self, table_name: str) -> None:
        """Refresh the planner's statistics of a table just filled (where the database needs it)."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All or nothing: commit when the block ends, roll back on any exception."""

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        """Several reads in one consistent view of the data, without the writer lock."""
        return self.transaction()

    @abc.abstractmethod
    def ibis(self) -> IbisBackend:
        """An Ibis backend on the same database (and, where possible, the same connection)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DuckDBStore(Store):
    """One open DuckDB store file."""

    kind = "duckdb"
    path: Path

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        self.path = resolve_db_path(path).absolute()
        self.label = str(self.path)
        self.name = self.path.stem
        self.read_only = read_only
        self._ibis: IbisBackend | None = None
        lock_timeout = lock_timeout_seconds(lock_timeout)
        if read_only and not self.path.exists():
            raise UserInputError(
                f"No store at {self.path}. Create one with 'salespilot demo' or 'salespilot import FILE', "
                "or point to an existing one with --db PATH or SALESPILOT_DB."
            )
        if not self.path.parent.exists():
            raise UserInputError(f"Cannot create the store {self.path}: folder {self.path.parent} does not exist.")
        _check_is_store_file(self.path)
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
                        f"The store {self.path} is in use by another process{holder}: an import, a server, "
                        f"or a Python session that opened it for writing; waited {lock_timeout:g} s. A DuckDB "
                        "store has one writer at a time: while `salespilot serve` runs, use the dashboard or "
                        "the API (a token: POST /api/v1/tokens), or stop the server; for several processes "
                        "at once, use PostgreSQL (docs/server.md). Otherwise try again when it is done, or "
                        "raise SALESPILOT_LOCK_TIMEOUT."
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

    def analyze(self, table_name: str) -> None:
        """Nothing to do: DuckDB keeps its statistics as it writes."""

    def ibis(self) -> IbisBackend:
        """Ibis on this very connection: it sees what the open transaction wrote."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self._con)
        return self._ibis

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.close()


def _translate(exc: duckdb.Error, context: str) -> BaseException:
    message = str(exc)
    if isinstance(exc, duckdb.InterruptException) or "interrupted" in message.lower():
        return KeyboardInterrupt()  # Ctrl-C during a query: the transaction is rolled back
    if isinstance(exc, duckdb.IOException) and _LOCK_RE.search(message):
        return StoreBusyError(f"The store is in use by another process: {message}")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return StoreError(f"The store ran out of memory: {message}")
    if isinstance(exc, duckdb.IOException):
        return StoreError(f"The store could not be read or written: {message}")
    if isinstance(exc, duckdb.ConstraintException):
        return StoreError(f"A constraint of the store was violated: {message}")
    return InternalError(f"Store query failed ({context.strip()[:200]}): {message}")


DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".ndjson", ".jsonl", ".xlsx", ".xls", ".parquet", ".yaml", ".yml")


def _check_is_store_file(path: Path) -> None:
    """Refuse a data file given as the store (DuckDB would open it as an empty in-memory store)."""
    if path.exists() and path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            head = handle.read(16)
        if head[8:12] != b"DUCK":
            raise UserInputError(
                f"{path} is not a SalesPilot store (a DuckDB file): --db names the store, not a file to import. "
                "To import it: salespilot import FILE."
            )
    elif not path.exists() and path.suffix.lower() in DATA_SUFFIXES:
        raise UserInputError(
            f"--db {path} looks like a data file ({path.suffix}), not a store: a store is a .duckdb file "
            "(or a postgresql:// URL). To import a file: salespilot import FILE."
        )
