"""Run KPIs: aggregates from the engine, then values, intervals, flags, growth and targets.

One output row per KPI, period and dimension value. Every period of the range appears, also
when it holds no data: a count or a sum is then 0; a rate or a ratio has no value and says why.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import ibis.expr.types as ir

from salespilot.errors import ParameterError
from salespilot.metrics import periods
from salespilot.metrics.catalogue import KPI, Catalogue, Kind
from salespilot.metrics.compile import PERIOD, Query, aggregate
from salespilot.metrics.sources import SOURCES, Context
from salespilot.metrics.stats import wilson

Row = dict[str, Any]
Key = tuple[Any, ...]  # (period_start, *dimension values)
MATURITY_DAYS = 90  # a cohort younger than this at the data's end is immature

# Builders of custom KPIs: (runner, kpi, query) -> {key: aggregate dict}, shape. Besides the shapes
# of the other kinds ("rate", "ratio"...), a builder that computes its values itself returns
# "value": each dict holds value, reason, flags and any extra fields, copied to the row (a rate's
# int numerator/denominator get a Wilson interval); or "series": {"series": [such dicts]}, several
# rows per key (a cohort per period since acquisition). Builders run on the engine through
# ``runner.execute`` (their queries are what --explain prints). See metrics/customers.py.
CustomBuilder = Callable[["Runner", KPI, Query], tuple[dict[Key, Row], str]]
CUSTOM: dict[str, CustomBuilder] = {}


@dataclass
class Computed:
    """Aggregates of one KPI: by key, with the shape that says how to read them."""

    shape: str  # count, sum, rate, duration, ratio
    values: dict[Key, Row]
    sql: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.first_start: dt.date | None = min((k[0] for k in self.values), default=None)


GROWTH = ("previous", "growth", "year_ago", "growth_yoy")

# The sources whose dates make the data's span (engine.kpis.data_years_and_end): leads,
# opportunities and activities, and the customers drawn from the opportunities.
SPAN_SOURCES = frozenset({"leads", "opportunities", "activities", "customers"})


class Runner:
    def __init__(
        self,
        ctx: Context,
        catalogue: Catalogue,
        small_sample: int,
        data_end: dt.date | None,
        dialect: str,
        targets: list[Row] | None = None,
        hidden: Mapping[str, str] | None = None,
        owner: tuple[str, str | None] | None = ("company", None),
    ) -> None:
        self.ctx = ctx
        # Whose records the store shows (a scope, a slice): whose target the figures are held
        # against; None when no target applies (e.g. one channel's figures).
        self.owner = owner
        self.hidden = dict(hidden or {})  # sources the store's lenses hide whole -> why
        self.catalogue = catalogue
        self.small_sample = small_sample
        self.data_end = data_end
        self.dialect = dialect
        self.targets: dict[tuple[Any, ...], float] = {
            (t["metric"], t["period"], t["scope"], t["scope_id"] if t["scope"] != "company" else None): float(
                t["value"]
            )
            for t in targets or []
        }
        self._cache: dict[tuple[str, Query], Computed] = {}
        self._executed: list[Any] = []  # every query run (expressions), for custom KPIs' explain

    # -- public ------------------------------------------------------------------------------
    def run(self, names: Iterable[str], query: Query) -> tuple[list[Row], dict[str, list[Any]]]:
        """Rows of the KPIs, and per KPI the queries behind them (expressions; see ``render``)."""
        collecting = gc.isenabled()
        gc.disable()  # tens of thousands of small dicts: the cyclic collector only costs time here
        try:
            return self._run(names, query)
        finally:
            if collecting:
                gc.enable()

    def _run(self, names: Iterable[str], query: Query) -> tuple[list[Row], dict[str, list[Any]]]:
        rows: list[Row] = []
        explained: dict[str, list[Any]] = {}
        kpis = [self.catalogue.get(name) for name in names]
        for kpi in kpis:
            self.check(kpi, query)
        self._prefetch(kpis, query)
        for kpi in kpis:
            computed = self.compute(kpi, query)
            history = self._history(kpi, query)
            past = self.compute(kpi, history) if history is not None else None
            explained[kpi.name] = computed.sql + (past.sql if past is not None else [])
            rows.extend(self._rows(kpi, query, computed, past))
        return rows, explained

    def check(self, kpi: KPI, query: Query) -> None:
        dims = [*query.by, *(d for d, _ in query.filters)]
        for dim in dims:
            if dim not in kpi.dimensions:
                allowed = ", ".join(kpi.dimensions) or "none"
                raise ParameterError(
                    f'KPI {kpi.name} cannot be split or filtered by "{dim}": it has no meaning for it. '
                    f"Dimensions of {kpi.name}: {allowed}."
                )
        if kpi.grains is not None and query.calendar.grain.value not in kpi.grains:
            raise ParameterError(
                f"KPI {kpi.name} is only defined by {' or '.join(kpi.grains)} (--grain "
                f"{query.calendar.grain.value} was asked): {kpi.description}"
            )

    def compute(self, kpi: KPI, query: Query) -> Computed:
        key = (kpi.name, query)
        if key not in self._cache:
            self._cache[key] = self._compute(kpi, query)
        return self._cache[key]

    def execute(self, expr: ir.Table) -> tuple[list[Row], ir.Table]:
        """Run ``expr`` on the engine; returns its rows and the expression (``render`` gives its SQL)."""
        table = self.ctx.con.to_pyarrow(expr)
        self._executed.append(expr)
        return table.to_pylist(), expr

    def render(self, items: list[Any]) -> list[str]:
        """SQL text of queries kept as expressions (compiled only when someone asks: --explain)."""
        return [item if isinstance(item, str) else str(ibis.to_sql(item, dialect=self.dialect)) for item in items]

    # -- internals ---------------------------------------------------------------------------
    def _compute(self, kpi: KPI, query: Query) -> Computed:
        if kpi.kind is Kind.RATIO:
            assert isinstance(kpi.numerator, str) and isinstance(kpi.denominator, str)
            num = self.compute(self.catalogue.get(kpi.numerator), query)
            den = self.compute(self.catalogue.get(kpi.denominator), query)
            values: dict[Key, Row] = {}
            for k in set(num.values) | set(den.values):
                parts = [num.values.get(k), den.values.get(k)]
                values[k] = {
                    "num": _additive(parts[0]),
                    "den": _additive(parts[1]),
                    "fx_missing": sum(int((p or {}).get("fx_missing") or 0) for p in parts),
                }
            return Computed("ratio", values, num.sql + den.sql)
        if kpi.kind is Kind.CUSTOM:
            assert kpi.builder is not None
            if kpi.builder not in CUSTOM:
                _load_builders()
            if kpi.builder not in CUSTOM:
                raise ParameterError(f"KPI {kpi.name}: no builder named {kpi.builder}.")
            mark = len(self._executed)
            values, shape = CUSTOM[kpi.builder](self, kpi, query)
            header = f"-- {kpi.name}: computed by the {kpi.builder} builder"
            return Computed(shape, values, [header, *self._executed[mark:]])
        self._fetch([kpi], query)
        return self._cache[(kpi.name, query)]

    def _base(self, kpi: KPI) -> list[KPI]:
        """The KPIs computed by one scan of a source: ``kpi`` itself, or a ratio's parts."""
        if kpi.kind is Kind.RATIO:
            assert isinstance(kpi.numerator, str) and isinstance(kpi.denominator, str)
            return [self.catalogue.get(kpi.numerator), self.catalogue.get(kpi.denominator)]
        return [kpi] if kpi.kind is not Kind.CUSTOM else []

    def _prefetch(self, kpis: list[KPI], query: Query) -> None:
        """Compute every plain KPI the request needs, one query per source, anchor and range."""
        groups: dict[tuple[Any, ...], list[KPI]] = {}
        for kpi in kpis:
            history = self._history(kpi, query)
            for base in self._base(kpi):
                for base_query in (query, history):
                    if base_query is None or (base.name, base_query) in self._cache:
                        continue
                    group = groups.setdefault((base.source, base.anchor, base_query), [])
                    if base not in group:
                        group.append(base)
        for (_, _, base_query), members in groups.items():
            self._fetch(members, base_query)

    def _fetch(self, kpis: list[KPI], query: Query) -> None:
        expr = aggregate(kpis, self.ctx, query)
        result, sql = self.execute(expr)
        by = query.by
        for kpi in kpis:
            prefix = f"{kpi.name}__"
            columns = [(c, c[len(prefix) :]) for c in expr.columns if c.startswith(prefix)]
            present = f"{prefix}present"
            values = {
                (r[PERIOD], *(r[d] for d in by)): {short: r[c] for c, short in columns} for r in result if r[present]
            }
            self._cache[(kpi.name, query)] = Computed(kpi.kind.value, values, [sql])

    def _history(self, kpi: KPI, query: Query) -> Query | None:
        """For the growth of a KPI from ``--from`` on: the data before it, computed apart.

        Without ``--from`` every period is in the result already; at grain all there is no growth.
        """
        cal = query.calendar
        if not kpi.comparable or query.start is None or cal.grain is periods.Grain.ALL:
            return None
        # From the beginning of the data, so that "before the data" (no growth) and "an empty
        # period" (growth from 0) are told apart whatever --from is.
        return replace(query, start=None, end=query.start - dt.timedelta(days=1))

    def _rows(self, kpi: KPI, query: Query, computed: Computed, past: Computed | None = None) -> list[Row]:
        cal = query.calendar
        keys = list(computed.values)
        if query.start is not None:
            first = cal.start_of(query.start)
        elif keys:
            first = min(k[0] for k in keys)
        else:
            return []
        if query.end is not None:
            last = cal.start_of(query.end)
        elif keys:
            last = max(k[0] for k in keys)
        else:
            last = first
        spans = query.end is None and self.data_end is not None and cal.grain is not periods.Grain.ALL
        if spans and self.data_end is not None and self._spans_the_data(kpi):
            # Up to the data's last period: a month with no new customer is a 0 in its place, not
            # a series that stops a month before the others. (Costs and the market are imported
            # apart: their last month may just not be there yet, so not them.)
            last = max(last, cal.start_of(self.data_end))
        combos = sorted({k[1:] for k in keys}, key=_sort_key) if query.by else [()]
        comparable = kpi.comparable
        unattributable = kpi.kind is Kind.RATIO and bool(query.by) and not self._same_source(kpi)
        with_targets = bool(self.targets) and query.by in ((), ("rep",), ("team",))
        firsts = [c.first_start for c in (computed, past) if c is not None and c.first_start is not None]
        data_start = min(firsts, default=None)
        is_all = cal.grain is periods.Grain.ALL
        out = []
        for start in cal.grid(first, last):
            label = cal.label(start)
            head = {
                "kpi": kpi.name,
                "label": kpi.label_en,
                "unit": kpi.unit,
                "period": label,
                "period_start": None if is_all else start.isoformat(),
            }
            age = self._cohort_age(kpi, start, cal)
            earlier = None if is_all or not comparable else (cal.shift(start, -1), cal.year_ago(start))
            for combo in combos:
                key = (start, *combo)
                row: Row = dict(head)
                for dim, value in zip(query.by, combo, strict=True):
                    row[dim] = value
                if computed.shape == "series":
                    out.extend(self._series(kpi, row, computed.values.get(key), start, cal))
                    continue
                row.update(self._values(kpi, computed.shape, computed.values.get(key), start, cal, age))
                why = self._hidden_reason(kpi)
                if why is not None:  # e.g. costs in a rep's scope: no value, not a 0
                    row.update(value=None, reason=why, ci_low=None, ci_high=None)
                no_value = why is not None or (unattributable and None in combo)
                if earlier is not None and no_value:  # nothing to set against the earlier periods
                    row.update(dict.fromkeys(GROWTH))
                elif earlier is not None:
                    row.update(self._growth(kpi, computed, past, combo, earlier, data_start, row["value"], cal))
                if unattributable and None in combo:
                    dim = query.by[combo.index(None)]
                    row.update(
                        value=None,
                        ci_low=None,
                        ci_high=None,
                        reason=f"not attributable: {kpi.numerator} and {kpi.denominator} without a {dim}",
                    )
                if with_targets:
                    row.update(self._target(kpi, row, query))
                out.append(row)
        return out

    def _spans_the_data(self, kpi: KPI, seen: frozenset[str] = frozenset()) -> bool:
        """Whether ``kpi`` reads only the tables whose dates make the data's span (``data_end``)."""
        if kpi.source is not None:
            return kpi.source in SPAN_SOURCES
        parts = [p for p in (kpi.numerator, kpi.denominator) if isinstance(p, str)]
        known = self.catalogue.kpis
        return bool(parts) and all(
            p in known and p not in seen and self._spans_the_data(known[p], seen | {kpi.name}) for p in parts
        )

    def _hidden_reason(self, kpi: KPI, seen: frozenset[str] = frozenset()) -> str | None:
        """Why ``kpi`` has no value here: it reads a source the lenses hide (through its parts)."""
        if kpi.source is not None and kpi.source in self.hidden:
            return self.hidden[kpi.source]
        for part in (kpi.numerator, kpi.denominator):
            if isinstance(part, str) and part not in seen and part in self.catalogue.kpis:
                why = self._hidden_reason(self.catalogue.kpis[part], seen | {kpi.name})
                if why is not None:
                    return why
        return None

    def _cohort_age(self, kpi: KPI, start: dt.date, cal: periods.Calendar) -> int | None:
        """Days from the end of the period to the data's last day, for cohort KPIs."""
        if not kpi.cohort or cal.grain is periods.Grain.ALL or self.data_end is None:
            return None
        return (self.data_end - (cal.next_start(start) - dt.timedelta(days=1))).days

    def _values(
        self, kpi: KPI, shape: str, agg: Row | None, start: dt.date, cal: periods.Calendar, age: int | None = None
    ) -> Row:
        flags: list[str] = []
        out: Row = {"value": None, "reason": None, "flags": flags}
        match shape:
            case "count":
                out["value"] = int(agg["count"]) if agg else 0
            case "sum":
                out["value"] = float(agg["total"] or 0.0) if agg else 0.0
                if agg and agg.get("fx_missing"):
                    flags.append("missing_fx_rate")
                    out["fx_missing_rows"] = int(agg["fx_missing"])
                    if int(agg["fx_missing"]) >= int(agg.get("rows") or 0):
                        out["value"] = None
                        out["reason"] = "no exchange rate yet for the currency of these amounts (see fx_rates)"
            case "rate":
                num = int(agg["numerator"]) if agg else 0
                den = int(agg["denominator"]) if agg else 0
                low, high = wilson(num, den)
                out.update(numerator=num, denominator=den, ci_low=low, ci_high=high)
                if den:
                    out["value"] = num / den
                    if den < self.small_sample:
                        flags.append("small_sample")
                else:
                    out["reason"] = f"nothing to divide by: no {_what(kpi)} in the period"
                if age is None:
                    age = self._cohort_age(kpi, start, cal)
                if age is not None:
                    out["cohort_age_days"] = age
                    if age < MATURITY_DAYS:
                        flags.append("immature_cohort")
            case "duration":
                n = int(agg["n"]) if agg else 0
                out.update(n=n, median=None, mean=None, p90=None)
                if agg and n:
                    out.update(median=float(agg["median"]), mean=float(agg["mean"]), p90=float(agg["p90"]))
                    out["value"] = out["median"]
                    if n < self.small_sample:
                        flags.append("small_sample")
                else:
                    out["reason"] = f"no {_what(kpi)} in the period"
            case "ratio":
                num = agg["num"] if agg else 0
                den = agg["den"] if agg else 0
                if agg and agg.get("fx_missing"):
                    flags.append("missing_fx_rate")
                out.update(numerator=num, denominator=den)
                if den:
                    out["value"] = num / den
                    if self._proportion(kpi):
                        low, high = wilson(num, den)
                        out.update(ci_low=low, ci_high=high)
                        if den < self.small_sample:
                            flags.append("small_sample")
                elif isinstance(kpi.denominator, str):
                    out["reason"] = f"nothing to divide by: {kpi.denominator} is 0 in the period"
                else:
                    out["reason"] = "nothing to divide by in the period"
            case "value":
                if agg is None:
                    out["reason"] = "no data in the period"
                    return out
                fields = dict(agg)
                flags.extend(fields.pop("flags", None) or [])
                out.update(fields)
                if kpi.unit == "rate" and "denominator" in fields:
                    top, bottom = fields.get("numerator"), fields.get("denominator")
                    interval: tuple[float, float] | tuple[None, None] = (None, None)
                    if isinstance(top, int) and isinstance(bottom, int):
                        interval = wilson(top, bottom)
                        if 0 < bottom < self.small_sample and "small_sample" not in flags:
                            flags.append("small_sample")
                    out.update(ci_low=interval[0], ci_high=interval[1])
        return out

    def _series(self, kpi: KPI, head: Row, agg: Row | None, start: dt.date, cal: periods.Calendar) -> list[Row]:
        """Shape "series": one row per part of the key's aggregate, each read as shape "value"."""
        parts: list[Row | None] = list(agg["series"]) if agg else [None]
        return [{**head, **self._values(kpi, "value", part, start, cal)} for part in parts]

    def _proportion(self, kpi: KPI) -> bool:
        if kpi.unit != "rate" or kpi.kind is not Kind.RATIO:
            return False
        assert isinstance(kpi.numerator, str) and isinstance(kpi.denominator, str)
        return all(self.catalogue.get(p).unit == "count" for p in (kpi.numerator, kpi.denominator))

    def _growth(
        self,
        kpi: KPI,
        computed: Computed,
        past: Computed | None,
        combo: tuple[Any, ...],
        earlier: tuple[dt.date, dt.date],
        data_start: dt.date | None,
        value: Any,
        cal: periods.Calendar,
    ) -> Row:
        """previous / growth and year_ago / growth_yoy: the KPI's value in the earlier period (for a
        sum or a count 0 when it is empty, for a rate, ratio or duration None) and the relative change
        from it; None before the data."""
        out: Row = {}
        for name, growth, earlier_start in (("previous", "growth", earlier[0]), ("year_ago", "growth_yoy", earlier[1])):
            key = (earlier_start, *combo)
            agg = computed.values.get(key) or (past.values.get(key) if past is not None else None)
            known = agg is not None or (data_start is not None and data_start <= earlier_start)
            before: Any = None
            if known and kpi.additive:
                before = _additive(agg)
            elif known:
                before = self._values(kpi, computed.shape, agg, earlier_start, cal)["value"]
            out[name] = before
            out[growth] = (value / before - 1) if before and value is not None else None
        return out

    def _same_source(self, kpi: KPI) -> bool:
        assert isinstance(kpi.numerator, str) and isinstance(kpi.denominator, str)
        return self.catalogue.get(kpi.numerator).source == self.catalogue.get(kpi.denominator).source

    def _target(self, kpi: KPI, row: Row, query: Query) -> Row:
        owner = target_owner(self.owner, query.filters)
        if not self.targets or owner is None:
            return {}
        if not query.by:
            scope, scope_id = owner
        elif query.by == ("rep",):
            scope, scope_id = "rep", row["rep"]
        elif query.by == ("team",) and owner[0] != "rep":
            scope, scope_id = "team", row["team"]
        else:
            return {}
        target = self.targets.get((kpi.name, row["period"], scope, scope_id))
        if target is None:
            return {}
        value = row.get("value")
        return {"target": target, "attainment": (value / target) if value is not None and target else None}


