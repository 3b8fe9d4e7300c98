"""The PostgreSQL store: the ``Store`` contract (see ``connection``) on a server.

Imported only when ``--db`` is a ``postgresql://`` URL, so the default install needs no
psycopg (``pip install 'salespilot[postgres]'`` brings it). psycopg exceptions are
translated here, once, into the ``StoreError`` family.

- SQL above the store uses ``?`` placeholders; they become psycopg's ``%s`` here (and a
  literal ``%`` becomes ``%%``) when parameters are given.
- Bulk appends go through ``COPY ... FROM STDIN`` in CSV that Arrow writes, batch by batch;
  never row by row.
- Writers take one transaction-scoped advisory lock, so that one process writes the
  database at a time, as with a DuckDB file: another writer waits up to ``lock_timeout``
  seconds (``SALESPILOT_LOCK_TIMEOUT``) and then gets a ``StoreBusyError``. Readers never
  wait: PostgreSQL's MVCC shows them the data before an import or all of it.
- ``read_only`` stores do not migrate and take no writer lock; the server does not forbid
  writes to them (temporary tables, which Ibis uses, must stay possible). ``snapshot()``
  gives several reads one consistent view (REPEATABLE READ).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.conninfo import conninfo_to_dict

from salespilot.errors import InternalError, StoreBusyError, StoreError, UserInputError
from salespilot.store.connection import Store, lock_timeout_seconds, postgres_label, quote_ident

if TYPE_CHECKING:
    from ibis import BaseBackend as IbisBackend

# pg_advisory_xact_lock key of the writer lock ("salespilot" in ASCII, truncated to 63 bits).
WRITE_LOCK_KEY = 0x73616C657370696C
COPY_BATCH_ROWS = 100_000
URL_FORM = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"

# Result column types by PostgreSQL type OID; others are inferred by Arrow from the values.
_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?|%", re.DOTALL)


@functools.lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    """``?`` placeholders (outside quotes and comments) to ``%s``; every literal ``%`` to ``%%``."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        return token.replace("%", "%%")

    return _TOKENS.sub(replace, sql)


