"""``salespilot reps``, ``reps gaps``, ``targets`` and ``comp simulate`` through the real command:
every format, and mistakes that end in one clear line (exit 2), never a traceback."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from tests.conftest import run_cli
from tests.engine.team_store import build

EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "comp"
WINDOW = ("--from", "2026-01-01", "--to", "2026-02-28")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("teamcli"))


def test_reps_in_every_format(db: Path) -> None:
    table = run_cli("reps", *WINDOW, db=db)
    assert table.returncode == 0, table.stderr
    assert "2026-01, ae (4 reps)" in table.stdout and "1,000 (#2)" in table.stdout and "revenue 50%" in table.stdout
    data = json.loads(run_cli("reps", *WINDOW, "--format", "json", db=db).stdout)
    assert {"grain", "start", "end", "percentile", "measures", "reps"} <= set(data)
    rows = list(csv.DictReader(io.StringIO(run_cli("reps", *WINDOW, "--role", "sdr", "--format", "csv", db=db).stdout)))
    s1 = {r["measure"]: r for r in rows if r["rep"] == "S1" and r["period"] == "2026-01"}
    assert s1["calls"]["value"] == "20.0" and s1["call_to_lead"]["value"] == "0.2"


def test_gaps_in_every_format(db: Path) -> None:
    table = run_cli("reps", "gaps", *WINDOW, db=db)
    assert table.returncode == 0, table.stderr
    assert "activity volume x activity -> opportunity x cycle time x win rate x deal size" in table.stdout
    data = json.loads(run_cli("reps", "gaps", *WINDOW, "--format", "json", db=db).stdout)
    a1 = next(g for g in data["reps"] if g["rep"] == "A1")
    assert a1["gap"] == -2000 and len(a1["parts"]) == 5
    rows = list(csv.DictReader(io.StringIO(run_cli("reps", "gaps", *WINDOW, "--format", "csv", db=db).stdout)))
    assert sum(float(r["contribution"]) for r in rows if r["rep"] == "A1") == pytest.approx(-2000)


def test_targets_commands(tmp_path: Path, db: Path) -> None:
    mine = tmp_path / "t.duckdb"
    shutil.copyfile(db, mine)
    done = run_cli("targets", "set", "revenue", "2500", "--period", "2026-02", "--rep", "A1", db=mine)
    assert done.returncode == 0, done.stderr
    assert "Target set: revenue = 2,500 for rep A1 in 2026-02" in done.stdout
    listed = json.loads(run_cli("targets", "list", "--period", "2026-02", "--format", "json", db=mine).stdout)
    assert listed == [{"period": "2026-02", "metric": "revenue", "value": 2500.0, "scope": "rep", "scope_id": "A1"}]
    suggested = run_cli("targets", "suggest", "--role", "ae", *WINDOW, "--save", "2026-03", db=mine)
    assert suggested.returncode == 0, suggested.stderr
    assert "Saved for 2026-03: 20 targets new" in suggested.stdout  # 5 metrics x 4 AEs
    for args, message in (
        (("targets", "set", "revnue", "5", "--period", "2026-02"), 'Did you mean "revenue"'),
        (("targets", "set", "revenue", "5", "--period", "Q3"), '--period "Q3" is not a period'),
        (("targets", "set", "revenue", "5", "--period", "2026-02", "--team", "West"), '"West" is not a team'),
        (("targets", "set", "revenue", "-5", "--period", "2026-02"), "-5"),
        (("targets", "suggest", "--percentile", "100"), "--percentile"),
    ):
        run = run_cli(*args, db=mine)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr


def test_comp_simulate_in_every_format(db: Path) -> None:
    plan, flat = str(EXAMPLES / "ae-standard.yaml"), str(EXAMPLES / "ae-flat.yaml")
    table = run_cli("comp", "simulate", plan, *WINDOW, db=db)
    assert table.returncode == 0, table.stderr
    assert "AE standard: from 2026-01-01 to 2026-02-28, per month" in table.stdout and "cost of sales" in table.stdout
    data = json.loads(run_cli("comp", "simulate", plan, *WINDOW, "--format", "json", db=db).stdout)
    assert {"lines", "reps", "total", "rewards", "clawback_outside"} <= set(data)
    lines = list(
        csv.DictReader(io.StringIO(run_cli("comp", "simulate", plan, *WINDOW, "--format", "csv", db=db).stdout))
    )
    assert len(lines) == 8 and {"payout", "clawback", "bonuses_won"} <= set(lines[0])
    both = run_cli("comp", "simulate", plan, "--compare", flat, *WINDOW, db=db)
    assert both.returncode == 0 and "A: AE standard   B: AE flat 10%" in both.stdout


def test_comp_mistakes(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nquota: 10\ntiers:\n  - {from: 0, multiplier: 1}\n  - {from: 0, multiplier: 2}\n")
    for args, message in (
        (("comp", "simulate", str(tmp_path / "none.yaml")), "no such plan file"),
        (("comp", "simulate", str(bad)), "tiers[1].from: expected above the tier before (0) (got 0)."),
        (("comp", "simulate", str(EXAMPLES / "ae-flat.yaml"), "--from", "2026-03-01", "--to", "2026-01-01"), "before"),
    ):
        run = run_cli(*args, db=db)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr
