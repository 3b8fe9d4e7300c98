"""The real ``salespilot`` command in a subprocess: outputs, exit codes, no tracebacks.

Tests taking ``db_url`` run on both stores: a DuckDB file and a PostgreSQL database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import DATA, EXAMPLES, run_cli, write

MAVEN = DATA / "maven"


def test_import_json_summary_has_the_documented_keys(db_path: Path) -> None:
    run = run_cli(
        "import",
        str(MAVEN / "sales_pipeline.csv"),
        "--mapping",
        str(EXAMPLES / "mappings" / "maven" / "sales_pipeline.yaml"),
        "--format",
        "json",
        db=db_path,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert list(data)[:8] == ["table", "file", "rows_read", "inserted", "updated", "unchanged", "rejected", "rejects"]
    assert (data["table"], data["rows_read"], data["inserted"], data["rejected"]) == ("opportunities", 8800, 8300, 500)
    assert len(data["rejects"]) == 100
    assert set(data["rejects"][0]) == {"row", "column", "value", "reason"}
    assert data["rejects"][0] == {
        "row": 8302,
        "column": "engage_date",
        "value": None,
        "reason": "created_at is required but empty",
    }


def test_import_table_summary_then_rejects_and_status(db_url: str) -> None:
    run = run_cli(
        "import",
        str(MAVEN / "sales_pipeline.csv"),
        "--mapping",
        str(EXAMPLES / "mappings" / "maven" / "sales_pipeline.yaml"),
        db=db_url,
    )
    assert run.returncode == 0, run.stderr
    assert "rows read" in run.stdout and "8,800" in run.stdout and "8,300" in run.stdout
    rejects = run_cli("rejects", "--format", "json", "--limit", "3", db=db_url)
    assert rejects.returncode == 0, rejects.stderr
    assert [r["row"] for r in json.loads(rejects.stdout)] == [8302, 8303, 8304]
    status = run_cli("status", "--format", "json", db=db_url)
    info = json.loads(status.stdout)
    by_table = {t["table"]: t for t in info["tables"]}
    assert by_table["opportunities"]["rows"] == 8300
    assert by_table["opportunities"]["first"] == "2016-10-20T00:00:00"
    assert info["imports"][0]["rejected"] == 500


def test_db_option_beats_environment(tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\n")
    other = tmp_path / "other.duckdb"
    run = run_cli("import", str(tmp_path / "leads.csv"), "--db", str(other), db=tmp_path / "env.duckdb")
    assert run.returncode == 0, run.stderr
    assert other.exists() and not (tmp_path / "env.duckdb").exists()


def test_default_store_is_in_the_current_folder(tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\n")
    run = run_cli("import", "leads.csv", cwd=tmp_path, env={"SALESPILOT_DB": ""})
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "salespilot.duckdb").exists()


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["import", "missing.csv", "--table", "leads"], "missing.csv"),
        ({"empty.csv": ""}, ["import", "empty.csv", "--table", "leads"], "empty.csv"),
        ({"x.csv": "a,b\n1,2\n"}, ["import", "x.csv", "--table", "lead"], 'Did you mean "leads"'),
        ({"x.csv": "a,b\n1,2\n"}, ["import", "x.csv", "--table", "leads"], "has no column for lead_id"),
        (
            {"x.csv": "lead_id,created_at\n1,2\n", "m.yaml": "table: leads\ncolumns: {lead_id: Id}\n"},
            ["import", "x.csv", "--mapping", "m.yaml"],
            'column "Id"',
        ),
        (
            {"x.csv": "lead_id,created_at\n1,2024-01-01\n", "m.yaml": "table: leads\ncolumns: {leadid: lead_id}\n"},
            ["import", "x.csv", "--mapping", "m.yaml"],
            'Did you mean "lead_id"',
        ),
        ({"x.csv": "lead_id,created_at\n1,yesterday\n"}, ["import", "x.csv", "--table", "leads"], "created_at"),
        ({"x.bin": "\x00\x01\x02binary"}, ["import", "x.bin", "--table", "leads", "--format", "json"], "x.bin"),
        ({}, ["settings", "timezone", "Mars/Olympus"], "IANA"),
        ({}, ["settings", "timezon"], 'Did you mean "timezone"'),
        ({}, ["demo", "--size", "huge"], "huge"),
    ],
)
def test_mistakes_end_in_a_message_not_a_traceback(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    for name, content in files.items():
        write(tmp_path / name, content)
    run = run_cli(*args, cwd=tmp_path, db=tmp_path / "s.duckdb")
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    assert message in run.stderr


def test_status_without_a_store_says_how_to_make_one(db_url: str) -> None:
    run = run_cli("status", db=db_url)  # a file that does not exist, or an empty database
    assert run.returncode == 2
    assert "No store at" in run.stderr and "salespilot demo" in run.stderr


def test_settings_round_trip(db_url: str) -> None:
    assert run_cli("settings", "timezone", "Europe/Paris", db=db_url).returncode == 0
    shown = run_cli("settings", "timezone", db=db_url)
    assert "Europe/Paris" in shown.stdout


def test_schema_and_presets_are_listed() -> None:
    schema = run_cli("schema", "opportunities")
    assert "opportunity_id*" in schema.stdout and "outcome*" in schema.stdout
    presets = run_cli("presets")
    assert "hubspot-deals" in presets.stdout.split()
