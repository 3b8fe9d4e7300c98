"""Customers: renewals, logo and revenue retention, revenue per account, the cohorts' retention
(a heatmap: cohorts as rows, periods since acquisition as columns) and what acquiring them cost
(CAC per period, the cohorts' payback). Every figure is a KPI of the catalogue (docs/kpis.md,
"Customers"), computed by the KPI engine with the page's filters, each on its own dimensions."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import partial
from typing import Any

from salespilot.errors import ParameterError
from salespilot.server import charts, formats
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html

RETENTION = ("renewal_rate", "logo_retention", "net_revenue_retention", "gross_revenue_retention", "arpa")
COHORTS = "cohort_retention"
PAYBACK = "cohort_profitability"
CAC = "cac"
KPIS = (*RETENTION, COHORTS, CAC, PAYBACK)
FILTERS = ("channel", "segment")  # of the page's filters, those some customer KPI splits by
HEATMAP_COHORTS = 24  # the most recent cohorts drawn; the table holds them all
PARTIAL = "partial_period"

TEXT = {
    "en": {
        "retention": "Renewals and retention by period",
        "rates_chart": "Renewal rate and logo retention",
        "revenue_chart": "Net and gross revenue retention",
        "arpa_chart": "Average revenue per account",
        "full": "100%",
        "renewed": "Renewed",
        "ending": "Ending",
        "pending": "Pending",
        "by_value": "Renewal rate by value",
        "churned": "Churned",
        "active": "Active customers",
        "cohorts": "Cohort retention",
        "cohort": "Cohort",
        "since": "Periods since acquisition",
        "measured_on": "Measured on",
        "size": "Cohort size",
        "still_active": "Still active",
        "share": "Retention",
        "ci_low": "95% low",
        "ci_high": "95% high",
        "heat_month": "Share of each cohort still active, by months since acquisition",
        "heat_quarter": "Share of each cohort still active, by quarters since acquisition",
        "heat_year": "Share of each cohort still active, by years since acquisition",
        "partial_cells": "Outlined cells are partial periods, measured up to the data's last day ({day}).",
        "partial_period": "{period} is a partial period, measured up to the data's last day.",
        "recent": "The chart shows the {n} most recent cohorts; the table holds all {total}.",
        "cac": "Customer acquisition cost by period",
        "costs": "Acquisition costs",
        "new_customers": "New customers",
        "payback": "Payback by cohort",
        "payback_chart_month": "Months to pay back the acquisition costs",
        "payback_chart_quarter": "Quarters to pay back the acquisition costs",
        "payback_chart_year": "Years to pay back the acquisition costs",
        "payback_period": "Payback (periods)",
        "acquisition_cost": "Acquisition costs",
        "revenue": "Revenue to date",
        "profit": "Revenue to date minus costs",
        "not_paid": "A cohort without a payback has not yet won back its acquisition costs.",
        "scope_costs": (
            "Costs are the company's, not a rep's or a team's records: they are not in your scope, so "
            "the CAC and the payback cannot be computed in this view (they are left empty, not zero)."
        ),
        "no_costs": (
            "The data holds no acquisition costs for these periods: the CAC and the payback are left "
            "empty (import the costs table to get them)."
        ),
        "not_split": "{kpi} cannot be split by {dim}: clear that filter to see it.",
    },
    "fr": {
        "retention": "Renouvellements et rétention par période",
        "rates_chart": "Taux de renouvellement et rétention des clients",
        "revenue_chart": "Rétention nette et brute du revenu récurrent",
        "arpa_chart": "Revenu moyen par client",
        "full": "100 %",
        "renewed": "Renouvelés",
        "ending": "Arrivant à échéance",
        "pending": "En attente",
        "by_value": "Taux de renouvellement en valeur",
        "churned": "Perdus",
        "active": "Clients actifs",
        "cohorts": "Rétention par cohorte",
        "cohort": "Cohorte",
        "since": "Périodes depuis l'acquisition",
        "measured_on": "Mesuré le",
        "size": "Taille de la cohorte",
        "still_active": "Encore actifs",
        "share": "Rétention",
        "ci_low": "Borne basse 95 %",
        "ci_high": "Borne haute 95 %",
        "heat_month": "Part de chaque cohorte encore active, par mois depuis l'acquisition",
        "heat_quarter": "Part de chaque cohorte encore active, par trimestres depuis l'acquisition",
        "heat_year": "Part de chaque cohorte encore active, par années depuis l'acquisition",
        "partial_cells": (
            "Les cellules encadrées sont des périodes partielles, mesurées jusqu'au dernier jour des données ({day})."
        ),
        "partial_period": "{period} est une période partielle, mesurée jusqu'au dernier jour des données.",
        "recent": "Le graphique montre les {n} cohortes les plus récentes ; le tableau les contient toutes ({total}).",
        "cac": "Coût d'acquisition client par période",
        "costs": "Coûts d'acquisition",
        "new_customers": "Nouveaux clients",
        "payback": "Retour sur coût d'acquisition par cohorte",
        "payback_chart_month": "Mois pour couvrir les coûts d'acquisition",
        "payback_chart_quarter": "Trimestres pour couvrir les coûts d'acquisition",
        "payback_chart_year": "Années pour couvrir les coûts d'acquisition",
        "payback_period": "Retour (périodes)",
        "acquisition_cost": "Coûts d'acquisition",
        "revenue": "Chiffre d'affaires à date",
        "profit": "Chiffre d'affaires à date moins les coûts",
        "not_paid": "Une cohorte sans retour n'a pas encore couvert ses coûts d'acquisition.",
        "scope_costs": (
            "Les coûts sont ceux de l'entreprise, pas les enregistrements d'un commercial ou d'une équipe : "
            "ils ne sont pas dans votre périmètre, donc le CAC et le retour ne peuvent pas être calculés "
            "dans cette vue (ils restent vides, et non à zéro)."
        ),
        "no_costs": (
            "Les données ne contiennent aucun coût d'acquisition pour ces périodes : le CAC et le retour "
            "restent vides (importez la table des coûts pour les obtenir)."
        ),
        "not_split": "{kpi} ne peut pas être ventilé par {dim} : retirez ce filtre pour le voir.",
    },
}


def _flags(*rows: dict[str, Any] | None) -> list[str]:
    seen: list[str] = []
    for row in rows:
        for flag in (row or {}).get("flags") or []:
            if flag not in seen:
                seen.append(str(flag))
    return seen


def _compute(q: PageQuery) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The rows of each customer KPI, and for each KPI the page's filters cannot apply to, the
    filter it does not split by (such a KPI is left out rather than shown unfiltered)."""
    f = q.filters
    wrong = [d for d in f.dims if d not in FILTERS]
    if wrong:
        raise ParameterError(
            f"Parameter {wrong[0]}: the customers page cannot be filtered by {wrong[0]} "
            f"(its KPIs split by {' and '.join(FILTERS)})."
        )
    skipped: dict[str, str] = {}
    names = []
    for name in KPIS:
        kpi = q.ctx.catalogue.kpis[name]
        missing = next((d for d in f.dims if d not in kpi.dimensions), None)
        if missing is None:
            names.append(name)
        else:
            skipped[name] = missing
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in KPIS}
    if names:
        rows = q.ws.kpi(names, grain=f.grain, filters=dict(f.dims), start=f.start, end=f.end, output="rows")
        for row in rows:
            found[str(row["kpi"])].append(row)
    return found, skipped


