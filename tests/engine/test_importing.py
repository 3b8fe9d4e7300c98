"""Imports end to end through the Workspace: counts reconciled, upserts, history, rejects.

Every test runs on both stores: a DuckDB file and a PostgreSQL database (``db_url``).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import DATA, EXAMPLES, write

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import FileFormatError, MappingError, ParameterError
from salespilot.model import TABLES

MAVEN = DATA / "maven"
MAVEN_MAPPINGS = EXAMPLES / "mappings" / "maven"
OPPORTUNITY_COLUMNS = ", ".join(TABLES["opportunities"].column_names)  # every column but _import_id


@pytest.fixture
def ws(db_url: str) -> Iterator[Workspace]:
    with salespilot.open(db_url) as workspace:
        yield workspace


def _maven_rows() -> list[dict[str, str]]:
    with (MAVEN / "sales_pipeline.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _import_maven(ws: Workspace) -> dict[str, object]:
    reps = ws.import_file(MAVEN / "sales_teams.csv", mapping=MAVEN_MAPPINGS / "sales_teams.yaml")
    accounts = ws.import_file(MAVEN / "accounts.csv", mapping=MAVEN_MAPPINGS / "accounts.yaml")
    opps = ws.import_file(MAVEN / "sales_pipeline.csv", mapping=MAVEN_MAPPINGS / "sales_pipeline.yaml")
    return {"reps": reps, "accounts": accounts, "opportunities": opps}


def test_maven_export_reconciles_row_by_row(ws: Workspace) -> None:
    results = _import_maven(ws)
    rows = _maven_rows()
    # Independent expectation, from the raw file with Python's csv module.
    no_date = [i + 2 for i, r in enumerate(rows) if not r["engage_date"]]  # spreadsheet row numbers
    assert len(no_date) == 500
    opps = results["opportunities"]
    assert opps.rows_read == len(rows) == 8800
    assert opps.inserted == 8800 - 500 and opps.updated == 0 and opps.unchanged == 0
    assert opps.rejected == 500
    assert opps.rows_read == opps.inserted + opps.updated + opps.unchanged + opps.rejected
    rejects = ws.rejects(opps.import_id)
    assert sorted(r["row"] for r in rejects) == no_date
    assert {r["reason"] for r in rejects} == {"created_at is required but empty"}
    assert {r["column"] for r in rejects} == {"engage_date"}
    # Loaded values equal the file's.
    won_value = sum(float(r["close_value"]) for r in rows if r["deal_stage"] == "Won")
    got = ws.sql("SELECT sum(amount) AS v, count(*) AS n FROM opportunities WHERE outcome = 'won'").to_pylist()[0]
    assert got["n"] == Counter(r["deal_stage"] for r in rows)["Won"] == 4238
    assert got["v"] == pytest.approx(won_value)
    products = {r["product"] for r in ws.sql("SELECT DISTINCT product FROM opportunities").to_pylist()}
    assert "GTXPro" not in products and "GTX Pro" in products
    reps = results["reps"]
    assert reps.inserted == 35 and reps.rejected == 0
    # Managers are named but are no rows of the reps file: a warning per agent, nothing rejected.
    assert reps.warnings == 35
    accounts = results["accounts"]
    assert accounts.inserted == 85
    assert ws.sql("SELECT count(*) AS n FROM accounts WHERE industry = 'technolgy'").to_pylist()[0]["n"] == 0
    # Every owner is a known rep; blank accounts are nulls, not warnings.
    assert opps.warnings == 0
    blank = sum(1 for r in rows if not r["account"] and r["engage_date"])
    assert ws.sql("SELECT count(*) AS n FROM opportunities WHERE account_id IS NULL").to_pylist()[0]["n"] == blank


def test_same_file_twice_changes_nothing(ws: Workspace) -> None:
    first = _import_maven(ws)["opportunities"]
    snapshot = ws.sql(f"SELECT {OPPORTUNITY_COLUMNS} FROM opportunities ORDER BY opportunity_id")
    second = ws.import_file(MAVEN / "sales_pipeline.csv", mapping=MAVEN_MAPPINGS / "sales_pipeline.yaml")
    assert (second.inserted, second.updated, second.unchanged, second.rejected) == (0, 0, first.inserted, 500)
    assert snapshot.num_rows == first.inserted
    assert ws.sql(f"SELECT {OPPORTUNITY_COLUMNS} FROM opportunities ORDER BY opportunity_id").equals(snapshot)
    assert ws.sql("SELECT count(*) AS n FROM stage_changes").to_pylist()[0]["n"] == 0


def test_changed_rows_update_and_append_stage_history(ws: Workspace, tmp_path: Path) -> None:
    header = "opportunity_id,created_at,stage,outcome,amount,closed_at\n"
    write(tmp_path / "v1.csv", header + "O1,2024-01-10,Discovery,open,100,\nO2,2024-01-11,Demo,open,200,\n")
    write(
        tmp_path / "v2.csv",
        header + "O1,2024-01-10,Proposal,open,150,\nO2,2024-01-11,Won,won,200,2024-02-01\n"
        "O3,2024-01-12,Discovery,open,50,\n",
    )
    ws.import_file(tmp_path / "v1.csv", table="opportunities")
    result = ws.import_file(tmp_path / "v2.csv", table="opportunities")
    assert (result.inserted, result.updated, result.unchanged) == (1, 2, 0)
    assert result.stage_changes == 2
    history = ws.sql(
        "SELECT opportunity_id, stage, entered_at, amount FROM stage_changes WHERE source = 'import' ORDER BY 1"
    ).to_pylist()
    assert [(h["opportunity_id"], h["stage"]) for h in history] == [("O1", "Proposal"), ("O2", "Won")]
    # The state before the first change, dated at the import that wrote it (for the store as of a date).
    first = ws.sql("SELECT started_at FROM imports ORDER BY import_id LIMIT 1").to_pylist()[0]["started_at"]
    snapshots = ws.sql(
        "SELECT opportunity_id, stage, entered_at, amount FROM stage_changes WHERE source = 'snapshot' ORDER BY 1"
    ).to_pylist()
    assert [(h["opportunity_id"], h["stage"], h["amount"], h["entered_at"]) for h in snapshots] == [
        ("O1", "Discovery", 100, first),
        ("O2", "Demo", 200, first),
    ]
    assert history[1]["entered_at"].isoformat() == "2024-02-01T00:00:00"  # the close date, not the import time
    assert history[0]["amount"] == 150
    # Importing v2 again adds nothing.
    again = ws.import_file(tmp_path / "v2.csv", table="opportunities")
    assert (again.updated, again.unchanged, again.stage_changes) == (0, 3, 0)


def test_columns_absent_from_a_file_keep_their_values(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "opportunity_id,created_at,outcome,type,channel\nO1,2024-01-10,open,renewal,events\n")
    write(tmp_path / "b.csv", "opportunity_id,created_at,outcome,amount\nO1,2024-01-10,open,99\nO2,2024-01-10,open,5\n")
    ws.import_file(tmp_path / "a.csv", table="opportunities")
    ws.import_file(tmp_path / "b.csv", table="opportunities")
    rows = ws.sql("SELECT opportunity_id, type, channel, amount FROM opportunities ORDER BY 1").to_pylist()
    assert rows == [
        {"opportunity_id": "O1", "type": "renewal", "channel": "events", "amount": 99.0},
        {"opportunity_id": "O2", "type": "new", "channel": None, "amount": 5.0},
    ]


def test_every_kind_of_bad_row_is_rejected_with_its_reason(ws: Workspace, tmp_path: Path) -> None:
    text = (
        "opportunity_id,created_at,outcome,amount,closed_at,loss_reason,type\n"
        "O1,2024-01-10,won,100,2024-02-01,,new\n"  # row 2: fine
        "O2,not a date,open,100,,,new\n"  # row 3: bad date
        "O3,2024-01-10,pending,100,,,new\n"  # row 4: bad enum
        "O4,2024-01-10,open,-5,,,new\n"  # row 5: negative amount
        "O5,2024-01-10,won,100,,,new\n"  # row 6: won without close date
        "O6,2024-03-10,lost,100,2024-01-01,,new\n"  # row 7: closed before created
        "O7,2024-01-10,lost,100,2024-02-01,Too expensive,new\n"  # row 8: fine, reason -> other
        ",2024-01-10,open,100,,,new\n"  # row 9: no id
        "O1,2024-01-10,won,100,2024-02-01,,new\n"  # row 10: duplicate of row 2
        "O8,2024-01-10,open,1e,,,upgrade\n"  # row 11: bad number and bad type
        "O9,2024-01-10, Lost ,100,2024-02-01,No Decision,Renewal\n"  # row 12: fine after normalising
    )
    write(tmp_path / "opps.csv", text)
    result = ws.import_file(tmp_path / "opps.csv", table="opportunities")
    assert result.rows_read == 11
    assert (result.inserted, result.rejected) == (3, 8)
    by_row: dict[int, list[str]] = {}
    for r in ws.rejects():
        by_row.setdefault(r["row"], []).append(r["reason"])
    assert sorted(by_row) == [3, 4, 5, 6, 7, 9, 10, 11]
    assert by_row[3] == ["created_at: expected a date in ISO 8601 (2017-03-14 or 2017-03-14T09:30:00)"]
    assert by_row[4] == ["outcome: expected one of open, won, lost"]
    assert by_row[5] == ["amount cannot be negative"]
    assert by_row[6] == ["closed_at: a won or lost opportunity needs its close date"]
    assert by_row[7] == ["closed_at: the opportunity closes before it was created"]
    assert by_row[9] == ["opportunity_id is required but empty"]
    assert by_row[10] == ["duplicate key (opportunity_id) already given at row 2"]
    assert sorted(by_row[11]) == [
        "amount: expected a number (decimal point)",
        "type: expected one of new, renewal, upsell",
    ]
    loaded = ws.sql(
        "SELECT opportunity_id, outcome, loss_reason, loss_reason_text, type FROM opportunities ORDER BY 1"
    ).to_pylist()
    assert loaded == [
        {"opportunity_id": "O1", "outcome": "won", "loss_reason": None, "loss_reason_text": None, "type": "new"},
        {
            "opportunity_id": "O7",
            "outcome": "lost",
            "loss_reason": "other",
            "loss_reason_text": "Too expensive",
            "type": "new",
        },
        {
            "opportunity_id": "O9",
            "outcome": "lost",
            "loss_reason": "no_decision",
            "loss_reason_text": None,
            "type": "renewal",
        },
    ]
    # The rejects CSV beside the store has the same rows.
    assert result.rejects_file is not None
    with Path(result.rejects_file).open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 9 and {int(line["row"]) for line in lines} == set(by_row)


def test_formulas_are_kept_as_text_and_escaped_in_the_rejects_csv(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at,channel\nL1,2024-01-01,=cmd|' /C calc'!A0\nL2,=1+1,@SUM(A1)\n")
    result = ws.import_file(tmp_path / "leads.csv")
    assert (result.inserted, result.rejected) == (1, 1)
    assert ws.sql("SELECT channel FROM leads").to_pylist() == [{"channel": "=cmd|' /C calc'!A0"}]
    assert result.rejects_file is not None
    content = Path(result.rejects_file).read_text(encoding="utf-8")
    assert "'=1+1" in content and ",=1+1" not in content


def test_unknown_references_are_warnings_and_the_rows_load(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "reps.csv", "rep_id,name\nR1,Ann\n")
    write(tmp_path / "leads.csv", "lead_id,created_at,owner_id\nL1,2024-01-01,R1\nL2,2024-01-01,R9\nL3,2024-01-02,R9\n")
    ws.import_file(tmp_path / "reps.csv")
    result = ws.import_file(tmp_path / "leads.csv")
    assert (result.inserted, result.warnings) == (3, 2)
    assert result.warning_summary[0]["rows"] == 2 and result.warning_summary[0]["example"] == "R9"


def test_natural_key_tables_upsert_on_their_key_with_nulls(ws: Workspace, tmp_path: Path) -> None:
    write(
        tmp_path / "costs.csv",
        "period_start,amount,category,channel\n2024-01-01,100,marketing,\n2024-01-01,50,marketing,events\n",
    )
    write(tmp_path / "costs2.csv", "period_start,amount,category,channel\n2024-01-01,120,marketing,\n")
    ws.import_file(tmp_path / "costs.csv")
    result = ws.import_file(tmp_path / "costs2.csv")
    assert (result.inserted, result.updated) == (0, 1)
    assert ws.sql("SELECT sum(amount) AS s, count(*) AS n FROM costs").to_pylist() == [{"s": 170.0, "n": 2}]


def test_targets_scope_defaults_to_company(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "targets.csv", "period,metric,value\n2024-q1,revenue,1000\n2024-Q1,leads,50\n")
    ws.import_file(tmp_path / "targets.csv")
    again = ws.import_file(tmp_path / "targets.csv")
    assert again.unchanged == 2
    assert ws.sql("SELECT DISTINCT scope, period FROM targets").to_pylist() == [
        {"scope": "company", "period": "2024-Q1"}
    ]


def test_timezone_setting_applies_to_local_times(ws: Workspace, tmp_path: Path) -> None:
    ws.set_setting("timezone", "America/New_York")
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-07-01 20:00\nL2,2024-07-01T20:00:00Z\n")
    ws.import_file(tmp_path / "leads.csv")
    got = [r["created_at"].isoformat() for r in ws.sql("SELECT created_at FROM leads ORDER BY lead_id").to_pylist()]
    assert got == ["2024-07-02T00:00:00", "2024-07-01T20:00:00"]


def test_a_failure_midway_leaves_the_store_as_it_was(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\n")
    ws.import_file(tmp_path / "leads.csv")
    before = ws.status()
    # A file that claims UTF-8 but breaks late: the error comes after rows were staged.
    body = "".join(f"L{i},2024-01-02\n" for i in range(2, 50_000)).encode() + "L0,caf\xe9\n".encode("latin-1")
    (tmp_path / "bad.csv").write_bytes(b"lead_id,created_at\n" + body)
    (tmp_path / "bad.yaml").write_text("table: leads\noptions: {encoding: utf-8}\n")
    with pytest.raises(FileFormatError, match=r"bad\.csv"):
        ws.import_file(tmp_path / "bad.csv", mapping=tmp_path / "bad.yaml")
    after = ws.status()
    assert after["tables"] == before["tables"] and after["imports"] == before["imports"]


def test_user_mistakes_are_clear_errors(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "x.csv", "a,b\n1,2\n")
    with pytest.raises(ParameterError, match=r"Cannot tell which table .*x\.csv"):
        ws.import_file(tmp_path / "x.csv")
    with pytest.raises(ParameterError, match=r'"lead" is not a canonical table\. Did you mean "leads"'):
        ws.import_file(tmp_path / "x.csv", table="lead")
    with pytest.raises(MappingError, match=r"x\.csv has no column for lead_id, created_at"):
        ws.import_file(tmp_path / "x.csv", table="leads")
