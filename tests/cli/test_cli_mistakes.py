"""Mistakes found by trying the product as a new user: each ends in a clear message, nothing lost."""

from __future__ import annotations

from pathlib import Path

import duckdb
from tests.conftest import run_cli, write


def test_a_data_file_given_as_the_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    data = write(tmp_path / "costs.csv", "period_start,amount\n2024-01-01,10\n")
    before = data.read_bytes()
    run = run_cli("import", str(data), "--db", str(data))
    assert run.returncode == 2 and "is not a SalesPilot store" in run.stderr and "Traceback" not in run.stderr
    assert data.read_bytes() == before
    fresh = run_cli("import", str(data), "--db", str(tmp_path / "new.csv"))
    assert fresh.returncode == 2 and "looks like a data file" in fresh.stderr
    assert not (tmp_path / "new.csv").exists()


def test_a_foreign_duckdb_database_is_not_written_into(tmp_path: Path) -> None:
    other = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE leads AS SELECT 1 AS x")
    con.close()
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\n")
    run = run_cli("import", str(tmp_path / "leads.csv"), "--db", str(other))
    assert run.returncode == 3 and "not a SalesPilot store" in run.stderr and "leads" in run.stderr
    con = duckdb.connect(str(other), read_only=True)
    tables = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert tables == {"leads"}


def test_a_missing_file_creates_no_store(tmp_path: Path) -> None:
    run = run_cli("import", "nope.csv", "--table", "leads", cwd=tmp_path, db=tmp_path / "s.duckdb")
    assert run.returncode == 2 and "nope.csv" in run.stderr
    assert not (tmp_path / "s.duckdb").exists()


def test_an_import_whose_every_row_is_rejected_fails(tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at,status\n,2024-01-01,new\n,2024-01-02,new\n")
    run = run_cli("import", str(tmp_path / "leads.csv"), db=tmp_path / "s.duckdb")
    assert run.returncode == 2 and "every one of the 2 rows" in run.stderr
    assert "rejected" in run.stdout  # the summary is still printed


def test_rejects_of_an_unknown_import_say_so(tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\n")
    assert run_cli("import", str(tmp_path / "leads.csv"), db=tmp_path / "s.duckdb").returncode == 0
    run = run_cli("rejects", "--import", "999", db=tmp_path / "s.duckdb")
    assert run.returncode == 2 and "no import 999" in run.stderr and "1 to 1" in run.stderr


def test_timezone_typos_get_a_suggestion(tmp_path: Path) -> None:
    run = run_cli("settings", "timezone", "Europe/Pari", db=tmp_path / "s.duckdb")
    assert run.returncode == 2 and 'Did you mean "Europe/Paris"' in run.stderr


def test_a_bad_export_date_is_refused_before_the_store_is_created(tmp_path: Path) -> None:
    leads = write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2026-01-05\n")
    run = run_cli("import", str(leads), "--exported-at", "end of March", db=tmp_path / "s.duckdb")
    assert run.returncode == 2 and "--exported-at" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "s.duckdb").exists()
    done = run_cli("import", str(leads), "--exported-at", "2026-01-31T18:00", db=tmp_path / "s.duckdb")
    assert done.returncode == 0, done.stderr