def _notes(texts: Iterable[str]) -> str:
    return "".join(f'<p class="sp-note">{html.escape(t)}</p>' for t in texts if t)


def _skipped_notes(q: PageQuery, names: Iterable[str], skipped: dict[str, str]) -> list[str]:
    return [
        q.t["not_split"].format(kpi=q.ctx.catalogue.kpis[n].label(q.lang), dim=q.t[skipped[n]])
        for n in names
        if n in skipped
    ]


def _retention(q: PageQuery, found: dict[str, list[dict[str, Any]]], skipped: dict[str, str]) -> tuple[Table, str]:
    t, lang, cat = q.t, q.lang, q.ctx.catalogue.kpis
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for name in RETENTION:
        for row in found[name]:
            by.setdefault(str(row["period"]), {})[name] = row
    table = Table(
        "retention",
        t["retention"],
        [
            Column("period", t["period"], "period"),
            Column("renewal_rate", cat["renewal_rate"].label(lang), "rate"),
            Column("renewed", t["renewed"], "count"),
            Column("ending", t["ending"], "count"),
            Column("pending", t["pending"], "count"),
            Column("renewal_rate_by_value", t["by_value"], "rate"),
            Column("logo_retention", cat["logo_retention"].label(lang), "rate"),
            Column("churned", t["churned"], "count"),
            Column("net_revenue_retention", cat["net_revenue_retention"].label(lang), "rate"),  # 1.05 as 105 %
            Column("gross_revenue_retention", cat["gross_revenue_retention"].label(lang), "rate"),
            Column("arpa", cat["arpa"].label(lang), "currency"),
            Column("active_customers", t["active"], "count"),
            Column("flags", t["flags"], "flags"),
        ],
    )
    for period, kpis in by.items():
        renewal, logo, arpa = kpis.get("renewal_rate"), kpis.get("logo_retention"), kpis.get("arpa")
        table.rows.append(
            {
                "period": period,
                "renewal_rate": (renewal or {}).get("value"),
                "renewed": (renewal or {}).get("numerator"),
                "ending": (renewal or {}).get("denominator"),
                "pending": (renewal or {}).get("pending"),
                "renewal_rate_by_value": (renewal or {}).get("renewal_rate_by_value"),
                "logo_retention": (logo or {}).get("value"),
                "churned": (logo or {}).get("churned"),
                "net_revenue_retention": kpis.get("net_revenue_retention", {}).get("value"),
                "gross_revenue_retention": kpis.get("gross_revenue_retention", {}).get("value"),
                "arpa": (arpa or {}).get("value"),
                "active_customers": (arpa or {}).get("denominator"),
                "flags": _flags(*kpis.values()),
            }
        )
    labels = [formats.label_words(str(r["period"]), lang) for r in table.rows]

    def series(*names: str) -> dict[str, list[float | None]]:
        return {cat[n].label(lang): [r[n] for r in table.rows] for n in names if n not in skipped}

    charts_html = ""
    if labels:
        pct = partial(formats.percent, lang=lang)
        money = partial(formats.money, lang=lang, currency=q.currency)
        rates = series("renewal_rate", "logo_retention")
        revenue = series("net_revenue_retention", "gross_revenue_retention")
        arpa_series = series("arpa")
        if rates:
            charts_html += f"<h2>{t['rates_chart']}</h2>" + charts.line(labels, rates, t["rates_chart"], pct)
        if revenue:
            full = [1.0] * len(labels)
            charts_html += f"<h2>{t['revenue_chart']}</h2>" + charts.line(
                labels, revenue, t["revenue_chart"], pct, full, reference_label=t["full"]
            )
        if arpa_series:
            charts_html += f"<h2>{t['arpa_chart']}</h2>" + charts.line(labels, arpa_series, t["arpa_chart"], money)
    partial_periods = [r["period"] for r in table.rows if PARTIAL in r["flags"]]
    notes = _skipped_notes(q, RETENTION, skipped) + [
        t["partial_period"].format(period=formats.label_words(str(p), lang)) for p in partial_periods
    ]
    content = (
        '<section class="sp-section sp-customers-trends" id="trends">'
        + charts_html
        + _notes(notes)
        + "</section>"
        + to_html(table, lang, q.currency, q.export("retention", "customers"), q.filters.query)
    )
    return table, content


