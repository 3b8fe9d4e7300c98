"""Compile a KPI definition into one Ibis expression: aggregates per period and dimension.

The engine returns only aggregates (counts, sums, numerators and denominators, duration
statistics); values, intervals, flags, labels and empty periods are derived from them in
Python (results.py), identically whatever the engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from salespilot.metrics import periods
from salespilot.metrics.catalogue import KPI, Filter, Kind
from salespilot.metrics.sources import DATE_ANCHORS, SOURCES, Context

PERIOD = "period_start"


@dataclass(frozen=True)
class Query:
    calendar: periods.Calendar
    by: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    start: dt.date | None = None  # first local day included
    end: dt.date | None = None  # last local day included
    timezone: str = "UTC"
    years: tuple[int, int] = (2000, 2030)  # data's year range, for local time


def _condition(t: ir.Table, f: Filter) -> ir.BooleanValue:
    condition: ir.BooleanValue = ibis.literal(True)
    for column, allowed in f.conditions:
        col = t[column]
        parts = []
        values = [v for v in allowed if v not in ("null", "not_null", None)]
        if values:
            # one value: an equality (an IN over a boolean expression loses its parentheses in SQL)
            parts.append(col == values[0] if len(values) == 1 else col.isin(values))
        if "null" in allowed or None in allowed:
            parts.append(col.isnull())
        if "not_null" in allowed:
            parts.append(col.notnull())
        clause = parts[0]
        for p in parts[1:]:
            clause = clause | p
        condition = condition & clause.fill_null(False)
    return condition


def prepared(source: str, anchor_name: str, ctx: Context, query: Query) -> ir.Table:
    """A source's rows with a ``period_start`` column, filtered to the query's range and filters."""
    needed = frozenset(query.by) | {dim for dim, _ in query.filters}
    t = SOURCES[source].build(ctx, anchor_name, needed)
    anchor = t[anchor_name]
    if (source, anchor_name) in DATE_ANCHORS:
        local = anchor.cast("timestamp")
    else:
        local = periods.to_local(anchor, query.timezone, *query.years)
    t = t.mutate(_local=local).filter(ibis._[anchor_name].notnull())
    if query.start is not None:
        t = t.filter(t._local >= ibis.literal(dt.datetime.combine(query.start, dt.time()), type="timestamp"))
    if query.end is not None:
        after = dt.datetime.combine(query.end + dt.timedelta(days=1), dt.time())
        t = t.filter(t._local < ibis.literal(after, type="timestamp"))
    for dim, value in query.filters:
        t = t.filter(t[dim] == value)
    return t.mutate(**{PERIOD: periods.period_start(t._local, query.calendar)})


def aggregate(kpis: list[KPI], ctx: Context, query: Query) -> ir.Table:
    """Aggregates of KPIs sharing one source and anchor, in one pass, per period and dimension.

    Each KPI's columns are prefixed ``{name}__``; its own filter applies to its aggregates only
    (conditional aggregation), so one scan serves the lot.
    """
    first = kpis[0]
    assert first.source is not None and first.anchor is not None
    t = prepared(first.source, first.anchor, ctx, query)
    metrics: dict[str, ir.Scalar] = {}
    for kpi in kpis:
        assert (kpi.source, kpi.anchor) == (first.source, first.anchor)
        metrics.update({f"{kpi.name}__{k}": v for k, v in _measures(kpi, t).items()})
        # Rows of this KPI's own (a group may hold rows of its fellow KPIs only): the periods and
        # dimension values a KPI shows must not depend on what it was computed with.
        where = _condition(t, kpi.where) if kpi.where.conditions else None
        metrics[f"{kpi.name}__present"] = t.count(where=where)
    return t.group_by([PERIOD, *query.by]).aggregate(**metrics)


def _measures(kpi: KPI, t: ir.Table) -> dict[str, ir.Scalar]:
    where = _condition(t, kpi.where) if kpi.where.conditions else None
    match kpi.kind:
        case Kind.COUNT:
            return {"count": t.count(where=where)}
        case Kind.SUM:
            assert kpi.measure is not None
            measure = t[kpi.measure].cast("float64")
            out = {"total": measure.sum(where=where), "rows": t.count(where=where)}
            if "fx_missing" in t.columns:
                missing = t.fx_missing if where is None else t.fx_missing & where
                out["fx_missing"] = t.count(where=missing)
            return out
        case Kind.RATE:
            assert isinstance(kpi.numerator, Filter) and isinstance(kpi.denominator, Filter)
            den = _condition(t, kpi.denominator)
            num = den & _condition(t, kpi.numerator)
            if where is not None:
                den, num = den & where, num & where
            return {"numerator": t.count(where=_column(num)), "denominator": t.count(where=_column(den))}
        case Kind.DURATION:
            assert kpi.measure is not None
            measure = t[kpi.measure].cast("float64")
            valid = measure.notnull() if where is None else measure.notnull() & where
            return {
                "n": t.count(where=valid),
                "mean": measure.mean(where=valid),
                "median": measure.quantile(0.5, where=valid),
                "p90": measure.quantile(0.9, where=valid),
            }
        case Kind.RATIO | Kind.CUSTOM:
            raise AssertionError(f"{kpi.name}: {kpi.kind} KPIs are not compiled to aggregates")


def _column(condition: ir.BooleanValue) -> ir.BooleanValue | None:
    """None (every row) for a condition that is a constant true, else the condition."""
    return None if isinstance(condition, ir.Scalar) else condition


def behind(kpi: KPI, resolve: dict[str, KPI]) -> KPI:
    """The compiled KPI whose rows stand behind ``kpi``: itself, or for a ratio its numerator
    (e.g. average deal value: the won deals of revenue), else its denominator."""
    if kpi.source is not None:
        return kpi
    if kpi.kind is Kind.RATIO:
        for part in (kpi.numerator, kpi.denominator):
            if isinstance(part, str) and part in resolve and resolve[part].source is not None:
                return resolve[part]
    raise ValueError(kpi.name)


def rows(kpi: KPI, ctx: Context, query: Query, limit: int) -> tuple[int, list[dict[str, object]]]:
    """The rows a compiled KPI counts in the query's range and filters: how many, and the first
    ``limit`` of them (by anchor date). For a rate, its denominator's rows, each flagged
    ``counted`` when it is in the numerator too."""
    assert kpi.source is not None and kpi.anchor is not None
    t = prepared(kpi.source, kpi.anchor, ctx, query)
    if kpi.where.conditions:
        t = t.filter(_condition(t, kpi.where))
    if kpi.kind is Kind.RATE:
        assert isinstance(kpi.numerator, Filter) and isinstance(kpi.denominator, Filter)
        t = t.filter(_condition(t, kpi.denominator)).mutate(counted=_condition(t, kpi.numerator))
    shown = [c for c in t.columns if not c.startswith("_") and c != PERIOD and not c.startswith("fx_")]
    total = int(t.count().to_pyarrow().as_py())
    keys = [kpi.anchor, *(c for c in shown[:1] if c != kpi.anchor)]  # the anchor may be the first column
    first = t.order_by([t[c] for c in keys]).select(shown).limit(limit)
    return total, first.to_pyarrow().to_pylist()
