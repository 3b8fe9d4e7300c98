"""PostgreSQL specifics: migrations, clear connection errors, atomicity under SIGKILL, readers during an import.

Each test gets a fresh database on the local server (``new_postgres_db``); without a server the
tests skip, or fail when SALESPILOT_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import POSTGRES_SERVER, run_cli, write

import salespilot
from salespilot.errors import MigrationError, StoreBusyError, StoreError
from salespilot.model import TABLES
from salespilot.store.connection import open_store
from salespilot.store.migrations import available, migrate
from salespilot.store.postgres import WRITE_LOCK_KEY

SERVER = POSTGRES_SERVER.rpartition("@")[2]  # host:port
ROWS = 300_000


@pytest.fixture
def url(new_postgres_db: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # rejects CSVs of a server store go to ./salespilot-rejects/
    return new_postgres_db()


def _big_leads(path: Path, rows: int = ROWS) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("lead_id,created_at,channel,campaign,owner_id,status\n")
        for i in range(rows):
            handle.write(
                f"L{i:07d},2024-{1 + i % 12:02d}-{1 + i % 28:02d},channel {i % 7},campaign {i % 31},R{i % 40},open\n"
            )
    return path


def _start_import(url: str, file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "salespilot", "import", str(file), "--table", "leads", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SALESPILOT_DB": url},
    )


def _writer_pid(admin: Any, url: str) -> int | None:
    """The server process of whoever holds the store's writer lock (an import in its transaction)."""
    row = admin.execute(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' "
        "AND l.granted AND d.datname = %s AND (l.classid::bigint << 32 | l.objid::bigint) = %s",
        [url.rsplit("/", 1)[1], WRITE_LOCK_KEY],
    ).fetchone()
    return None if row is None else int(row[0])