def _mark_partial(svg: str, cells: Iterable[tuple[str, str]]) -> str:
    """Outline the heatmap's partial cells (``(row, column)`` labels): their rect gets ``sp-partial``."""
    for row, col in cells:
        where = f'data-row="{html.escape(row, quote=True)}" data-col="{html.escape(col, quote=True)}"'
        pattern = re.compile(r'<rect class="sp-cell ([^"]*)"([^>]*? ' + re.escape(where) + ")")
        svg = pattern.sub(r'<rect class="sp-cell \1 sp-partial"\2', svg, count=1)
    return svg


def _cohorts(q: PageQuery, found: dict[str, list[dict[str, Any]]], skipped: dict[str, str]) -> tuple[Table, str]:
    t, lang, grain = q.t, q.lang, q.filters.grain
    table = Table(
        "cohorts",
        t["cohorts"],
        [
            Column("cohort", t["cohort"]),
            Column("periods_since", t["since"], "count"),
            Column("measured_on", t["measured_on"], "date"),
            Column("cohort_size", t["size"], "count"),
            Column("active", t["still_active"], "count"),
            Column("retention", t["share"], "rate"),
            Column("ci_low", t["ci_low"], "rate"),
            Column("ci_high", t["ci_high"], "rate"),
            Column("flags", t["flags"], "flags"),
        ],
    )
    grid: dict[str, list[float | None]] = {}
    partial_cells: list[tuple[str, str]] = []
    for row in found[COHORTS]:
        since = row.get("periods_since")
        if since is None:  # a period without any customer acquired: no cohort
            continue
        cohort = str(row["period"])
        table.rows.append(
            {
                "cohort": cohort,
                "periods_since": since,
                "measured_on": row.get("measured_on"),
                "cohort_size": row.get("cohort_size"),
                "active": row.get("active"),
                "retention": row.get("value"),
                "ci_low": row.get("ci_low"),
                "ci_high": row.get("ci_high"),
                "flags": _flags(row),
            }
        )
        cells = grid.setdefault(cohort, [])
        cells.extend([None] * (int(since) + 1 - len(cells)))
        cells[int(since)] = row.get("value")
        if PARTIAL in (row.get("flags") or []):
            partial_cells.append((cohort, str(since)))
    shown = list(grid)[-HEATMAP_COHORTS:]
    width = max((len(grid[c]) for c in shown), default=0)
    label = t[f"heat_{grain}"]
    chart = charts.heatmap(
        shown,
        [str(i) for i in range(width)],
        [grid[c] for c in shown],
        label,
        partial(formats.percent, lang=lang, decimals=0),
    )
    chart = _mark_partial(chart, [cell for cell in partial_cells if cell[0] in shown])
    days = sorted({str(r["measured_on"]) for r in table.rows if PARTIAL in r["flags"] and r["measured_on"]})
    notes = _skipped_notes(q, [COHORTS], skipped)
    if days:
        notes.append(t["partial_cells"].format(day=formats.date(formats.day(days[-1]), lang)))
    if len(grid) > len(shown):
        notes.append(t["recent"].format(n=len(shown), total=len(grid)))
    content = (
        f'<section class="sp-section sp-customers-cohorts" id="heatmap"><h2>{label}</h2>'
        f'<div class="sp-scroll">{chart}</div>{_notes(notes)}</section>'
        + to_html(table, lang, q.currency, q.export("cohorts", "customers"), q.filters.query)
    )
    return table, content


