"""``salespilot export --parquet DIR``: every table, the settings, a manifest; all or nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import run_cli
from tests.ibis_helpers import sorted_table

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import UserInputError
from salespilot.model import TABLES
from salespilot.store import export as store_export
from salespilot.store.migrations import current_version
from salespilot.store.status import table_counts

FILES = {f"{name}.parquet" for name in TABLES} | {"settings.json", "manifest.json"}


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    """A DuckDB store holding the small demo company, with one setting changed."""
    db = tmp_path / "demo.duckdb"
    with salespilot.open(db) as ws:
        ws.demo("small")
        ws.set_setting("base_currency", "USD")
    return db


def _hidden(folder: Path) -> list[str]:
    """Leftovers of an export: the hidden sibling folders it writes into."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_export_writes_every_table_the_settings_and_a_manifest(db_url: str, tmp_path: Path) -> None:
    with salespilot.open(db_url) as ws:
        ws.demo("small")
        ws.set_setting("timezone", "Europe/Paris")
        target = tmp_path / "out"
        manifest = ws.export_parquet(target)
        counts = table_counts(ws.store)
        columns = {name: ws.sql(f"SELECT * FROM {name} LIMIT 0").column_names for name in TABLES}
        opportunities = ws.sql("SELECT * FROM opportunities")
        assert json.loads((target / "settings.json").read_text()) == ws.settings()
        version = current_version(ws.store)
    assert {p.name for p in target.iterdir()} == FILES
    assert manifest == json.loads((target / "manifest.json").read_text())
    assert (manifest["format"], manifest["schema_version"]) == ("salespilot-parquet", version)
    exported_at = dt.datetime.fromisoformat(manifest["exported_at"].removesuffix("Z"))
    assert abs(dt.datetime.now(dt.UTC).replace(tzinfo=None) - exported_at) < dt.timedelta(minutes=5)
    assert json.loads((target / "settings.json").read_text())["timezone"] == "Europe/Paris"
    for name in TABLES:
        entry = manifest["tables"][name]
        assert entry["rows"] == counts[name] == pq.ParquetFile(target / entry["file"]).metadata.num_rows, name
        assert entry["columns"] == columns[name] == pq.read_schema(target / entry["file"]).names, name
        assert "_import_id" in entry["columns"]
    assert counts["activities"] > 10_000
    assert "source" in manifest["tables"]["stage_changes"]["columns"]
    written = pq.read_table(target / "opportunities.parquet")
    assert written.schema.field("created_at").type == pa.timestamp("us")  # naive UTC
    assert written.schema.field("amount").type == pa.float64()
    assert written.schema.field("expected_close_date").type == pa.date32()
    assert sorted_table(written).to_pylist() == sorted_table(opportunities).to_pylist()
    assert _hidden(tmp_path) == []


def test_the_command_exports_then_refuses_to_overwrite_without_replace(demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "parquet"
    run = run_cli("export", "--parquet", str(target), db=demo_db)
    assert run.returncode == 0, run.stderr
    assert "Exported 13 tables" in run.stdout and "activities" in run.stdout
    assert {p.name for p in target.iterdir()} == FILES
    before = _snapshot(target)

    again = run_cli("export", "--parquet", str(target), db=demo_db)
    assert again.returncode == 2
    assert "is not empty" in again.stderr and "--replace" in again.stderr
    assert "Traceback" not in again.stderr
    assert _snapshot(target) == before

    with salespilot.open(demo_db) as ws:
        ws.set_setting("base_currency", "GBP")
    replaced = run_cli("export", "--parquet", str(target), "--replace", db=demo_db)
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((target / "settings.json").read_text())["base_currency"] == "GBP"
    assert {p.name for p in target.iterdir()} == FILES
    assert _hidden(tmp_path) == []


def test_replace_refuses_a_folder_that_holds_no_export(demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "documents"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    run = run_cli("export", "--parquet", str(target), "--replace", db=demo_db)
    assert run.returncode == 2
    assert "holds no SalesPilot export" in run.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "keep me"


def test_an_existing_empty_folder_is_filled(demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    with salespilot.open(demo_db, read_only=True) as ws:
        manifest = ws.export_parquet(target)
    assert {p.name for p in target.iterdir()} == FILES
    assert manifest["tables"]["leads"]["rows"] == 5000


def test_a_file_a_missing_folder_or_a_missing_store_is_a_user_error(demo_db: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    run = run_cli("export", "--parquet", str(tmp_path / "a-file"), db=demo_db)
    assert run.returncode == 2 and "is a file" in run.stderr
    with salespilot.open(demo_db, read_only=True) as ws, pytest.raises(UserInputError, match="not a folder"):
        ws.export_parquet(tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "x"
    run = run_cli("export", "--parquet", str(tmp_path / "no" / "such" / "dir"), db=demo_db)
    assert run.returncode == 2 and "does not exist" in run.stderr
    assert not (tmp_path / "no").exists()
    run = run_cli("export", "--parquet", str(tmp_path / "out"), db=tmp_path / "missing.duckdb")
    assert run.returncode == 2 and "No store at" in run.stderr
    assert not (tmp_path / "out").exists()
    run = run_cli("export", db=demo_db)
    assert run.returncode == 2 and "--parquet" in run.stderr


def _fail_on_the_fourth_table(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    written: list[str] = []
    real = store_export.export_parquet

    def flaky(store: Any, table: str, path: Any) -> int:
        if len(written) == 3:
            raise OSError(28, "No space left on device", str(path))
        written.append(table)
        return real(store, table, path)

    monkeypatch.setattr(store_export, "export_parquet", flaky)
    return written


def test_a_failure_midway_leaves_no_partial_folder(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _fail_on_the_fourth_table(monkeypatch)
    target = tmp_path / "out"
    with salespilot.open(demo_db, read_only=True) as ws, pytest.raises(UserInputError, match="No space left"):
        ws.export_parquet(target)
    assert written == list(TABLES)[:3]  # it did fail midway
    assert not target.exists()
    assert _hidden(tmp_path) == []


def test_a_failure_midway_keeps_the_earlier_export(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    with salespilot.open(demo_db, read_only=True) as ws:
        ws.export_parquet(target)
    before = _snapshot(target)
    _fail_on_the_fourth_table(monkeypatch)
    with salespilot.open(demo_db, read_only=True) as ws, pytest.raises(UserInputError, match="Nothing was written"):
        ws.export_parquet(target, replace=True)
    assert _snapshot(target) == before
    assert _hidden(tmp_path) == []


def test_a_failure_after_the_files_are_written_leaves_nothing_either(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_disk(folder: Path) -> None:
        raise OSError(5, "Input/output error", str(folder))

    monkeypatch.setattr(store_export, "_sync_folder", broken_disk)
    with salespilot.open(demo_db, read_only=True) as ws, pytest.raises(UserInputError, match="Input/output error"):
        ws.export_parquet(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert _hidden(tmp_path) == []


def test_the_export_is_one_snapshot_of_a_store_open_for_writing(ws: Workspace, tmp_path: Path) -> None:
    ws.demo("small")
    manifest = ws.export_parquet(tmp_path / "out")
    assert sum(t["rows"] for t in manifest["tables"].values()) == sum(table_counts(ws.store).values())
    ws.set_setting("small_sample", "50")  # the store stays usable after the export's snapshot
    assert ws.get_setting("small_sample") == "50"
