"""The forecast: the bookings expected over the horizon (this month, this quarter or the next 90
days) with their P10-P90 range (``Workspace.forecast``, docs/forecast.md), next to the naive
weighted pipeline and the run rate; the reps' forecast categories against what we expect of
them; the forecast per rep or team; the open deals that weigh most. On request (``?track=1``)
its backtest: the forecast replayed at the start of each past period from the store as it
then stood, against what was booked (``Workspace.backtest``), with each method's error.

The filters slice the deals like every page (the rep, team, channel, segment lenses), so a
manager's forecast holds their team's deals only."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from salespilot.errors import ParameterError
from salespilot.server import charts, formats, words
from salespilot.server.flags import one as flag_words
from salespilot.server.pages import Page, PageQuery, View, choice, switch
from salespilot.server.tables import Column, Table, to_html

HORIZONS = ("90-days", "month", "quarter")
GROUPS = ("rep", "team")
SIMULATIONS = 10_000
TRACK_SIMULATIONS = 2_000
SHOWN_DEALS = 100  # in the view (JSON, exports)
SHOWN_ROWS = 25  # on the page
METHODS = ("forecast", "weighted_pipeline", "run_rate")

TEXT = {
    "en": {
        "horizon": "Horizon",
        "h_month": "this month",
        "h_quarter": "this quarter",
        "h_90-days": "next 90 days",
        "by": "Per",
        "by_rep": "rep",
        "by_team": "team",
        "bookings": "Bookings from {start} to {end} (data up to {now})",
        "learnt_here": "Learnt from the deals in this view only (your scope and the filters): a rep's figures "
        "here differ from their row of the company's forecast by rep, which learns from every deal.",
        "expected": "Expected",
        "range": "P10 – P90",
        "already_won": "Already won",
        "open_deals": "Open deals",
        "new_pipeline": "From deals not yet created",
        "weighted_pipeline": "Weighted pipeline",
        "run_rate": "Run rate",
        "forecast": "Forecast",
        "methods_chart": "Our range (bar P10 to P90, mark: expected) next to the simple methods",
        "history": "Learnt from {n} closed deals, {sims} simulations.",
        "fx_note": "Open deals are valued at the latest exchange rate, won deals at their close day's "
        "(as on the losses and the KPI pages), so a deal in another currency may show two values.",
        "categories": "Against the reps' forecast categories",
        "category": "Category",
        "none": "(none)",
        "deals": "Deals",
        "value": "Value",
        "expected_share": "Share expected",
        "groups": "Per {by}",
        "rep": "Rep",
        "team": "Team",
        "deal_table": "Open deals that weigh most",
        "deal": "Deal",
        "owner": "Owner",
        "stage": "Stage",
        "segment": "Segment",
        "probability": "Won within the horizon",
        "expected_value": "Expected value",
        "forecast_category": "Forecast category",
        "track": "Backtest: the forecast's track record",
        "show_track": "Show the backtest (the forecast replayed on each past month: takes a few seconds)",
        "track_chart": "Each month: the forecast's P10-P90 range (bar) and what was booked (mark)",
        "coverage": "What was booked fell inside the P10-P90 range in {share} of {n} months "
        "(about 80% when calibrated).",
        "periods": "Forecast and bookings by month",
        "as_of": "Made on",
        "actual": "Booked",
        "in_range": "In range",
        "yes": "yes",
        "no": "no",
        "methods": "Error of each method",
        "method": "Method",
        "mape": "Mean absolute % error",
        "bias": "Bias",
        "mae": "Mean absolute error",
        "no_track": "Not enough history to replay the forecast on a past month.",
    },
    "fr": {
        "horizon": "Horizon",
        "h_month": "ce mois-ci",
        "h_quarter": "ce trimestre",
        "h_90-days": "90 prochains jours",
        "by": "Par",
        "by_rep": "commercial",
        "by_team": "équipe",
        "bookings": "Signatures du {start} au {end} (données jusqu'au {now})",
        "learnt_here": "Appris sur les seules affaires de cette vue (votre périmètre et les filtres) : les chiffres "
        "d'un commercial ici diffèrent de sa ligne dans la prévision de l'entreprise par commercial, qui apprend "
        "de toutes les affaires.",
        "expected": "Attendu",
        "range": "P10 – P90",
        "already_won": "Déjà gagné",
        "open_deals": "Affaires ouvertes",
        "new_pipeline": "Des affaires pas encore créées",
        "weighted_pipeline": "Pipeline pondéré",
        "run_rate": "Rythme courant",
        "forecast": "Prévision",
        "methods_chart": "Notre fourchette (barre P10 à P90, repère : attendu) à côté des méthodes simples",
        "history": "Appris sur {n} affaires closes, {sims} simulations.",
        "fx_note": "Les affaires ouvertes sont valorisées au dernier taux de change, les affaires gagnées au "
        "taux de leur jour de clôture (comme sur les pages des pertes et des indicateurs) : une affaire "
        "dans une autre devise peut donc afficher deux valeurs.",
        "categories": "Face aux catégories de prévision des commerciaux",
        "category": "Catégorie",
        "none": "(aucune)",
        "deals": "Affaires",
        "value": "Valeur",
        "expected_share": "Part attendue",
        "groups": "Par {by}",
        "rep": "Commercial",
        "team": "Équipe",
        "deal_table": "Affaires ouvertes qui pèsent le plus",
        "deal": "Affaire",
        "owner": "Responsable",
        "stage": "Étape",
        "segment": "Segment",
        "probability": "Gagnée dans l'horizon",
        "expected_value": "Valeur attendue",
        "forecast_category": "Catégorie de prévision",
        "track": "Test rétrospectif : la fiabilité de la prévision",
        "show_track": "Afficher le test rétrospectif (la prévision rejouée sur chaque mois passé : quelques secondes)",
        "track_chart": "Chaque mois : la fourchette P10-P90 de la prévision (barre) et ce qui a été signé (repère)",
        "coverage": "Le signé est tombé dans la fourchette P10-P90 {share} des {n} mois "
        "(environ 80 % si elle est calibrée).",
        "periods": "Prévision et signatures par mois",
        "as_of": "Faite le",
        "actual": "Signé",
        "in_range": "Dans la fourchette",
        "yes": "oui",
        "no": "non",
        "methods": "Erreur de chaque méthode",
        "method": "Méthode",
        "mape": "Erreur absolue moyenne en %",
        "bias": "Biais",
        "mae": "Erreur absolue moyenne",
        "no_track": "Pas assez d'historique pour rejouer la prévision sur un mois passé.",
    },
}


def _card(title: str, text: str, raw: float | None, note: str = "") -> str:
    small = f"<small>{html.escape(note)}</small>" if note else ""
    return (
        f'<article class="sp-card"><h2>{html.escape(title)}</h2>'
        f'<p class="sp-number" data-value="{"" if raw is None else raw}">{html.escape(text)}</p>{small}</article>'
    )


def _forecast(q: PageQuery, horizon: str, by: str) -> tuple[str, list[Table], dict[str, Any]]:
    t, lang, cur = q.t, q.lang, q.currency
    result = q.ws.forecast(horizon, by=by, simulations=SIMULATIONS)

    def money(v: float | None) -> str:
        return formats.money(v, lang, cur)

    heading = t["bookings"].format(
        start=formats.date(formats.day(result["from"]), lang),
        end=formats.date(formats.day(result["to"]), lang),
        now=formats.date(formats.day(result["now"][:10]), lang),
    )
    cards = "".join(
        (
            _card(t["expected"], money(result["expected"]), result["expected"], f"P50 {money(result['p50'])}"),
            _card(t["range"], f"{money(result['p10'])} – {money(result['p90'])}", result["p90"]),
            _card(t["already_won"], money(result["already_won"]), result["already_won"]),
            _card(
                t["open_deals"],
                formats.number(len(result["deals"]), lang),
                len(result["deals"]),
                f"{t['new_pipeline']}{formats.colon(lang)}{money(result['new_pipeline'])}",
            ),
            _card(t["weighted_pipeline"], money(result["weighted_pipeline"]), result["weighted_pipeline"]),
            _card(t["run_rate"], money(result["run_rate"]), result["run_rate"]),
        )
    )
    ours = (result["p10"], result["expected"], result["p90"])
    chart = charts.ranges(
        [t["forecast"], t["weighted_pipeline"], t["run_rate"]],
        [ours[0], result["weighted_pipeline"], result["run_rate"]],
        [ours[1], result["weighted_pipeline"], result["run_rate"]],
        [ours[2], result["weighted_pipeline"], result["run_rate"]],
        t["methods_chart"],
        lambda v: formats.compact_money(v, lang, cur),
    )
    notes = "".join(f'<p class="sp-note sp-flag">{html.escape(flag_words(f, lang))}</p>' for f in result["flags"])
    if q.filters.dims or q.viewer.user.role in ("rep", "manager"):
        notes += f'<p class="sp-note" id="learnt-here">{html.escape(t["learnt_here"])}</p>'
    history = t["history"].format(
        n=formats.number(result["closed_deals"], lang), sims=formats.number(result["simulations"], lang)
    )
    categories = Table(
        "categories",
        t["categories"],
        [
            Column("category", t["category"], words=words.of("forecast_category", lang)),
            Column("deals", t["deals"], "count"),
            Column("value", t["value"], "currency"),
            Column("expected", t["expected"], "currency"),
            Column("expected_share", t["expected_share"], "rate"),
        ],
        [{**c, "category": t["none"] if c["category"] == "(none)" else c["category"]} for c in result["categories"]],
    )
    groups = Table(
        "groups",
        t["groups"].format(by=t[f"by_{by}"]),
        [
            Column(by, t[by], words=q.rep_names if by == "rep" else None),
            Column("already_won", t["already_won"], "currency"),
            Column("open_deals", t["open_deals"], "count"),
            Column("expected", t["expected"], "currency"),
            Column("p10", "P10", "currency"),
            Column("p50", "P50", "currency"),
            Column("p90", "P90", "currency"),
        ],
        [dict(g) for g in result.get("groups", [])],
    )
    deals = Table(
        "deals",
        t["deal_table"],
        [
            Column("opportunity_id", t["deal"]),
            Column("owner", t["owner"], words=q.rep_names),
            Column("stage", t["stage"], words=words.of("stage", lang)),
            Column("segment", t["segment"], words=words.of("segment", lang)),
            Column("value", t["value"], "currency"),
            Column("probability", t["probability"], "rate"),
            Column("expected_value", t["expected_value"], "currency"),
            Column("forecast_category", t["forecast_category"], words=words.of("forecast_category", lang)),
            Column("flags", t["flags"], "flags"),
        ],
        [{**d, "expected_value": d["value"] * d["probability"]} for d in result["deals"][:SHOWN_DEALS]],
        total=len(result["deals"]),
    )
    export = q.filters.query
    content = (
        f'<section class="sp-section" id="bookings"><h2>{html.escape(heading)}</h2>'
        f'<div class="sp-cards">{cards}</div><h3>{html.escape(t["methods_chart"])}</h3>{chart}'
        f'<p class="sp-note">{html.escape(history)}</p>{notes}'
        f'<p class="sp-note" id="fx-note">{html.escape(t["fx_note"])}</p></section>'
        + to_html(categories, lang, cur, q.export("categories", "forecast"), export)
        + to_html(groups, lang, cur, q.export("groups", "forecast"), export)
        + to_html(deals, lang, cur, q.export("deals", "forecast"), export, limit=SHOWN_ROWS)
    )
    data = {
        key: result[key]
        for key in (
            "horizon", "from", "to", "now", "base_currency", "expected", "p10", "p50", "p90", "already_won",
            "new_pipeline", "weighted_pipeline", "run_rate", "closed_deals", "simulations", "flags",
        )
    }  # fmt: skip
    return content, [categories, groups, deals], data


def _track(q: PageQuery) -> tuple[str, list[Table], dict[str, Any]]:
    t, lang, cur = q.t, q.lang, q.currency
    try:
        result = q.ws.backtest(simulations=TRACK_SIMULATIONS)
    except ParameterError:  # no past month is over with history before it
        result = {"periods": []}
    periods = result["periods"]
    if not periods:
        return f'<section class="sp-section" id="track"><h2>{t["track"]}</h2><p>{t["no_track"]}</p></section>', [], {}
    chart = charts.ranges(
        [formats.label_words(str(p["period"]), q.lang) for p in periods],
        [p["p10"] for p in periods],
        [p["actual"] for p in periods],
        [p["p90"] for p in periods],
        t["track_chart"],
        lambda v: formats.compact_money(v, lang, cur),
    )
    table = Table(
        "periods",
        t["periods"],
        [
            Column("period", t["period"], "period"),
            Column("as_of", t["as_of"], "date"),
            Column("forecast", t["forecast"], "currency"),
            Column("p10", "P10", "currency"),
            Column("p90", "P90", "currency"),
            Column("actual", t["actual"], "currency"),
            Column("in_range", t["in_range"]),
            Column("weighted_pipeline", t["weighted_pipeline"], "currency"),
            Column("run_rate", t["run_rate"], "currency"),
        ],
        [{**p, "as_of": formats.day(p["as_of"]), "in_range": t["yes"] if p["in_range"] else t["no"]} for p in periods],
    )
    methods = Table(
        "methods",
        t["methods"],
        [
            Column("method", t["method"]),
            Column("mape", t["mape"], "rate"),
            Column("bias", t["bias"], "rate"),
            Column("mae", t["mae"], "currency"),
        ],
        [{"method": t.get(name, name), **m} for name, m in result["methods"].items() if name in METHODS],
    )
    coverage = t["coverage"].format(share=formats.percent(result["coverage"], lang, 0), n=len(periods))
    content = (
        f'<section class="sp-section" id="track"><h2>{t["track"]}</h2><h3>{html.escape(t["track_chart"])}</h3>'
        f'{chart}<p class="sp-note">{html.escape(coverage)}</p></section>'
        + to_html(table, lang, cur, q.export("periods", "forecast"), q.filters.query)
        + to_html(methods, lang, cur, q.export("methods", "forecast"), q.filters.query)
    )
    return content, [table, methods], {"coverage": result["coverage"]}


def build(q: PageQuery) -> View:
    horizon = choice(q, "horizon", HORIZONS, "90-days")
    by = choice(q, "by", GROUPS, "rep")
    track = choice(q, "track", ("0", "1"), "0") == "1"
    switches = switch(q, "horizon", HORIZONS, horizon, "h_") + switch(q, "by", GROUPS, by, "by_")
    try:
        content, tables, data = _forecast(q, horizon, by)
    except ParameterError:  # horizon and by are checked: no opportunity in this scope and these filters
        return View(f'{switches}<p class="sp-note" id="bookings">{html.escape(q.t["empty"])}</p>', [], {"empty": True})
    if track:
        more, more_tables, more_data = _track(q)
        content += more
        tables += more_tables
        data["track"] = more_data
    else:
        link = urlencode({**q.params, "track": "1"})
        show = html.escape(q.t["show_track"])
        content += f'<p class="sp-more" id="track"><a href="?{html.escape(link)}#track">{show}</a></p>'
    return View(switches + content, tables, data)


PAGE = Page(
    name="forecast",
    path="/forecast",
    title={"en": "Forecast", "fr": "Prévision"},
    build=build,
    texts=TEXT,
    periods=False,  # the forecast is about now: the horizon replaces the period
    params=("horizon", "by", "track"),
    param_docs={
        "horizon": "90-days (default), month or quarter",
        "by": "rep (default) or team: the forecast per rep or team",
        "track": "1: add the backtest (the forecast replayed on the last twelve months; slower)",
    },
)
