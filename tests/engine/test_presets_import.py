"""Every built-in preset imports its sample export end to end, with nothing rejected."""

from __future__ import annotations

import csv

import pytest
from tests.conftest import DATA

from salespilot.engine.workspace import Workspace
from salespilot.ingest.mapping import load_mapping, preset_names

SAMPLES = DATA / "presets"


@pytest.mark.parametrize("preset", preset_names())
def test_preset_sample_imports_cleanly(ws: Workspace, preset: str) -> None:
    sample = SAMPLES / f"{preset}.csv"
    with sample.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = ws.import_file(sample, mapping=preset)
    assert result.table == load_mapping(preset).table
    assert (result.rows_read, result.inserted, result.rejected) == (len(rows), len(rows), 0), ws.rejects()
    if result.table == "opportunities":
        outcomes = {r["outcome"] for r in ws.sql("SELECT outcome FROM opportunities").to_pylist()}
        assert outcomes == {"open", "won", "lost"}
        # Closed deals carry their close date; open deals do not (CRMs export the expected one there).
        bad = ws.sql(
            "SELECT count(*) AS n FROM opportunities WHERE (outcome = 'open') <> (closed_at IS NULL)"
        ).to_pylist()[0]["n"]
        assert bad == 0
