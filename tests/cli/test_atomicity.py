"""An import lands whole or not at all, even when its process is killed; others wait or are told."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import run_cli, write

from salespilot.cli.main import main

pytestmark = pytest.mark.slow
ROWS = 1_500_000


def _big_leads(path: Path, rows: int = ROWS) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("lead_id,created_at,channel,campaign,owner_id,status\n")
        for i in range(rows):
            handle.write(
                f"L{i:07d},2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:{i % 60:02d}:00,"
                f"channel {i % 7},campaign {i % 31},R{i % 40},open\n"
            )
    return path


def _snapshot(db: Path) -> dict[str, object]:
    run = run_cli("status", "--format", "json", db=db)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    return {"tables": info["tables"], "imports": info["imports"]}


def _start_import(db: Path, file: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SALESPILOT_DB": str(db)}
    return subprocess.Popen(
        [sys.executable, "-m", "salespilot", "import", str(file), "--table", "leads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _wait_until_read(proc: subprocess.Popen[str], target: float) -> None:
    """Return once the process has read ``target`` bytes (Linux /proc/PID/io)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the import finished before it could be observed"
        fields = dict(line.split(": ") for line in Path(f"/proc/{proc.pid}/io").read_text().splitlines())
        if int(fields["rchar"]) >= target:
            return
        time.sleep(0.005)
    raise AssertionError("the import never got that far")


def test_sigkill_during_a_large_import_leaves_the_store_unchanged_and_a_retry_succeeds(tmp_path: Path) -> None:
    big = _big_leads(tmp_path / "leads.csv")
    db = tmp_path / "store.duckdb"
    write(tmp_path / "first.csv", "lead_id,created_at\nL0000001,2023-01-01\nX1,2023-02-01\n")
    assert run_cli("import", str(tmp_path / "first.csv"), "--table", "leads", db=db).returncode == 0
    before = _snapshot(db)

    # Kill it while it streams the file into the store: it reads the file three times (the
    # encoding check, the checksum, then the rows), so past 2.4 file sizes it is loading rows.
    proc = _start_import(db, big)
    try:
        _wait_until_read(proc, 2.4 * big.stat().st_size)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    assert proc.poll() is None, "the import ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert _snapshot(db) == before
    retry = run_cli("import", str(big), "--table", "leads", "--format", "json", db=db)
    assert retry.returncode == 0, retry.stderr
    result = json.loads(retry.stdout)
    assert (result["rows_read"], result["inserted"], result["updated"], result["rejected"]) == (ROWS, ROWS - 1, 1, 0)


def test_a_second_process_waits_for_the_import_and_sees_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = _big_leads(tmp_path / "leads.csv")
    db = tmp_path / "store.duckdb"
    write(tmp_path / "first.csv", "lead_id,created_at\nX1,2023-02-01\n")
    assert run_cli("import", str(tmp_path / "first.csv"), "--table", "leads", db=db).returncode == 0
    proc = _start_import(db, big)
    try:
        _wait_until_read(proc, 2.4 * big.stat().st_size)  # streaming rows into the store
        # Without patience: a clear message, exit status 3 (the command run in this process, so
        # that it gets there while the import still runs, whatever the machine's load).
        monkeypatch.setenv("SALESPILOT_DB", str(db))
        monkeypatch.setenv("SALESPILOT_LOCK_TIMEOUT", "0.2")
        monkeypatch.setattr(sys, "argv", ["salespilot", "status"])
        with pytest.raises(SystemExit) as exited:
            main()
        assert proc.poll() is None, "the import ended before the check"
        assert exited.value.code == 3
        err = capsys.readouterr().err
        assert "in use by another process" in err and "Traceback" not in err
        # With patience: it waits and sees the whole import, never a part of it.
        waited = run_cli("status", "--format", "json", db=db, env={"SALESPILOT_LOCK_TIMEOUT": "300"})
        assert waited.returncode == 0, waited.stderr
        leads = next(t for t in json.loads(waited.stdout)["tables"] if t["table"] == "leads")
        assert proc.wait(timeout=300) == 0
        assert leads["rows"] == ROWS + 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
