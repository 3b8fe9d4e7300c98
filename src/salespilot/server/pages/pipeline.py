"""The pipeline: how long deals stay in each stage (median to P90, open deals counted as censored
durations), and the stuck deals: open deals in a stage for longer than its threshold."""

from __future__ import annotations

from salespilot.server import charts, formats, words
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html

TEXT = {
    "en": {
        "durations": "Days in stage (bar: median to P90; mark and figure: P75)",
        "stages": "Stage durations",
        "stuck": "Stuck deals",
        "deal": "Deal",
        "owner": "Owner",
        "stage": "Stage",
        "in_stage": "Days in stage",
        "threshold": "Threshold (days)",
        "at_risk": "Value at risk",
        "n": "Deals",
        "censored": "Still open",
        "median": "Median",
        "p75": "P75",
        "p90": "P90",
    },
    "fr": {
        "durations": "Jours par étape (barre : médiane à P90 ; repère et chiffre : P75)",
        "stages": "Durées par étape",
        "stuck": "Affaires bloquées",
        "deal": "Affaire",
        "owner": "Responsable",
        "stage": "Étape",
        "in_stage": "Jours dans l'étape",
        "threshold": "Seuil (jours)",
        "at_risk": "Valeur à risque",
        "n": "Affaires",
        "censored": "Encore ouvertes",
        "median": "Médiane",
        "p75": "P75",
        "p90": "P90",
    },
}


def build(q: PageQuery) -> View:
    t, lang = q.t, q.lang
    stuck = q.ws.stuck_deals()
    durations = q.ws.stage_durations()
    stages = [s for s in durations.stages if s.get("median") is not None]
    # A percentile the survival curve does not reach falls back to the one below (0 days is a value).
    p75 = [s["median"] if s["p75"] is None else s["p75"] for s in stages]
    p90 = [low if s["p90"] is None else s["p90"] for s, low in zip(stages, p75, strict=True)]
    chart = charts.ranges(
        [words.word("stage", s["stage"], lang) for s in stages],
        [float(s["median"]) for s in stages],
        [float(v) for v in p75],
        [float(v) for v in p90],
        t["durations"],
        lambda v: formats.days(v, lang),
    )
    stage_table = Table(
        "stages",
        t["stages"],
        [
            Column("stage", t["stage"], words=words.of("stage", lang)),
            Column("n", t["n"], "count"),
            Column("censored", t["censored"], "count"),
            Column("median", t["median"], "days"),
            Column("p75", t["p75"], "days"),
            Column("p90", t["p90"], "days"),
        ],
        [dict(s) for s in durations.stages],
    )
    stuck_table = Table(
        "stuck",
        f"{t['stuck']} ({len(stuck)})",
        [
            Column("opportunity_id", t["deal"]),
            Column("owner", t["owner"], words=q.rep_names),
            Column("stage", t["stage"], words=words.of("stage", lang)),
            Column("days_in_stage", t["in_stage"], "days"),
            Column("threshold_days", t["threshold"], "days"),
            Column("value_at_risk", t["at_risk"], "currency"),
        ],
        [dict(d) for d in stuck],
    )
    content = (
        f"<h2>{t['durations']}</h2>{chart}"
        + to_html(stage_table, lang, q.currency, q.export("stages", "pipeline"), q.filters.query)
        + to_html(stuck_table, lang, q.currency, q.export("stuck", "pipeline"), q.filters.query)
    )
    return View(content, [stage_table, stuck_table], {"cycle": durations.cycle, "data_end": durations.data_end})


PAGE = Page(
    name="pipeline",
    path="/pipeline",
    title={"en": "Pipeline", "fr": "Pipeline"},
    build=build,
    texts=TEXT,
    periods=False,  # the deals open today, and how long every deal stayed in each stage: no period
)
