"""One KPI, opened by a click on its number: its definition, its values by period (with the
numerator, the denominator and the 95% interval), a trend chart, and the rows behind it over
the chosen range (``rows_from``/``rows_to``: the period clicked; else the filters' range)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from salespilot.errors import NoRowsBehind, ParameterError
from salespilot.server import charts, formats, words
from salespilot.server.filters import GRAINS, kpi_dims
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html

TEXT = {
    "en": {
        "rows_of": "Counted records",
        "no_rows": "none: this KPI is computed from several tables at once (customers, contracts, cohorts), "
        "so no single list of records adds up to it",
        "by_grain": "Shown by {grain}: this KPI is only defined by {grains}.",
        "grain_week": "week",
        "grain_all": "the whole range",
        "or": "or",
        "periods_since": "periods since acquisition",
        "of": "of",
        "source": "Source",
        "unit_count": "count",
        "unit_currency": "amount (base currency)",
        "unit_days": "days",
        "unit_rate": "rate",
        "unit_ratio": "ratio",
        "unit_months": "months",
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
        "no_rows": "aucun : cet indicateur est calculé sur plusieurs tables à la fois (clients, contrats, "
        "cohortes), aucune liste unique d'enregistrements ne s'additionne pour le donner",
        "by_grain": "Affiché par {grain} : cet indicateur n'est défini que par {grains}.",
        "grain_week": "semaine",
        "grain_all": "toute la période",
        "or": "ou",
        "periods_since": "périodes depuis l'acquisition",
        "of": "sur",
        "source": "Source",
        "unit_count": "nombre",
        "unit_currency": "montant (devise de référence)",
        "unit_days": "jours",
        "unit_rate": "taux",
        "unit_ratio": "ratio",
        "unit_months": "mois",
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
    grain, note = _grain(kpi.grains, f.grain, t)
    series = q.ws.kpi([name], grain=grain, filters=dims, start=f.start, end=f.end, output="rows")
    unit = kpi.unit
    cohorts = any("periods_since" in r for r in series)  # a cohort KPI: a row per cohort and age
    table = Table(
        "series",
        t["series"],
        [
            Column("period", t["period"], "period"),
            *([Column("periods_since", t["periods_since"], "number")] if cohorts else []),
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
    try:
        behind = q.ws.kpi_rows(name, filters=dims, start=rows_from, end=rows_to, limit=500)
    except NoRowsBehind:  # a retention, a cohort: the figures without rows
        behind = {}
    found = list(behind.get("rows", []))
    reps = q.rep_names if found and ({"rep", "owner_id"} & set(found[0])) else {}
    columns = [_column(k, found[0][k], lang, reps) for k in found[0]] if found else []
    rows_table = Table("rows", t["rows"], columns, found, total=behind.get("total"))
    if cohorts:
        chart = _cohort_chart(series, kpi.label(lang), lambda v: formats.value(v, unit, lang, q.currency), t, lang)
    else:
        targets = [r.get("target") for r in series]
        chart = charts.line(
            [formats.label_words(str(r["period"]), lang) for r in series],
            {kpi.label(lang): [r.get("value") for r in series]},
            kpi.label(lang),
            lambda v: formats.value(v, unit, lang, q.currency),
            targets if any(v is not None for v in targets) else None,
            reference_label=t["target"],
        )
    span = " – ".join(formats.date(d, lang) for d in (rows_from, rows_to) if d)
    counted = (
        f"{html.escape(_counted(q, str(behind.get('rows_of', ''))))} "
        f"({formats.number(len(found), lang)} {t['of']} {formats.number(behind.get('total'), lang)})"
        f"{' · ' + html.escape(span) if span else ''}"
        if behind
        else html.escape(t["no_rows"])
    )
    dimensions = ", ".join(t.get(f"dim_{d}", d) for d in kpi.dimensions)  # in the user's language
    definition = (
        f'<section class="sp-section" id="definition"><h1>{html.escape(kpi.label(lang))}</h1>'
        f"<p>{html.escape(kpi.describe(lang))}</p><dl>"
        f"<dt>{t['unit']}</dt><dd>{html.escape(t.get(f'unit_{unit}', unit))}</dd>"
        f"<dt>{t['dimensions']}</dt><dd>{html.escape(dimensions or '–')}</dd>"
        f"<dt>{t['rows_of']}</dt><dd>{counted}</dd></dl>"
        + (f'<p class="sp-note" id="grain-note">{html.escape(note)}</p>' if note else "")
        + "</section>"
    )
    query = urlencode({"kpi": name}) + (f"&{q.filters.query}" if q.filters.query else "")
    content = (
        definition
        + chart
        + to_html(table, lang, q.currency, "/export/kpi/series", query)
        + (to_html(rows_table, lang, q.currency, "/export/kpi/rows", query) if behind else "")
    )
    tables = [table, rows_table] if behind else [table]
    return View(content, tables, {"kpi": name, "rows_of": behind.get("rows_of"), "grain": grain})


KINDS = {
    "stage": "stage",
    "outcome": "outcome",
    "segment": "segment",
    "channel": "channel",
    "type": "deal_type",
    "forecast_category": "forecast_category",
}


def _column(key: str, sample: Any, lang: str, reps: Mapping[str, str]) -> Column:
    """A column of the rows behind a KPI, headed in the user's words, its codes shown as words
    (reps by name)."""
    unit = "date" if isinstance(sample, dt.date) else "number" if isinstance(sample, float) else "text"
    shown = reps if key in ("rep", "owner_id") else words.of(KINDS[key], lang) if key in KINDS else None
    return Column(key, words.word("column", key, lang), unit, shown)


def _counted(q: PageQuery, name: str) -> str:
    """What the rows are (the KPI they count, in the user's words)."""
    kpi = q.ctx.catalogue.kpis.get(name)
    return kpi.label(q.lang) if kpi is not None else name


def _cohort_chart(
    series: list[dict[str, Any]], label: str, fmt: Callable[[Any], str], t: dict[str, str], lang: str
) -> str:
    """One line per cohort (the last six) over the periods since its acquisition."""
    cohorts: dict[str, dict[int, Any]] = {}
    for r in series:
        cohorts.setdefault(str(r["period"]), {})[int(r.get("periods_since") or 0)] = r.get("value")
    shown = dict(sorted(cohorts.items())[-6:])
    ages = range(max((a for c in shown.values() for a in c), default=-1) + 1)
    lines = {formats.label_words(period, lang): [values.get(a) for a in ages] for period, values in shown.items()}
    return charts.line([str(a) for a in ages], lines, f"{label} · {t['periods_since']}", fmt)


def _grain(allowed: tuple[str, ...] | None, asked: str, t: dict[str, str]) -> tuple[str, str]:
    """The grain to show a KPI by: the one asked, else the nearest it is defined by (market size
    is yearly), with a note saying so."""
    if allowed is None or asked in allowed:
        return asked, ""
    order = ("day", "week", *GRAINS, "all")
    choices = [g for g in allowed if g in order]
    # the nearest grain, the coarser of two as near (a month asked of a yearly KPI: the year)
    grain = min(choices, key=lambda g: (abs(order.index(g) - order.index(asked)), -order.index(g)))

    def named(g: str) -> str:  # month, quarter, year: the filter bar's words (layout.TEXT)
        return t.get(f"grain_{g}") or t.get(g, g)

    return grain, t["by_grain"].format(grain=named(grain), grains=f" {t['or']} ".join(named(g) for g in allowed))


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
