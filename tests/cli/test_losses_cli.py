"""The losses and qualification commands on the small demo company."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import run_cli

import salespilot
from salespilot.analytics.losses import LEVERS
from salespilot.cli.main import cli


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("losses") / "demo.duckdb"
    with salespilot.open(path) as ws:
        ws.demo("small")
    return path


def invoke(*args: str, db: Path) -> tuple[int, str]:
    """In process (fast); the real command runs once, for its error message."""
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_losses_json_and_levers(demo_db: Path) -> None:
    code, out = invoke("losses", "--grain", "year", "--format", "json", db=demo_db)
    assert code == 0, out
    data = json.loads(out)
    assert set(data) == {"by", "grain", "base_currency", "lost", "lost_value", "undated_lost", "rows"}
    assert data["rows"] and {r["reason"] for r in data["rows"]} == set(LEVERS)
    for row in data["rows"]:
        assert row["lever"] == LEVERS[row["reason"]]
        assert {"period", "lost", "lost_value", "share_of_lost", "share_of_lost_value", "texts"} <= set(row)
    assert sum(r["lost"] for r in data["rows"]) == data["lost"]


def test_losses_every_grouping_and_format(demo_db: Path) -> None:
    for by in ("stage", "competitor", "rep", "segment"):
        code, out = invoke("losses", "--by", by, "--grain", "all", "--format", "csv", db=demo_db)
        assert code == 0, out
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows and by in rows[0]
    competitors = json.loads(invoke("losses", "--by", "competitor", "--format", "json", db=demo_db)[1])
    assert {"won", "closed", "win_rate", "ci_low", "ci_high"} <= set(competitors["rows"][0])
    code, out = invoke("losses", "--from", "2025-01-01", "--to", "2025-06-30", db=demo_db)
    assert code == 0 and "lever" in out
    assert invoke("losses", "--by", "colour", db=demo_db)[0] != 0


def test_qualification_json_and_table(demo_db: Path) -> None:
    code, out = invoke("qualification", "--grain", "quarter", "--format", "json", db=demo_db)
    assert code == 0, out
    data = json.loads(out)
    keys = {"grain", "fields", "opportunities", "by_rep", "comparison", "fields_effect", "late_stage"}
    assert set(data) == keys | {"late_unqualified"}
    assert len(data["fields_effect"]) == 6 and [r["qualified"] for r in data["comparison"]] == ["fully", "partly"]
    code, out = invoke("qualification", "--late-stage", "negotiation", db=demo_db)
    assert code == 0 and "Fully vs partly" in out
    wrong = run_cli("qualification", "--late-stage", "nowhere", db=demo_db)
    assert wrong.returncode != 0 and "not a stage" in wrong.stderr
    assert invoke("qualification", "--format", "csv", db=demo_db)[1].startswith("opportunity_id,")
