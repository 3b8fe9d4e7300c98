"""Customer KPIs: renewals, retention and revenue per account (KPIS.md sections 1 and 3).

- A customer is **active** on a day when one of its contracts covers it (start_date <= day <=
  end_date, no end date = open-ended); in a workspace that keeps no contracts at all, when it won
  a deal in the ``active_window_months`` months up to that day.
- Its **recurring value** on a day is the yearly value of the contracts covering it (value /
  term_months * 12 when the term is given), in the base currency at the rate of each contract's
  start date; without contracts, the amounts it won in that trailing window (at the close date's rate).

Activity is held in *spells*, one row per contract (lo = start_date, hi = end_date) or, without
contracts, per won deal (lo = hi = its local close day). A spell is active somewhere in the days
``[a, b]`` when ``lo <= b`` and ``hi`` is null or ``hi >= since(a)``, where ``since(a)`` is ``a``
with contracts and ``a`` minus the window plus one day without: one join condition for both
cases, on the engine. The engine returns counts and sums per period (and per cohort and period
since acquisition); the rows are assembled here. See docs/kpis.md, "Customers".
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from salespilot.metrics import periods
from salespilot.metrics.catalogue import KPI
from salespilot.metrics.compile import Query
from salespilot.metrics.runner import CUSTOM, CustomBuilder, Key, Row, Runner
from salespilot.metrics.sources import _convert, beyond_scope

ACCOUNT_DIMS = ("segment", "industry", "country")
PK = "pk"  # the period (or cohort) start column of the aggregates


def builder(name: str) -> Callable[[CustomBuilder], CustomBuilder]:
    """Register a custom KPI builder under ``name`` (the catalogue's ``builder:``)."""

    def register(fn: CustomBuilder) -> CustomBuilder:
        CUSTOM[name] = fn
        return fn

    return register


# -- the data's bounds and the periods measured ------------------------------------------------


@dataclass(frozen=True)
class Basis:
    first: dt.date | None  # first day of customer data: the first win or the first contract start
    end: dt.date | None  # the data's last day
    contracts: bool  # the workspace keeps contracts (else activity is the trailing window of wins)
    window_months: int
    grace_days: int

    def since(self, day: dt.date) -> dt.date:
        """The first day whose spells still count on ``day`` (see the module's docstring)."""
        if self.contracts:
            return day
        return periods.Calendar(periods.Grain.MONTH).shift(day, -self.window_months) + dt.timedelta(days=1)


@dataclass(frozen=True)
class Span:
    """One period as measured: its first and last day, the last one cut at the data's end."""

    key: dt.date  # the period's start, the row's key
    first: dt.date
    last: dt.date
    partial: bool  # the period runs past the data's last day
    after: bool  # the period starts after the data's last day: nothing to measure


_MEMO: weakref.WeakKeyDictionary[Runner, dict[Any, Any]] = weakref.WeakKeyDictionary()


def memo(runner: Runner, key: Any, make: Callable[[], Any]) -> Any:
    """One computation per runner and key (logo, net and gross retention share one query)."""
    store = _MEMO.setdefault(runner, {})
    if key not in store:
        store[key] = make()
    return store[key]


def basis(runner: Runner, query: Query) -> Basis:
    def make() -> Basis:
        con = runner.ctx.con
        c = con.table("contracts")
        start = c.start_date.cast("date")  # nullable: the min of no rows is null (NOT NULL in the store)
        counts, _ = runner.execute(c.aggregate(n=c.count(), first=start.min(), last=start.max()))
        o = con.table("opportunities")
        o = o.filter((o.outcome == "won") & o.account_id.notnull() & o.closed_at.notnull())
        local = periods.to_local(o.closed_at, query.timezone, *query.years)
        wins, _ = runner.execute(o.aggregate(first=local.min()))
        firsts = [d for d in (counts[0]["first"], wins[0]["first"]) if d is not None]
        first = min(d.date() if isinstance(d, dt.datetime) else d for d in firsts) if firsts else None
        end = runner.data_end if runner.data_end is not None else counts[0]["last"]
        return Basis(
            first=first,
            end=end,
            contracts=bool(counts[0]["n"]),
            window_months=runner.ctx.active_window_months,
            grace_days=runner.ctx.renewal_grace_days,
        )

    result: Basis = memo(runner, ("basis", query.timezone, query.years), make)
    return result


def spans(query: Query, b: Basis, before: int = 0) -> list[Span]:
    """The periods of the range (``--from``/``--to``, else the data's), ``before`` more at the front."""
    if b.end is None or b.first is None:
        return []
    cal = query.calendar
    low = query.start or b.first
    high = query.end or b.end
    if cal.grain is periods.Grain.ALL:
        last = min(high, b.end)
        return [Span(periods.ALL_START, low, last, partial=high > b.end, after=low > b.end)]
    out = []
    for start in cal.grid(cal.shift(cal.start_of(low), -before), high):
        natural = cal.next_start(start) - dt.timedelta(days=1)
        after = start > b.end
        out.append(Span(start, start, min(natural, b.end), partial=natural > b.end and not after, after=after))
    return out


def after_reason(b: Basis) -> str:
    return f"the period starts after the data's last day ({b.end})"


def flags(*pairs: tuple[bool, str]) -> list[str]:
    return [name for present, name in pairs if present]


# -- the engine's tables ------------------------------------------------------------------------


def won_deals(runner: Runner, everyone: bool = False) -> ir.Table:
    """Won opportunities of an account: account_id, closed_at, amount_base (close date's rate), fx_missing.
    ``everyone``: past a scope or a slice (``beyond_scope``), for an account the query already holds."""
    o = _con(runner, everyone).table("opportunities")
    o = o.filter((o.outcome == "won") & o.account_id.notnull() & o.closed_at.notnull())
    t = o.select("account_id", "closed_at", "amount", "currency")
    return _convert(runner.ctx, t, "amount", "currency", t.closed_at.cast("date")).drop("_rate")


def contracts(runner: Runner, everyone: bool = False) -> ir.Table:
    """Every contract with ``yearly``: its yearly value in the base currency at its start date's
    rate (value / term_months * 12 when the term is given; 0 when unknown) and ``fx_missing``."""
    c = _con(runner, everyone).table("contracts")
    t = c.select("contract_id", "account_id", "start_date", "end_date", "value", "term_months", "currency")
    t = _convert(runner.ctx, t, "value", "currency", t.start_date).drop("_rate")
    term = t.term_months.cast("float64")
    yearly = ibis.ifelse(t.term_months.notnull() & (t.term_months > 0), t.value_base / term * 12, t.value_base)
    return t.mutate(yearly=yearly.fill_null(ibis.literal(0.0, type="float64")))


def with_dims(runner: Runner, t: ir.Table, query: Query) -> ir.Table:
    """Add the account's segment, industry and country the query splits or filters by, and filter."""
    wanted = [d for d in ACCOUNT_DIMS if d in {*query.by, *(d for d, _ in query.filters)}]
    if wanted:
        a = runner.ctx.con.table("accounts")
        dims = a.select(_dim_account=a.account_id, **{d: a[d] for d in wanted})
        t = t.left_join(dims, t.account_id == dims._dim_account).drop("_dim_account")
    for dim, value in query.filters:
        t = t.filter(t[dim] == value)
    return t


def _con(runner: Runner, everyone: bool) -> ibis.BaseBackend:
    return beyond_scope(runner.ctx.con) if everyone else runner.ctx.con


def spells(runner: Runner, query: Query, b: Basis, everyone: bool = False) -> ir.Table:
    """account_id, lo, hi, value (base currency, 0 when unknown) and fx_missing: see the module.

    ``everyone``: every contract (or won deal) of the account, whoever signed it, for the accounts
    a scope already holds: a customer renewed through another rep's deal is still a customer."""
    if b.contracts:
        t = contracts(runner, everyone)
        return t.select("account_id", "fx_missing", lo=t.start_date, hi=t.end_date, value=t.yearly)
    w = won_deals(runner, everyone)
    day = periods.to_local(w.closed_at, query.timezone, *query.years).cast("date")
    value = w.amount_base.fill_null(ibis.literal(0.0, type="float64"))
    return w.select("account_id", "fx_missing", lo=day, hi=day, value=value)


def points(rows: Iterable[tuple[dt.date, dt.date, dt.date]], names: tuple[str, str, str]) -> ir.Table:
    """A small table of (key, upto, since) days: where activity is looked for."""
    columns: list[list[dt.date]] = [[], [], []]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return ibis.memtable(pa.table({n: pa.array(c, pa.date32()) for n, c in zip(names, columns, strict=True)}))


def active(s: ir.Table, p: ir.Table, keys: list[str]) -> ir.Table:
    """Per point and account, the recurring value of the spells active at the point (``upto``, ``since``)."""
    j = p.join(s, [s.lo <= p.upto, s.hi.isnull() | (s.hi >= p.since)])
    return j.group_by([*keys, "account_id"]).aggregate(value=j.value.sum(), fx_missing=j.count(where=j.fx_missing))


def combos(aggregates: Iterable[Row], by: tuple[str, ...]) -> set[Key]:
    return {tuple(r[d] for d in by) for r in aggregates} if by else {()}


def by_key(aggregates: Iterable[Row], by: tuple[str, ...], key: str = PK) -> dict[Key, Row]:
    return {(r[key], *(r[d] for d in by)): r for r in aggregates}


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


# -- renewal_rate -----------------------------------------------------------------------------


@builder("renewal_rate")
def renewal_rate(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    """Contracts ending in the period (up to the data's end) and the share renewed, by count and value."""
    b = basis(runner, query)
    grid = spans(query, b)
    if not grid or b.end is None:
        return {}, "value"
    aggregates = _renewals(runner, query, b, grid) if b.contracts else []
    found = by_key(aggregates, query.by)
    out: dict[Key, Row] = {}
    for span in grid:
        for combo in combos(aggregates, query.by):
            agg = found.get((span.key, *combo), {})
            ending, renewed = int(agg.get("ending") or 0), int(agg.get("renewed") or 0)
            value_ending = float(agg.get("value_ending") or 0.0)
            value_renewed = float(agg.get("value_renewed") or 0.0)
            pending = int(agg.get("pending") or 0)
            reason = None
            if not b.contracts:
                reason = "the workspace has no contracts"
            elif span.after:
                reason = after_reason(b)
            elif not ending:
                reason = "no contract ended in the period"
            out[(span.key, *combo)] = {
                "value": ratio(renewed, ending),
                "reason": reason,
                "flags": flags(
                    (span.partial, "partial_period"),
                    (pending > 0, "pending_renewals"),
                    (bool(agg.get("fx_missing")), "missing_fx_rate"),
                ),
                "numerator": renewed,
                "denominator": ending,
                "renewed_by_link": int(agg.get("by_link") or 0),
                "pending": pending,
                "value_renewed": value_renewed,
                "value_ending": value_ending,
                "renewal_rate_by_value": ratio(value_renewed, value_ending),
            }
    return out, "value"


def _renewals(runner: Runner, query: Query, b: Basis, grid: list[Span]) -> list[Row]:
    assert b.end is not None
    c = beyond_scope(runner.ctx.con).table("contracts")  # a renewal is one whoever signed it
    t = contracts(runner)
    # Ending: an end date in the range, on or before the data's last day (later ones still run).
    low = query.start or grid[0].first
    high = min(query.end or b.end, b.end)
    t = t.filter(
        t.end_date.notnull()
        & (t.end_date >= ibis.literal(low, type="date"))
        & (t.end_date <= ibis.literal(high, type="date"))
    )
    t = with_dims(runner, t, query)
    t = t.mutate(**{PK: periods.period_start(t.end_date.cast("timestamp"), query.calendar)})
    # Renewed through a link: another contract names it in renews_contract_id.
    links = c.filter(c.renews_contract_id.notnull()).select(linked=c.renews_contract_id).distinct()
    # Renewed by date: another contract of the account starts within the grace days of its end.
    # Days are compared in seconds with half a day to spare: an engine whose session has a
    # daylight-saving time zone may count an hour more or less between two midnights.
    r = c.select(r_id=c.contract_id, r_account=c.account_id, r_start=c.start_date)
    gap = (r.r_start.cast("timestamp").epoch_seconds() - t.end_date.cast("timestamp").epoch_seconds()).abs()
    pairs = t.join(r, [t.account_id == r.r_account, t.contract_id != r.r_id, gap < (b.grace_days + 0.5) * 86400])
    dated = pairs.select(dated=pairs.contract_id).distinct()
    t = t.left_join(links, t.contract_id == links.linked).left_join(dated, t.contract_id == dated.dated)
    renewed = t.linked.notnull() | t.dated.notnull()
    # Not renewed yet, but the grace period runs past the data's end: the renewal may still come.
    open_window = t.end_date > ibis.literal(b.end - dt.timedelta(days=b.grace_days), type="date")
    expr = t.group_by([PK, *query.by]).aggregate(
        ending=t.count(),
        renewed=t.count(where=renewed),
        by_link=t.count(where=t.linked.notnull()),
        pending=t.count(where=~renewed & open_window),
        value_ending=t.yearly.sum(),
        value_renewed=t.yearly.sum(where=renewed),
        fx_missing=t.count(where=t.fx_missing),
    )
    rows, _ = runner.execute(expr)
    return rows


# -- logo_retention, net_revenue_retention, gross_revenue_retention ----------------------------


def _retention(runner: Runner, query: Query) -> tuple[Basis, list[Span], list[Row]]:
    """Per period: the customers active on its first day, those still active on its last, their values."""

    def make() -> tuple[Basis, list[Span], list[Row]]:
        b = basis(runner, query)
        grid = spans(query, b)
        measured = [s for s in grid if not s.after]
        if not measured:
            return b, grid, []
        # The accounts with a contract the store shows (all, or a scope's), measured on all their
        # contracts: a customer renewed through another rep's deal is still a customer (docs/access.md).
        s = spells(runner, query, b, everyone=True)
        if beyond_scope(runner.ctx.con) is not runner.ctx.con:
            s = s.filter(s.account_id.isin(spells(runner, query, b).account_id))
        starts = points(((x.key, x.first, b.since(x.first)) for x in measured), (PK, "upto", "since"))
        ends = points(((x.key, x.last, b.since(x.last)) for x in measured), (PK, "upto", "since"))
        at_start = active(with_dims(runner, s, query), starts, [PK, *query.by])
        at_end = active(s, ends, [PK]).rename(e_pk=PK, e_account="account_id", e_value="value", e_fx="fx_missing")
        j = at_start.left_join(at_end, [at_start[PK] == at_end.e_pk, at_start.account_id == at_end.e_account])
        end_value = j.e_value.fill_null(ibis.literal(0.0, type="float64"))
        expr = j.group_by([PK, *query.by]).aggregate(
            customers=j.count(),
            retained=j.count(where=j.e_account.notnull()),
            value_start=j.value.sum(),
            value_end=end_value.sum(),
            value_kept=ibis.ifelse(end_value < j.value, end_value, j.value).sum(),
            fx_missing=(j.fx_missing + j.e_fx.fill_null(0)).sum(),
        )
        rows, _ = runner.execute(expr)
        return b, grid, rows

    result: tuple[Basis, list[Span], list[Row]] = memo(runner, ("retention", query), make)
    return result


def _retention_rows(runner: Runner, query: Query, make: Callable[[Basis, Span, Row], Row]) -> dict[Key, Row]:
    b, grid, aggregates = _retention(runner, query)
    found = by_key(aggregates, query.by)
    return {
        (span.key, *combo): make(b, span, found.get((span.key, *combo), {}))
        for span in grid
        for combo in combos(aggregates, query.by)
    }


def _start_reason(b: Basis, span: Span, customers: int) -> str | None:
    if span.after:
        return after_reason(b)
    return None if customers else "no customer active on the period's first day"


@builder("logo_retention")
def logo_retention(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    def make(b: Basis, span: Span, agg: Row) -> Row:
        customers, retained = int(agg.get("customers") or 0), int(agg.get("retained") or 0)
        return {
            "value": ratio(retained, customers),
            "reason": _start_reason(b, span, customers),
            "flags": flags((span.partial, "partial_period")),
            "numerator": retained,
            "denominator": customers,
            "churned": customers - retained,
        }

    return _retention_rows(runner, query, make), "value"


def _revenue_retention(runner: Runner, query: Query, kept: str) -> dict[Key, Row]:
    def make(b: Basis, span: Span, agg: Row) -> Row:
        customers = int(agg.get("customers") or 0)
        start, end = float(agg.get("value_start") or 0.0), float(agg.get("value_end") or 0.0)
        num = float(agg.get(kept) or 0.0)
        reason = _start_reason(b, span, customers)
        if reason is None and not start:
            reason = "the customers active on the period's first day have no recurring value"
        return {
            "value": ratio(num, start),
            "reason": reason,
            "flags": flags(
                (span.partial, "partial_period"),
                (0 < customers < runner.small_sample, "small_sample"),
                (bool(agg.get("fx_missing")), "missing_fx_rate"),
            ),
            "numerator": num,
            "denominator": start,
            "customers": customers,
            "value_start": start,
            "value_end": end,
        }

    return _retention_rows(runner, query, make)


@builder("net_revenue_retention")
def net_revenue_retention(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    return _revenue_retention(runner, query, "value_end"), "value"


@builder("gross_revenue_retention")
def gross_revenue_retention(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    return _revenue_retention(runner, query, "value_kept"), "value"


# -- arpa ---------------------------------------------------------------------------------------


@builder("arpa")
def arpa(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    """Revenue of the period / customers active on at least one of its days; growth vs the period before."""
    b = basis(runner, query)
    grid = spans(query, b, before=1)
    if not grid:
        return {}, "value"
    measured = [s for s in grid if not s.after]
    aggregates: list[Row] = []
    if measured:
        during = points(((x.key, x.last, b.since(x.first)) for x in measured), (PK, "upto", "since"))
        per_account = active(with_dims(runner, spells(runner, query, b), query), during, [PK, *query.by])
        expr = per_account.group_by([PK, *query.by]).aggregate(customers=per_account.count())
        aggregates, _ = runner.execute(expr)
    cal = query.calendar
    extra = 0 if cal.grain is periods.Grain.ALL else 1  # the period before the first, for growth
    wide = replace(query, start=grid[0].key) if query.start is not None and extra else query
    revenue = runner.compute(runner.catalogue.get("revenue"), wide)
    found = by_key(aggregates, query.by)
    keys = combos(aggregates, query.by) | ({k[1:] for k in revenue.values} if query.by else set())
    out: dict[Key, Row] = {}
    for combo in keys:
        previous: float | None = None
        for i, span in enumerate(grid):
            key = (span.key, *combo)
            customers = int(found.get(key, {}).get("customers") or 0)
            money = revenue.values.get(key, {})
            total = float(money.get("total") or 0.0)
            value = ratio(total, customers) if not span.after else None
            if i >= extra:
                reason = None
                if span.after:
                    reason = after_reason(b)
                elif not customers:
                    reason = "no customer active in the period"
                out[key] = {
                    "value": value,
                    "reason": reason,
                    "flags": flags(
                        (span.partial, "partial_period"),
                        (0 < customers < runner.small_sample, "small_sample"),
                        (bool(money.get("fx_missing")), "missing_fx_rate"),
                    ),
                    "numerator": total,
                    "denominator": customers,
                    "previous": previous,
                    "growth": value / previous - 1 if value is not None and previous else None,
                }
            previous = value
    return out, "value"