def _acquisition(
    q: PageQuery, found: dict[str, list[dict[str, Any]]], skipped: dict[str, str]
) -> tuple[list[Table], str, dict[str, Any]]:
    t, lang, grain = q.t, q.lang, q.filters.grain
    cat = q.ctx.catalogue.kpis
    cac_rows = found[CAC]
    # The KPI divides costs by new customers; a period without any cost row gives 0, which is
    # not a cost of acquisition: it is left empty (flag no_costs), as a scope without costs is.
    cac = Table(
        "cac",
        t["cac"],
        [
            Column("period", t["period"], "period"),
            Column("costs", t["costs"], "currency"),
            Column("new_customers", t["new_customers"], "count"),
            Column("cac", cat[CAC].label(lang), "currency"),
            Column("flags", t["flags"], "flags"),
        ],
    )
    for row in cac_rows:
        costless = not row.get("numerator")
        flags = _flags(row)
        cac.rows.append(
            {
                "period": str(row["period"]),
                "costs": None if costless else row.get("numerator"),
                "new_customers": row.get("denominator"),
                "cac": None if costless else row.get("value"),
                "flags": flags + (["no_costs"] if costless and "no_costs" not in flags else []),
            }
        )
    cac_by_period = {r["period"]: r["cac"] for r in cac.rows}
    payback = Table(
        "payback",
        t["payback"],
        [
            Column("cohort", t["cohort"]),
            Column("cohort_size", t["size"], "count"),
            Column("acquisition_cost", t["acquisition_cost"], "currency"),
            Column("cac", cat[CAC].label(lang), "currency"),
            Column("revenue", t["revenue"], "currency"),
            Column("profit", t["profit"], "currency"),
            Column("payback_period", t["payback_period"], "count"),
            Column("flags", t["flags"], "flags"),
        ],
    )
    last: dict[str, dict[str, Any]] = {}
    for row in found[PAYBACK]:
        if row.get("periods_since") is not None:
            last[str(row["period"])] = row  # the rows of a cohort come in order: keep its latest
    for cohort, row in last.items():
        costless = "no_costs" in (row.get("flags") or [])
        payback.rows.append(
            {
                "cohort": cohort,
                "cohort_size": row.get("cohort_size"),
                "acquisition_cost": None if costless else row.get("acquisition_cost"),
                "cac": cac_by_period.get(cohort),
                "revenue": row.get("revenue"),
                "profit": None if costless else row.get("value"),
                "payback_period": None if costless else row.get("payback_period"),
                # "to date" is the data's last day: the partial period of the latest row goes without saying
                "flags": [f for f in _flags(row) if f != PARTIAL],
            }
        )
    has_costs = any(r["costs"] is not None for r in cac.rows) or any(
        r["acquisition_cost"] is not None for r in payback.rows
    )
    in_scope = q.viewer.user.role in ("rep", "manager")
    notes = _skipped_notes(q, [CAC, PAYBACK], skipped)
    costs_note = None
    if not has_costs and CAC not in skipped:
        costs_note = t["scope_costs"] if in_scope else t["no_costs"]
    body = ""
    if costs_note:
        body += f'<p class="sp-note sp-costs-note" id="costs-note">{html.escape(costs_note)}</p>'
    else:
        money = partial(formats.money, lang=lang, currency=q.currency)
        labels = [formats.label_words(str(r["period"]), lang) for r in cac.rows]
        if labels and CAC not in skipped:
            body += f"<h2>{html.escape(cat[CAC].label(lang))}</h2>" + charts.line(
                labels, {cat[CAC].label(lang): [r["cac"] for r in cac.rows]}, cat[CAC].label(lang), money
            )
        if payback.rows:
            title = t[f"payback_chart_{grain}"]
            body += f"<h2>{title}</h2>" + charts.bars(
                [r["cohort"] for r in payback.rows[-HEATMAP_COHORTS:]],
                [r["payback_period"] for r in payback.rows[-HEATMAP_COHORTS:]],
                title,
                partial(formats.number, lang=lang),
            )
            notes.append(t["not_paid"])
    content = (
        f'<section class="sp-section sp-customers-acquisition" id="acquisition">{body}{_notes(notes)}</section>'
        + to_html(cac, lang, q.currency, q.export("cac", "customers"), q.filters.query)
        + to_html(payback, lang, q.currency, q.export("payback", "customers"), q.filters.query)
    )
    data = {"costs": "available" if has_costs else ("out_of_scope" if in_scope else "none"), "note": costs_note}
    return [cac, payback], content, data


def build(q: PageQuery) -> View:
    found, skipped = _compute(q)
    retention, trends = _retention(q, found, skipped)
    cohorts, heatmap = _cohorts(q, found, skipped)
    acquisition, costs, data = _acquisition(q, found, skipped)
    content = f'<main class="sp-main sp-customers">{trends}{heatmap}{costs}</main>'
    return View(
        content,
        [retention, cohorts, *acquisition],
        {"grain": q.filters.grain, "skipped": skipped, **data},
    )


PAGE = Page(
    name="customers",
    path="/customers",
    title={"en": "Customers", "fr": "Clients"},
    build=build,
    texts=TEXT,
    filters=FILTERS,
    slice=False,  # the KPI engine applies the filters itself, each KPI on its own dimensions
)
