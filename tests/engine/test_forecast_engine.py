"""The forecast and its backtest on the small demo company, through the API and the command."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import run_cli

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("forecast") / "demo.duckdb"
    with salespilot.open(path) as ws:
        ws.demo("small")
    return path


@pytest.fixture
def ws(demo_db: Path) -> Iterator[Workspace]:
    with salespilot.open(demo_db, read_only=True) as workspace:
        yield workspace


def test_forecast_as_of_a_past_date(ws: Workspace) -> None:
    result = ws.forecast(horizon="quarter", as_of="2025-12-15", by="rep", simulations=2000)
    assert result["now"].startswith("2025-12-15T") and (result["from"], result["to"]) == ("2025-10-01", "2025-12-31")
    assert result["already_won"] <= result["p10"] <= result["p50"] <= result["p90"]
    assert result["p10"] < result["expected"] < result["p90"]
    # Already won: the revenue KPI of the quarter up to that day (the same deals; the KPI converts
    # at each close day's rate, the forecast at the day's last rate: a small difference).
    kpi = ws.as_of("2025-12-15").kpi("revenue", grain="quarter", start="2025-10-01", output="rows")
    assert result["already_won"] == pytest.approx(kpi[0]["value"], rel=0.02)
    groups = result["groups"]
    assert sum(g["expected"] for g in groups) == pytest.approx(result["expected"] - result["new_pipeline"])
    assert all(0 <= d["probability"] <= 1 for d in result["deals"])
    with pytest.raises(ParameterError, match='--horizon "fortnight"'):
        ws.forecast(horizon="fortnight")


def test_a_short_history_says_so(tmp_path: Path) -> None:
    """The team store has four closed deals, too short a history for snapshots 90 days back: the
    rate falls back to the value won among closed deals (1000 + 1000 + 3000 of 5500, four deals),
    the forecast says so, and its range is wide: O5 (700) may be lost and nothing new come."""
    from tests.engine.team_store import build

    with salespilot.open(build(tmp_path)) as small:
        result = small.forecast(horizon="90-days", simulations=2000)
    assert result["flags"] == ["history_shorter_than_horizon", "small_history: 4 closed deals"]
    (deal,) = result["deals"]
    assert deal["opportunity_id"] == "O5"
    assert deal["stage_rate"] == pytest.approx((5000 / 5500 * 4 + 0.5) / 5)
    assert result["expected"] == pytest.approx(700 * deal["probability"] + result["new_pipeline"])
    assert result["p10"] == 0 and result["p90"] > 2 * result["expected"]


def test_categories_sum_the_deals(ws: Workspace) -> None:
    result = ws.forecast(simulations=500)
    assert sum(c["deals"] for c in result["categories"]) == len(result["deals"])
    assert {c["category"] for c in result["categories"]} >= {"commit", "pipeline"}


def test_the_backtest_does_not_peek(demo_db: Path, tmp_path: Path) -> None:
    """Making every deal created from 2025-09 ten times larger changes nothing in the forecasts
    made up to 2025-07-31, nor in what was booked by then."""
    with salespilot.open(demo_db, read_only=True) as ws:
        before = ws.backtest(start="2025-06-01", end="2025-08-31", simulations=500)
    changed = tmp_path / "changed.duckdb"
    shutil.copyfile(demo_db, changed)
    with salespilot.open(changed) as ws:
        ws.sql("UPDATE opportunities SET amount = amount * 10 WHERE created_at >= TIMESTAMP '2025-09-01'")
        after = ws.backtest(start="2025-06-01", end="2025-08-31", simulations=500)
        later = ws.backtest(start="2025-06-01", end="2025-12-31", simulations=500)
    assert [p["period"] for p in before["periods"]] == ["2025-06", "2025-07", "2025-08"]
    assert before["periods"] == after["periods"]
    assert later["periods"][-1]["actual"] != before["periods"][-1]["actual"]  # the later ones do see it
    assert set(before["methods"]) == {"forecast", "weighted_pipeline", "run_rate"}
    assert 0 <= before["coverage"] <= 1


def test_forecast_commands(demo_db: Path) -> None:
    table = run_cli("forecast", "--horizon", "90-days", "--by", "team", db=demo_db)
    assert table.returncode == 0, table.stderr
    assert "expected" in table.stdout and "P90" in table.stdout and "team" in table.stdout
    data = json.loads(run_cli("forecast", "--format", "json", "--simulations", "500", db=demo_db).stdout)
    assert {"expected", "p10", "p50", "p90", "deals", "weighted_pipeline", "run_rate", "rates"} <= set(data)
    csv_out = run_cli("forecast", "--format", "csv", "--simulations", "500", db=demo_db).stdout
    assert csv_out.splitlines()[0].startswith("opportunity_id,owner,stage")
    back = run_cli("forecast", "backtest", "--from", "2025-10-01", "--simulations", "300", db=demo_db)
    assert back.returncode == 0, back.stderr
    assert "P10-P90 coverage" in back.stdout and "weighted_pipeline" in back.stdout
    kpi = run_cli("kpi", "revenue", "--grain", "year", "--as-of", "2025-06-30", "--format", "json", db=demo_db)
    years = {r["period"]: r["value"] for r in json.loads(kpi.stdout)}
    assert not years.get("2026")
    for args, message in (
        (("forecast", "--horizon", "soon"), '--horizon "soon" is not a horizon'),
        (("forecast", "--as-of", "2025-13-01"), '--as-of "2025-13-01" is not a date'),
        (("forecast", "backtest", "--from", "2026-05-01", "--to", "2026-01-01"), "before"),
    ):
        run = run_cli(*args, db=demo_db)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr
