"""SalesPilot's side of kpi_bench.py: the KPIs through the public API, timed in this process.

    .venv/bin/python benchmarks/kpi_salespilot.py SPEC_JSON [OUT.pickle] [--profile]

Times ``salespilot.open(db)`` and ``ws.kpi(kpis, grain="month", by=by, output="rows")`` with the
modules loaded before the clock starts, ibis's DuckDB backend and its converter included (a cold
process pays about 0.5 s more on its first query: ibis imports its DuckDB backend, and pandas).
Prints one JSON line: seconds, cpu_seconds, rows, peak_mb (this process's ru_maxrss).

With ``--profile`` it wraps the layers with wall-clock timers and prints where the time goes,
each call's own time (callees excluded): DuckDB (execution and Arrow transfer), Ibis (building
expressions, compiling them to SQL, and compiling them again for the explain text), and Python
(fx table, result dicts, output rows), and how much of it all Python's cyclic garbage collector
took. Then it runs the very SQL the runner sent, alone, to show the engine's share. The timers
cost little (tens of calls); the figures are of one run.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import pickle
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import ibis
import ibis.backends.duckdb
import ibis.backends.duckdb.converter  # imported by the first query; it imports pandas (about 0.4 s)
import ibis.backends.sql

import salespilot
from salespilot.engine import kpis as engine_kpis
from salespilot.engine import workspace  # load the engine before the clock
from salespilot.metrics import runner as metrics_runner

for _module in ("salespilot.metrics.customers", "salespilot.metrics.cohorts"):  # the custom builders
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(spec: dict[str, Any]) -> tuple[list[dict[str, Any]], float, float]:
    t0, c0 = time.perf_counter(), cpu()
    with salespilot.open(spec["db"]) as ws:
        rows = ws.kpi(spec["kpis"], grain="month", by=spec["by"], output="rows")
    return rows, time.perf_counter() - t0, cpu() - c0


# -- profile -------------------------------------------------------------------------------------
OWN: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
_stack: list[list[float]] = []  # [start, time spent in timed callees]
_active: list[str] = []
SQL: list[str] = []


def timed(label: str | Callable[[], str], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = label if isinstance(label, str) else label()
        _stack.append([time.perf_counter(), 0.0])
        _active.append(name)
        try:
            return fn(*args, **kwargs)
        finally:
            _active.pop()
            start, inner = _stack.pop()
            elapsed = time.perf_counter() - start
            OWN[name] += elapsed - inner
            CALLS[name] += 1
            if _stack:
                _stack[-1][1] += elapsed

    return wrapper


def engine_label() -> str:
    """DuckDB's time, by what asked for it."""
    for caller, name in (
        ("fetch_dicts", "duckdb_kpis"),
        ("custom", "duckdb_custom"),
        ("data_range", "duckdb_range"),
        ("fx_daily", "duckdb_fx"),
    ):
        if caller in _active:
            return name
    return "duckdb_other"


def patch(owner: Any, name: str, label: str | Callable[[], str]) -> None:
    if hasattr(owner, name):  # src/ moves on: a renamed function is simply not timed
        setattr(owner, name, timed(label, getattr(owner, name)))
    else:
        print(f"  (not timed: {getattr(owner, '__name__', owner)}.{name} is gone)")


LAYERS = [  # label, layer, what
    ("open", "other", "open the store, check migrations, read settings"),
    ("catalogue", "other", "load and validate catalogue.yaml"),
    ("context", "ibis", "Ibis backend on the store's connection"),
    ("fx_daily", "python", "forward-fill fx_rates to one row per currency and day (Python loop)"),
    ("data_range", "ibis", "data's years and last day: 4 min/max expressions built"),
    ("build", "ibis", "build the aggregate expressions (compile.aggregate, sources)"),
    ("compile", "ibis", "compile expressions to SQL for execution (SQLBackend.compile)"),
    ("to_sql", "ibis", "compile the same expressions again for the explain text (ibis.to_sql)"),
    ("duckdb_kpis", "engine", "DuckDB: the grouped KPI queries, to Arrow"),
    ("duckdb_custom", "engine", "DuckDB: the custom builders' queries"),
    ("custom", "custom", "custom builders, besides their queries and compilation (expressions, rows)"),
    ("duckdb_range", "engine", "DuckDB: min/max of the 4 timestamp columns (data range)"),
    ("duckdb_fx", "engine", "DuckDB: read fx_rates"),
    ("duckdb_other", "engine", "DuckDB: read targets"),
    ("to_pylist", "python", "Arrow result -> list of dicts (Runner.execute)"),
    ("fetch_dicts", "python", "split each result into per-KPI dicts by key (Runner._fetch)"),
    ("rows", "python", "grid of periods x dimension values, values, growth, targets (Runner._rows)"),
    ("run_other", "python", "rest of kpis.compute and Runner.run (targets to dicts, checks, loops)"),
    ("shaped", "python", "shape the output (rows: nothing)"),
]


