"""``salespilot plan``: the reference table printed, JSON output, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.analytics.planner_store import build

import salespilot
from salespilot.cli.main import cli
from salespilot.cli.plan_cmd import shown


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build(tmp_path_factory.mktemp("plancli")))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["plan", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        return 2, f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.output


def _volumes(text: str) -> dict[str, str]:
    cells = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.replace("│", "|").split("|") if p.strip()]
        if len(parts) >= 2 and parts[0] in ("calls", "leads", "opportunities", "signatures", "revenue"):
            cells[parts[0]] = parts[1]
    return cells


def test_reference_table_forward_and_backward(hand_db: str) -> None:
    code, out = run("--calls", "100", "--db", hand_db)
    assert code == 0, out
    cells = _volumes(out)
    assert (cells["leads"], cells["opportunities"], cells["signatures"]) == ("10", "3.3", "1.1")
    code, out = run("--signatures", "1.1", "--db", hand_db)
    assert code == 0, out
    assert _volumes(out)["calls"] == "100"


def test_json_output_keys(hand_db: str) -> None:
    code, out = run("--revenue", "21780", "--deal-value", "2000", "--format", "json", "--db", hand_db)
    assert code == 0, out
    data = json.loads(out)
    assert data["direction"] == "backward" and data["rates_source"] == "reference"
    assert {v["name"]: v["value"] for v in data["volumes"]}["calls"] == pytest.approx(1000)
    assert [h["role"] for h in data["headcount"]] == ["sdr", "ae"]
    assert data["window"]["deal_value_source"] == "option"
    assert set(data) >= {"horizon_days", "working_days", "deal_value", "rates", "interval_method", "flags"}


def test_measured_with_capacity_options(hand_db: str) -> None:
    args = ["--team", "--rates", "measured", "--from", "2024-01-01", "--to", "2024-12-31"]
    args += ["--sdr-calls-per-day", "10", "--ae-opportunities-per-month", "5", "--working-days", "20"]
    code, out = run(*args, "--horizon", "quarter", "--format", "json", "--db", hand_db)
    assert code == 0, out
    data = json.loads(out)
    volumes = {v["name"]: v for v in data["volumes"]}
    assert volumes["calls"]["value"] == pytest.approx(2 * 10 * 20 * 3)
    assert volumes["leads"]["value"] == pytest.approx(240)  # 1,200 calls x 0.2
    assert volumes["leads"]["low"] < 240 < volumes["leads"]["high"]
    code, out = run(*args, "--db", hand_db)
    assert code == 0 and "low" in out and "high" in out and "wilson" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--revenue", "1000", "--calls", "100"], "contradict"),
        (["--calls", "100", "--team"], "contradict"),
        ([], "nothing to plan"),
        (["--calls", "100", "--horizon", "soon"], "--horizon"),
        (["--calls", "100", "--rates", "measured", "--from", "2020-01-01", "--to", "2020-12-31"], "unknown"),
        (["--signatures", "3", "--rates", "measured", "--from", "2020-01-01", "--to", "2020-12-31"], "unknown"),
        (["--calls", "100", "--from", "2024-13-01", "--rates", "measured"], "not a date"),
    ],
)
def test_errors_are_one_paragraph(hand_db: str, args: list[str], message: str) -> None:
    code, out = run(*args, "--db", hand_db)
    assert code != 0
    assert message in out
    assert "Traceback" not in out


def test_revenue_without_deal_value_in_an_empty_store(tmp_path: Path) -> None:
    salespilot.open(tmp_path / "empty.duckdb").close()
    code, out = run("--revenue", "1000", "--db", str(tmp_path / "empty.duckdb"))
    assert code != 0 and "--deal-value" in out


def test_negative_values_are_refused(hand_db: str) -> None:
    code, out = run("--calls", "-5", "--db", hand_db)
    assert code == 2 and "--calls" in out


@pytest.mark.parametrize(
    ("value", "text"), [(101.01, "100"), (1.089, "1.1"), (3.3, "3.3"), (10.0, "10"), (23_303.6, "23,000"), (0, "0")]
)
def test_two_significant_figures(value: float, text: str) -> None:
    assert shown(value) == text
