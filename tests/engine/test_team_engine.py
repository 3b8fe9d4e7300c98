"""Scorecards, gaps, targets and compensation on the hand-made store of team_store.py; every
expected figure is counted by hand there, and the demo company's reps show their built-in
differences."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.analytics.test_team import _brute_force_shapley
from tests.engine.team_store import build

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError, PlanError

WINDOW = {"start": "2026-01-01", "end": "2026-02-28"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("team"))


@pytest.fixture
def ws(db: Path) -> Iterator[Workspace]:
    with salespilot.open(db) as workspace:
        yield workspace


def _cards(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["rep"], c["period"]): c for c in result["reps"]}


def _values(card: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(card["measures"][n]["value"] for n in names)


def test_scorecard_by_hand(ws: Workspace) -> None:
    result = ws.reps(grain="month", **WINDOW)
    cards = _cards(result)
    assert {rep for rep, _ in cards} == {"A1", "A2", "A3", "A4", "S1", "S2"}  # not the manager
    assert ("S2", "2026-01") not in cards and ("S2", "2026-02") in cards  # S2 starts on 02-10
    a1 = cards[("A1", "2026-01")]
    assert _values(a1, "calls", "meetings", "demos", "activities") == (10, 5, 0, 15)
    assert _values(a1, "opportunities", "signatures", "revenue", "average_deal_value") == (2, 1, 1000, 1000)
    assert _values(a1, "win_rate", "sales_cycle_days") == (0.5, 15)
    assert a1["measures"]["revenue"]["target"] == 2000 and a1["measures"]["revenue"]["attainment"] == 0.5
    assert a1["measures"]["activities"]["attainment"] == 1.5
    # January AE revenues 1000, 0, 3000, 0: P75 = 1000 + 0.25 x 2000 = 1500; ranks 2, 3, 1, 3.
    assert a1["measures"]["revenue"]["top_quartile"] == 1500 and a1["measures"]["revenue"]["gap"] == -500
    ranks = {r: cards[(r, "2026-01")]["measures"]["revenue"]["rank"] for r in ("A1", "A2", "A3", "A4")}
    assert ranks == {"A1": 2, "A2": 3, "A3": 1, "A4": 3}
    assert cards[("A2", "2026-01")]["measures"]["win_rate"]["value"] is None  # nothing closed
    assert _values(cards[("A2", "2026-02")], "signatures", "revenue", "win_rate") == (1, 1000, 1.0)  # USD 2000 x 0.5
    s1 = cards[("S1", "2026-01")]
    assert _values(s1, "calls", "leads", "call_to_lead", "lead_to_opportunity_rate") == (20, 4, 0.2, 0.75)
    assert s1["peers"] == 1 and s1["flags"] == ["few_peers"]
    assert cards[("S2", "2026-02")]["measures"]["call_to_lead"]["value"] == 0.2
    assert cards[("S2", "2026-02")]["flags"] == ["joined_on_2026-02-10", "few_peers"]
    only = ws.reps(grain="all", role="sdr", **WINDOW)
    assert {c["rep"] for c in only["reps"]} == {"S1", "S2"} and only["reps"][0]["period"] == "all"


def test_gaps_by_hand(ws: Workspace) -> None:
    result = ws.rep_gaps(**WINDOW)
    gaps = {g["rep"]: g for g in result["reps"]}
    # AE revenues 1000, 1000, 3000, 0: P75 = 1000 + 0.25 x 2000 = 1500: the benchmark is A3.
    a1 = gaps["A1"]
    assert a1["volumes"] == {"activities": 15, "opportunities": 2, "closed": 2, "won": 1, "revenue": 1000}
    assert (a1["benchmark_revenue"], a1["gap"], a1["benchmark_reps"]) == (3000, -2000, 1)
    expected = _brute_force_shapley([15, 2 / 15, 1, 0.5, 1000], [2, 0.5, 1, 1, 3000])
    assert [p["contribution"] for p in a1["parts"]] == pytest.approx(expected)
    assert sum(p["contribution"] for p in a1["parts"]) == pytest.approx(-2000)
    a4 = gaps["A4"]  # no activity, nothing closed: the steps after a zero merge into the one before
    assert [(p["factor"], p["contribution"]) for p in a4["parts"]] == [
        ("activity volume + activity -> opportunity", pytest.approx(0)),
        ("cycle time + win rate + deal size", pytest.approx(-3000)),
    ]
    assert a4["focus"] == "cycle time + win rate + deal size"
    # SDRs: S1 sourced 1000 (O1) + 1000 (O3, USD 2000 x 0.5) from 4 leads, 3 converted, 2 won.
    assert gaps["S1"]["volumes"] == {"calls": 20, "leads": 4, "converted_leads": 3, "won_leads": 2, "revenue": 2000}
    assert gaps["S2"]["volumes"] == {"calls": 5, "leads": 1, "converted_leads": 0, "won_leads": 0, "revenue": 0}
    assert gaps["S1"]["gap"] == 0 and gaps["S2"]["gap"] == -2000
    assert gaps["S2"]["flags"] == ["joined_on_2026-02-10"] and gaps["S1"]["flags"] == []


def test_targets_set_list_suggest(tmp_path: Path) -> None:
    with salespilot.open(build(tmp_path)) as ws:
        assert ws.set_target("revenue", 2500, "2026-02", rep="A1").inserted == 1
        assert ws.set_target("revenue", 3000, "2026-02", rep="A1").updated == 1  # replaced, not doubled
        assert ws.set_target("leads", 10, "2026-Q1", team="North").inserted == 1
        rows = ws.targets(period="2026-02")
        assert rows == [{"period": "2026-02", "metric": "revenue", "value": 3000.0, "scope": "rep", "scope_id": "A1"}]
        card = _cards(ws.reps(**WINDOW))[("A1", "2026-02")]
        assert card["measures"]["revenue"]["target"] == 3000 and card["measures"]["revenue"]["attainment"] == 0
        for args, message in (
            (("revenu", 1, "2026-02"), 'Did you mean "revenue"'),
            (("revenue", 1, "2026-13"), '--period "2026-13" is not a period'),
            (("revenue", -1, "2026-02"), "0 or more"),
        ):
            with pytest.raises(ParameterError, match=message):
                ws.set_target(*args)  # type: ignore[arg-type]
        with pytest.raises(ParameterError, match='"Z9" is not a rep id'):
            ws.set_target("revenue", 1, "2026-02", rep="Z9")
        with pytest.raises(ParameterError, match="not both"):
            ws.set_target("revenue", 1, "2026-02", rep="A1", team="North")
        # Monthly means of AE revenue: A1 500, A2 500, A3 1500, A4 0 -> P75 = 500 + 0.25 x 1000 = 750.
        suggestion = ws.suggest_targets(role="ae", **WINDOW, save_for=["2026-03"])
        revenue = next(r for r in suggestion["rows"] if r["metric"] == "revenue")
        assert (revenue["value"], revenue["reps"], revenue["median"]) == (750, 4, 500)
        saved = ws.targets(period="2026-03", metric="revenue")
        assert [(r["scope_id"], r["value"]) for r in saved] == [(r, 750.0) for r in ("A1", "A2", "A3", "A4")]


PLAN = """name: hand plan
roles: [ae]
period: month
base: 100
commission_rate: 0.1
quota: targets
tiers:
  - {from: 0, multiplier: 1}
  - {from: 1, multiplier: 2}
