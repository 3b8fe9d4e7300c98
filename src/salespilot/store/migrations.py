"""Versioned schema migrations, recorded in the store's ``schema_migrations`` table.

Migrations are SQL files ``NNNN_name.sql`` in the ``migrations/`` folder beside this module,
applied in order, each in its own transaction. A store written by a newer SalesPilot (a
version we do not know) is refused rather than guessed at.
"""

from __future__ import annotations

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


def migrate(store: Store) -> list[Migration]:
    """Bring the store to the newest schema; return the migrations applied now."""
    migrations = available()
    known = {m.version for m in migrations}
    if not store.table_exists("schema_migrations"):
        if store.read_only:
            raise MigrationError(f"{store.path} has no SalesPilot schema; open it once for writing to create it.")
        store.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
            "applied_at TIMESTAMP NOT NULL)"
        )
    done = {int(v) for (v,) in store.fetchall("SELECT version FROM schema_migrations")}
    unknown = sorted(done - known)
    if unknown:
        raise MigrationError(
            f"The store {store.path} has schema version {max(unknown)}, newer than this SalesPilot knows "
            f"({max(known)}). Upgrade SalesPilot to open it."
        )
    pending = [m for m in migrations if m.version not in done]
    if pending and store.read_only:
        raise MigrationError(f"The store {store.path} needs a schema upgrade; open it once for writing.")
    for migration in pending:
        with store.transaction():
            for statement in _statements(migration.sql):
                store.execute(statement)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, CAST(now() AS TIMESTAMP))",
                [migration.version, migration.name],
            )
    return pending
