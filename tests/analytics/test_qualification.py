"""Qualification on a hand-made store (expected values by hand), and Newcombe's interval against
the published example."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError
from salespilot.metrics.stats import newcombe_difference, wilson

F = "pain_point,objective,success_criteria,competition,budget,decision_date"
ALL = "pain,goal,criteria,rivals,50k,June"
# Q1-Q3 fully qualified (2 won of 3: cycles 10 and 30 days); Q4 lacks budget, Q5 budget and
# decision_date, Q6 everything (1 won of 3: 60 days). O1-O3 are open.
OPPORTUNITIES = f"""opportunity_id,created_at,closed_at,outcome,stage,owner_id,amount,currency,{F}
Q1,2025-01-01 00:00:00,2025-01-11 00:00:00,won,negotiation,R1,100,EUR,{ALL}
Q2,2025-01-01 00:00:00,2025-01-31 00:00:00,won,negotiation,R1,100,EUR,{ALL}
Q3,2025-01-02 00:00:00,2025-02-01 00:00:00,lost,proposal,R1,100,EUR,{ALL}
Q4,2025-02-01 00:00:00,2025-04-02 00:00:00,won,negotiation,R2,100,EUR,pain,goal,criteria,rivals,,June
Q5,2025-02-01 00:00:00,2025-03-01 00:00:00,lost,proposal,R2,100,EUR,pain,goal,criteria,rivals,,
Q6,2025-02-01 00:00:00,2025-03-01 00:00:00,lost,discovery,R2,100,EUR,,,,,,
O1,2025-02-01 00:00:00,,open,negotiation,R1,9000,EUR,,goal,criteria,rivals,50k,June
O2,2025-02-02 00:00:00,,open,proposal,R2,5000,EUR,{ALL}
O3,2025-02-03 00:00:00,,open,discovery,R2,100,EUR,,,,,,
"""
STAGE_CHANGES = """opportunity_id,stage,entered_at
O1,discovery,2025-02-01 00:00:00
O1,proposal,2025-02-05 00:00:00
O1,negotiation,2025-02-10 00:00:00
O2,discovery,2025-02-02 00:00:00
O2,proposal,2025-02-06 00:00:00
O3,discovery,2025-02-03 00:00:00
"""


@pytest.fixture
def hand(tmp_path: Path) -> Workspace:
    ws = salespilot.open(tmp_path / "qualification.duckdb")
    for table, text in (("opportunities", OPPORTUNITIES), ("stage_changes", STAGE_CHANGES)):
        result = ws.import_file(write(tmp_path / f"{table}.csv", text), table=table)
        assert result.rejected == 0, result.as_dict()
    return ws


def test_newcombe_against_the_published_example() -> None:
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339.
    low, high = newcombe_difference(56, 70, 48, 80)
    assert low is not None and high is not None
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    assert newcombe_difference(1, 2, 0, 0) == (None, None)


def test_per_opportunity_and_per_rep(hand: Workspace) -> None:
    result = hand.qualification(grain="month")
    rows = {r["opportunity_id"]: r for r in result["opportunities"]}
    assert rows["Q1"]["fully_qualified"] and rows["Q1"]["filled"] == 6
    assert (rows["Q4"]["budget"], rows["Q4"]["pain_point"], rows["Q4"]["filled"]) == (False, True, 5)
    assert rows["Q6"]["filled"] == 0 and rows["Q6"]["period"] == "2025-02"
    by_rep = [(r["period"], r["rep"], r["opportunities"], r["fully_qualified"], r["share"]) for r in result["by_rep"]]
    assert by_rep == [("2025-01", "R1", 3, 3, 1.0), ("2025-02", "R1", 1, 0, 0.0), ("2025-02", "R2", 5, 1, 0.2)]
    low, high = wilson(1, 5)
    assert (result["by_rep"][2]["ci_low"], result["by_rep"][2]["ci_high"]) == (round(low, 4), round(high, 4))  # type: ignore[arg-type]
    hand.close()


def test_fully_vs_partly_win_rate_and_cycle(hand: Workspace) -> None:
    fully, partly = hand.qualification(grain="all")["comparison"]
    assert (fully["qualified"], fully["closed"], fully["won"], fully["win_rate"]) == ("fully", 3, 2, 0.6667)
    assert (fully["cycle_n"], fully["cycle_median_days"]) == (2, 20.0)
    assert (partly["qualified"], partly["closed"], partly["won"], partly["win_rate"]) == ("partly", 3, 1, 0.3333)
    assert (partly["cycle_n"], partly["cycle_median_days"]) == (1, 60.0)
    hand.close()


def test_difference_in_win_rate_per_field(hand: Workspace) -> None:
    effects = {r["field"]: r for r in hand.qualification(grain="all")["fields_effect"]}
    budget = effects["budget"]  # filled: Q1-Q3 (2 won of 3); empty: Q4-Q6 (1 of 3)
    assert (budget["filled_closed"], budget["filled_won"], budget["empty_closed"], budget["empty_won"]) == (3, 2, 3, 1)
    assert budget["difference"] == 0.3333
    low, high = newcombe_difference(2, 3, 1, 3)
    assert (budget["ci_low"], budget["ci_high"]) == (round(low, 4), round(high, 4))  # type: ignore[arg-type]
    assert effects["pain_point"]["difference"] == 0.6  # 3 of 5 vs 0 of 1
    assert effects["decision_date"]["difference"] == 0.75  # 3 of 4 vs 0 of 2
    hand.close()


def test_open_deals_late_and_unqualified(hand: Workspace) -> None:
    result = hand.qualification()
    assert result["late_stage"] == "proposal"
    assert [(r["opportunity_id"], r["missing"]) for r in result["late_unqualified"]] == [("O1", ["pain_point"])]
    early = hand.qualification(late_stage="discovery")["late_unqualified"]
    assert [r["opportunity_id"] for r in early] == ["O1", "O3"]  # by value
    with pytest.raises(ParameterError, match="not a stage"):
        hand.qualification(late_stage="signature")
    hand.close()


def test_date_range_on_creation(hand: Workspace) -> None:
    january = hand.qualification(grain="all", start="2025-01-01", end="2025-01-31")
    assert sorted(r["opportunity_id"] for r in january["opportunities"]) == ["Q1", "Q2", "Q3"]
    hand.close()
