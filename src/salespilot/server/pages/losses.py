"""Losses and qualification: what the lost deals cost, grouped by reason (with the lever to pull),
stage, competitor, rep or segment (``?by=``); and whether qualifying a deal fully pays: win rate
and cycle of fully vs partly qualified deals, the effect of each qualification field with its
95% interval, each rep's share of fully qualified opportunities over the window, and the late-stage open deals
still missing fields. Lost deals are dated by their close date, opportunities by their creation."""

from __future__ import annotations

import html
from typing import Any

from salespilot.server import charts, formats, words
from salespilot.server.pages import Page, PageQuery, View, choice, switch
from salespilot.server.tables import Column, Table, to_html

GROUPINGS = ("reason", "stage", "competitor", "rep", "segment")
REASONS = ("bad_target", "no_pain", "no_fit", "competitor", "budget", "timing", "no_decision", "other")
FIELDS = ("pain_point", "objective", "success_criteria", "competition", "budget", "decision_date")
CHART_BARS = 12

TEXT = {
    "en": {
        "by": "Group by",
        "by_reason": "reason",
        "by_stage": "stage at close",
        "by_competitor": "competitor",
        "by_rep": "rep",
        "by_segment": "segment",
        "lost_value_by": "Lost value by {by}",
        "losses": "Losses by period",
        "show_rows": "Show the {n} rows",
        "window": "Totals over the chosen dates",
        "lost": "Lost deals",
        "lost_value": "Lost value",
        "share_of_lost": "Share of lost",
        "share_of_lost_value": "Share of lost value",
        "lever": "Lever",
        "texts": "Reasons as written",
        "won": "Won",
        "closed": "Closed",
        "win_rate": "Win rate",
        "ci_low": "95% low",
        "ci_high": "95% high",
        "top_reason": "Main loss reason",
        "total_lost": "{n} lost deals, {value} in all",
        "undated": "{n} lost deals have no close date and are left out.",
        "qualification": "Qualification",
        "comparison": "Fully vs partly qualified (closed deals)",
        "qualified": "Qualification",
        "fully": "fully qualified",
        "partly": "partly qualified",
        "cycle": "Median cycle of won (days)",
        "effects": "Effect of each field on the win rate",
        "effect_chart": "Win rate with the field filled minus without (points)",
        "field": "Field",
        "filled_win_rate": "Win rate, filled",
        "empty_win_rate": "Win rate, empty",
        "difference": "Difference",
        "by_rep_table": "Fully qualified opportunities per rep",
        "opportunities": "Opportunities",
        "fully_qualified": "Fully qualified",
        "share": "Share",
        "late": "Open deals at {stage} or later, not fully qualified",
        "deal": "Deal",
        "owner": "Owner",
        "stage": "Stage",
        "value": "Value",
        "currency": "Currency",
        "missing": "Missing fields",
        "reason_bad_target": "bad target",
        "reason_no_pain": "no pain",
        "reason_no_fit": "no fit",
        "reason_competitor": "lost to a competitor",
        "reason_budget": "budget",
        "reason_timing": "timing",
        "reason_no_decision": "no decision",
        "reason_other": "other",
        "lever_bad_target": "lead generation targeting",
        "lever_no_pain": "discovery and qualification",
        "lever_no_fit": "product",
        "lever_competitor": "positioning, competitive intelligence",
        "lever_budget": "pricing, budget qualification",
        "field_pain_point": "pain point",
        "field_objective": "objective",
        "field_success_criteria": "success criteria",
        "field_competition": "competition",
        "field_budget": "budget",
        "field_decision_date": "decision date",
    },
    "fr": {
        "by": "Regrouper par",
        "by_reason": "motif",
        "by_stage": "étape à la clôture",
        "by_competitor": "concurrent",
        "by_rep": "commercial",
        "by_segment": "segment",
        "lost_value_by": "Valeur perdue par {by}",
        "losses": "Pertes par période",
        "show_rows": "Afficher les {n} lignes",
        "window": "Totaux sur les dates choisies",
        "lost": "Affaires perdues",
        "lost_value": "Valeur perdue",
        "share_of_lost": "Part des pertes",
        "share_of_lost_value": "Part de la valeur perdue",
        "lever": "Levier",
        "texts": "Motifs tels que saisis",
        "won": "Gagnées",
        "closed": "Clôturées",
        "win_rate": "Taux de gain",
        "ci_low": "Borne basse 95 %",
        "ci_high": "Borne haute 95 %",
        "top_reason": "Premier motif de perte",
        "total_lost": "{n} affaires perdues, {value} au total",
        "undated": "{n} affaires perdues n'ont pas de date de clôture et sont écartées.",
        "qualification": "Qualification",
        "comparison": "Entièrement ou partiellement qualifiées (affaires clôturées)",
        "qualified": "Qualification",
        "fully": "entièrement qualifiées",
        "partly": "partiellement qualifiées",
        "cycle": "Cycle médian des gagnées (jours)",
        "effects": "Effet de chaque champ sur le taux de gain",
        "effect_chart": "Taux de gain avec le champ rempli moins sans (points)",
        "field": "Champ",
        "filled_win_rate": "Taux de gain, rempli",
        "empty_win_rate": "Taux de gain, vide",
        "difference": "Écart",
        "by_rep_table": "Opportunités entièrement qualifiées par commercial",
        "opportunities": "Opportunités",
        "fully_qualified": "Entièrement qualifiées",
        "share": "Part",
        "late": "Affaires ouvertes à l'étape {stage} ou au-delà, pas entièrement qualifiées",
        "deal": "Affaire",
        "owner": "Responsable",
        "stage": "Étape",
        "value": "Valeur",
        "currency": "Devise",
        "missing": "Champs manquants",
        "reason_bad_target": "mauvaise cible",
        "reason_no_pain": "pas de besoin",
        "reason_no_fit": "produit inadapté",
        "reason_competitor": "perdue face à un concurrent",
        "reason_budget": "budget",
        "reason_timing": "calendrier",
        "reason_no_decision": "pas de décision",
        "reason_other": "autre",
        "lever_bad_target": "ciblage de la génération de leads",
        "lever_no_pain": "découverte et qualification",
        "lever_no_fit": "produit",
        "lever_competitor": "positionnement, veille concurrentielle",
        "lever_budget": "prix, qualification du budget",
        "field_pain_point": "problème",
        "field_objective": "objectif",
        "field_success_criteria": "critères de succès",
        "field_competition": "concurrence",
        "field_budget": "budget",
        "field_decision_date": "date de décision",
    },
}


