"""Cohort KPIs: customers grouped by the period of their first win, followed period by period.

A cohort's rows are a *series*: one row per number of periods since acquisition ``k`` (0 = the
acquisition period itself) up to the period holding the data's last day, each with the extra key
``periods_since``. ``cohort_retention``: the share of the cohort active on the last day of period
k (cut at the data's last day). ``cohort_profitability``: the cohort's won amounts up to the end
of period k minus the acquisition costs of the cohort's period, and its payback period. See
docs/kpis.md, "Customers".
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from salespilot.metrics import periods
from salespilot.metrics.catalogue import KPI
from salespilot.metrics.compile import Query
from salespilot.metrics.customers import (
    PK,
    Basis,
    Span,
    after_reason,
    basis,
    builder,
    by_key,
    combos,
    flags,
    points,
    ratio,
    spans,
    spells,
    won_deals,
)
from salespilot.metrics.runner import Key, Row, Runner
from salespilot.metrics.sources import SOURCES

NO_CUSTOMER = "no customer acquired in the period"


def _customers(runner: Runner, query: Query, grid: list[Span]) -> ir.Table:
    """One row per customer of the cohorts in range: account_id, its cohort (``pk``), the dimensions."""
    needed = frozenset({*query.by, *(d for d, _ in query.filters)})
    t = SOURCES["customers"].build(runner.ctx, "acquired_at", needed)
    local = periods.to_local(t.acquired_at, query.timezone, *query.years)
    t = t.mutate(**{PK: periods.period_start(local, query.calendar)})
    for dim, value in query.filters:
        t = t.filter(t[dim] == value)
    first, last = ibis.literal(grid[0].key, type="date"), ibis.literal(grid[-1].key, type="date")
    t = t.filter((t[PK] >= first) & (t[PK] <= last))
    return t.select("account_id", PK, *query.by)


def _steps(query: Query, b: Basis, cohort: Span) -> list[tuple[int, dt.date, bool]]:
    """(k, the day measured, partial) for each period since the cohort's, up to the data's end."""
    assert b.end is not None
    cal = query.calendar
    out = []
    start, k = cohort.key, 0
    while start <= b.end:
        natural = cal.next_start(start) - dt.timedelta(days=1)
        out.append((k, min(natural, b.end), natural > b.end))
        start, k = cal.next_start(start), k + 1
    return out


def _empty(b: Basis, span: Span, fields: Row) -> Row:
    """The one row of a cohort period with no customer (or after the data's end)."""
    return {
        "value": None,
        "reason": after_reason(b) if span.after else NO_CUSTOMER,
        "flags": [],
        "periods_since": None,
        "measured_on": None,
        **fields,
    }


# -- cohort_retention -----------------------------------------------------------------------------


@builder("cohort_retention")
def cohort_retention(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    b = basis(runner, query)
    grid = spans(query, b)
    cohorts = [s for s in grid if not s.after]
    if not cohorts:
        return {}, "series"
    customers = _customers(runner, query, grid)
    sizes_rows, _ = runner.execute(customers.group_by([PK, *query.by]).aggregate(size=customers.count()))
    steps = {c.key: _steps(query, b, c) for c in cohorts}
    p = points(((c, day, b.since(day)) for c, cs in steps.items() for _, day, _ in cs), ("p_cohort", "upto", "since"))
    # Each customer meets the days measured of its own cohort, then its own spells.
    cp = customers.join(p, customers[PK] == p.p_cohort).drop("p_cohort")
    s = spells(runner, query, b, everyone=True).rename(s_account="account_id")  # the cohort's accounts only
    j = cp.join(s, [cp.account_id == s.s_account, s.lo <= cp.upto, s.hi.isnull() | (s.hi >= cp.since)])
    counted = j.group_by([PK, "upto", *query.by]).aggregate(active=j.account_id.nunique())
    active_rows, _ = runner.execute(counted)
    sizes = by_key(sizes_rows, query.by)
    actives = {(r[PK], r["upto"], *(r[d] for d in query.by)): int(r["active"]) for r in active_rows}
    out: dict[Key, Row] = {}
    for span in grid:
        for combo in combos(sizes_rows, query.by):
            size = int(sizes.get((span.key, *combo), {}).get("size") or 0)
            blank = {"cohort_size": size, "active": None, "numerator": None, "denominator": None}
            if span.after or not size:
                out[(span.key, *combo)] = {"series": [_empty(b, span, blank)]}
                continue
            series = []
            for k, day, partial in steps[span.key]:
                n = actives.get((span.key, day, *combo), 0)
                series.append(
                    {
                        "value": ratio(n, size),
                        "reason": None,
                        "flags": flags((partial, "partial_period")),
                        "periods_since": k,
                        "measured_on": day.isoformat(),
                        "cohort_size": size,
                        "active": n,
                        "numerator": n,
                        "denominator": size,
                    }
                )
            out[(span.key, *combo)] = {"series": series}
    return out, "series"


# -- cohort_profitability -------------------------------------------------------------------------


@builder("cohort_profitability")
def cohort_profitability(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    b = basis(runner, query)
    grid = spans(query, b)
    if not [s for s in grid if not s.after]:
        return {}, "series"
    cal = query.calendar
    customers = _customers(runner, query, grid)
    sizes_rows, _ = runner.execute(customers.group_by([PK, *query.by]).aggregate(size=customers.count()))
    # The cohort's won amounts per period of their close (base currency, close date's rate).
    w = won_deals(runner, everyone=True)  # whoever won them: joined to the cohort's customers below
    local = periods.to_local(w.closed_at, query.timezone, *query.years)
    w = w.mutate(closed_pk=periods.period_start(local, cal))
    c = customers.rename(c_account="account_id")
    j = w.join(c, w.account_id == c.c_account)
    expr = j.group_by([PK, *query.by, "closed_pk"]).aggregate(
        total=j.amount_base.sum(), fx_missing=j.count(where=j.fx_missing)
    )
    won_rows, _ = runner.execute(expr)
    costs = runner.compute(runner.catalogue.get("costs"), query)
    sizes = by_key(sizes_rows, query.by)
    won: dict[Key, list[tuple[dt.date, float, int]]] = {}
    for r in won_rows:
        won.setdefault((r[PK], *(r[d] for d in query.by)), []).append(
            (r["closed_pk"], float(r["total"] or 0.0), int(r["fx_missing"] or 0))
        )
    keys = combos(sizes_rows, query.by) | ({k[1:] for k in costs.values} if query.by else set())
    out: dict[Key, Row] = {}
    for span in grid:
        for combo in keys:
            key = (span.key, *combo)
            size = int(sizes.get(key, {}).get("size") or 0)
            spent = costs.values.get(key)
            cost = float(spent.get("total") or 0.0) if spent else 0.0
            cost_fx = bool(spent and spent.get("fx_missing"))
            blank = {"cohort_size": size, "revenue": None, "acquisition_cost": cost, "payback_period": None}
            if span.after or not size:
                row = _empty(b, span, blank)
                row["flags"] = flags((not spent, "no_costs"), (cost_fx, "missing_fx_rate"))
                out[key] = {"series": [row]}
                continue
            series: list[Row] = []
            payback: int | None = None
            for k, day, partial in _steps(query, b, span):
                upto = [x for x in won.get(key, []) if x[0] <= cal.start_of(day)]
                revenue = sum(x[1] for x in upto)
                if payback is None and revenue - cost >= 0:
                    payback = k
                series.append(
                    {
                        "value": revenue - cost,
                        "reason": None,
                        "flags": flags(
                            (partial, "partial_period"),
                            (not spent, "no_costs"),
                            (cost_fx or any(x[2] for x in upto), "missing_fx_rate"),
                        ),
                        "periods_since": k,
                        "measured_on": day.isoformat(),
                        "cohort_size": size,
                        "revenue": revenue,
                        "acquisition_cost": cost,
                        "payback_period": None,
                    }
                )
            for r in series:
                r["payback_period"] = payback
            out[key] = {"series": series}
    return out, "series"
