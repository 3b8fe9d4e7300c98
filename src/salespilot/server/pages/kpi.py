"""One KPI, opened by a click on its number: its definition, its values by period (with the
numerator, the denominator and the 95% interval), a trend chart, and the rows behind it over
the chosen range (``rows_from``/``rows_to``: the period clicked; else the filters' range)."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import urlencode

from salespilot.errors import ParameterError
from salespilot.server import charts, formats
from salespilot.server.filters import kpi_dims
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html

TEXT = {
    "en": {
        "rows_of": "Counted records",
        "of": "of",
        "source": "Source",
        "unit_count": "count",
        "unit_currency": "amount (base currency)",
        "unit_days": "days",
        "unit_rate": "rate",
        "unit_ratio": "ratio",
        "dim_rep": "rep",
        "dim_team": "team",
        "dim_channel": "channel",
        "dim_campaign": "campaign",
        "dim_segment": "segment",
        "dim_industry": "industry",
        "dim_country": "country",
        "dim_product": "product",
        "dim_stage": "stage",
        "dim_type": "type",
    },
    "fr": {
        "rows_of": "Enregistrements comptés",
        "of": "sur",
        "source": "Source",
        "unit_count": "nombre",
        "unit_currency": "montant (devise de référence)",
        "unit_days": "jours",
        "unit_rate": "taux",
        "unit_ratio": "ratio",
        "dim_rep": "commercial",
        "dim_team": "équipe",
        "dim_channel": "canal",
        "dim_campaign": "campagne",
        "dim_segment": "segment",
        "dim_industry": "secteur",
        "dim_country": "pays",
        "dim_product": "produit",
        "dim_stage": "étape",
        "dim_type": "type",
    },
}


def _date(q: PageQuery, name: str) -> dt.date | None:
    raw = q.params.get(name) or None
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        raise ParameterError(f"Parameter {name}: expected a date YYYY-MM-DD (got {raw!r}).") from None


def build(q: PageQuery) -> View:
    t, lang, f = q.t, q.lang, q.filters
    name = q.params.get("kpi", "")
    dims = kpi_dims(q.ctx.catalogue, name, f.dims)
    kpi = q.ctx.catalogue.kpis[name]
    series = q.ws.kpi([name], grain=f.grain, filters=dims, start=f.start, end=f.end, output="rows")
    unit = kpi.unit
    table = Table(
        "series",
        t["series"],
        [
            Column("period", t["period"]),
            Column("value", t["value"], unit),
            Column("numerator", t["numerator"], "number"),
            Column("denominator", t["denominator"], "number"),
            Column("ci_low", f"{t['ci']} ↓", unit),
            Column("ci_high", f"{t['ci']} ↑", unit),
            Column("previous", t["previous"], unit),
            Column("target", t["target"], unit),
            Column("flags", t["flags"], "flags"),
        ],
        [{**r, "flags": list(r.get("flags") or [])} for r in series],
    )
    rows_from, rows_to = _date(q, "rows_from") or f.start, _date(q, "rows_to") or f.end
    behind = q.ws.kpi_rows(name, filters=dims, start=rows_from, end=rows_to, limit=500)
    found = list(behind.get("rows", []))
    columns = [Column(k, k, "number" if isinstance(found[0][k], float) else "text") for k in found[0]] if found else []
    rows_table = Table("rows", t["rows"], columns, found, total=behind.get("total"))
    targets = [r.get("target") for r in series]
    chart = charts.line(
        [str(r["period"]) for r in series],
        {kpi.label(lang): [r.get("value") for r in series]},
        kpi.label(lang),
        lambda v: formats.value(v, unit, lang, q.currency),
        targets if any(v is not None for v in targets) else None,
        reference_label=t["target"],
    )
    span = " – ".join(formats.date(d, lang) for d in (rows_from, rows_to) if d)
    dimensions = ", ".join(t.get(f"dim_{d}", d) for d in kpi.dimensions)  # in the user's language
    definition = (
        f'<section class="sp-section" id="definition"><h1>{html.escape(kpi.label(lang))}</h1>'
        f"<p>{html.escape(kpi.describe(lang))}</p><dl>"
        f"<dt>{t['unit']}</dt><dd>{html.escape(t.get(f'unit_{unit}', unit))}</dd>"
        f"<dt>{t['dimensions']}</dt><dd>{html.escape(dimensions or '–')}</dd>"
        f"<dt>{t['rows_of']}</dt><dd>{html.escape(str(behind.get('rows_of', '')))} "
        f"({formats.number(len(found), lang)} {t['of']} {formats.number(behind.get('total'), lang)})"
        f"{' · ' + html.escape(span) if span else ''}</dd></dl></section>"
    )
    query = urlencode({"kpi": name}) + (f"&{q.filters.query}" if q.filters.query else "")
    content = (
        definition
        + chart
        + to_html(table, lang, q.currency, "/export/kpi/series", query)
        + to_html(rows_table, lang, q.currency, "/export/kpi/rows", query)
    )
    return View(content, [table, rows_table], {"kpi": name, "rows_of": behind.get("rows_of")})


PAGE = Page(
    name="kpi",
    path="/kpi/{kpi}",
    title={"en": "KPI", "fr": "Indicateur"},
    build=build,
    texts=TEXT,
    slice=False,  # the KPI engine applies the filters on the KPI's own dimensions
    nav=False,
    param_docs={
        "rows_from": "first day of the rows behind the number, YYYY-MM-DD (default: from)",
        "rows_to": "last day of the rows behind the number, YYYY-MM-DD (default: to)",
    },
)
