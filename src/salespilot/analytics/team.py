"""The team (KPIS.md ``activities``; docs/team.md): each rep's measures against their peers of the
same role, and the revenue gap to the role's top quartile split into its causes.

Pure: it takes per rep and period the measures the engine counted (``RepMeasures``) and returns
the scorecard; the gap decomposition takes per rep the volumes of the role's chain.

* **Peers**: the reps of the same role with a scorecard in the period (active in it).
* **Top quartile** of a measure: the 75th percentile of the peers' values (the 25th for a measure
  where lower is better, such as the cycle), linear interpolation between order statistics
  (numpy's default, Hyndman and Fan type 7). Peers without a value (a rate with no denominator)
  are left out; fewer than ``MIN_PEERS`` peers flag the comparison ``few_peers``.
* **Rank**: 1 = the best of the peers on that measure; ties share the best rank.
* **Gap**: value - top quartile (negative: behind, for a measure where higher is better).

Gap decomposition: a role's revenue is a product of factors, one per step of its chain (see
``CHAINS``): for an AE, revenue = activities x opportunities/activity x closed/opportunity x
won/closed x revenue/won. The benchmark is the top quartile's average rep: the mean volumes of
the reps whose revenue is at or above the role's 75th percentile, so the benchmark's factors
multiply to its mean revenue. The gap (rep's revenue - benchmark's) is split among the factors by
the Shapley value of the product (the mean, over every order of switching factors from the
benchmark's value to the rep's, of each factor's change): the parts add up to the gap exactly,
the order of the factors does not matter, and a zero volume is handled (no logarithm). When a
volume is zero for the rep or the benchmark, the step after it has no ratio: it is merged with
the step before (its label joins both).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from salespilot.errors import ParameterError

ROLES = ("sdr", "ae", "am")
MIN_PEERS = 4
TOP_PERCENTILE = 75.0

# Each role's chain: volumes from the top (activity) to revenue, and the factor each step adds.
# sdr: revenue of the won opportunities of the leads the SDR owns ("sourced revenue").
CHAINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sdr": (
        ("calls", "leads", "converted_leads", "won_leads", "revenue"),
        ("activity volume", "call -> lead", "lead -> opportunity", "opportunity -> signature", "deal size"),
    ),
    "ae": (
        ("activities", "opportunities", "closed", "won", "revenue"),
        ("activity volume", "activity -> opportunity", "cycle time", "win rate", "deal size"),
    ),
}
CHAINS["am"] = CHAINS["ae"]
# What a manager does about each factor when it is the largest shortfall.
COACHING = {
    "activity volume": "more activity: calls, meetings, demos",
    "call -> lead": "coach the pitch and the call lists (call -> lead)",
    "lead -> opportunity": "coach the lead -> opportunity step (qualification)",
    "activity -> opportunity": "coach turning activity into opportunities",
    "cycle time": "shorten the cycle: push stalled deals to a decision",
    "opportunity -> signature": "coach closing (opportunity -> signature)",
    "win rate": "coach closing (win rate); see the loss reasons",
    "deal size": "coach deal size: upsell, pricing, larger accounts",
}


@dataclass(frozen=True)
class Measure:
    """One measure of the scorecard: its name, and whether higher is better."""

    name: str
    higher_is_better: bool = True


@dataclass
class RepPeriod:
    """One rep in one period: role, measures (None: not computable) and targets' attainment."""

    rep: str
    name: str | None
    role: str
    team: str | None
    period: str
    measures: dict[str, float | None]
    targets: dict[str, dict[str, float | None]] = field(default_factory=dict)  # measure -> target, attainment
    ranks: dict[str, int | None] = field(default_factory=dict)
    top_quartile: dict[str, float | None] = field(default_factory=dict)
    gaps: dict[str, float | None] = field(default_factory=dict)
    peers: int = 0
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep": self.rep,
            "name": self.name,
            "role": self.role,
            "team": self.team,
            "period": self.period,
            "peers": self.peers,
            "measures": {
                m: {
                    "value": v,
                    "rank": self.ranks.get(m),
                    "top_quartile": self.top_quartile.get(m),
                    "gap": self.gaps.get(m),
                    **self.targets.get(m, {}),
                }
                for m, v in self.measures.items()
            },
            "flags": list(self.flags),
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear interpolation (numpy's default); None without values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ranks(values: Mapping[str, float | None], higher_is_better: bool) -> dict[str, int | None]:
    """1 = best; ties share the best rank (competition ranking: 1, 2, 2, 4); None stays unranked."""
    known = {k: v for k, v in values.items() if v is not None}
    out: dict[str, int | None] = dict.fromkeys(values)
    for key, value in known.items():
        better = sum(1 for v in known.values() if (v > value if higher_is_better else v < value))
        out[key] = better + 1
    return out


def compare(cards: list[RepPeriod], measures: Sequence[Measure], top: float = TOP_PERCENTILE) -> list[RepPeriod]:
    """Fill each card's ranks, top quartile and gaps against the peers (same role and period)."""
    if not 0 < top < 100:
        raise ParameterError(f"--percentile must be between 0 and 100, exclusive (got {top:g}).")
    groups: dict[tuple[str, str], list[RepPeriod]] = defaultdict(list)
    for card in cards:
        groups[(card.role, card.period)].append(card)
    for peers in groups.values():
        for measure in measures:
            values = {c.rep: c.measures.get(measure.name) for c in peers}
            known = [v for v in values.values() if v is not None]
            q = percentile(known, top if measure.higher_is_better else 100 - top)
            ranked = ranks(values, measure.higher_is_better)
            for card in peers:
                value = values[card.rep]
                card.ranks[measure.name] = ranked[card.rep]
                card.top_quartile[measure.name] = q
                card.gaps[measure.name] = None if value is None or q is None else value - q
        for card in peers:
            card.peers = len(peers)
            if len(peers) < MIN_PEERS and "few_peers" not in card.flags:
                card.flags.append("few_peers")
    return cards


# -- gap decomposition ----------------------------------------------------------------------


@dataclass(frozen=True)
class GapPart:
    factor: str  # one step of the chain, or merged steps "a + b"
    value: float  # the rep's factor value
    benchmark: float  # the top quartile's
    contribution: float  # the factor's share of the gap (the parts add up to the gap)


@dataclass(frozen=True)
class Gap:
    rep: str
    role: str
    revenue: float
    benchmark_revenue: float
    gap: float
    parts: list[GapPart]
    focus: str | None  # the factor with the largest shortfall, when behind
    advice: str | None
    benchmark_reps: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep": self.rep,
            "role": self.role,
            "revenue": self.revenue,
            "benchmark_revenue": self.benchmark_revenue,
            "gap": self.gap,
            "parts": [p.__dict__ for p in self.parts],
            "focus": self.focus,
            "advice": self.advice,
            "benchmark_reps": self.benchmark_reps,
        }


