"""The team analytics on hand-made numbers: percentiles against the standard library, ranks,
the peers' comparison, and the Shapley gap decomposition against a brute-force computation."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salespilot.analytics.team import (
    Measure,
    RepPeriod,
    compare,
    decompose,
    percentile,
    ranks,
    shapley_product,
)
from salespilot.errors import ParameterError


@pytest.mark.parametrize("seed", range(5))
def test_percentile_is_the_inclusive_quartile_of_the_standard_library(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.uniform(0, 100) for _ in range(rng.randint(2, 40))]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    assert percentile(values, 75) == pytest.approx(q3)
    assert percentile(values, 25) == pytest.approx(q1)
    assert percentile(values, 50) == pytest.approx(q2)
    assert percentile([], 75) is None


def test_ranks_share_the_best_rank_on_ties() -> None:
    assert ranks({"a": 3, "b": 5, "c": 5, "d": 1, "e": None}, higher_is_better=True) == {
        "a": 3,
        "b": 1,
        "c": 1,
        "d": 4,
        "e": None,
    }
    assert ranks({"a": 30.0, "b": 10.0, "c": 20.0}, higher_is_better=False) == {"a": 3, "b": 1, "c": 2}


def _card(rep: str, role: str, revenue: float, cycle: float | None) -> RepPeriod:
    return RepPeriod(rep, None, role, None, "2026-01", {"revenue": revenue, "sales_cycle_days": cycle})


def test_peers_top_quartile_and_gaps() -> None:
    """AE revenues 10, 20, 30, 40: P75 = 30 + 0.25 x 10 = 32.5. Cycles 40, 30, None, 10 (lower is
    better): P25 of 10, 30, 40 = 10 + 0.5 x 20 = 20. The lone SDR has no peers to speak of."""
    cards = [
        _card("A1", "ae", 10, 40),
        _card("A2", "ae", 20, 30),
        _card("A3", "ae", 30, None),
        _card("A4", "ae", 40, 10),
        _card("S1", "sdr", 5, None),
    ]
    measures = [Measure("revenue"), Measure("sales_cycle_days", higher_is_better=False)]
    compare(cards, measures)
    a1 = cards[0]
    assert a1.top_quartile == {"revenue": 32.5, "sales_cycle_days": 20.0}
    assert a1.gaps == {"revenue": -22.5, "sales_cycle_days": 20.0}
    assert a1.ranks == {"revenue": 4, "sales_cycle_days": 3}
    assert cards[2].ranks["sales_cycle_days"] is None and cards[2].gaps["sales_cycle_days"] is None
    assert a1.peers == 4 and a1.flags == []
    assert cards[4].flags == ["few_peers"] and cards[4].top_quartile["revenue"] == 5
    with pytest.raises(ParameterError, match="--percentile"):
        compare(cards, measures, top=100)


def _brute_force_shapley(rep: list[float], bench: list[float]) -> list[float]:
    """Mean over every order of switching factors from the benchmark's value to the rep's."""
    n = len(rep)
    parts = [0.0] * n
    orders = list(itertools.permutations(range(n)))
    for order in orders:
        current = list(bench)
        for i in order:
            before = math.prod(current)
            current[i] = rep[i]
            parts[i] += (math.prod(current) - before) / len(orders)
    return parts


def test_shapley_of_two_factors_by_hand() -> None:
    """a x b from 2 x 10 to 4 x 5: part of a = (4 - 2)(5 + 10)/2 = 15, of b = (5 - 10)(4 + 2)/2 = -15."""
    assert shapley_product([4, 5], [2, 10]) == pytest.approx([15.0, -15.0])


@pytest.mark.parametrize("seed", range(5))
def test_shapley_matches_the_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    rep = [rng.uniform(0, 3) for _ in range(5)]
    bench = [rng.uniform(0, 3) for _ in range(5)]
    assert shapley_product(rep, bench) == pytest.approx(_brute_force_shapley(rep, bench))


@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=6).flatmap(
        lambda a: st.tuples(st.just(a), st.lists(st.floats(0, 1000), min_size=len(a), max_size=len(a)))
    )
)
def test_shapley_parts_add_up_to_the_difference(pair: tuple[list[float], list[float]]) -> None:
    rep, bench = pair
    total = math.prod(rep) - math.prod(bench)
    scale = max([*rep, *bench, 1.0]) ** len(rep)  # the size of the products summed
    assert sum(shapley_product(rep, bench)) == pytest.approx(total, rel=1e-9, abs=1e-12 * scale)


def _ae(activities: float, opportunities: float, closed: float, won: float, revenue: float) -> dict[str, float]:
    return {"activities": activities, "opportunities": opportunities, "closed": closed, "won": won, "revenue": revenue}


def test_decomposition_against_the_top_quartile_by_hand() -> None:
    """Revenues 100, 200, 300, 800: P75 = 300 + 0.75 x 500 = 675, so the benchmark is A4 alone.
    A1 differs from A4 only in deal size (activities 100, 10 opportunities, 10 closed, 5 won):
    its whole gap, 100 - 800, is deal size. A2 differs only in its win rate (2 won of 10 closed
    instead of 5, the same 160 per deal)."""
    volumes = {
        "A1": _ae(100, 10, 10, 5, 100),
        "A2": _ae(100, 10, 10, 2, 320),
        "A3": _ae(50, 10, 10, 5, 300),
        "A4": _ae(100, 10, 10, 5, 800),
    }
    gaps = {g.rep: g for g in decompose(volumes, dict.fromkeys(volumes, "ae"))}
    assert gaps["A4"].gap == 0 and all(p.contribution == 0 for p in gaps["A4"].parts)
    assert gaps["A1"].benchmark_revenue == 800 and gaps["A1"].benchmark_reps == 1
    parts = {p.factor: p.contribution for p in gaps["A1"].parts}
    assert parts == pytest.approx(
        {"activity volume": 0, "activity -> opportunity": 0, "cycle time": 0, "win rate": 0, "deal size": -700}
    )
    assert gaps["A1"].focus == "deal size" and "deal size" in str(gaps["A1"].advice)
    # A2: win rate 0.2 vs 0.5, deal size 160 vs 160: all of 320 - 800 is the win rate.
    parts = {p.factor: p.contribution for p in gaps["A2"].parts}
    assert parts["win rate"] == pytest.approx(-480) and parts["deal size"] == pytest.approx(0)
    assert gaps["A2"].advice == "coach closing (win rate); see the loss reasons"
    # A3: half the activity, opportunities per activity doubled; 10 x 0.5 x 60 vs 10 x 0.5 x 160.
    a3 = gaps["A3"]
    assert sum(p.contribution for p in a3.parts) == pytest.approx(a3.gap) == pytest.approx(-500)


def test_a_zero_volume_merges_the_next_step() -> None:
    """An SDR with calls but no lead: the ratios after leads do not exist; they merge into call -> lead."""
    volumes = {
        "S1": {"calls": 100, "leads": 0, "converted_leads": 0, "won_leads": 0, "revenue": 0},
        "S2": {"calls": 200, "leads": 20, "converted_leads": 10, "won_leads": 2, "revenue": 1000},
    }
    (s1, s2) = decompose(volumes, {"S1": "sdr", "S2": "sdr"})
    assert [p.factor for p in s1.parts] == [
        "activity volume",
        "call -> lead + lead -> opportunity + opportunity -> signature + deal size",
    ]
    # calls: 100 vs 200; the merged factor: revenue per call 0 vs 5. Shapley: (100 - 200)(0 + 5)/2 = -250,
    # (0 - 5)(100 + 200)/2 = -750; the sum is the gap -1000.
    assert [p.contribution for p in s1.parts] == pytest.approx([-250, -750])
    assert s1.focus is not None and s1.focus.startswith("call -> lead")
    assert s1.advice == "coach the pitch and the call lists (call -> lead)"
    assert s2.gap == 0