def _label(t: dict[str, str], kind: str, code: str) -> str:
    """A taxonomy code in the user's language (a code the taxonomy does not know stays as written)."""
    return t.get(f"{kind}_{code}", code)


def _loss_table(q: PageQuery, by: str, name: str, title: str, rows: list[dict[str, Any]]) -> Table:
    t = q.t
    columns = [Column("period", t["period"], "period")] if name == "losses" else []
    columns += [
        Column(by, t[f"by_{by}"].capitalize()),
        Column("lost", t["lost"], "count"),
        Column("lost_value", t["lost_value"], "currency"),
        Column("share_of_lost", t["share_of_lost"], "rate"),
        Column("share_of_lost_value", t["share_of_lost_value"], "rate"),
    ]
    if by == "reason":
        columns += [Column("lever", t["lever"]), Column("texts", t["texts"])]
    elif by != "stage":
        columns += [
            Column("won", t["won"], "count"),
            Column("closed", t["closed"], "count"),
            Column("win_rate", t["win_rate"], "rate"),
            Column("ci_low", t["ci_low"], "rate"),
            Column("ci_high", t["ci_high"], "rate"),
        ]
        if by != "competitor":
            columns.append(Column("top_reason", t["top_reason"]))
    shown = []
    for r in rows:
        row = dict(r)
        if by == "reason":
            row["reason"] = _label(t, "reason", str(r["reason"]))
            if r.get("lever"):
                row["lever"] = t.get(f"lever_{r['reason']}", r["lever"])
            row["texts"] = "; ".join(f"{x['text']} ({x['count']})" for x in r.get("texts", []))
        if row.get("top_reason") is not None:
            row["top_reason"] = _label(t, "reason", str(row["top_reason"]))
        shown.append(row)
    return Table(name, title, columns, shown)


def _losses(q: PageQuery, by: str) -> tuple[str, list[Table], dict[str, Any]]:
    t, lang, f = q.t, q.lang, q.filters
    window = q.ws.losses(by=by, grain="all", start=f.start, end=f.end)
    periods = q.ws.losses(by=by, grain=f.grain, start=f.start, end=f.end)
    title = t["lost_value_by"].format(by=t[f"by_{by}"])
    summary = _loss_table(q, by, "summary", t["window"], window["rows"])
    by_period = _loss_table(q, by, "losses", t["losses"], periods["rows"])
    top = summary.rows[:CHART_BARS]  # the engine sorts by lost value, largest first
    chart = charts.bars(
        [str(r[by]) for r in top],
        [float(r["lost_value"] or 0.0) for r in top],
        title,
        lambda v: formats.compact_money(v, lang, q.currency),
        empty=t["empty"],
    )
    money = formats.money(window["lost_value"], lang, q.currency)
    total = t["total_lost"].format(n=formats.number(window["lost"], lang), value=money)
    if window.get("undated_lost"):
        total += " " + t["undated"].format(n=formats.number(window["undated_lost"], lang))
    fold = t["show_rows"].format(n=formats.number(len(by_period.rows), lang))
    html_part = (
        f'<section class="sp-section" id="losses-chart"><h2>{html.escape(title)}</h2>'
        f'<p class="sp-note" id="losses-total">{html.escape(total)}</p>{chart}</section>'
        + to_html(summary, lang, q.currency, q.export("summary", "losses"), q.filters.query)
        + to_html(by_period, lang, q.currency, q.export("losses", "losses"), q.filters.query, folded=fold)
    )
    data = {key: window[key] for key in ("lost", "lost_value", "undated_lost")} | {"by": by}
    return html_part, [summary, by_period], data