def install_timers() -> None:
    patch(workspace.Workspace, "__init__", "open")
    patch(workspace.Workspace, "settings", "open")
    patch(engine_kpis, "load_catalogue", "catalogue")
    patch(engine_kpis, "context", "context")
    patch(engine_kpis, "_fx_daily", "fx_daily")
    patch(engine_kpis, "_data_years_and_end", "data_range")
    patch(engine_kpis, "shaped", "shaped")
    patch(metrics_runner, "aggregate", "build")
    patch(engine_kpis, "compute", "run_other")
    patch(metrics_runner.Runner, "run", "run_other")
    patch(metrics_runner.Runner, "execute", "to_pylist")
    patch(metrics_runner.Runner, "_fetch", "fetch_dicts")
    patch(metrics_runner.Runner, "_rows", "rows")
    patch(ibis.backends.duckdb.Backend, "to_pyarrow", engine_label)
    builders = getattr(metrics_runner, "CUSTOM", {})
    for name, fn in list(builders.items()):
        builders[name] = timed("custom", fn)
    patch(ibis, "to_sql", "to_sql")
    compile_sql = ibis.backends.sql.SQLBackend.compile

    def compile_and_keep(self: Any, *args: Any, **kwargs: Any) -> Any:
        sql = compile_sql(self, *args, **kwargs)
        SQL.append(sql)
        return sql

    ibis.backends.sql.SQLBackend.compile = timed("compile", compile_and_keep)  # type: ignore[method-assign]


def profile(spec: dict[str, Any]) -> None:
    install_timers()
    collector = {"seconds": 0.0, "runs": 0.0, "start": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collector["start"] = time.perf_counter()
        else:
            collector["seconds"] += time.perf_counter() - collector["start"]
            collector["runs"] += 1

    gc.callbacks.append(on_gc)
    t0, c0 = time.perf_counter(), cpu()
    ws = salespilot.open(spec["db"])
    ws.kpi(spec["kpis"], grain="month", by=spec["by"], output="rows")
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    by = f" and {','.join(spec['by'])}" if spec["by"] else ""
    print(f"SalesPilot by month{by}, {len(spec['kpis'])} KPIs: wall {seconds:.2f} s, CPU {cpu_seconds:.2f} s")
    by_layer: dict[str, float] = defaultdict(float)
    for label, layer, what in LAYERS:
        by_layer[layer] += OWN[label]
        print(f"  {OWN[label]:6.2f} s  {label:<12} {CALLS[label]:>3} calls  [{layer}] {what}")
    print("  by layer: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(by_layer.items(), key=lambda kv: -kv[1])))
    print(f"  not covered by the timers: {seconds - sum(OWN.values()):.2f} s")
    gc.callbacks.remove(on_gc)
    print(
        f"  of all that, Python's cyclic GC: {collector['seconds']:.2f} s in {collector['runs']:.0f} collections "
        "(counted in the layer that allocated)"
    )
    # The grouped queries again, as plain SQL on the same connection (the fx memtable may be gone).
    con = ws.store._con
    alone, ran, skipped = 0.0, 0, 0
    for sql in SQL:
        if "GROUP BY" not in sql:
            continue
        t1 = time.perf_counter()
        try:
            con.sql(sql).to_arrow_table()
        except Exception:  # a memtable ibis has already dropped
            skipped += 1
            continue
        alone += time.perf_counter() - t1
        ran += 1
    print(f"  the runner's grouped SQL run again alone: {alone:.2f} s for {ran} queries ({skipped} skipped)")
    ws.close()


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--profile"]
    spec = json.loads(args[0])
    if "--profile" in sys.argv:
        profile(spec)
        return
    rows, seconds, cpu_seconds = run(spec)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if len(args) > 1:
        with open(args[1], "wb") as handle:
            pickle.dump(rows, handle)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": len(rows), "peak_mb": peak}))


if __name__ == "__main__":
    main()