bonuses:
  - {name: busy, kpi: activities, attainment_at_least: 1.0, amount: 7}
clawback: {months: 6, share: 1}
"""


def test_comp_simulate_by_hand(ws: Workspace, tmp_path: Path) -> None:
    """A1 January: 1000 of a 2000 quota -> 100 commission, activity bonus 7 (15 of 10). O1's
    contract ends 2026-02-12 unrenewed: its 100 comes back in February. A2 February: 1000 with no
    quota -> 100, no_quota. A3 January: 3000 with no quota -> 300; O4's contract was renewed."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    result = ws.simulate_comp(plan, **WINDOW)
    lines = {(x["rep"], x["period"]): x for x in result["lines"]}
    assert len(lines) == 8  # four AEs, two months
    a1 = lines[("A1", "2026-01")]
    assert (a1["commission"], a1["bonuses"], a1["attainment"], a1["payout"]) == (100, 7, 0.5, 207)
    assert (lines[("A1", "2026-02")]["clawback"], lines[("A1", "2026-02")]["payout"]) == (100, 0)
    a2 = lines[("A2", "2026-02")]
    assert (a2["commission"], a2["flags"]) == (100, ["no_quota"])
    assert lines[("A3", "2026-01")]["commission"] == 300 and lines[("A3", "2026-02")]["clawback"] == 0
    assert lines[("A4", "2026-01")]["payout"] == 100
    assert result["total"]["revenue"] == 5000 and result["total"]["payout"] == 800 + 7 + 500 - 100
    flat = tmp_path / "flat.yaml"
    flat.write_text("name: flat\nroles: [ae]\ncommission_rate: 0.2\n", encoding="utf-8")
    both = ws.simulate_comp(plan, compare=flat, **WINDOW)
    rows = {r["rep"]: r for r in both["comparison"]["reps"]}
    assert (rows["A3"]["payout_a"], rows["A3"]["payout_b"], rows["A3"]["difference"]) == (500, 600, 100)
    assert both["comparison"]["total"]["difference"] == pytest.approx(1000 - 1207)