def target_owner(
    owner: tuple[str, str | None] | None, filters: tuple[tuple[str, str], ...]
) -> tuple[str, str | None] | None:
    """Whose target figures filtered by ``filters`` are held against, the store showing the records
    of ``owner``: a rep's (filter ``rep``), a team's (filter ``team``), else the owner's; none when
    a filter narrows the figures by anything else (a channel's revenue is not the company's)."""
    found = owner
    for dim, value in filters:
        if dim == "rep":
            found = ("rep", value) if found is not None else None
        elif dim == "team":
            found = ("team", value) if found is not None and found[0] != "rep" else found
        else:
            return None
    return found


def _load_builders() -> None:
    """Register the built-in custom builders (imported late: they import this module)."""
    from salespilot.metrics import cohorts, customers, stages  # noqa: F401


def _additive(agg: Row | None) -> float:
    if not agg:
        return 0
    if "count" in agg:
        return int(agg["count"])
    return float(agg.get("total") or 0.0)


def _what(kpi: KPI) -> str:
    source = kpi.source or ""
    if kpi.name == "win_rate":
        return "opportunities closed"
    return {"leads": "leads created", "opportunities": "opportunities", "customers": "customers"}.get(
        source, SOURCES[source].name if source in SOURCES else "rows"
    )


def _sort_key(combo: tuple[Any, ...]) -> tuple[tuple[int, str], ...]:
    return tuple((0, str(v)) if v is not None else (1, "") for v in combo)
