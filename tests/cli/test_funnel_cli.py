"""``salespilot funnel`` on the small demo: it runs, and its JSON carries the documented keys."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import salespilot
from salespilot.cli.main import cli


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("funnel") / "demo.duckdb"
    with salespilot.open(path) as ws:
        ws.demo("small")
    return str(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["funnel", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        return 2, f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.output


def test_table_runs(demo_db: str) -> None:
    code, out = run("--grain", "year", "--db", demo_db)
    assert code == 0, out
    assert "lead -> opportunity" in out and "33%" in out


def test_json_keys_and_stages(demo_db: str) -> None:
    code, out = run("--grain", "all", "--stages", "--format", "json", "--db", demo_db)
    assert code == 0, out
    rows = json.loads(out)
    assert set(rows[0]) >= {
        "period",
        "step",
        "next_step",
        "volume",
        "rate",
        "ci_low",
        "ci_high",
        "reference",
        "below_reference",
        "lever",
        "flags",
    }
    steps = [r["step"] for r in rows]
    assert steps[:3] == ["call", "lead", "opportunity"] and steps[-1] == "signature"
    assert any(s.startswith("stage:") for s in steps)
    assert {r["reference"] for r in rows if r["step"] in ("lead", "opportunity")} == {0.33}


def test_by_dimension_csv_and_mistakes(demo_db: str) -> None:
    code, out = run("--grain", "year", "--by", "team", "--format", "csv", "--db", demo_db)
    assert code == 0, out
    assert out.splitlines()[0].startswith("period,team,step,")
    code, out = run("--by", "channel", "--db", demo_db)
    assert code == 2 and "--steps lead,opportunity,signature" in out
    code, out = run("--by", "channel", "--steps", "lead,opportunity,signature", "--format", "json", "--db", demo_db)
    assert code == 0 and json.loads(out)[0]["channel"] is not None
    code, out = run("--steps", "lead,signature", "--db", demo_db)
    assert code == 2
