"""Losses on a hand-made store: reasons (free text mapped by the import mapping), stage lost,
win rate against each competitor, per rep; every value computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write

import salespilot
from salespilot.analytics.losses import LEVERS, REASONS
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError
from salespilot.metrics.stats import wilson

ACCOUNTS = """account_id,segment
A1,smb
A2,ent
"""
# Reasons are the source's free text: the mapping files two of them, "Champion left" becomes other.
OPPORTUNITIES = """opportunity_id,created_at,closed_at,outcome,stage,owner_id,account_id,amount,currency,Reason,rival
L1,2025-01-05 00:00:00,2025-01-20 00:00:00,lost,negotiation,R1,A1,1000,EUR,Too expensive,
L2,2025-01-05 00:00:00,2025-01-25 00:00:00,lost,demo,R1,A2,3000,EUR,Went with Acme,Acme
L3,2025-01-06 00:00:00,2025-02-10 00:00:00,lost,discovery,R2,A1,500,EUR,Champion left,
L4,2025-01-06 00:00:00,2025-02-15 00:00:00,lost,proposal,R2,A1,700,EUR,budget,
W1,2025-01-06 00:00:00,2025-01-28 00:00:00,won,negotiation,R1,A2,2000,EUR,,Acme
W2,2025-01-06 00:00:00,2025-02-20 00:00:00,won,negotiation,R2,A1,4000,EUR,,Beta
W3,2025-01-06 00:00:00,2025-02-22 00:00:00,won,negotiation,R1,A1,1000,EUR,,Acme
O1,2025-01-06 00:00:00,,open,demo,R1,A1,9000,EUR,,Acme
"""
MAPPING = """table: opportunities
columns:
  opportunity_id: opportunity_id
  created_at: created_at
  closed_at: closed_at
  outcome: outcome
  stage: stage
  owner_id: owner_id
  account_id: account_id
  amount: amount
  currency: currency
  competitor: rival
  loss_reason:
    column: Reason
    values: {Too expensive: budget, Went with Acme: competitor}