def _qualification(q: PageQuery) -> tuple[str, list[Table], dict[str, Any]]:
    t, lang, f = q.t, q.lang, q.filters
    result = q.ws.qualification(grain="all", start=f.start, end=f.end)
    comparison = Table(
        "comparison",
        t["comparison"],
        [
            Column("qualified", t["qualified"]),
            Column("closed", t["closed"], "count"),
            Column("won", t["won"], "count"),
            Column("win_rate", t["win_rate"], "rate"),
            Column("ci_low", t["ci_low"], "rate"),
            Column("ci_high", t["ci_high"], "rate"),
            Column("cycle_median_days", t["cycle"], "days"),
        ],
        [{**r, "qualified": t[str(r["qualified"])]} for r in result["comparison"]],
    )
    effects = Table(
        "effects",
        t["effects"],
        [
            Column("field", t["field"]),
            Column("filled_closed", f"{t['closed']} ({t['filled_win_rate']})", "count"),
            Column("filled_win_rate", t["filled_win_rate"], "rate"),
            Column("empty_closed", f"{t['closed']} ({t['empty_win_rate']})", "count"),
            Column("empty_win_rate", t["empty_win_rate"], "rate"),
            Column("difference", t["difference"], "rate"),
            Column("ci_low", t["ci_low"], "rate"),
            Column("ci_high", t["ci_high"], "rate"),
        ],
        [{**r, "field": _label(t, "field", str(r["field"]))} for r in result["fields_effect"]],
    )
    by_rep = Table(
        "by_rep",
        t["by_rep_table"],
        [
            Column("rep", t["by_rep"].capitalize(), words=q.rep_names),
            Column("opportunities", t["opportunities"], "count"),
            Column("fully_qualified", t["fully_qualified"], "count"),
            Column("share", t["share"], "rate"),
            Column("ci_low", t["ci_low"], "rate"),
            Column("ci_high", t["ci_high"], "rate"),
        ],
        [dict(r) for r in result["by_rep"]],
    )
    stage = result.get("late_stage") or ""
    late = Table(
        "late",
        t["late"].format(stage=words.word("stage", stage, q.lang)),
        [
            Column("opportunity_id", t["deal"]),
            Column("owner", t["owner"], words=q.rep_names),
            Column("stage", t["stage"], words=words.of("stage", q.lang)),
            Column("value", t["value"], "money"),
            Column("currency", t["currency"], shown=False),
            Column("missing", t["missing"]),
        ],
        [{**r, "missing": ", ".join(_label(t, "field", m) for m in r["missing"])} for r in result["late_unqualified"]],
    )
    shown = [r for r in result["fields_effect"] if r["difference"] is not None]
    chart = charts.bars(
        [_label(t, "field", str(r["field"])) for r in shown],
        [float(r["difference"]) * 100 for r in shown],
        t["effect_chart"],
        lambda v: formats.number(v, lang, 1),
        highlight=[r["ci_high"] is not None and r["ci_high"] < 0 for r in shown],
        empty=t["empty"],
    )
    tables = [comparison, effects, by_rep, late]
    parts = "".join(
        to_html(x, lang, q.currency, q.export(x.name, "losses"), q.filters.query, limit=25 if x is late else 200)
        for x in tables
    )
    html_part = (
        f'<section class="sp-section" id="qualification"><h2>{t["qualification"]}</h2>'
        f"<h3>{html.escape(t['effect_chart'])}</h3>{chart}{parts}</section>"
    )
    return html_part, tables, {"late_stage": result.get("late_stage"), "fields": list(result["fields"])}


def build(q: PageQuery) -> View:
    by = choice(q, "by", GROUPINGS, "reason")
    loss_html, loss_tables, loss_data = _losses(q, by)
    qual_html, qual_tables, qual_data = _qualification(q)
    content = switch(q, "by", GROUPINGS, by, "by_") + loss_html + qual_html
    return View(content, [*loss_tables, *qual_tables], {**loss_data, **qual_data})


PAGE = Page(
    name="losses",
    path="/losses",
    title={"en": "Losses", "fr": "Pertes"},
    build=build,
    texts=TEXT,
    params=("by",),
    param_docs={"by": "reason (default), stage, competitor, rep or segment"},
)
