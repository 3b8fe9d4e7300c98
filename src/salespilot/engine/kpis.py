"""KPIs for the faces: build the context from the store, run the catalogue, shape the output."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa
from ibis.common.exceptions import TableNotFound

from salespilot.errors import NoRowsBehind, ParameterError
from salespilot.metrics import periods
from salespilot.metrics.catalogue import Catalogue, load_catalogue
from salespilot.metrics.compile import Query
from salespilot.metrics.compile import behind as compile_behind
from salespilot.metrics.compile import rows as compile_rows
from salespilot.metrics.runner import Row, Runner
from salespilot.metrics.sources import Context
from salespilot.settings import parse_stage_order
from salespilot.store.asof import as_of
from salespilot.store.lens import beyond_scope, hidden_tables, records_owner
from salespilot.store.query import dialect, ibis_backend

OUTPUTS = ("arrow", "pandas", "polars", "rows")


@dataclass
class KpiResult:
    rows: list[Row]
    queries: dict[str, list[Any]]  # per KPI, the expressions run (SQL is compiled on demand)
    by: tuple[str, ...]
    render: Callable[[list[Any]], list[str]]

    @property
    def sql(self) -> dict[str, list[str]]:
        """Per KPI, the SQL of the queries behind it (what --explain prints)."""
        return {name: self.render(items) for name, items in self.queries.items()}


def context(store: Any, settings: dict[str, str]) -> Context:
    con = ibis_backend(store)
    return Context(
        con=con,
        base_currency=settings["base_currency"].upper(),
        default_margin_rate=float(settings["default_margin_rate"]),
        fx=_fx_daily(con),
        active_window_months=int(settings["active_window_months"]),
        renewal_grace_days=int(settings["renewal_grace_days"]),
        stage_order=parse_stage_order(settings["stage_order"]),
    )


def _fx_daily(con: ibis.BaseBackend) -> Any:
    """fx_rates forward-filled to one row per currency and day (up to today or the last rate)."""
    rates = con.table("fx_rates").select("date", "currency", "rate_to_base").to_pyarrow().to_pylist()
    if not rates:
        return None
    by_currency: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
    for r in rates:
        by_currency[str(r["currency"]).upper()].append((r["date"], float(r["rate_to_base"])))
    currencies, days, values = [], [], []
    horizon = max(dt.date.today(), max(r["date"] for r in rates)) + dt.timedelta(days=366)
    for currency, points in by_currency.items():
        points.sort()
        for (day, rate), following in zip(points, [*points[1:], (horizon, 0.0)], strict=True):
            current = day
            while current < following[0]:
                currencies.append(currency)
                days.append(current)
                values.append(rate)
                current += dt.timedelta(days=1)
    table = pa.table(
        {
            "fx_currency": pa.array(currencies, pa.string()),
            "fx_date": pa.array(days, pa.date32()),
            "fx_rate": pa.array(values, pa.float64()),
        }
    )
    return ibis.memtable(table)


Span = tuple[tuple[int, int], dt.date | None]
_SPANS: OrderedDict[Hashable, Span] = OrderedDict()  # spans already measured, by store, lenses and data version
_SPANS_KEPT = 64
_SPANS_LOCK = threading.Lock()


def data_years_and_end(con: ibis.BaseBackend, timezone: str) -> Span:
    """The years the data spans (for local time) and its last local day (for cohort ages).

    Measuring it scans the dated columns of leads, opportunities and activities (a second on
    PostgreSQL with ten million activities), so it is kept while the data is the same: the key is
    the lenses the store is seen through and the imports so far (every write of data is an
    import); through a lens that is not a value (as of a date) it is measured each time.

    It is the store's span, past a user's scope or a slice (``beyond_scope``): the data's last day
    says how fresh the data is, not when a rep last did something, so a rep with no deal last
    month sees a 0 there, not "after the data's last day"."""
    con = beyond_scope(con)
    key = _span_key(con, timezone)
    if key is not None:
        with _SPANS_LOCK:
            found = _SPANS.get(key)
        if found is not None:
            return found
    span = _measure_span(con, timezone)
    if key is not None:
        with _SPANS_LOCK:
            _SPANS[key] = span
            while len(_SPANS) > _SPANS_KEPT:
                _SPANS.popitem(last=False)
    return span


def _span_key(con: ibis.BaseBackend, timezone: str) -> Hashable | None:
    """The imports so far (number, last id, last end to the microsecond: two stores share it only
    when one is a copy of the other, whose span is the same) and the lenses; None: not kept."""
    lenses = tuple(getattr(con, "_lenses", ()))
    if not all(_is_value(lens) for lens in lenses):
        return None
    base = getattr(con, "_con", con)
    if getattr(base, "name", None) not in ("duckdb", "postgres"):  # a Spark export has no imports
        return None
    try:
        i = base.table("imports")
    except TableNotFound:
        return None
    version = i.aggregate(n=i.count(), last=i.import_id.max(), end=i.finished_at.max()).to_pyarrow().to_pylist()[0]
    if not version["n"]:  # a store written without the importer: nothing tells its changes
        return None
    return lenses, timezone, version["n"], version["last"], version["end"]


def _is_value(lens: object) -> bool:
    """Whether ``lens`` compares by value (a frozen dataclass), so that equal lenses share a span."""
    params = getattr(type(lens), "__dataclass_params__", None)
    return bool(params is not None and params.frozen)


def _measure_span(con: ibis.BaseBackend, timezone: str) -> Span:
    lo: list[dt.datetime] = []
    hi: list[dt.datetime] = []
    for table, columns in (
        ("leads", ("created_at",)),
        ("opportunities", ("created_at", "closed_at")),
        ("activities", ("occurred_at",)),
    ):
        t = con.table(table)
        for column in columns:
            # Cast to nullable: the min of no rows is null, which Ibis refuses for a NOT NULL column (PostgreSQL).
            value = t[column].cast("timestamp")
            result = t.aggregate(lo=value.min(), hi=value.max()).to_pyarrow().to_pylist()[0]
            if result["lo"] is not None:
                lo.append(result["lo"])
                hi.append(result["hi"])
    lens = as_of(con)
    if not lo:
        year = dt.date.today().year
        return (year - 1, year + 1), None if lens is None else lens.day
    if lens is not None:  # the store as of a date: that date is "today"
        return (max(min(lo).year - 1, 1900), min(max(hi).year + 1, 2200)), lens.day
    last = min(max(hi), dt.datetime(2199, 12, 31)).replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
    # (placeholder dates such as 9999-12-31 are refused at import; clamp for data loaded otherwise)
    return (max(min(lo).year - 1, 1900), min(max(hi).year + 1, 2200)), last.date()


def compute(
    store: Any,
    settings: dict[str, str],
    names: list[str],
    grain: str = "month",
    by: tuple[str, ...] = (),
    filters: tuple[tuple[str, str], ...] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    fiscal: bool = False,
    catalogue: Catalogue | None = None,
) -> KpiResult:
    if not names:
        raise ParameterError("Name at least one KPI (see salespilot kpi --list).")
    if start is not None and end is not None and end < start:
        raise ParameterError(f"--to {end} is before --from {start}.")
    if len(set(by)) != len(by):
        raise ParameterError("--by names a dimension twice.")
    catalogue = catalogue or load_catalogue()
    ctx = context(store, settings)
    years, data_end = data_years_and_end(ctx.con, settings["timezone"])
    ctx = replace(ctx, timezone=settings["timezone"], years=years)
    calendar = periods.Calendar(periods.parse_grain(grain), fiscal, int(settings["fiscal_year_start_month"]))
    query = Query(
        calendar=calendar, by=by, filters=filters, start=start, end=end, timezone=settings["timezone"], years=years
    )
    targets = ctx.con.table("targets").to_pyarrow().to_pylist()
    hidden = hidden_tables(store)
    owner = records_owner(store)
    runner = Runner(ctx, catalogue, int(settings["small_sample"]), data_end, dialect(store), targets, hidden, owner)
    rows, queries = runner.run(names, query)
    return KpiResult(rows, queries, by, runner.render)


def rows_behind(
    store: Any,
    settings: dict[str, str],
    name: str,
    filters: tuple[tuple[str, str], ...] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """The records a KPI counts over a range (the drill-down behind a number): its definition,
    how many rows, and the first ``limit``. Custom KPIs (cohorts, retention) have no single row set."""
    catalogue = load_catalogue()
    kpi = catalogue.get(name)
    try:
        source_kpi = compile_behind(kpi, catalogue.kpis)
    except ValueError:
        raise NoRowsBehind(
            f"{name} is computed from several tables at once (see docs/kpis.md); it has no single list of rows."
        ) from None
    for dim, _ in filters:
        if dim not in kpi.dimensions:
            raise ParameterError(f"{name} cannot be filtered by {dim}; it splits by {', '.join(kpi.dimensions)}.")
    ctx = context(store, settings)
    years, _ = data_years_and_end(ctx.con, settings["timezone"])
    ctx = replace(ctx, timezone=settings["timezone"], years=years)
    calendar = periods.Calendar(periods.parse_grain("all"), False, int(settings["fiscal_year_start_month"]))
    query = Query(
        calendar=calendar,
        by=source_kpi.dimensions,  # every dimension joined, so the rows show them
        filters=filters,
        start=start,
        end=end,
        timezone=settings["timezone"],
        years=years,
    )
    total, first = compile_rows(source_kpi, ctx, query, limit)
    return {
        "kpi": name,
        "label_en": kpi.label_en,
        "label_fr": kpi.label_fr,
        "description": kpi.description,
        "description_fr": kpi.description_fr,
        "rows_of": source_kpi.name,
        "source": source_kpi.source,
        "total": total,
        "rows": first,
    }


def shaped(result: KpiResult, output: str) -> Any:
    """The rows as Arrow (default), pandas, polars or plain dicts."""
    if output not in OUTPUTS:
        raise ParameterError(f'output "{output}" must be one of {", ".join(OUTPUTS)}.')
    if output == "rows":
        return result.rows
    # Rows of different KPIs carry different keys; Arrow takes its columns from the first row only.
    columns = list(dict.fromkeys(key for row in result.rows for key in row))
    rows = [{c: row.get(c) for c in columns} for row in result.rows]
    table = pa.Table.from_pylist(rows) if rows else pa.table({"kpi": pa.array([], pa.string())})
    if output == "arrow":
        return table
    if output == "pandas":
        return table.to_pandas()
    try:
        import polars
    except ImportError:
        raise ParameterError("output polars needs the polars package: pip install polars") from None
    return polars.from_arrow(table)


def catalogue_from(path: str | Path | None) -> Catalogue:
    return load_catalogue(path)