def _wait_for_writer(admin: Any, url: str, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = _writer_pid(admin, url)
        if pid is not None:
            return pid
        assert proc.poll() is None, f"the import ended before it was seen: {proc.communicate()}"
        time.sleep(0.02)
    raise AssertionError("the import never took the writer lock")


def _snapshot(url: str) -> dict[str, Any]:
    with salespilot.open(url, read_only=True) as ws:
        info = ws.status()
    return {"tables": info["tables"], "imports": info["imports"]}


def test_migrations_are_recorded_and_reopening_changes_nothing(url: str) -> None:
    with salespilot.open(url) as ws:
        store = ws.store
        assert store.kind == "postgres"
        recorded = store.fetchall("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        assert [(v, n) for v, n, _ in recorded] == [(m.version, m.name) for m in available()]
        tables = {r[0] for r in store.fetchall("SELECT table_name FROM information_schema.tables")}
        assert set(TABLES) | {"settings", "imports", "import_rejects", "import_warnings"} <= tables
        types = dict(
            store.fetchall(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'opportunities'"
            )
        )
        assert types["amount"] == "double precision"
        assert types["created_at"] == "timestamp without time zone"
        assert types["expected_close_date"] == "date"
    with open_store(url) as store:
        assert migrate(store) == []
        assert store.fetchall("SELECT version, name, applied_at FROM schema_migrations ORDER BY version") == recorded
    with salespilot.open(url, read_only=True) as ws:
        assert ws.status()["schema_version"] == max(m.version for m in available())
        assert ws.status()["store"] == url


def test_two_processes_creating_a_store_at_once_both_succeed(url: str) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            salespilot.open(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with open_store(url) as store:
        assert store.scalar("SELECT count(*) FROM schema_migrations") == len(available())


def test_a_newer_schema_is_refused(url: str) -> None:
    with salespilot.open(url) as ws:
        ws.store.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [9999, "future", dt.datetime(2030, 1, 1)])
    with pytest.raises(MigrationError, match=r"schema version 9999, newer than this SalesPilot knows"):
        salespilot.open(url)
    run = run_cli("status", db=url)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert "newer than this SalesPilot knows" in run.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown database", r'The database "sp_missing_\w+" does not exist on the PostgreSQL server'),
        ("unknown role", r"refused the login for postgresql://sp_nobody_\w+@.*role .*does not exist"),
        ("closed port", r"Cannot reach the PostgreSQL server 127\.0\.0\.1:\d+ for the store postgresql://me@"),
        ("bad port", r'is not a valid PostgreSQL URL: invalid integer value "notaport".*The form is postgresql://'),
        ("bad parameter", r'is not a valid PostgreSQL URL: invalid URI query parameter: "colour"'),
    ],
)
def test_connection_failures_are_one_paragraph_store_errors(
    postgres_admin: Any, tmp_path: Path, case: str, message: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    url = {
        "unknown database": f"{POSTGRES_SERVER}/sp_missing_{tag}",
        "unknown role": f"postgresql://sp_nobody_{tag}@{SERVER}/postgres",
        "closed port": f"postgresql://me:s3cret@127.0.0.1:{_free_port()}/crm",
        "bad port": "postgresql://me:s3cret@127.0.0.1:notaport/crm",
        "bad parameter": f"{POSTGRES_SERVER}/postgres?colour=blue&password=s3cret",
    }[case]
    with pytest.raises(StoreError, match=message) as caught:
        salespilot.open(url)
    text = str(caught.value)
    assert "\n" not in text and "s3cret" not in text
    run = run_cli("status", "--db", url, cwd=tmp_path)
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr and "s3cret" not in run.stderr
    assert text.split(":")[0] in run.stderr


def test_rejects_csv_of_a_server_store_goes_to_the_current_folder(url: str, tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\nL2,someday\n")
    with salespilot.open(url) as ws:
        result = ws.import_file(tmp_path / "leads.csv")
    database = url.rsplit("/", 1)[1]
    assert result.rejects_file == str(tmp_path / "salespilot-rejects" / f"{database}-0001-leads.csv")
    assert "someday" in Path(result.rejects_file).read_text(encoding="utf-8")


def test_demo_and_every_command_work_on_a_url(url: str) -> None:
    demo = run_cli("demo", "--size", "small", "--db", url)
    assert demo.returncode == 0, demo.stderr
    assert f"Demo company written to {url}" in demo.stdout
    status = run_cli("status", "--format", "json", "--db", url)
    assert status.returncode == 0, status.stderr
    rows = {t["table"]: t["rows"] for t in json.loads(status.stdout)["tables"]}
    assert all(rows[name] > 0 for name in TABLES)
    again = run_cli("demo", "--size", "small", "--db", url)
    assert again.returncode == 2 and "already holds data" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.slow
def test_sigkill_during_an_import_leaves_the_database_unchanged_and_a_retry_succeeds(
    url: str, tmp_path: Path, postgres_admin: Any
) -> None:
    big = _big_leads(tmp_path / "leads.csv")
    write(tmp_path / "first.csv", "lead_id,created_at\nL0000001,2023-01-01\nX1,2023-02-01\n")
    assert run_cli("import", str(tmp_path / "first.csv"), "--table", "leads", db=url).returncode == 0
    before = _snapshot(url)

    proc = _start_import(url, big)
    server_pid = _wait_for_writer(postgres_admin, url, proc)
    # Kill once rows are flowing into the database (a COPY of this import is under way).
    deadline = time.monotonic() + 60
    while not postgres_admin.execute(
        "SELECT count(*) FROM pg_stat_progress_copy WHERE pid = %s AND tuples_processed > 0", [server_pid]
    ).fetchone()[0]:
        assert proc.poll() is None and time.monotonic() < deadline, "no rows were seen reaching the database"
        time.sleep(0.01)
    time.sleep(0.3)
    assert proc.poll() is None, "the import ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert _snapshot(url) == before  # at once: nothing of the killed transaction is visible
    retry = run_cli("import", str(big), "--table", "leads", "--format", "json", db=url)
    assert retry.returncode == 0, retry.stderr
    result = json.loads(retry.stdout)
    assert (result["rows_read"], result["inserted"], result["updated"], result["rejected"]) == (ROWS, ROWS - 1, 1, 0)
    assert result["import_id"] == 2
    assert _writer_pid(postgres_admin, url) is None


@pytest.mark.slow
def test_readers_see_the_old_data_or_all_of_the_new_and_writers_wait(
    url: str, tmp_path: Path, postgres_admin: Any
) -> None:
    rows = 1_000_000  # long enough to be caught in the act on a busy machine
    big = _big_leads(tmp_path / "leads.csv", rows)
    write(tmp_path / "first.csv", "lead_id,created_at\nX1,2023-02-01\n")
    assert run_cli("import", str(tmp_path / "first.csv"), "--table", "leads", db=url).returncode == 0

    proc = _start_import(url, big)
    _wait_for_writer(postgres_admin, url, proc)
    # Another writer: refused at once in process, and with a clear message from the CLI (exit 3).
    with (
        pytest.raises(StoreBusyError, match="in use by another process"),
        open_store(url, lock_timeout=0) as store,
        store.transaction(),
    ):
        pass
    refused = run_cli("settings", "timezone", "Europe/Paris", db=url, env={"SALESPILOT_LOCK_TIMEOUT": "0.2"})
    assert refused.returncode == 3 and "Traceback" not in refused.stderr, refused.stderr
    assert "in use by another process" in refused.stderr
    # Readers never wait, and see the store before the import or after all of it.
    seen: list[tuple[int, int]] = []
    while proc.poll() is None:
        started = time.monotonic()
        snapshot = _snapshot(url)
        assert time.monotonic() - started < 5, "a reader waited for the import"
        leads = next(t["rows"] for t in snapshot["tables"] if t["table"] == "leads")
        seen.append((leads, len(snapshot["imports"])))
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out)["inserted"] == rows
    final = _snapshot(url)
    seen.append((next(t["rows"] for t in final["tables"] if t["table"] == "leads"), len(final["imports"])))
    assert set(seen) <= {(1, 1), (rows + 1, 2)}, set(seen)
    assert seen[0] == (1, 1) and seen[-1] == (rows + 1, 2)
