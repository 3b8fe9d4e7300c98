"""The Python API returns the KPI rows as Arrow, pandas or plain dicts, with the same columns."""

from __future__ import annotations

import pytest

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError


def test_outputs_hold_the_same_rows_and_every_column(ws: Workspace) -> None:
    ws.demo("small")
    names = ["leads", "win_rate", "sales_cycle_days"]
    rows = ws.kpi(names, grain="quarter", output="rows")
    table = ws.kpi(names, grain="quarter")
    frame = ws.kpi(names, grain="quarter", output="pandas")
    polars_frame = ws.kpi(names, grain="quarter", output="polars")
    assert table.num_rows == len(frame) == len(rows) == polars_frame.height
    assert polars_frame["value"].to_list() == [r["value"] for r in rows]
    columns = set().union(*(r.keys() for r in rows))
    # Rows of different kinds carry different keys: every one of them is a column.
    assert columns == set(table.column_names) == set(frame.columns)
    assert {"numerator", "ci_low", "median", "p90", "growth"} <= columns
    assert table.column("value").to_pylist() == [r["value"] for r in rows]


def test_an_unknown_output_is_refused(ws: Workspace) -> None:
    with pytest.raises(ParameterError, match="output"):
        ws.kpi("leads", output="excel")
