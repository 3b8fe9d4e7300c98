"""Compensation plans: reading (every mistake named), and every rule of the replay on hand-made
numbers: marginal tiers at their boundaries, bonuses, the cap, clawbacks, no quota."""

from __future__ import annotations

import random

import pytest
from scipy.stats import spearmanr

from salespilot.analytics.comp import Deal, Tier, commission, parse_plan, simulate, spearman
from salespilot.errors import PlanError

PLAN = """
name: Test plan
roles: [ae]
period: month
base: 1000
commission_rate: 0.1
quota: 100
tiers:
  - {from: 0, multiplier: 0.5}
  - {from: 1.0, multiplier: 1.5}
bonuses:
  - {name: closing, kpi: win_rate, at_least: 0.3, amount: 50}
  - {name: activity, kpi: activities, attainment_at_least: 1.0, amount: 20}
cap: 40
clawback: {months: 6, share: 0.5}
"""


def test_a_plan_reads_whole() -> None:
    plan = parse_plan(PLAN, "plan.yaml")
    assert (plan.name, plan.roles, plan.period, plan.base, plan.quota, plan.cap) == (
        "Test plan",
        ("ae",),
        "month",
        1000,
        100,
        40,
    )
    assert plan.tiers == (Tier(0, 0.5), Tier(1.0, 1.5))
    assert [b.name for b in plan.bonuses] == ["closing", "activity"] and plan.kpis() == ["win_rate", "activities"]
    assert plan.clawback is not None and (plan.clawback.months, plan.clawback.share) == (6, 0.5)
    assert parse_plan("name: x\nquota: targets\n").quota is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\ncomission_rate: 0.1\n", "plan.yaml: the plan: unknown key 'comission_rate'. Did you mean"),
        ("quota: 100\ncommission_rate: 1.5\n", "plan.yaml: commission_rate: expected a number from 0 to 1 (got 1.5)."),
        ("base: -3\n", "base: expected a number of 0 or more (got -3)."),
        ("quota: lots\n", 'quota: expected a number above 0, or "targets"'),
        ("tiers:\n  - {from: 0, multiplier: 1}\n", "quota: expected a quota for the tiers to apply to"),
        ("roles: [ae, cfo]\n", "roles: expected a list of roles among sdr, ae, am, manager"),
        ("period: week\n", "period: expected one of month, quarter, year (got 'week')."),
        ("quota: 10\ntiers:\n  - {from: 0.5, multiplier: 1}\n", "tiers[0].from: expected 0: the first tier starts"),
        (
            "quota: 10\ntiers:\n  - {from: 0, multiplier: 1}\n  - {from: 1, multiplier: 2}\n"
            "  - {from: 0.5, multiplier: 3}\n",
            "tiers[2].from: expected above the tier before (1) (got 0.5).",
        ),
        ("quota: 10\ntiers:\n  - {from: 0}\n", "tiers[0]: expected both from"),
        ("bonuses:\n  - {kpi: win_rate, amount: 5}\n", "bonuses[0]: expected one bar"),
        (
            "bonuses:\n  - {kpi: win_rate, at_least: 0.3, attainment_at_least: 1, amount: 5}\n",
            "bonuses[0]: expected one bar",
        ),
        ("bonuses:\n  - {kpi: win_rate, at_least: 0.3}\n", "bonuses[0].amount: expected a number"),
        ("clawback: {months: 2.5}\n", "clawback.months: expected a whole number of months (got 2.5)."),
        ("clawback: {months: 6, share: 2}\n", "clawback.share: expected a number from 0 to 1 (got 2)."),
        ("name: [unclosed\n", "plan.yaml: line 2: not valid YAML"),
        ("- just a list\n", "the plan: expected a mapping"),
    ],
)
def test_every_mistake_names_the_key(text: str, message: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "plan.yaml")
    assert message in str(info.value)


def test_marginal_tiers_at_their_boundaries() -> None:
    """Quota 100, rate 10%, x0.5 below 100% and x1.5 from 100%: 100 -> 100 x 5% = 5 (the boundary
    euro is still in the first tier's band); 150 -> 5 + 50 x 15% = 12.5; 0 -> 0."""
    tiers = (Tier(0, 0.5), Tier(1.0, 1.5))
    assert commission(100, 100, 0.1, tiers) == pytest.approx(5)
    assert commission(150, 100, 0.1, tiers) == pytest.approx(12.5)
    assert commission(100.01, 100, 0.1, tiers) == pytest.approx(5 + 0.01 * 0.15)
    assert commission(0, 100, 0.1, tiers) == 0
    assert commission(150, None, 0.1, tiers) == pytest.approx(15)  # no quota: the plain rate


