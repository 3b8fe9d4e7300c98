"""``stage_conversion`` on hand-made stage histories, the expected numbers worked out by hand.

Stages a, b, c (workspace in UTC). "Entered" a stage = was in it or beyond it at some point:

    D1 R1  a 01-05 -> b 01-10 -> c 01-20                won
    D2 R1  a 01-06 -> c 01-12          (skips b)        lost
    D3 R1  a 01-07 -> b 01-15 -> a 01-25 (goes back)    open
    D4 R1  a 01-08                                      lost
    D5 R1  b 02-03 -> c 02-10          (starts at b)    won
    D6 R2  a 02-04 -> b 02-05 -> c 02-06                open

Order by median position of the first entries: a [0,0,0,0,0] -> 0; b [1,1,0,1] -> 1;
c [2,1,1,2] -> 1.5: a, b, c.

January (by entry day into the stage or beyond):
    a: D1 D2 D3 D4 entered; passed (later in b or beyond, or won): D1 D2 D3      -> 3/4
    b: D1, D2 (on 01-12, through c), D3 entered; passed: D1, D2 (D3 came back) -> 2/3
    c: D1, D2 entered; passed: D1 (won)                                         -> 1/2
February:
    a: D5 (02-03, it started beyond a), D6 -> 2/2; b: D5, D6 -> 2/2; c: D5 won, D6 open -> 1/2
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.metrics.reference import load, wilson

from salespilot.engine.workspace import Workspace

OPPS = (
    ["opportunity_id", "created_at", "owner_id", "outcome", "closed_at", "stage"],
    [
        ["D1", "2024-01-05T09:00:00Z", "R1", "won", "2024-02-01T09:00:00Z", "c"],
        ["D2", "2024-01-06T09:00:00Z", "R1", "lost", "2024-01-30T09:00:00Z", "c"],
        ["D3", "2024-01-07T09:00:00Z", "R1", "open", "", "a"],
        ["D4", "2024-01-08T09:00:00Z", "R1", "lost", "2024-01-31T09:00:00Z", "a"],
        ["D5", "2024-02-03T09:00:00Z", "R1", "won", "2024-02-20T09:00:00Z", "c"],
        ["D6", "2024-02-04T09:00:00Z", "R2", "open", "", "c"],
    ],
)
CHANGES = (
    ["opportunity_id", "stage", "entered_at"],
    [
        ["D1", "a", "2024-01-05T09:00:00Z"],
        ["D1", "b", "2024-01-10T09:00:00Z"],
        ["D1", "c", "2024-01-20T09:00:00Z"],
        ["D2", "a", "2024-01-06T09:00:00Z"],
        ["D2", "c", "2024-01-12T09:00:00Z"],
        ["D3", "a", "2024-01-07T09:00:00Z"],
        ["D3", "b", "2024-01-15T09:00:00Z"],
        ["D3", "a", "2024-01-25T09:00:00Z"],
        ["D4", "a", "2024-01-08T09:00:00Z"],
        ["D5", "b", "2024-02-03T09:00:00Z"],
        ["D5", "c", "2024-02-10T09:00:00Z"],
        ["D6", "a", "2024-02-04T09:00:00Z"],
        ["D6", "b", "2024-02-05T09:00:00Z"],
        ["D6", "c", "2024-02-06T09:00:00Z"],
    ],
)
REPS = (["rep_id", "name", "team", "role"], [["R1", "Ann", "North", "ae"], ["R2", "Bob", "South", "ae"]])


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("stages")
    workspace = new_workspace(folder)
    for table, (header, rows) in (("reps", REPS), ("opportunities", OPPS), ("stage_changes", CHANGES)):
        result = load(workspace, folder, table, header, rows)
        assert result.rejected == 0, result.rejects
    yield workspace
    workspace.close()


def _cells(rows: list[dict[str, object]]) -> dict[tuple[object, object], tuple[object, object]]:
    return {(r["period"], r["stage"]): (r["numerator"], r["denominator"]) for r in rows}


def test_by_month_skips_and_returns(ws: Workspace) -> None:
    rows = ws.kpi("stage_conversion", grain="month", output="rows")
    assert [r["stage"] for r in rows if r["period"] == "2024-01"] == ["a", "b", "c"]
    assert _cells(rows) == {
        ("2024-01", "a"): (3, 4),
        ("2024-01", "b"): (2, 3),
        ("2024-01", "c"): (1, 2),
        ("2024-02", "a"): (2, 2),
        ("2024-02", "b"): (2, 2),
        ("2024-02", "c"): (1, 2),
    }
    b = next(r for r in rows if r["period"] == "2024-01" and r["stage"] == "b")
    assert b["value"] == pytest.approx(2 / 3)
    assert (b["ci_low"], b["ci_high"]) == pytest.approx(wilson(2, 3))
    assert b["next_stage"] == "c" and "small_sample" in b["flags"]
    assert next(r for r in rows if r["stage"] == "c")["next_stage"] == "won"


def test_all_and_by_rep(ws: Workspace) -> None:
    rows = ws.kpi("stage_conversion", grain="all", output="rows")
    assert _cells(rows) == {("all", "a"): (5, 6), ("all", "b"): (4, 5), ("all", "c"): (2, 4)}
    by_rep = ws.kpi("stage_conversion", grain="all", by="rep", output="rows")
    r2 = {r["stage"]: (r["numerator"], r["denominator"]) for r in by_rep if r["rep"] == "R2"}
    assert r2 == {"a": (1, 1), "b": (1, 1), "c": (0, 1)}


def test_range_filters_on_the_entry_day(ws: Workspace) -> None:
    rows = ws.kpi("stage_conversion", grain="all", start="2024-02-01", output="rows")
    assert _cells(rows) == {("all", "a"): (2, 2), ("all", "b"): (2, 2), ("all", "c"): (1, 2)}


def test_the_stage_order_setting_leads_the_order(ws: Workspace) -> None:
    """stage_order "b,x": b first (x is not in the data and is left out), then a and c as found.
    Ranks b 0, a 1, c 2; entered rank r = a change to rank r or beyond; passed = later beyond or won:
    January b: D1 D2 D3 D4 entered on their first change, all went beyond b -> 4/4; a: D1, D2
    passed, D3 (top a) and D4 not -> 2/4; c: D1 won, D2 lost -> 1/2. February: b 2/2, a 2/2, c 1/2."""
    ws.set_setting("stage_order", "b, x")
    try:
        rows = ws.kpi("stage_conversion", grain="month", output="rows")
    finally:
        ws.set_setting("stage_order", "")
    assert [r["stage"] for r in rows if r["period"] == "2024-01"] == ["b", "a", "c"]
    assert _cells(rows) == {
        ("2024-01", "b"): (4, 4),
        ("2024-01", "a"): (2, 4),
        ("2024-01", "c"): (1, 2),
        ("2024-02", "b"): (2, 2),
        ("2024-02", "a"): (2, 2),
        ("2024-02", "c"): (1, 2),
    }
    assert [r["stage"] for r in ws.kpi("stage_conversion", grain="all", output="rows")] == ["a", "b", "c"]
