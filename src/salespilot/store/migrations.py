"""Versioned schema migrations, recorded in the store's ``schema_migrations`` table.

Migrations are SQL files ``NNNN_name.sql`` in the ``migrations/`` folder beside this module,
applied in order, each in its own transaction. A store written by a newer SalesPilot (a
version we do not know) is refused rather than guessed at. The SQL is portable: the same
files run on DuckDB and PostgreSQL. Two processes opening a new store at once are safe: each
step runs in a writer transaction and checks again what is already done.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from importlib import resources

from salespilot.errors import MigrationError
from salespilot.store.connection import Store

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    folder = resources.files("salespilot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def current_version(store: Store) -> int:
    if not store.table_exists("schema_migrations"):
        return 0
    return int(store.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _refuse_foreign(store: Store) -> None:
    """Refuse a database that holds tables of its own but no SalesPilot schema."""
    others = [
        str(name)
        for (name,) in store.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        )
    ]
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        raise MigrationError(
            f"{store.label} is a database with tables of its own ({shown}) but no SalesPilot schema: it is "
            "not a SalesPilot store, and SalesPilot will not write into it. Use a new file or an empty database."
        )


def migrate(store: Store) -> list[Migration]:
    """Bring the store to the newest schema; return the migrations applied now."""
    migrations = available()
    known = {m.version for m in migrations}
    if not store.table_exists("schema_migrations"):
        if store.read_only:
            _refuse_foreign(store)
            raise MigrationError(f"{store.label} has no SalesPilot schema; open it once for writing to create it.")
        with store.transaction():
            # Checked again under the writer lock: another process may have created the store since.
            if not store.table_exists("schema_migrations"):
                _refuse_foreign(store)
                store.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
                )
    done = {int(v) for (v,) in store.fetchall("SELECT version FROM schema_migrations")}
    unknown = sorted(done - known)
    if unknown:
        raise MigrationError(
            f"The store {store.label} has schema version {max(unknown)}, newer than this SalesPilot knows "
            f"({max(known)}). Upgrade SalesPilot to open it."
        )
    pending = [m for m in migrations if m.version not in done]
    if pending and store.read_only:
        raise MigrationError(f"The store {store.label} needs a schema upgrade; open it once for writing.")
    applied = []
    for migration in pending:
        with store.transaction():
            if store.scalar("SELECT count(*) FROM schema_migrations WHERE version = ?", [migration.version]):
                continue  # another process applied it while we waited for the writer lock
            for statement in _statements(migration.sql):
                store.execute(statement)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            )
        applied.append(migration)
    return applied
