"""The kpi command: list, formats, explain, user definitions, mistakes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from tests.conftest import run_cli, write

import salespilot


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kpi") / "demo.duckdb"
    with salespilot.open(path) as ws:
        ws.demo("small")
    return path


def test_list_shows_every_kpi_with_its_definition(demo_db: Path) -> None:
    run = run_cli("kpi", "--list", "--format", "json", db=demo_db)
    assert run.returncode == 0, run.stderr
    listed = {k["kpi"]: k for k in json.loads(run.stdout)}
    assert {"leads", "win_rate", "cac", "cohort_retention", "net_revenue_retention"} <= set(listed)
    assert listed["win_rate"]["label_fr"] and "won" in listed["win_rate"]["description"]


def test_json_csv_and_table_carry_the_same_numbers(demo_db: Path) -> None:
    as_json = json.loads(run_cli("kpi", "win_rate", "--grain", "year", "--format", "json", db=demo_db).stdout)
    as_csv = list(
        csv.DictReader(io.StringIO(run_cli("kpi", "win_rate", "--grain", "year", "--format", "csv", db=demo_db).stdout))
    )
    assert [r["period"] for r in as_json] == [r["period"] for r in as_csv]
    assert [r["numerator"] for r in as_json] == [int(r["numerator"]) for r in as_csv]
    table = run_cli("kpi", "win_rate", "--grain", "year", db=demo_db).stdout
    first = as_json[0]
    assert f"{first['value']:.1%}" in table and str(first["denominator"]) in table


def test_explain_prints_the_query(demo_db: Path) -> None:
    run = run_cli("kpi", "revenue", "--explain", db=demo_db)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("-- revenue") and "SELECT" in run.stdout and "opportunities" in run.stdout


def test_a_users_own_kpi_file_adds_definitions(demo_db: Path, tmp_path: Path) -> None:
    write(
        tmp_path / "mine.yaml",
        """
kpis:
  - name: enterprise_win_rate
    kind: rate
    label: {en: Enterprise win rate, fr: Taux de signature grands comptes}
    description: Won / closed, enterprise accounts only.
    unit: rate
    direction: up
    source: opportunities
    anchor: closed_at
    where: {outcome: [won, lost]}
    numerator: {outcome: won}
    denominator: {}
    dimensions: [rep, team, segment]
""",
    )
    mine = json.loads(
        run_cli(
            "kpi",
            "enterprise_win_rate",
            "--grain",
            "all",
            "--filter",
            "segment=enterprise",
            "--catalogue",
            str(tmp_path / "mine.yaml"),
            "--format",
            "json",
            db=demo_db,
        ).stdout
    )
    builtin = json.loads(
        run_cli(
            "kpi", "win_rate", "--grain", "all", "--filter", "segment=enterprise", "--format", "json", db=demo_db
        ).stdout
    )
    assert (mine[0]["numerator"], mine[0]["denominator"]) == (builtin[0]["numerator"], builtin[0]["denominator"])
    assert builtin[0]["denominator"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["win_rat"], 'Did you mean "win_rate"'),
        (["win_rate", "--by", "stage"], 'cannot be split or filtered by "stage"'),
        (["market_share", "--grain", "month"], "only defined by year or all"),
        (["leads", "--from", "2024-13-01"], "--from"),
        (["leads", "--filter", "channel"], "DIM=VALUE"),
        (["leads", "--from", "2024-05-01", "--to", "2024-01-01"], "before --from"),
    ],
)
def test_mistakes_are_one_clear_message(demo_db: Path, args: list[str], message: str) -> None:
    run = run_cli("kpi", *args, db=demo_db)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_a_bad_user_kpi_file_is_named(demo_db: Path, tmp_path: Path) -> None:
    write(
        tmp_path / "bad.yaml",
        "kpis:\n  - name: x\n    kind: count\n    label: {en: X, fr: X}\n    unit: count\n"
        "    source: lead\n    anchor: created_at\n",
    )
    run = run_cli("kpi", "x", "--catalogue", str(tmp_path / "bad.yaml"), db=demo_db)
    assert run.returncode == 2 and "bad.yaml" in run.stderr and 'Did you mean "leads"' in run.stderr
