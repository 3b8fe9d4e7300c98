"""Import traps found by trying the product on real exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write

from salespilot.engine.workspace import Workspace
from salespilot.errors import MappingError


def test_dates_with_and_without_time_and_iso_under_one_date_format(ws: Workspace, tmp_path: Path) -> None:
    write(
        tmp_path / "opps.csv",
        "id,created,closed,outcome\nO1,25/12/2023 14:30,2024-01-05,won\nO2,01/02/2024,03/02/2024 09:00,lost\n",
    )
    write(
        tmp_path / "m.yaml",
        "table: opportunities\noptions: {date_format: '%d/%m/%Y'}\ncolumns:\n"
        "  opportunity_id: id\n  created_at: created\n  closed_at: closed\n  outcome: outcome\n",
    )
    result = ws.import_file(tmp_path / "opps.csv", mapping=tmp_path / "m.yaml")
    assert (result.inserted, result.rejected) == (2, 0)
    rows = ws.sql("SELECT opportunity_id, created_at, closed_at FROM opportunities ORDER BY 1").to_pylist()
    assert [r["created_at"].isoformat() for r in rows] == ["2023-12-25T14:30:00", "2024-02-01T00:00:00"]
    assert [r["closed_at"].isoformat() for r in rows] == ["2024-01-05T00:00:00", "2024-02-03T09:00:00"]


def test_late_values_decide_the_day_order(ws: Workspace, tmp_path: Path) -> None:
    body = "".join(f"L{i},0{1 + i % 9}/0{1 + i % 9}/2024\n" for i in range(3000)) + "L9999,25/12/2024\n"
    write(tmp_path / "leads.csv", "lead_id,created_at\n" + body)
    result = ws.import_file(tmp_path / "leads.csv")
    assert (result.inserted, result.rejected) == (3001, 0)
    assert ws.sql("SELECT created_at FROM leads WHERE lead_id = 'L9999'").to_pylist()[0]["created_at"].month == 12


def test_values_and_ids_are_trimmed_and_value_maps_ignore_separators(ws: Workspace, tmp_path: Path) -> None:
    write(
        tmp_path / "opps.csv",
        "id,created,stage\n O1 ,2024-01-01,ClosedWon\nO2,2024-01-01,closed-lost\nO3,2024-01-01,Open Deal\n",
    )
    write(
        tmp_path / "m.yaml",
        "table: opportunities\ncolumns:\n  opportunity_id: id\n  created_at: created\n"
        "  closed_at: created\n  outcome: {column: stage, values: {Closed Won: won, Closed Lost: lost, "
        "Open deal: open}}\n",
    )
    result = ws.import_file(tmp_path / "opps.csv", mapping=tmp_path / "m.yaml")
    assert (result.inserted, result.rejected) == (3, 0)
    rows = ws.sql("SELECT opportunity_id, outcome, closed_at FROM opportunities ORDER BY 1").to_pylist()
    assert [(r["opportunity_id"], r["outcome"]) for r in rows] == [("O1", "won"), ("O2", "lost"), ("O3", "open")]
    assert rows[2]["closed_at"] is None  # an open deal has not closed, whatever the export says


def test_won_deals_without_a_close_date_column_is_a_mapping_error(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "opportunities.csv", "opportunity_id,created_at,outcome\nO1,2024-01-01,won\n")
    with pytest.raises(MappingError, match=r"opportunities\.csv: some opportunities are won or lost.*closed_at"):
        ws.import_file(tmp_path / "opportunities.csv")
    assert ws.status()["imports"] == []


def test_row_number_prefixes_keep_two_files_apart(ws: Workspace, tmp_path: Path) -> None:
    for part in ("a", "b"):
        write(tmp_path / f"{part}.csv", "created\n2024-01-01\n2024-01-02\n")
        write(
            tmp_path / f"{part}.yaml",
            f"table: leads\ncolumns:\n  lead_id: {{row_number: true, prefix: '{part}-'}}\n  created_at: created\n",
        )
        ws.import_file(tmp_path / f"{part}.csv", mapping=tmp_path / f"{part}.yaml")
    ids = [r["lead_id"] for r in ws.sql("SELECT lead_id FROM leads ORDER BY 1").to_pylist()]
    assert ids == ["a-2", "a-3", "b-2", "b-3"]


def test_decimal_comma_files_reject_points_instead_of_guessing(ws: Workspace, tmp_path: Path) -> None:
    write(
        tmp_path / "opps.csv",
        "opportunity_id;created_at;outcome;amount\nO1;2024-01-01;open;1\u00a0234,50\nO2;2024-01-01;open;1.234\n",
        encoding="cp1252",
    )
    write(
        tmp_path / "m.yaml",
        "table: opportunities\noptions: {decimal: ','}\n"
        "columns: {opportunity_id: opportunity_id, created_at: created_at, outcome: outcome, amount: amount}\n",
    )
    result = ws.import_file(tmp_path / "opps.csv", mapping=tmp_path / "m.yaml")
    assert (result.inserted, result.rejected) == (1, 1)
    assert ws.sql("SELECT amount FROM opportunities").to_pylist() == [{"amount": 1234.5}]
    assert ws.rejects()[0]["row"] == 3


def test_placeholder_dates_are_rejected_not_stored(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,9999-12-31\nL2,1900-01-01\nL3,2024-05-01\n")
    result = ws.import_file(tmp_path / "leads.csv")
    assert (result.inserted, result.rejected) == (1, 2)
    assert {r["row"] for r in ws.rejects()} == {2, 3}
    assert all("placeholder" in r["reason"] for r in ws.rejects())
