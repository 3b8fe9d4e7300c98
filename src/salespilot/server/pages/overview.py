"""The overview: the headline KPIs of the last period, against the previous period and the target,
each with its trend over the last twelve periods. A click on a number opens its definition and
the rows behind it."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from salespilot.server import charts, formats
from salespilot.server.filters import period_range
from salespilot.server.flags import text as flag_words
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table

HEADLINE = ("revenue", "signatures", "new_customers", "win_rate", "average_deal_value", "leads")
TEXT = {"en": {"headline": "Headline KPIs"}, "fr": {"headline": "Indicateurs clés"}}


def kpi_link(name: str, q: PageQuery, dims: dict[str, str], period_start: str | None) -> str:
    """The KPI's page, with the filters and, for its rows, the period whose number was clicked."""
    params = {"grain": q.filters.grain, **dims}
    if q.filters.start:
        params["from"] = q.filters.start.isoformat()
    if q.filters.end:
        params["to"] = q.filters.end.isoformat()
    span = period_range(period_start, q.filters.grain)
    if span:
        params["rows_from"], params["rows_to"] = span[0].isoformat(), span[1].isoformat()
    return f"/kpi/{name}?{urlencode(params)}"


def build(q: PageQuery) -> View:
    t, lang, f = q.t, q.lang, q.filters
    cards = []
    table = Table(
        "headline",
        t["headline"],
        [
            Column("kpi", t["kpi"]),
            Column("period", t["period"], "period"),
            Column("value", t["value"], "number"),
            Column("previous", t["previous"], "number"),
            Column("target", t["target"], "number"),
        ],
    )
    # One engine call per set of filters the KPIs accept (usually one call for all): it reads each
    # source once for every KPI that needs it.
    dims_of = {
        name: {d: v for d, v in f.dims.items() if d in q.ctx.catalogue.kpis[name].dimensions} for name in HEADLINE
    }
    series: dict[str, list[dict[str, Any]]] = {}
    for chosen in {tuple(sorted(d.items())) for d in dims_of.values()}:
        names = [n for n in HEADLINE if tuple(sorted(dims_of[n].items())) == chosen]
        found = q.ws.kpi(names, grain=f.grain, filters=dict(chosen), start=f.start, end=f.end, output="rows")
        for row in found:
            series.setdefault(str(row["kpi"]), []).append(row)
    for name in HEADLINE:
        kpi = q.ctx.catalogue.kpis[name]
        dims = dims_of[name]
        rows = sorted(series.get(name, []), key=lambda r: str(r.get("period_start") or ""))[-12:]
        last = rows[-1] if rows else {}
        value = last.get("value")
        spark = charts.sparkline([r.get("value") for r in rows], kpi.label(lang))
        extra = ""
        colon = formats.colon(lang)
        for key in ("previous", "target"):
            if last.get(key) is not None:
                shown = formats.value(last[key], kpi.unit, lang, q.currency)
                extra += f"<small>{t[key]}{colon}{html.escape(shown)}</small>"
        flags = last.get("flags") or []
        if flags:
            extra += f'<small class="sp-flag">{html.escape(flag_words(flags, lang))}</small>'
        when = formats.period_label(str(last.get("period", "")), last.get("period_start"), f.grain, lang)
        cards.append(
            f'<article class="sp-card" data-kpi="{name}"><h2 title="{html.escape(kpi.describe(lang))}">'
            f"{html.escape(kpi.label(lang))}</h2>"
            f'<a class="sp-number" href="{html.escape(kpi_link(name, q, dims, last.get("period_start")))}" '
            f'data-value="{html.escape(str(value))}">{html.escape(formats.value(value, kpi.unit, lang, q.currency))}'
            f'</a><p data-period="{html.escape(str(last.get("period", "")))}">'
            f"{html.escape(when)}</p>{extra}{spark}</article>"
        )
        table.rows.append(
            {
                "kpi": kpi.label(lang),
                "period": last.get("period"),
                "value": value,
                "previous": last.get("previous"),
                "target": last.get("target"),
            }
        )
    return View(f'<main class="sp-cards">{"".join(cards)}</main>', [table])


PAGE = Page(
    name="overview",
    path="/",
    title={"en": "Overview", "fr": "Vue d'ensemble"},
    build=build,
    texts=TEXT,
    slice=False,  # the KPI engine applies the filters itself, each KPI on its own dimensions
)
