"""Stuck deals on a hand-made store (thresholds computed by hand) and on the demo company."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

ACCOUNTS = """account_id,segment
A_SMB,smb
A_ENT,ent
"""
# Four closed deals make the history; O1, O2, O3, O4 are open.
OPPORTUNITIES = """opportunity_id,created_at,owner_id,account_id,stage,amount,currency,closed_at,outcome
H1,2025-01-01 00:00:00,R1,A_SMB,b,100,EUR,2025-01-21 00:00:00,won
H2,2025-01-01 00:00:00,R1,A_SMB,b,100,EUR,2025-02-10 00:00:00,won
H3,2025-01-01 00:00:00,R2,A_ENT,b,100,EUR,2025-02-05 00:00:00,lost
H4,2025-01-01 00:00:00,R2,A_ENT,b,100,EUR,2025-02-20 00:00:00,won
O1,2025-03-01 00:00:00,R1,A_ENT,a,1000,EUR,,open
O2,2025-03-01 00:00:00,R2,A_SMB,b,5000,EUR,,open
O3,2025-04-20 00:00:00,R1,A_ENT,a,9000,EUR,,open
O4,2025-04-25 00:00:00,R2,A_SMB,b,100,EUR,,open
"""
STAGE_CHANGES = """opportunity_id,stage,entered_at
H1,a,2025-01-01 00:00:00
H1,b,2025-01-11 00:00:00
H2,a,2025-01-01 00:00:00
H2,b,2025-01-21 00:00:00
H3,a,2025-01-01 00:00:00
H3,b,2025-01-31 00:00:00
H4,a,2025-01-01 00:00:00
H4,b,2025-02-10 00:00:00
O1,a,2025-03-01 00:00:00
O2,a,2025-03-01 00:00:00
O2,b,2025-03-05 00:00:00
O3,a,2025-04-20 00:00:00
"""
# The latest timestamp in the store is O3's activity: the data end is 2025-05-01 00:00.
ACTIVITIES = """activity_id,rep_id,type,occurred_at,opportunity_id
X1,R1,call,2025-03-02 00:00:00,O1
X2,R2,email,2025-04-25 00:00:00,O2
X3,R1,meeting,2025-05-01 00:00:00,O3
"""
# Stage a spells (days): 10, 20, 30, 40 (history), 4 (O2), censored 61 (O1) and 11 (O3).
#   KM: S(4) = 6/7, S(10) = 5/7, S(20) = 5/7 * 3/4 = 15/28, S(30) = 10/28, S(40) = 5/28 ~ 0.18.
#   p75 (first S <= 0.25) = 40; p50 = 30; p90 unknown (S stays above 0.1).
# Stage b spells: 10, 20, 5, 10 (history), censored 57 (O2): S(5) = 0.8, S(10) = 0.4, S(20) = 0.2.
#   p75 = 20; p50 = 10; p90 unknown. O4 has no history: in stage b since its creation (6 days).


@pytest.fixture
def hand(tmp_path: Path) -> Workspace:
    ws = salespilot.open(tmp_path / "hand.duckdb")
    for table, text in (
        ("accounts", ACCOUNTS),
        ("opportunities", OPPORTUNITIES),
        ("stage_changes", STAGE_CHANGES),
        ("activities", ACTIVITIES),
    ):
        result = ws.import_file(write(tmp_path / f"{table}.csv", text), table=table)
        assert result.rejected == 0, result.as_dict()
    return ws


def test_thresholds_by_hand_and_sorted_by_value_at_risk(hand: Workspace) -> None:
    rows = hand.stuck_deals(percentile=75, idle_days=30)
    assert [r["opportunity_id"] for r in rows] == ["O2", "O1"]  # 5,000 before 1,000
    o2, o1 = rows
    assert (o2["stage"], o2["owner"], o2["threshold_days"], o2["threshold_basis"]) == ("b", "R2", 20.0, "stage")
    assert o2["days_in_stage"] == 57.0 and o2["days_since_activity"] == 6.0
    assert o2["value_at_risk"] == 5000.0 and o2["reasons"] == ["over_threshold"]
    assert (o1["stage"], o1["threshold_days"], o1["days_in_stage"], o1["days_over"]) == ("a", 40.0, 61.0, 21.0)
    assert o1["reasons"] == ["over_threshold", "idle"] and o1["days_since_activity"] == 60.0
    hand.close()


def test_unknown_threshold_leaves_only_the_idle_flag(hand: Workspace) -> None:
    rows = hand.stuck_deals()  # p90: both stages' S stays above 0.1, so no threshold is known
    assert [(r["opportunity_id"], r["reasons"], r["threshold_days"]) for r in rows] == [("O1", ["idle"], None)]
    hand.close()


def test_idle_days_is_configurable_and_a_deal_without_activity_counts_from_creation(hand: Workspace) -> None:
    rows = hand.stuck_deals(percentile=75, idle_days=3)
    idle = {r["opportunity_id"]: r for r in rows if "idle" in r["reasons"]}
    assert set(idle) == {"O1", "O2", "O4"}  # O3 had an activity at the data's end
    assert idle["O4"]["days_since_activity"] is None and idle["O4"]["days_in_stage"] == 6.0
    assert all("idle" not in r["reasons"] for r in hand.stuck_deals(percentile=75, idle_days=100))
    hand.close()


def test_segment_thresholds_when_enough_history(hand: Workspace) -> None:
    # With 3 spells per (stage, segment) counted as enough: a/ent = 30, 40, 61+ -> p50 = 40 (stage: 30);
    # b/smb = 10, 20, 57+ -> p50 = 20 (stage: 10).
    rows = {r["opportunity_id"]: r for r in hand.stuck_deals(percentile=50, idle_days=None, min_history=3)}
    assert (rows["O1"]["threshold_days"], rows["O1"]["threshold_basis"]) == (40.0, "segment")
    assert (rows["O2"]["threshold_days"], rows["O2"]["threshold_basis"]) == (20.0, "segment")
    rows = {r["opportunity_id"]: r for r in hand.stuck_deals(percentile=50, idle_days=None)}
    assert (rows["O1"]["threshold_days"], rows["O1"]["threshold_basis"]) == (30.0, "stage")
    assert (rows["O2"]["threshold_days"], rows["O2"]["threshold_basis"]) == (10.0, "stage")
    hand.close()


def test_by_rep_groups_the_deals(hand: Workspace) -> None:
    groups = hand.stuck_deals(percentile=75, by="rep", idle_days=3)
    assert [(g["rep"], g["deals"], g["value_at_risk"]) for g in groups] == [("R2", 2, 5100.0), ("R1", 1, 1000.0)]
    assert groups[0]["opportunity_ids"] == ["O2", "O4"] and groups[0]["idle"] == 2
    assert groups[1]["over_threshold"] == 1
    hand.close()


def test_stage_durations_by_hand(hand: Workspace) -> None:
    result = hand.stage_durations()
    rows = {r["stage"]: r for r in result.stages}
    assert [r["stage"] for r in result.stages] == ["a", "b"]
    assert rows["a"] == {
        "stage": "a",
        "order": 1,
        "n": 7,
        "events": 5,
        "censored": 2,
        "median": 30.0,
        "p75": 40.0,
        "p90": None,
    }
    assert (rows["b"]["n"], rows["b"]["censored"], rows["b"]["median"], rows["b"]["p75"]) == (5, 1, 10.0, 20.0)
    # Whole cycle: 20, 40, 35, 50 days closed; open deals censored at 61, 61, 11, 6 days.
    # S(20) = 5/6, S(35) = 4/6, S(40) = 4/6 * 3/4 = 1/2: the median is 40.
    assert (result.cycle["n"], result.cycle["events"], result.cycle["median"]) == (8, 4, 40.0)
    assert str(result.data_end) == "2025-05-01 00:00:00"
    assert [r["stage"] for r in hand.stage_durations(order=["b"]).stages] == ["b", "a"]
    hand.set_setting("stage_order", "b,zzz")  # the setting is the default order; zzz is not in the data
    assert [r["stage"] for r in hand.stage_durations().stages] == ["b", "a"]
    assert [r["stage"] for r in hand.stage_durations(order=["a"]).stages] == ["a", "b"]
    hand.close()


def test_mistakes(hand: Workspace) -> None:
    with pytest.raises(ParameterError):
        hand.stuck_deals(percentile=100)
    with pytest.raises(ParameterError):
        hand.stuck_deals(by="moon")
    hand.close()


def test_empty_store(tmp_path: Path) -> None:
    with salespilot.open(tmp_path / "empty.duckdb") as ws:
        assert ws.stuck_deals() == []
        assert ws.stage_durations().as_rows()[0]["n"] == 0


def test_demo_company_has_stuck_open_deals(tmp_path: Path) -> None:
    with salespilot.open(tmp_path / "demo.duckdb") as ws:
        ws.demo("small")
        rows = ws.stuck_deals()
        outcomes = dict(ws.store.fetchall("SELECT opportunity_id, outcome FROM opportunities"))
        by_rep = ws.stuck_deals(by="rep")
    assert any("over_threshold" in r["reasons"] for r in rows)
    assert all(outcomes[r["opportunity_id"]] == "open" for r in rows)
    values = [r["value_at_risk"] or 0.0 for r in rows]
    assert values == sorted(values, reverse=True)
    over = [r for r in rows if "over_threshold" in r["reasons"]]
    assert all(r["days_in_stage"] > r["threshold_days"] for r in over)
    assert sum(g["deals"] for g in by_rep) == len(rows)
    assert sum(g["value_at_risk"] for g in by_rep) == pytest.approx(sum(values), abs=0.1)
