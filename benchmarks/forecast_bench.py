"""The forecast's Monte Carlo: 100k open deals x 10,000 simulations, against a plain numpy baseline.

    .venv/bin/python benchmarks/forecast_bench.py [--deals 100000] [--simulations 10000] [--repeat 3]

SalesPilot's simulation (``Forecaster.simulate``) draws each stage's rate from its Beta posterior
per simulation, then each deal won or not, in chunks that bound memory. The baseline is the
plainest numpy code for the same totals with fixed probabilities: one chunked
``rng.random((n, deals)) < p`` and a matrix product, no rate draws. Prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

import numpy as np

from salespilot.analytics.cycle import Deal
from salespilot.analytics.forecast import Forecaster

NOW = dt.datetime(2026, 6, 30)


def _history(deals: int, seed: int) -> tuple[dict[str, Deal], list[tuple[str, str, dt.datetime]]]:
    rng = np.random.default_rng(seed)
    stages = ["qualification", "discovery", "demo", "proposal", "negotiation"]
    out: dict[str, Deal] = {}
    for i in range(2000):  # a closed history, so that every stage has a rate
        created = NOW - dt.timedelta(days=float(rng.uniform(60, 400)))
        closed = created + dt.timedelta(days=float(rng.uniform(5, 90)))
        out[f"H{i}"] = Deal(
            f"H{i}", created, "won" if rng.random() < 0.3 else "lost", closed, stage=stages[i % 5], value=1000.0
        )
    for i in range(deals):
        created = NOW - dt.timedelta(days=float(rng.uniform(1, 60)))
        out[f"O{i}"] = Deal(f"O{i}", created, "open", None, stage=stages[i % 5], value=float(rng.uniform(1e3, 5e4)))
    return out, []


def _baseline(p: np.ndarray, values: np.ndarray, simulations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    totals = np.zeros(simulations)
    chunk = max(1, 20_000_000 // p.size)
    for start in range(0, simulations, chunk):
        n = min(chunk, simulations - start)
        totals[start : start + n] = (rng.random((n, p.size)) < p) @ values
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    deals, entries = _history(args.deals, 0)
    model = Forecaster(simulations=args.simulations, new_pipeline=False).fit(deals, entries, NOW)
    started = time.perf_counter()
    model.new_pipeline, model.simulations = False, 100
    forecast = model.predict(30)  # the rates and every deal's probability (with a token simulation)
    model.simulations = args.simulations
    print(f"rates + {len(forecast.deals):,} deals' probabilities: {time.perf_counter() - started:.2f} s")
    rows = forecast.deals
    p = np.array([r.probability for r in rows])
    values = np.array([r.value for r in rows])
    ours, base = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        totals, _ = model.simulate(rows, 30, new_pipeline=False)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        plain = _baseline(p, values, args.simulations, 1)
        base.append(time.perf_counter() - t)
    print(f"{args.deals:,} open deals x {args.simulations:,} simulations (best of {args.repeat}):")
    for label, best, sample in (("SalesPilot simulate", min(ours), totals), ("plain numpy baseline", min(base), plain)):
        p10, p90 = np.percentile(sample, 10), np.percentile(sample, 90)
        print(f"  {label}: {best:.2f} s (P10 {p10:,.0f}, P90 {p90:,.0f})")
    print(f"  ratio: {min(ours) / min(base):.2f}")
    print(f"  peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
