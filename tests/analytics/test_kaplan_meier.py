"""Our Kaplan-Meier estimator against a hand computation and, independently, against lifelines."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import salespilot
from salespilot.analytics import cycle
from salespilot.analytics.cycle import KaplanMeier
from salespilot.engine import pipeline
from salespilot.errors import ParameterError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # lifelines' own imports may warn on newer pandas/scipy
    from lifelines import KaplanMeierFitter
    from lifelines.utils import qth_survival_time

QS = (0.25, 0.5, 0.75, 0.9)

# A hand-made table: 8 spells, 3 censored (a tie of an event and a censored spell at 3).
DURATIONS = [2, 3, 3, 5, 6, 8, 8, 10]
OBSERVED = [1, 1, 0, 1, 0, 1, 1, 0]
# By hand: S(2) = 7/8, S(3) = 7/8 * 6/7 = 0.75, S(5) = 0.75 * 4/5 = 0.6, S(6) = 0.6 (censored only),
# S(8) = 0.6 * 1/3 = 0.2, S(10) = 0.2 (censored only).
BY_HAND = {0: 1.0, 1.9: 1.0, 2: 0.875, 3: 0.75, 4.5: 0.75, 5: 0.6, 6: 0.6, 8: 0.2, 10: 0.2, 99: 0.2}


def lifelines_fit(durations: Any, observed: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KaplanMeierFitter().fit(np.asarray(durations, dtype=float), np.asarray(observed, dtype=bool))


def lifelines_quantile(kmf: Any, p: float) -> float:
    """The time by which a share p of spells ended: lifelines' qth_survival_time at S = 1 - p."""
    return float(qth_survival_time(1 - p, kmf.survival_function_))


def assert_same_as_lifelines(durations: Any, observed: Any) -> KaplanMeier:
    ours = KaplanMeier().fit(durations, observed)
    theirs = lifelines_fit(durations, observed)
    sf = theirs.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(dtype=float)
    np.testing.assert_allclose(ours.survival_function(times), sf.to_numpy(), rtol=1e-10, atol=1e-12)
    for p in QS:
        mine, lifelines_value = ours.quantile(p), lifelines_quantile(theirs, p)
        if mine != pytest.approx(lifelines_value):
            # The one documented difference: S lands exactly on 1 - p at our quantile, and
            # lifelines' S (an exp of a sum of logs) comes out a hair above it there.
            assert lifelines_value > mine
            assert float(sf.loc[mine]) == pytest.approx(1 - p, abs=1e-12), p
    assert ours.median == pytest.approx(float(theirs.median_survival_time_))
    return ours


def test_hand_made_table_by_hand() -> None:
    km = KaplanMeier().fit(DURATIONS, OBSERVED)
    for t, s in BY_HAND.items():
        assert km.survival_function(t)[0] == pytest.approx(s), t
    assert km.quantile(0.25) == 3  # first S <= 0.75
    assert km.median == 8  # S(5) = 0.6 > 0.5, S(8) = 0.2
    assert km.quantile(0.75) == 8
    assert km.quantile(0.9) == math.inf  # S never reaches 0.1: unknown, as in lifelines
    assert km.summary() == {"n": 8, "events": 5, "censored": 3, "median": 8.0, "p75": 8.0, "p90": None}
    assert km.at_risk.tolist() == [8, 7, 5, 4, 3, 1]
    assert km.event_counts.tolist() == [1, 1, 1, 0, 2, 0]


def test_hand_made_table_matches_lifelines() -> None:
    assert_same_as_lifelines(DURATIONS, OBSERVED)
    theirs = lifelines_fit(DURATIONS, OBSERVED)
    assert float(theirs.median_survival_time_) == 8
    # S(3) is exactly 0.75: lifelines computes 0.7500000000000001 and answers 5 for p = 0.25; we answer 3.
    assert lifelines_quantile(theirs, 0.25) == 5
    assert KaplanMeier().fit(DURATIONS, OBSERVED).quantile(0.25) == 3


def test_the_median_is_not_the_median_of_finished_spells() -> None:
    # Most spells are still running at 100 days: the finished ones alone would say 2 days.
    km = KaplanMeier().fit([1, 2, 3, 100, 100, 100, 100], [1, 1, 1, 0, 0, 0, 0])
    assert km.median == math.inf  # S(3) = 4/7: fewer than half have ended, so far
    assert KaplanMeier().fit([1, 2, 3, 4, 100, 100], [1, 1, 1, 1, 0, 0]).median == 3  # S(3) = 1/2


def test_no_censoring_gives_the_lower_empirical_quantile() -> None:
    km = KaplanMeier().fit([5, 1, 4, 2, 3])
    assert [km.quantile(p) for p in (0.2, 0.5, 0.9)] == [1, 3, 5]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_random_continuous_data_matches_lifelines(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 500))
    durations = rng.exponential(10.0, n)
    observed = rng.random(n) < 0.7
    assert_same_as_lifelines(durations, observed)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_random_tied_data_matches_lifelines(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 301  # odd, so no quantile lands exactly on a step of S by construction
    durations = rng.integers(0, 40, n).astype(float)
    observed = rng.random(n) < 0.8
    assert_same_as_lifelines(durations, observed)


def test_mistakes_and_empty() -> None:
    with pytest.raises(ParameterError):
        KaplanMeier().fit([1, -2])
    with pytest.raises(ParameterError):
        KaplanMeier().fit([1, 2], [True])
    with pytest.raises(ParameterError):
        KaplanMeier().fit([1]).quantile(1.0)
    empty = KaplanMeier().fit([])
    assert math.isnan(empty.quantile(0.5))
    assert empty.summary() == {"n": 0, "events": 0, "censored": 0, "median": None, "p75": None, "p90": None}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cycle") / "demo.duckdb"
    with salespilot.open(path) as ws:
        ws.demo("small")
    return path


def test_demo_stage_durations_match_lifelines(demo_db: Path) -> None:
    with salespilot.open(demo_db, read_only=True) as ws:
        result = ws.stage_durations()
        data = pipeline.load(ws.store, "EUR")
    assert data.data_end is not None
    spells = cycle.stage_spells(data.entries, data.deals, data.data_end)
    assert [r["stage"] for r in result.stages] == ["qualification", "discovery", "demo", "proposal", "negotiation"]
    for row in result.stages:
        mine = [s for s in spells if s.stage == row["stage"]]
        durations, observed = [s.days for s in mine], [s.observed for s in mine]
        assert row["n"] == len(mine) and row["censored"] == observed.count(False) > 0
        theirs = lifelines_fit(durations, observed)
        for key, p in (("median", 0.5), ("p75", 0.75), ("p90", 0.9)):
            assert row[key] == pytest.approx(lifelines_quantile(theirs, p), abs=1e-6), (row["stage"], key)
        assert row["median"] == pytest.approx(float(theirs.median_survival_time_), abs=1e-6)
        assert_same_as_lifelines(durations, observed)
    durations, observed = cycle.cycle_durations(data.deals, data.data_end)
    theirs = lifelines_fit(durations, observed)
    assert result.cycle["n"] == len(durations) and result.cycle["censored"] > 0
    for key, p in (("median", 0.5), ("p75", 0.75), ("p90", 0.9)):
        assert result.cycle[key] == pytest.approx(lifelines_quantile(theirs, p), abs=1e-6)
