"""The forecaster on hand-made histories: snapshot rates, segment shrinkage, the simulation's
mean and range, the baselines; every expected number worked out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy.stats import binom

from salespilot.analytics.cycle import Deal
from salespilot.analytics.forecast import Forecaster, score
from salespilot.errors import ParameterError

NOW = dt.datetime(2026, 3, 1)


def _deal(oid: str, created: str, outcome: str = "open", closed: str | None = None, **kw: object) -> Deal:
    return Deal(
        oid,
        dt.datetime.fromisoformat(created),
        outcome,
        dt.datetime.fromisoformat(closed) if closed else None,
        stage=kw.pop("stage", "a"),  # type: ignore[arg-type]
        value=kw.pop("value", 100.0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


HAND = {
    "D1": _deal("D1", "2026-01-20", "won", "2026-02-15"),
    "D2": _deal("D2", "2026-02-01", "lost", "2026-02-10"),
    "D3": _deal("D3", "2026-02-10"),
}


def test_snapshot_rates_by_hand() -> None:
    """Horizon 10 days, snapshots every 7 days over 28 days: 02-19, 02-12, 02-05, 01-29, 01-22.
    D1 (won 02-15) is open at 01-22, 01-29 (not won within 10 days), 02-05 and 02-12 (won within
    10 days); D2 (lost 02-10) open at 02-05; D3 at 02-12 and 02-19: 2 won of 7, over 3 deals.
    Stage rate: (2/7 x 3 + 0.5) / (3 + 1); D3's, with its segment (the same 3 deals) and prior
    10: (2/7 x 3 + 10 p) / 13."""
    model = Forecaster(simulations=20_000, snapshot_days=7, history_days=28, new_pipeline=False)
    model.fit(HAND, [], NOW)
    stage, _, flags = model.rates(10)
    assert (stage["a"].won, stage["a"].total, stage["a"].n, flags) == (2, 7, 3, [])
    p = (2 / 7 * 3 + 0.5) / 4
    assert model.stage_point("a", 10) == (pytest.approx(p), 3.0)
    result = model.predict(10)
    (d3,) = result.deals
    assert d3.opportunity_id == "D3" and d3.probability == pytest.approx((2 / 7 * 3 + 10 * p) / 13)
    assert result.expected == pytest.approx(100 * d3.probability)
    assert result.rates == [{"stage": "a", "rate": pytest.approx(2 / 7), "deals": 3, "value_weight": 7.0}]
    assert "small_history: 2 closed deals" in result.flags


def test_segment_shrinkage_and_value_weights() -> None:
    """Two segments in stage a: big deals (value 300) never won, small ones (100) always, one
    snapshot each (horizon 5, history 1 day: snapshot 02-24 only). Mean closed value 200:
    weights 1.5 and 0.5; stage share = 4 x 0.5 / (4 x 0.5 + 4 x 1.5) = 0.25 over 8 deals."""
    deals = {}
    for i in range(4):
        deals[f"S{i}"] = _deal(f"S{i}", "2026-02-20", "won", "2026-02-26", value=100.0, segment="smb")
        deals[f"B{i}"] = _deal(f"B{i}", "2026-02-20", "lost", "2026-02-26", value=300.0, segment="ent")
    deals["OS"] = _deal("OS", "2026-02-28", value=100.0, segment="smb")
    deals["OB"] = _deal("OB", "2026-02-28", value=300.0, segment="ent")
    model = Forecaster(snapshot_days=7, history_days=1, new_pipeline=False, prior=4).fit(deals, [], NOW)
    stage, _, _ = model.rates(5)
    assert stage["a"].won == pytest.approx(2.0) and stage["a"].total == pytest.approx(8.0)
    p = (0.25 * 8 + 0.5) / 9
    assert model.deal_rate("a", "smb", 5) == pytest.approx((1.0 * 4 + 4 * p) / 8)
    assert model.deal_rate("a", "ent", 5) == pytest.approx((0.0 * 4 + 4 * p) / 8)


def test_the_simulation_matches_a_binomial() -> None:
    """200 identical deals, a long history of one stage: the simulated total is about binomial
    (the Beta draw of the rate over 2,000 deals is tight)."""
    history = {}
    for i in range(2000):  # created 02-01, half won 02-05: horizon 10 from the 02-01 snapshot
        won = i % 2 == 0
        history[f"H{i}"] = _deal(f"H{i}", "2026-01-31", "won" if won else "lost", "2026-02-05")
    for i in range(200):
        history[f"O{i}"] = _deal(f"O{i}", "2026-02-10")
    model = Forecaster(simulations=20_000, snapshot_days=100, history_days=1, new_pipeline=False)
    model.fit(history, [], dt.datetime(2026, 2, 11))
    result = model.predict(10)
    p = result.deals[0].probability
    assert p == pytest.approx(0.5, abs=0.01)
    assert result.expected == pytest.approx(200 * 100 * p)
    assert result.p50 == pytest.approx(100 * binom.median(200, p), abs=200)
    assert result.p10 == pytest.approx(100 * binom.ppf(0.1, 200, p), abs=300)
    assert result.p90 == pytest.approx(100 * binom.ppf(0.9, 200, p), abs=300)


def test_new_pipeline_and_baselines_by_hand() -> None:
    """Lookback 2 horizons of 10 days before 03-01: N1 and N2 created and won within 10 days
    (values 100 and 300): 1 per horizon, mean value 200. Run rate: 400 + O1's 600 (won 02-25) in
    20 days -> 50 a day -> 500. Weighted pipeline: stages a, b by order -> 1/3 and 2/3; P1 (b,
    expected 03-05) 300 x 2/3 = 200; P2 expected in April: out."""
    deals = {
        "N1": _deal("N1", "2026-02-15", "won", "2026-02-20", value=100.0),
        "N2": _deal("N2", "2026-02-18", "won", "2026-02-25", value=300.0),
        "O1": _deal("O1", "2026-01-01", "won", "2026-02-25", value=600.0),
        "P1": _deal("P1", "2026-02-01", stage="b", value=300.0, expected_close_date=dt.date(2026, 3, 5)),
        "P2": _deal("P2", "2026-02-01", stage="b", value=900.0, expected_close_date=dt.date(2026, 4, 5)),
    }
    entries = [
        ("P1", "a", dt.datetime(2026, 2, 1)),
        ("P1", "b", dt.datetime(2026, 2, 10)),
        ("P2", "a", dt.datetime(2026, 2, 1)),
        ("P2", "b", dt.datetime(2026, 2, 12)),
    ]
    model = Forecaster(simulations=20_000, lookback=2).fit(deals, entries, NOW)
    assert model.run_rate(10) == pytest.approx(500)
    assert model.weighted_pipeline(10) == pytest.approx(200)
    result = model.predict(10)
    assert result.new_pipeline == pytest.approx(200)
    totals, new = model.simulate([], 10, new_pipeline=True)
    assert new == pytest.approx(200) and float(np.mean(totals)) == pytest.approx(200, rel=0.05)


def test_mistakes_and_scores() -> None:
    with pytest.raises(ParameterError, match="not fitted"):
        Forecaster().predict(30)
    with pytest.raises(ParameterError, match="--simulations"):
        Forecaster(simulations=10)
    with pytest.raises(ParameterError, match="positive number of days"):
        Forecaster().fit(HAND, [], NOW).predict(0)
    scored = score([110, 90, 60], [100, 100, 0])
    assert scored == {"mape": pytest.approx(0.1), "bias": pytest.approx((10 - 10 + 60) / 3 / (200 / 3)), "mae": 80 / 3}
