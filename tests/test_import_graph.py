"""Rooms import one way: faces -> engine -> analytics -> metrics -> store; ingest knows no database."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "src" / "salespilot"
# Each room may import only the rooms listed (and itself). Leaf modules are open to all.
ALLOWED: dict[str, set[str]] = {
    "cli": {"server", "engine", "analytics", "ingest", "metrics", "store", "model", "errors", "settings", "safe_csv"},
    "server": {"engine", "metrics", "model", "errors", "settings", "safe_csv"},
    "engine": {"analytics", "metrics", "ingest", "store", "demo", "model", "errors", "settings", "safe_csv"},
    "analytics": {"metrics", "model", "errors", "settings"},
    "metrics": {"model", "errors", "settings"},
    "store": {"model", "errors", "settings"},
    "ingest": {"model", "errors"},
    "demo": {"model", "errors"},
    "model": set(),
    "errors": set(),
    "settings": {"model", "errors"},
    "safe_csv": set(),
}
# Ibis is the portable query layer (metrics builds expressions with it); its backends are drivers.
DATABASE_DRIVERS = {"duckdb", "psycopg", "psycopg2", "sqlalchemy", "pyspark", "ibis.backends"}


def _room(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_rooms_import_only_downward() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        room = _room(path)
        if room in ("__init__", "__main__"):
            continue
        assert room in ALLOWED, f"new room {room}: add it to ALLOWED with its allowed imports"
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "salespilot" or len(parts) < 2:
                continue
            target = parts[1]
            if target != room and target not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_only_the_store_knows_database_drivers() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if _room(path) == "store":
            continue
        for module in _imports(path):
            if module.split(".")[0] in DATABASE_DRIVERS or module.startswith("ibis.backends"):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "\n".join(wrong)