class PostgresStore(Store):
    """One open PostgreSQL database (a ``postgresql://`` URL)."""

    kind = "postgres"

    def __init__(self, url: str, *, read_only: bool = False, lock_timeout: float | None = None) -> None:
        self.url = url
        self.label = postgres_label(url)
        self.path = None
        self.read_only = read_only
        self.lock_timeout = lock_timeout_seconds(lock_timeout)
        self._ibis: IbisBackend | None = None
        self._con = self._connect()
        try:
            self.name = str(self._con.info.dbname)
            if read_only and not self.table_exists("schema_migrations"):
                raise UserInputError(
                    f"No store at {self.label}: the database holds no SalesPilot tables. Create them with "
                    "'salespilot demo' or 'salespilot import FILE' on this URL, or point to an existing store "
                    "with --db or SALESPILOT_DB."
                )
        except BaseException:
            self.close()
            raise

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            given = conninfo_to_dict(self.url)
        except psycopg.Error as exc:
            raise StoreError(f"{self.label} is not a valid PostgreSQL URL: {_one_line(exc)}. {_form()}") from None
        options: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
        if "connect_timeout" not in given:
            options["connect_timeout"] = 10
        if "application_name" not in given:
            options["application_name"] = "salespilot"
        try:
            con = psycopg.connect(self.url, **options)
        except psycopg.Error as exc:
            raise _connect_error(exc, self.label, given) from None
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET client_encoding = 'UTF8'")
            # 0 means "wait for ever" to PostgreSQL; SALESPILOT_LOCK_TIMEOUT=0 means "do not wait".
            con.execute(f"SET lock_timeout = {min(max(1, round(self.lock_timeout * 1000)), 2**31 - 1)}")
            with contextlib.suppress(psycopg.Error):  # PostgreSQL 14+: end a killed client's query soon
                con.execute("SET client_connection_check_interval = 1000")
        except psycopg.Error as exc:
            con.close()
            raise self._translate(exc, "session settings") from None
        return con

    # -- queries -------------------------------------------------------------------------
    def _cursor(self, sql: str, params: Sequence[Any] | None) -> psycopg.Cursor[tuple[Any, ...]]:
        cursor = self._con.cursor()
        try:
            if params is None:
                cursor.execute(sql)  # no parameters: psycopg leaves % and ? alone
            else:
                cursor.execute(to_psycopg(sql), list(params))
        except psycopg.Error as exc:
            cursor.close()
            raise self._translate(exc, sql) from exc
        return cursor

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._cursor(sql, params).close()

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._cursor(sql, params) as cursor:
            if cursor.description is None:
                return []
            try:
                return cursor.fetchall()
            except psycopg.Error as exc:
                raise self._translate(exc, sql) from exc

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self._cursor(sql, params) as cursor:
            if cursor.description is None:
                return pa.table({})
            try:
                rows = cursor.fetchall()
            except psycopg.Error as exc:
                raise self._translate(exc, sql) from exc
            described = [(d.name, _ARROW_TYPES.get(d.type_code)) for d in cursor.description]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in described]
        arrays = [pa.array(values, type=kind) for values, (_, kind) in zip(columns, described, strict=True)]
        return pa.Table.from_arrays(arrays, names=[name for name, _ in described])

    def append_arrow(self, table_name: str, data: pa.Table) -> None:
        """``COPY FROM STDIN`` in CSV written by Arrow: empty unquoted fields are nulls, strings are quoted."""
        cols = ", ".join(quote_ident(c) for c in data.column_names)
        statement = f"COPY {quote_ident(table_name)} ({cols}) FROM STDIN (FORMAT csv)"
        write_options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        try:
            with self._con.cursor() as cursor, cursor.copy(statement) as copy:
                for batch in data.to_batches(max_chunksize=COPY_BATCH_ROWS):
                    sink = pa.BufferOutputStream()
                    pacsv.write_csv(batch, sink, write_options)
                    copy.write(memoryview(sink.getvalue()))
        except psycopg.Error as exc:
            raise self._translate(exc, f"append to {table_name}") from exc

    def analyze(self, table_name: str) -> None:
        # Autovacuum never analyzes temporary tables: without this, a join with a freshly filled
        # staging table may be planned as a nested loop over millions of rows.
        self.execute(f"ANALYZE {quote_ident(table_name)}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. A writer first takes the writer lock (waits ``lock_timeout`` at most)."""
        try:
            with self._con.transaction():
                if not self.read_only:
                    self.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])
                yield
        except psycopg.Error as exc:  # from BEGIN, COMMIT or ROLLBACK themselves
            raise self._translate(exc, "COMMIT") from exc

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in one snapshot (REPEATABLE READ), without the writer lock."""
        if self._con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            yield  # inside a transaction already: it is the view
            return
        self._con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with self._con.transaction():
                yield
        except psycopg.Error as exc:
            raise self._translate(exc, "snapshot") from exc
        finally:
            self._con.isolation_level = None

    def ibis(self) -> IbisBackend:
        """Ibis on this very connection: it sees what the open transaction wrote."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.postgres.from_connection(self._con)
        return self._ibis

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._con.close()

    # -- errors --------------------------------------------------------------------------
    def _translate(self, exc: psycopg.Error, context: str) -> Exception:
        message = _one_line(exc)
        state = exc.sqlstate or ""
        if state == "55P03":  # lock_not_available: another writer holds the store
            return StoreBusyError(
                f"The store {self.label} is in use by another process, probably an import; waited "
                f"{self.lock_timeout:g} s. Try again when it is done, or raise SALESPILOT_LOCK_TIMEOUT."
            )
        if state in ("40001", "40P01"):
            return StoreBusyError(f"The store {self.label} was changed by another process at the same time; try again.")
        if isinstance(exc, psycopg.OperationalError) and (not state or state.startswith(("08", "57"))):
            return StoreError(f"Lost the connection to the PostgreSQL store {self.label}: {message}")
        if state.startswith("53"):
            return StoreError(f"The PostgreSQL server of {self.label} is out of resources (disk, memory): {message}")
        if state.startswith("23"):
            return StoreError(f"A constraint of the store was violated: {message}")
        if state == "42501":
            return StoreError(f"The PostgreSQL user of {self.label} may not do this: {message}")
        if state in ("22021", "22P05") or "(0x00)" in message:
            return StoreError(f"PostgreSQL cannot store a value (text with a NUL byte?): {message}")
        return InternalError(f"Store query failed ({context.strip()[:200]}): {message}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).rstrip(".")


def _form() -> str:
    return f"The form is {URL_FORM}."


def _connect_error(exc: psycopg.Error, label: str, given: dict[str, Any]) -> StoreError:
    """One paragraph for each way a connection fails: URL, server, login, database."""
    message = _one_line(exc)
    reason = re.sub(r"^(connection failed: )?(connection to server at .*? failed: )?", "", message)
    reason = reason.replace("FATAL: ", "")
    server = f"{given.get('host', 'the local socket')}:{given.get('port', 5432)}"
    lowered = reason.lower()
    if "database" in lowered and "does not exist" in lowered:
        name = given.get("dbname", given.get("user", ""))
        return StoreError(
            f'The database "{name}" does not exist on the PostgreSQL server {server} ({label}). Create it '
            f'first (createdb {name}, or CREATE DATABASE "{name}"), or correct the URL.'
        )
    if any(word in lowered for word in ("password authentication failed", "role", "no pg_hba.conf", "authentication")):
        return StoreError(
            f"The PostgreSQL server {server} refused the login for {label}: {reason}. Check the user name and "
            "password in the URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) and the server's pg_hba.conf."
        )
    if isinstance(exc, psycopg.ProgrammingError) or lowered.startswith("connection is bad: invalid"):
        reason = reason.removeprefix("connection is bad: ")
        return StoreError(f"{label} is not a valid PostgreSQL URL: {reason}. {_form()}")
    if any(
        word in lowered
        for word in ("refused", "resolve host", "translate host", "timeout", "no route", "unreachable", "timed out")
    ):
        return StoreError(
            f"Cannot reach the PostgreSQL server {server} for the store {label}: {reason}. Is the server "
            "running, and are the host and port right?"
        )
    return StoreError(f"Cannot open the PostgreSQL store {label}: {reason}.")
