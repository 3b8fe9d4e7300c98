"""The pipeline command: durations and stuck deals in every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from tests.conftest import run_cli

import salespilot


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "demo.duckdb"
    with salespilot.open(path) as ws:
        ws.demo("small")
    return path


def test_durations_formats(demo_db: Path) -> None:
    run = run_cli("pipeline", "durations", "--format", "json", db=demo_db)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {"data_end", "stages", "cycle"}
    assert data["stages"][0]["stage"] == "qualification"
    assert {"n", "events", "censored", "median", "p75", "p90"} <= set(data["cycle"])
    rows = list(csv.DictReader(io.StringIO(run_cli("pipeline", "durations", "--format", "csv", db=demo_db).stdout)))
    assert [r["stage"] for r in rows] == [s["stage"] for s in data["stages"]] + ["(whole cycle)"]
    assert float(rows[0]["median"]) == data["stages"][0]["median"]
    table = run_cli("pipeline", "durations", db=demo_db)
    assert table.returncode == 0 and "negotiation" in table.stdout


def test_stuck_formats_and_options(demo_db: Path) -> None:
    run = run_cli("pipeline", "stuck", "--format", "json", db=demo_db)
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert rows and {"opportunity_id", "owner", "stage", "days_in_stage", "threshold_days"} <= set(rows[0])
    assert {"value_at_risk", "days_since_activity", "reasons"} <= set(rows[0])
    with salespilot.open(demo_db, read_only=True) as ws:
        assert rows == json.loads(json.dumps(ws.stuck_deals(), default=str))
    stricter = json.loads(
        run_cli("pipeline", "stuck", "--percentile", "99", "--idle-days", "1000", "--format", "json", db=demo_db).stdout
    )
    assert len(stricter) < len(rows) and all(r["reasons"] == ["over_threshold"] for r in stricter)
    by_rep = json.loads(run_cli("pipeline", "stuck", "--by", "rep", "--format", "json", db=demo_db).stdout)
    assert sum(g["deals"] for g in by_rep) == len(rows)
    as_csv = list(csv.DictReader(io.StringIO(run_cli("pipeline", "stuck", "--format", "csv", db=demo_db).stdout)))
    assert [r["opportunity_id"] for r in as_csv] == [r["opportunity_id"] for r in rows]
    table = run_cli("pipeline", "stuck", "--by", "rep", db=demo_db)
    assert table.returncode == 0 and by_rep[0]["rep"] in table.stdout


def test_stuck_mistakes(demo_db: Path) -> None:
    run = run_cli("pipeline", "stuck", "--percentile", "100", db=demo_db)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    run = run_cli("pipeline", "stuck", "--by", "moon", db=demo_db)
    assert run.returncode != 0 and "Traceback" not in run.stderr
