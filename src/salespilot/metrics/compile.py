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
            parts.append(col.isin(values))
        if "null" in allowed or None in allowed:
            parts.append(col.isnull())
        if "not_null" in allowed:
            parts.append(col.notnull())
        clause = parts[0]
        for p in parts[1:]:
            clause = clause | p
        condition = condition & clause.fill_null(False)
    return condition


def prepared(kpi: KPI, ctx: Context, query: Query) -> ir.Table:
    """The KPI's rows with a ``period_start`` column, filtered to the query's range and filters."""
    assert kpi.source is not None and kpi.anchor is not None
    t = SOURCES[kpi.source].build(ctx, kpi.anchor)
    anchor = t[kpi.anchor]
    if (kpi.source, kpi.anchor) in DATE_ANCHORS:
        local = anchor.cast("timestamp")
    else:
        local = periods.to_local(anchor, query.timezone, *query.years)
    t = t.mutate(_local=local).filter(ibis._[kpi.anchor].notnull())
    if query.start is not None:
        t = t.filter(t._local >= ibis.literal(dt.datetime.combine(query.start, dt.time()), type="timestamp"))
    if query.end is not None:
        after = dt.datetime.combine(query.end + dt.timedelta(days=1), dt.time())
        t = t.filter(t._local < ibis.literal(after, type="timestamp"))
    for dim, value in query.filters:
        t = t.filter(t[dim] == value)
    t = t.mutate(**{PERIOD: periods.period_start(t._local, query.calendar)})
    if kpi.where.conditions:
        t = t.filter(_condition(t, kpi.where))
    return t


def aggregate(kpi: KPI, ctx: Context, query: Query) -> ir.Table:
    """Aggregates of ``kpi`` (count, sum, rate or duration) per period and dimension."""
    t = prepared(kpi, ctx, query)
    keys = [PERIOD, *query.by]
    one = ibis.literal(1, type="int64")
    zero = ibis.literal(0, type="int64")
    match kpi.kind:
        case Kind.COUNT:
            return t.group_by(keys).aggregate(count=t.count())
        case Kind.SUM:
            assert kpi.measure is not None
            measure = t[kpi.measure]
            metrics = {"total": measure.cast("float64").sum(), "rows": t.count()}
            if "fx_missing" in t.columns:
                metrics["fx_missing"] = ibis.ifelse(t.fx_missing, one, zero).sum()
            return t.group_by(keys).aggregate(**metrics)
        case Kind.RATE:
            assert isinstance(kpi.numerator, Filter) and isinstance(kpi.denominator, Filter)
            in_den = _condition(t, kpi.denominator)
            in_num = in_den & _condition(t, kpi.numerator)

            def rows_where(condition: ir.BooleanValue) -> ir.IntegerScalar:
                if isinstance(condition, ir.Scalar):  # no condition at all: every row
                    return t.count()
                return ibis.ifelse(condition, one, zero).sum()

            return t.group_by(keys).aggregate(numerator=rows_where(in_num), denominator=rows_where(in_den))
        case Kind.DURATION:
            assert kpi.measure is not None
            measure = t[kpi.measure].cast("float64")
            t = t.filter(measure.notnull())
            measure = t[kpi.measure].cast("float64")
            return t.group_by(keys).aggregate(
                n=t.count(),
                mean=measure.mean(),
                median=measure.quantile(0.5),
                p90=measure.quantile(0.9),
            )
        case Kind.RATIO | Kind.CUSTOM:
            raise AssertionError(f"{kpi.name}: {kpi.kind} KPIs are not compiled to one expression")
