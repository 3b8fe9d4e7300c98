from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

import salespilot
from salespilot.engine.workspace import Workspace

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
# The PostgreSQL server the tests create their databases on (trust auth on this machine and in CI).
POSTGRES_SERVER = os.environ.get("SALESPILOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = ["duckdb", "postgres"]


def require_service(reason: str) -> NoReturn:
    """Skip a test whose service is missing, visibly; with SALESPILOT_REQUIRE_SERVICES=1 (CI), fail it."""
    if os.environ.get("SALESPILOT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (SALESPILOT_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


@pytest.fixture
def ws(db_path: Path) -> Iterator[Workspace]:
    workspace = salespilot.open(db_path)
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    """A connection to the test server's ``postgres`` database, to create and drop test databases."""
    try:
        import psycopg
    except ImportError:
        require_service("psycopg is not installed (pip install -e '.[postgres]')")
    where = POSTGRES_SERVER.rpartition("@")[2]
    try:
        admin = psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        require_service(f"PostgreSQL not reachable at {where}: {' '.join(str(exc).split())}")
    yield admin
    admin.close()


@pytest.fixture
def new_postgres_db(postgres_admin: Any) -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases (``sp_<random>``), each dropped after the test."""
    created: list[str] = []

    def make() -> str:
        name = f"sp_{uuid.uuid4().hex[:12]}"
        postgres_admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{POSTGRES_SERVER}/{name}"

    yield make
    for name in created:
        postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_db(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], str]:
    """A factory of fresh, empty stores of the backend under test: DuckDB paths or PostgreSQL URLs."""
    if backend == "duckdb":
        counter = itertools.count()
        return lambda: str(tmp_path / f"store{next(counter) or ''}.duckdb")
    make: Callable[[], str] = request.getfixturevalue("new_postgres_db")
    monkeypatch.chdir(tmp_path)  # a server store's rejects CSVs go to ./salespilot-rejects/
    return make


@pytest.fixture
def db_url(new_db: Callable[[], str]) -> str:
    """One fresh store, for each backend: ``store.duckdb`` in tmp_path, or a new PostgreSQL database."""
    return new_db()


def run_cli(
    *args: str,
    db: Path | str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``salespilot`` command in a subprocess (``stdin``: text on its standard input)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SALESPILOT_DEBUG", None)
    if db is not None:
        full_env["SALESPILOT_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "salespilot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