def shapley_product(rep: Sequence[float], benchmark: Sequence[float]) -> list[float]:
    """Each factor's Shapley share of prod(rep) - prod(benchmark); the shares add up to it."""
    n = len(rep)
    if n != len(benchmark):
        raise ValueError("rep and benchmark need as many factors")
    weights = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    parts = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        total = 0.0
        for k in range(n):
            for subset in combinations(others, k):
                switched = set(subset)
                base = math.prod(rep[j] if j in switched else benchmark[j] for j in others)
                total += weights[k] * base * (rep[i] - benchmark[i])
        parts.append(total)
    return parts


def _factors(volumes: Sequence[float], other: Sequence[float], labels: Sequence[str]) -> list[tuple[str, int, int]]:
    """Groups of steps (label, first volume index, last volume index) with a ratio for both sides:
    step i is volume i / volume i-1; when volume i-1 is zero on either side, step i is merged into
    the group before."""
    groups: list[tuple[str, int, int]] = [(labels[0], -1, 0)]
    for i in range(1, len(volumes)):
        if volumes[i - 1] == 0 or other[i - 1] == 0:
            label, start, _ = groups[-1]
            groups[-1] = (f"{label} + {labels[i]}", start, i)
        else:
            groups.append((labels[i], i - 1, i))
    return groups


def _value(volumes: Sequence[float], start: int, end: int) -> float:
    if start < 0:
        return float(volumes[end])
    return float(volumes[end]) / float(volumes[start]) if volumes[start] else 0.0


def decompose(
    volumes: Mapping[str, Mapping[str, float]], roles: Mapping[str, str], top: float = TOP_PERCENTILE
) -> list[Gap]:
    """Per rep, the revenue gap to the top quartile of its role split among the chain's factors.

    ``volumes``: per rep, the volumes of its role's chain (``CHAINS``); ``roles``: per rep, its role.
    """
    by_role: dict[str, list[str]] = defaultdict(list)
    for rep, role in roles.items():
        if role in CHAINS and rep in volumes:
            by_role[role].append(rep)
    out = []
    for role, reps in sorted(by_role.items()):
        names, labels = CHAINS[role]
        revenue = {r: float(volumes[r]["revenue"]) for r in reps}
        bar = percentile(list(revenue.values()), top)
        assert bar is not None
        leaders = [r for r in reps if revenue[r] >= bar]
        bench = [float(np.mean([volumes[r][v] for r in leaders])) for v in names]
        for rep in sorted(reps):
            own = [float(volumes[rep][v]) for v in names]
            groups = _factors(own, bench, labels)
            mine = [_value(own, s, e) for _, s, e in groups]
            theirs = [_value(bench, s, e) for _, s, e in groups]
            contributions = shapley_product(mine, theirs)
            parts = [
                GapPart(label, a, b, c)
                for (label, _, _), a, b, c in zip(groups, mine, theirs, contributions, strict=True)
            ]
            gap = own[-1] - bench[-1]
            worst = min(parts, key=lambda p: p.contribution)
            behind = gap < 0 and worst.contribution < 0
            focus = worst.factor if behind else None
            advice = (
                COACHING.get(worst.factor.split(" + ")[0]) if behind else None
            )  # merged: the first step is the cause
            out.append(Gap(rep, role, own[-1], bench[-1], gap, parts, focus, advice, len(leaders)))
    return out