def test_plan_file_mistakes(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no such plan file"):
        ws.simulate_comp(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbonuses:\n  - {kpi: wins, at_least: 1, amount: 5}\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r'bonuses\[0\].kpi: "wins" is not a KPI'):
        ws.simulate_comp(bad)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with salespilot.open(tmp_path_factory.mktemp("demo") / "demo.duckdb") as workspace:
        workspace.demo("small")
        yield workspace


def test_the_demo_reps_show_their_built_in_differences(demo: Workspace) -> None:
    """The demo gives each role a star and a weak performer among its veterans (docs/demo.md)."""
    window = {"start": "2024-07-01", "end": "2026-06-30"}
    cards = demo.reps(grain="all", role="ae", **window)["reps"]
    revenue = {c["rep"]: c["measures"]["revenue"]["value"] for c in cards}
    win = [c["measures"]["win_rate"]["value"] for c in cards if c["measures"]["win_rate"]["value"] is not None]
    assert max(revenue.values()) > 5 * sorted(revenue.values())[1]  # over fivefold, past the newest hire
    assert max(win) - min(win) > 0.2
    gaps = {g["rep"]: g for g in demo.rep_gaps(**window)["reps"]}
    best = max(revenue, key=lambda r: revenue[r])
    assert gaps[best]["gap"] >= 0 and gaps[best]["focus"] is None
    behind = [g for g in gaps.values() if g["gap"] < 0]
    assert len(behind) >= 5 and all(g["focus"] for g in behind)
    for g in gaps.values():
        assert math.isclose(sum(p["contribution"] for p in g["parts"]), g["gap"], rel_tol=1e-9, abs_tol=1e-6)
    # The lead -> opportunity step spreads the SDRs.
    sdr = demo.reps(grain="all", role="sdr", **window)["reps"]
    rates = [c["measures"]["lead_to_opportunity_rate"]["value"] for c in sdr]
    rates = [r for r in rates if r is not None]
    assert max(rates) - min(rates) > 0.1


def test_comp_on_the_demo_follows_the_kpis(demo: Workspace, tmp_path: Path) -> None:
    """A flat 10% plan pays 10% of each AE's revenue as the KPI layer counts it."""
    plan = tmp_path / "flat.yaml"
    plan.write_text("name: flat\nroles: [ae]\nperiod: quarter\ncommission_rate: 0.1\n", encoding="utf-8")
    result = demo.simulate_comp(plan, start="2025-07-01", end="2026-06-30")
    kpi = demo.kpi("revenue", grain="quarter", by="rep", start="2025-07-01", end="2026-06-30", output="rows")
    expected = {(r["rep"], r["period"]): r["value"] for r in kpi}
    for line in result["lines"]:
        assert line["commission"] == pytest.approx(0.1 * expected.get((line["rep"], line["period"]), 0.0))
    assert sum(x["commission"] for x in result["lines"]) > 0


def test_a_rep_is_ranked_among_all_their_peers_whatever_their_scope(ws: Workspace) -> None:
    """A1 in their own scope, or under the filter rep=A1: rank 2 of the 4 AEs, the top quartile of
    the four (1500, by hand above); only A1's rows come back, never another rep's figures."""
    from salespilot.store.scope import ScopeLens

    for view in (ws.lensed(ScopeLens({"A1"})), ws.sliced({"rep": "A1"})):
        cards = _cards(view.reps(grain="month", **WINDOW))
        assert {rep for rep, _ in cards} == {"A1"}
        revenue = cards[("A1", "2026-01")]["measures"]["revenue"]
        assert (revenue["rank"], revenue["top_quartile"], revenue["gap"]) == (2, 1500, -500)
        assert cards[("A1", "2026-01")]["peers"] == 4
        gaps = view.rep_gaps(**WINDOW)["reps"]
        assert [g["rep"] for g in gaps] == ["A1"]
        # the gap to the benchmark A3 (3000, by hand in test_gaps_by_hand), not to A1 alone
        assert (gaps[0]["benchmark_revenue"], gaps[0]["gap"], gaps[0]["benchmark_reps"]) == (3000, -2000, 1)


def test_a_reps_stuck_deals_are_judged_by_the_companys_history(demo: Workspace) -> None:
    """The thresholds of time in stage are learnt from every deal, not from the rep's few: a rep's
    view lists exactly the company's stuck deals that are theirs, with the same thresholds."""
    from salespilot.store.scope import ScopeLens

    every = demo.stuck_deals()
    owners = sorted({str(r["owner"]) for r in every})
    assert len(owners) > 3
    for rep in owners[:3]:
        theirs = demo.lensed(ScopeLens({rep})).stuck_deals()
        assert theirs == [r for r in every if r["owner"] == rep]
        by_rep = demo.lensed(ScopeLens({rep})).stuck_deals(by="rep")
        assert [r["rep"] for r in by_rep] == [rep]