def _replay(plan_text: str = PLAN, **extra: object) -> dict[str, object]:
    plan = parse_plan(plan_text)
    reps = {"A": {"name": "Ann", "role": "ae"}, "B": {"name": "Bob", "role": "ae"}, "S": {"name": "Sue", "role": "sdr"}}
    periods = {"A": ["2026-01", "2026-02"], "B": ["2026-01"], "S": ["2026-01"]}
    deals = [
        Deal("D1", "A", "2026-01", 60.0),
        Deal("D2", "A", "2026-01", 90.0, churn_period="2026-02"),  # A: 150 in January
        Deal("D3", "B", "2026-01", 80.0, churn_period="2026-03"),  # B has no March line
        Deal("D4", "S", "2026-01", 500.0),  # an SDR: not in the plan
    ]
    kpis = {
        ("A", "2026-01", "win_rate"): (0.3, None),  # exactly at the bar: met
        ("A", "2026-01", "activities"): (90.0, 0.9),
        ("B", "2026-01", "win_rate"): (0.29, None),
        ("B", "2026-01", "activities"): (120.0, 1.0),  # attainment exactly 1.0: met
    }
    return simulate(plan, reps, periods, deals, {}, kpis, **extra)  # type: ignore[arg-type]


def test_every_rule_on_a_hand_made_case() -> None:
    """A, January: revenue 150, commission 12.5, closing bonus 50 -> variable 62.5, capped 22.5.
    D2 (90 of 150) churns in February: clawback 0.5 x 12.5 x 90/150 = 3.75, in February.
    A, February: base only, minus 3.75. B: 80 -> commission 80 x 5% = 4, activity bonus 20 ->
    variable 24 (under the cap); D3's clawback 0.5 x 4 = 2 falls in March, where B has no line."""
    result = _replay()
    lines = {(x["rep"], x["period"]): x for x in result["lines"]}  # type: ignore[attr-defined]
    assert set(lines) == {("A", "2026-01"), ("A", "2026-02"), ("B", "2026-01")}  # not the SDR
    a1 = lines[("A", "2026-01")]
    assert (a1["revenue"], a1["attainment"], a1["commission"], a1["bonuses"]) == pytest.approx((150, 1.5, 12.5, 50))
    assert a1["bonuses_won"] == ["closing"] and a1["capped"] == pytest.approx(22.5)
    assert a1["payout"] == pytest.approx(1000 + 12.5 + 50 - 22.5)
    a2 = lines[("A", "2026-02")]
    assert (a2["revenue"], a2["commission"], a2["clawback"]) == pytest.approx((0, 0, 3.75))
    assert a2["payout"] == pytest.approx(1000 - 3.75)
    b1 = lines[("B", "2026-01")]
    assert (b1["commission"], b1["bonuses"], b1["capped"], b1["bonuses_won"]) == (pytest.approx(4), 20, 0, ["activity"])
    assert result["clawback_outside"] == [{"rep": "B", "period": "2026-03", "clawback": pytest.approx(2)}]
    total = result["total"]  # type: ignore[index]
    assert total["revenue"] == pytest.approx(230)
    assert total["payout"] == pytest.approx(1040 + 996.25 + 1024)
    assert total["cost_of_sales"] == pytest.approx(3060.25 / 230)
    reps = {r["rep"]: r for r in result["reps"]}  # type: ignore[attr-defined]
    assert reps["A"]["variable"] == pytest.approx(12.5 + 50 - 22.5 - 3.75) and reps["A"]["periods"] == 2


def test_no_quota_pays_the_plain_rate_and_says_so() -> None:
    result = _replay(PLAN.replace("quota: 100", "quota: targets"))
    b1 = next(x for x in result["lines"] if x["rep"] == "B")  # type: ignore[attr-defined]
    assert b1["commission"] == pytest.approx(8) and b1["flags"] == ["no_quota"] and b1["attainment"] is None


def test_what_the_plan_rewards() -> None:
    result = _replay(measures={"A": {"revenue": 150, "win_rate": 0.3}, "B": {"revenue": 80, "win_rate": 0.29}})
    rewards = {r["measure"]: r for r in result["rewards"]}  # type: ignore[attr-defined]
    assert rewards["revenue"]["reps"] == 2 and rewards["revenue"]["spearman"] is None  # under 3 reps


@pytest.mark.parametrize("seed", range(4))
def test_spearman_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    x = [float(rng.randint(0, 6)) for _ in range(12)]  # with ties
    y = [v + rng.uniform(-3, 3) for v in x]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert spearman([1, 2], [2, 1]) is None and spearman([1, 1, 1], [1, 2, 3]) is None
