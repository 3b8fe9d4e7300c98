"""The import preview (nothing written) and the rows behind a KPI (they add up to it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

CSV = (
    "opportunity_id,account_id,name,amount,currency,created_at,closed_at,stage,outcome,owner_id\n"
    "O1,A1,Deal one,1000,EUR,2026-01-05,2026-02-01,won,won,R1\n"
    "O2,A1,Deal two,abc,EUR,2026-01-06,,proposal,open,R1\n"
)


def test_preview_shows_rows_and_problems_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "opps.csv"
    path.write_text(CSV, encoding="utf-8")
    with Workspace(tmp_path / "s.duckdb") as ws:
        preview = ws.preview_file(path, table="opportunities")
        assert preview["table"] == "opportunities" and preview["rows_read"] == 2
        assert [p["row"] for p in preview["problems"]] == [3]
        assert preview["problems"][0]["column"] == "amount" and preview["problems"][0]["value"] == "abc"
        assert ws.sql("SELECT count(*) FROM opportunities").column(0)[0].as_py() == 0
        assert ws.sql("SELECT count(*) FROM imports").column(0)[0].as_py() == 0


def test_preview_tells_the_imports_rejects_and_warnings(db_url: str, tmp_path: Path) -> None:
    """On DuckDB and PostgreSQL: the preview's duplicate keys and unknown references are what the
    import then records (rows, values, reasons), and the preview writes nothing."""
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,name,role\nR1,Ann,ae\n", encoding="utf-8")
    path = tmp_path / "opps.csv"
    path.write_text(
        CSV
        + "O1,A1,Deal one again,1200,EUR,2026-01-05,,proposal,open,R1\n"  # row 4: O1 again
        + "O3,A2,Deal three,500,EUR,2026-01-07,,proposal,open,R7\n"
        + "O4,A2,Deal four,700,EUR,2026-01-08,,proposal,open,R7\n",
        encoding="utf-8",
    )
    with Workspace(db_url) as ws:
        ws.import_file(reps)
        preview = ws.preview_file(path, table="opportunities")
        assert [r["opportunity_id"] for r in preview["rows"]] == ["O1", "O3", "O4"]
        assert [(p["row"], p["value"]) for p in preview["problems"]] == [(3, "abc"), (4, "O1")]
        warned = {(w["column"], w["value"]): (w["rows"], w["first_row"]) for w in preview["warnings"]}
        assert warned == {("account_id", "A1"): (1, 2), ("account_id", "A2"): (2, 5), ("owner_id", "R7"): (2, 5)}
        assert ws.sql("SELECT count(*) FROM opportunities").column(0)[0].as_py() == 0
        done = ws.import_file(path, table="opportunities")
        assert (done.inserted, done.rejected, done.warnings) == (3, 2, 5)
        rejects = ws.rejects(done.import_id)
        assert [(r["row"], r["value"], r["reason"]) for r in rejects] == [
            (p["row"], p["value"], p["reason"]) for p in preview["problems"]
        ]
        recorded = {(w["column"], w["value"]): (w["rows"], w["first_row"]) for w in ws.warnings(done.import_id)}
        assert recorded == warned


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("rows") / "demo.duckdb")
    ws.demo("small")
    return ws


@pytest.mark.parametrize(
    "name", ["revenue", "signatures", "leads", "win_rate", "lead_to_opportunity_rate", "web_visitors", "campaign_reach"]
)
def test_the_rows_behind_a_kpi_add_up_to_it(demo: Workspace, name: str) -> None:
    value = demo.kpi([name], grain="year", start="2025-01-01", end="2025-12-31", output="rows")[0]
    behind = demo.kpi_rows(name, start="2025-01-01", end="2025-12-31", limit=100_000)
    if name in ("win_rate", "lead_to_opportunity_rate"):  # a rate: its denominator's rows, the counted flagged
        assert behind["total"] == value["denominator"]
        assert sum(1 for r in behind["rows"] if r["counted"]) == value["numerator"]
    elif name == "revenue":
        assert behind["total"] == len(behind["rows"])
        assert sum(r["amount_base"] for r in behind["rows"]) == pytest.approx(value["value"])
    elif name in ("web_visitors", "campaign_reach"):  # a sum over daily rows (the anchor is the first column)
        column = "visitors" if name == "web_visitors" else "impressions"
        assert behind["total"] == len(behind["rows"]) > 0
        assert sum(r[column] for r in behind["rows"]) == pytest.approx(value["value"])
    else:
        assert behind["total"] == value["value"]


def test_rows_behind_refuse_a_dimension_the_kpi_has_not(demo: Workspace) -> None:
    with pytest.raises(ParameterError):
        demo.kpi_rows("costs", filters={"rep": "R0001"})