"""
# L1 entered negotiation after it closed: it was lost in proposal. L4 has no history: its stage.
STAGE_CHANGES = """opportunity_id,stage,entered_at
L1,discovery,2025-01-05 00:00:00
L1,proposal,2025-01-10 00:00:00
L1,negotiation,2025-01-25 00:00:00
L3,discovery,2025-01-06 00:00:00
"""


@pytest.fixture
def hand(tmp_path: Path) -> Workspace:
    ws = salespilot.open(tmp_path / "losses.duckdb")
    ws.import_file(write(tmp_path / "accounts.csv", ACCOUNTS), table="accounts")
    mapping = write(tmp_path / "mapping.yaml", MAPPING)
    result = ws.import_file(write(tmp_path / "opps.csv", OPPORTUNITIES), table="opportunities", mapping=mapping)
    assert result.rejected == 0, result.as_dict()
    ws.import_file(write(tmp_path / "stage_changes.csv", STAGE_CHANGES), table="stage_changes")
    return ws


def test_by_reason_with_levers_and_kept_text(hand: Workspace) -> None:
    result = hand.losses(by="reason", grain="all")
    assert (result["lost"], result["lost_value"], result["base_currency"]) == (4, 5200.0, "EUR")
    rows = {r["reason"]: r for r in result["rows"]}
    assert [r["reason"] for r in result["rows"]] == ["competitor", "budget", "other"]  # by lost value
    assert (rows["budget"]["lost"], rows["budget"]["lost_value"], rows["budget"]["share_of_lost"]) == (2, 1700.0, 0.5)
    assert rows["budget"]["share_of_lost_value"] == round(1700 / 5200, 4)
    assert rows["competitor"]["lever"] == "positioning, competitive intelligence"
    assert rows["budget"]["lever"] == "pricing, budget qualification"
    assert rows["other"]["lever"] is None and rows["other"]["texts"] == [{"text": "Champion left", "count": 1}]
    assert all(r["period"] == "all" for r in result["rows"])
    hand.close()


def test_by_reason_per_month_and_date_range(hand: Workspace) -> None:
    rows = hand.losses(by="reason", grain="month")["rows"]
    assert [(r["period"], r["reason"], r["lost_value"]) for r in rows] == [
        ("2025-01", "competitor", 3000.0),
        ("2025-01", "budget", 1000.0),
        ("2025-02", "budget", 700.0),
        ("2025-02", "other", 500.0),
    ]
    february = hand.losses(grain="all", start="2025-02-01", end="2025-02-28")
    assert february["lost"] == 2 and february["lost_value"] == 1200.0
    hand.close()


def test_stage_lost_is_the_last_stage_entered_before_closing(hand: Workspace) -> None:
    rows = hand.losses(by="stage", grain="all")["rows"]
    assert [(r["stage"], r["lost"], r["lost_value"]) for r in rows] == [
        ("demo", 1, 3000.0),  # no history: its stage
        ("proposal", 2, 1700.0),  # L1 (entered negotiation after closing) and L4
        ("discovery", 1, 500.0),
    ]
    hand.close()


def test_win_rate_against_each_competitor(hand: Workspace) -> None:
    rows = hand.losses(by="competitor", grain="all")["rows"]
    acme, beta = rows
    assert (acme["competitor"], acme["won"], acme["closed"], acme["lost"]) == ("Acme", 2, 3, 1)  # O1 is open
    low, high = wilson(2, 3)
    assert (acme["win_rate"], acme["ci_low"], acme["ci_high"]) == (0.6667, round(low, 4), round(high, 4))  # type: ignore[arg-type]
    assert acme["share_of_lost"] == 0.25  # of all 4 losses, with or without a competitor
    assert (beta["competitor"], beta["won"], beta["closed"], beta["win_rate"], beta["lost"]) == ("Beta", 1, 1, 1.0, 0)
    hand.close()


def test_by_rep_and_segment(hand: Workspace) -> None:
    rows = {r["rep"]: r for r in hand.losses(by="rep", grain="all")["rows"]}
    assert (rows["R1"]["lost"], rows["R1"]["lost_value"], rows["R1"]["won"], rows["R1"]["closed"]) == (2, 4000.0, 2, 4)
    assert rows["R1"]["top_reason"] == "budget"  # a tie with competitor: by name
    assert (rows["R2"]["lost"], rows["R2"]["won"], rows["R2"]["win_rate"]) == (2, 1, 0.3333)
    segments = {r["segment"]: r["lost"] for r in hand.losses(by="segment", grain="all")["rows"]}
    assert segments == {"smb": 3, "ent": 1}
    with pytest.raises(ParameterError):
        hand.losses(by="colour")
    hand.close()


def test_every_reason_has_a_lever_entry() -> None:
    assert set(LEVERS) == set(REASONS)
    assert LEVERS["bad_target"] == "lead generation targeting" and LEVERS["no_pain"] == "discovery and qualification"
    assert LEVERS["no_fit"] == "product"


def test_foreign_amounts_take_the_rate_of_the_close_day(tmp_path: Path) -> None:
    """USD 1.0 until 2025-01-31, 0.5 from 2025-02-01 (workspace in Europe/Paris): X1 closes on
    2025-01-31 23:30 UTC, 2025-02-01 00:30 in Paris: 0.5 applies -> 500. X2 closes on 01-15 ->
    2,000 x 1.0; X3 is in GBP, with no rate: counted as 0. Lost value: 2,500, not 1,500 (last rate)."""
    with salespilot.open(tmp_path / "fx.duckdb") as ws:
        ws.set_setting("timezone", "Europe/Paris")
        fx = write(tmp_path / "fx.csv", "date,currency,rate_to_base\n2025-01-01,USD,1.0\n2025-02-01,USD,0.5\n")
        assert ws.import_file(fx, table="fx_rates").rejected == 0
        opps = write(
            tmp_path / "opps.csv",
            "opportunity_id,created_at,closed_at,outcome,amount,currency,loss_reason\n"
            "X1,2025-01-02T00:00:00Z,2025-01-31T23:30:00Z,lost,1000,USD,budget\n"
            "X2,2025-01-02T00:00:00Z,2025-01-15T10:00:00Z,lost,2000,USD,budget\n"
            "X3,2025-01-02T00:00:00Z,2025-01-15T10:00:00Z,lost,300,GBP,budget\n",
        )
        assert ws.import_file(opps, table="opportunities").rejected == 0
        result = ws.losses(by="reason", grain="month")
    by_period = {r["period"]: r["lost_value"] for r in result["rows"]}
    assert by_period == {"2025-01": 2000.0, "2025-02": 500.0}
    assert result["lost_value"] == 2500.0
