"""The team: each rep's scorecard (activity, results, conversion, cycle, against their targets),
the rep against the top quartile of the peers of their role for one measure (``?measure=``), and
why a rep's revenue is behind that top quartile: the gap split into its causes (activity volume,
conversion at each step, cycle time, deal size), whose parts add up to the gap (docs/team.md).
``?role=sdr|ae|am`` keeps one role. Without dates, the last complete period."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from salespilot.errors import ParameterError
from salespilot.server import charts, formats, words
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html

ROLES = ("sdr", "ae", "am")
# The measures that are not KPIs of the catalogue: their labels and units.
OWN_UNITS = {"calls": "count", "emails": "count", "messages": "count", "meetings": "count"}
OWN_UNITS |= {"demos": "count", "proposals": "count", "call_to_lead": "rate"}

TEXT = {
    "en": {
        "role": "Role",
        "all_roles": "all roles",
        "measure": "Measure",
        "scorecards": "Scorecards",
        "versus": "{measure} against the top quartile of the role",
        "versus_table": "{measure}: rank and gap to the top quartile",
        "top_quartile": "Top quartile",
        "rank": "Rank",
        "peers": "Peers",
        "gap": "Gap",
        "target": "Target",
        "attainment": "Attainment",
        "name": "Name",
        "team": "Team",
        "rep": "Rep",
        "gaps": "Revenue gap to the top quartile, and why",
        "gaps_chart": "Revenue gap to the top quartile of the role",
        "revenue": "Revenue",
        "benchmark": "Top quartile revenue",
        "focus": "Main cause",
        "advice": "Advice",
        "parts": "The gap split into its causes",
        "factor": "Cause",
        "value": "Rep's value",
        "benchmark_value": "Top quartile's value",
        "contribution": "Part of the gap",
        "scoped": "You see your own scorecards; ranks, peers and the top quartile are among every rep "
        "of the role in the company.",
        "m_calls": "Calls",
        "m_emails": "E-mails",
        "m_messages": "Messages",
        "m_meetings": "Meetings",
        "m_demos": "Demos",
        "m_proposals": "Proposals",
        "m_call_to_lead": "Call to lead rate",
    },
    "fr": {
        "role": "Rôle",
        "all_roles": "tous les rôles",
        "measure": "Mesure",
        "scorecards": "Tableaux de bord individuels",
        "versus": "{measure} face au quartile supérieur du rôle",
        "versus_table": "{measure} : rang et écart au quartile supérieur",
        "top_quartile": "Quartile supérieur",
        "rank": "Rang",
        "peers": "Pairs",
        "gap": "Écart",
        "target": "Objectif",
        "attainment": "Atteinte",
        "name": "Nom",
        "team": "Équipe",
        "rep": "Commercial",
        "gaps": "Écart de chiffre d'affaires au quartile supérieur, et pourquoi",
        "gaps_chart": "Écart de chiffre d'affaires au quartile supérieur du rôle",
        "revenue": "Chiffre d'affaires",
        "benchmark": "Chiffre d'affaires du quartile supérieur",
        "focus": "Cause principale",
        "advice": "Conseil",
        "parts": "L'écart réparti entre ses causes",
        "factor": "Cause",
        "value": "Valeur du commercial",
        "benchmark_value": "Valeur du quartile supérieur",
        "contribution": "Part de l'écart",
        "scoped": "Vous voyez vos propres fiches ; rangs, pairs et quartile supérieur portent sur tous les "
        "commerciaux du même rôle dans l'entreprise.",
        "m_calls": "Appels",
        "m_emails": "E-mails",
        "m_messages": "Messages",
        "m_meetings": "Rendez-vous",
        "m_demos": "Démonstrations",
        "m_proposals": "Propositions",
        "m_call_to_lead": "Taux d'appel en lead",
    },
}


def _measure(q: PageQuery, name: str) -> tuple[str, str]:
    """A measure's label in the user's language and its unit."""
    kpi = q.ctx.catalogue.kpis.get(name)
    if kpi is not None:
        return kpi.label(q.lang), kpi.unit
    return q.t.get(f"m_{name}", name), OWN_UNITS.get(name, "number")


def _switch(q: PageQuery, role: str | None) -> str:
    kept = {k: v for k, v in q.params.items() if k not in ("role", "measure")}
    links = []
    for value, text in ((None, q.t["all_roles"]), *((r, words.word("rep_role", r, q.lang)) for r in ROLES)):
        label = html.escape(text)
        if value == role:
            links.append(f'<strong aria-current="true">{label}</strong>')
        else:
            target = urlencode(kept | ({"role": value} if value else {}))
            links.append(f'<a href="?{html.escape(target)}">{label}</a>')
    return f'<p class="sp-switch" id="role">{q.t["role"]}{formats.colon(q.lang)}{" · ".join(links)}</p>'


def _measure_form(q: PageQuery, names: list[str], chosen: str) -> str:
    """A GET form to pick the measure of the comparison, keeping the filters."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in q.params.items()
        if k != "measure"
    )
    options = "".join(
        f'<option value="{html.escape(n)}"{" selected" if n == chosen else ""}>{html.escape(label)}</option>'
        for n, label in ((n, _measure(q, n)[0]) for n in names)
    )
    return (
        f'<form class="sp-inline" method="get" id="measure-form">{hidden}<label>{q.t["measure"]} '
        f'<select name="measure">{options}</select></label><button>{q.t["apply"]}</button></form>'
    )


def _scorecards(q: PageQuery, result: dict[str, Any], names: list[str]) -> Table:
    t, lang = q.t, q.lang
    columns = [
        Column("period", t["period"], "period"),
        Column("rep", t["rep"]),
        Column("name", t["name"]),
        Column("role", t["role"], words=words.of("rep_role", lang)),
        Column("team", t["team"]),
        Column("peers", t["peers"], "count"),
    ]
    columns += [Column(n, _measure(q, n)[0], _measure(q, n)[1]) for n in names]
    targeted = [n for n in names if any("attainment" in r["measures"].get(n, {}) for r in result["reps"])]
    for n in targeted:
        label, unit = _measure(q, n)
        columns += [Column(f"{n}_target", f"{label}: {t['target']}", unit)]
        columns += [Column(f"{n}_attainment", f"{label}: {t['attainment']}", "rate")]
    columns.append(Column("flags", t["flags"], "flags"))
    rows = []
    for r in result["reps"]:
        row: dict[str, Any] = {k: r.get(k) for k in ("period", "rep", "name", "role", "team", "peers")}
        row |= {n: r["measures"].get(n, {}).get("value") for n in names}
        for n in targeted:
            cell = r["measures"].get(n, {})
            row |= {f"{n}_target": cell.get("target"), f"{n}_attainment": cell.get("attainment")}
        row["flags"] = list(r.get("flags") or [])
        rows.append(row)
    return Table("scorecards", t["scorecards"], columns, rows)


def _versus(q: PageQuery, result: dict[str, Any], measure: str, higher_is_better: bool) -> tuple[str, Table]:
    """The chosen measure per rep, against the top quartile of the rep's role (last period)."""
    t, lang = q.t, q.lang
    label, unit = _measure(q, measure)
    last = max((r["period"] for r in result["reps"]), default=None)
    cards = [r for r in result["reps"] if r["period"] == last]
    cards.sort(key=lambda r: (r["role"], r["measures"][measure]["rank"] or 10**6, r["rep"]))
    cells = [r["measures"][measure] for r in cards]
    table = Table(
        "versus",
        t["versus_table"].format(measure=label) + (f" ({formats.label_words(str(last), lang)})" if last else ""),
        [
            Column("rep", t["rep"]),
            Column("name", t["name"]),
            Column("role", t["role"], words=words.of("rep_role", lang)),
            Column("value", label, unit),
            Column("rank", t["rank"], "count"),
            Column("peers", t["peers"], "count"),
            Column("top_quartile", t["top_quartile"], unit),
            Column("gap", t["gap"], unit),
            Column("target", t["target"], unit),
            Column("attainment", t["attainment"], "rate"),
        ],
        [
            {"rep": r["rep"], "name": r["name"], "role": r["role"], "peers": r["peers"], **c}
            for r, c in zip(cards, cells, strict=True)
        ],
    )
    behind = [c["gap"] is not None and (c["gap"] < 0 if higher_is_better else c["gap"] > 0) for c in cells]
    chart = charts.bars(
        [f"{r['name'] or r['rep']} ({words.word('rep_role', r['role'], lang)})" for r in cards],
        [c["value"] for c in cells],
        t["versus"].format(measure=label) + (f" · {last}" if last else ""),
        lambda v: formats.value(v, unit, lang, q.currency),
        [c["top_quartile"] for c in cells],
        behind,
        reference_label=t["top_quartile"],
        empty=t["empty"],
    )
    return chart, table


# The gap decomposition's factors and advice (analytics/team.py CHAINS, COACHING) in French.
FACTORS_FR = {
    "activity volume": "volume d'activité",
    "call -> lead": "appel → lead",
    "lead -> opportunity": "lead → opportunité",
    "activity -> opportunity": "activité → opportunité",
    "cycle time": "durée du cycle",
    "opportunity -> signature": "opportunité → signature",
    "win rate": "taux de signature",
    "deal size": "taille des affaires",
}
ADVICE_FR = {
    "more activity: calls, meetings, demos": "plus d'activité : appels, rendez-vous, démos",
    "coach the pitch and the call lists (call -> lead)": "travailler le discours et les listes d'appel (appel → lead)",
    "coach the lead -> opportunity step (qualification)": "travailler le passage lead → opportunité (qualification)",
    "coach turning activity into opportunities": "travailler la transformation de l'activité en opportunités",
    "shorten the cycle: push stalled deals to a decision": "raccourcir le cycle : faire trancher les affaires bloquées",
    "coach closing (opportunity -> signature)": "travailler la conclusion (opportunité → signature)",
    "coach closing (win rate); see the loss reasons": "travailler la conclusion (taux de signature) ; voir les pertes",
    "coach deal size: upsell, pricing, larger accounts": "travailler la taille des affaires : montée en gamme, prix, "
    "plus grands comptes",
}


def _factor(label: str | None, lang: str) -> str | None:
    """A factor (or factors merged with " + ") in the user's language."""
    if label is None or lang != "fr":
        return label
    return " + ".join(FACTORS_FR.get(part, part) for part in label.split(" + "))


def _advice(text: str | None, lang: str) -> str | None:
    return ADVICE_FR.get(text, text) if text is not None and lang == "fr" else text


def _gaps(q: PageQuery, role: str | None) -> tuple[str, list[Table], dict[str, Any]]:
    t, lang, f = q.t, q.lang, q.filters
    result = q.ws.rep_gaps(role=role, start=f.start, end=f.end)
    reps = result["reps"]
    span = " – ".join(formats.date(formats.day(d), lang) for d in (result.get("start"), result.get("end")) if d)
    gaps = Table(
        "gaps",
        f"{t['gaps']} ({span})" if span else t["gaps"],  # over the whole window, not the last period
        [
            Column("rep", t["rep"]),
            Column("name", t["name"]),
            Column("role", t["role"], words=words.of("rep_role", lang)),
            Column("revenue", t["revenue"], "currency"),
            Column("benchmark_revenue", t["benchmark"], "currency"),
            Column("gap", t["gap"], "currency"),
            Column("focus", t["focus"]),
            Column("advice", t["advice"]),
            Column("flags", t["flags"], "flags"),
        ],
        [
            {
                **r,
                "focus": _factor(r.get("focus"), lang),
                "advice": _advice(r.get("advice"), lang),
                "flags": list(r.get("flags") or []),
            }
            for r in reps
        ],
    )
    parts = Table(
        "parts",
        t["parts"],
        [
            Column("rep", t["rep"]),
            Column("factor", t["factor"]),
            Column("value", t["value"], "number"),
            Column("benchmark", t["benchmark_value"], "number"),
            Column("contribution", t["contribution"], "currency"),
        ],
        [{"rep": r["rep"], **p, "factor": _factor(p.get("factor"), lang)} for r in reps for p in r["parts"]],
    )
    ordered = sorted(reps, key=lambda r: (r["gap"], r["rep"]))
    chart = charts.bars(
        [f"{r['name'] or r['rep']} ({words.word('rep_role', r['role'], lang)})" for r in ordered],
        [r["gap"] for r in ordered],
        t["gaps_chart"],
        lambda v: formats.compact_money(v, lang, q.currency),
        highlight=[r["gap"] < 0 for r in ordered],
        empty=t["empty"],
    )
    fold = f"{t['parts']} ({formats.number(len(parts.rows), lang)})"
    content = (
        f'<section class="sp-section" id="gaps-chart"><h2>{t["gaps_chart"]}</h2>{chart}</section>'
        + to_html(gaps, lang, q.currency, q.export("gaps", "team"), q.filters.query)
        + to_html(parts, lang, q.currency, q.export("parts", "team"), q.filters.query, folded=fold)
    )
    return content, [gaps, parts], {"gaps_start": result["start"], "gaps_end": result["end"]}


def build(q: PageQuery) -> View:
    t, lang, f = q.t, q.lang, q.filters
    role = q.params.get("role") or None
    if role is not None and role not in ROLES:
        raise ParameterError(f"Parameter role: expected one of {', '.join(ROLES)} (got {role!r}).")
    result = q.ws.reps(grain=f.grain, role=role, start=f.start, end=f.end)
    names = [m["name"] for m in result["measures"]]
    better = {m["name"]: bool(m["higher_is_better"]) for m in result["measures"]}
    default = "leads" if role == "sdr" else "revenue" if role in ("ae", "am") else "activities"
    measure = q.params.get("measure") or default
    if measure not in names:
        raise ParameterError(f"Parameter measure: expected one of {', '.join(names)} (got {measure!r}).")
    scorecards = _scorecards(q, result, names)
    chart, versus = _versus(q, result, measure, better[measure])
    gaps_html, gap_tables, gap_data = _gaps(q, role)
    scoped = q.viewer.user is not None and q.viewer.user.role in ("rep", "manager")
    span = " – ".join(formats.date(formats.day(d), lang) for d in (result["start"], result["end"]) if d)
    note = f'<p class="sp-note" id="team-span">{html.escape(span)}</p>'
    if scoped:
        note += f'<p class="sp-note" id="team-scoped">{html.escape(t["scoped"])}</p>'
    fold = f"{t['scorecards']} ({formats.number(len(scorecards.rows), lang)})"
    content = (
        _switch(q, role)
        + note
        + f'<section class="sp-section" id="versus-chart">{_measure_form(q, names, measure)}'
        + f"<h2>{html.escape(t['versus'].format(measure=_measure(q, measure)[0]))}</h2>"
        + chart
        + "</section>"
        + to_html(versus, lang, q.currency, q.export("versus", "team"), q.filters.query)
        + to_html(scorecards, lang, q.currency, q.export("scorecards", "team"), q.filters.query, folded=fold)
        + gaps_html
    )
    data = {"start": result["start"], "end": result["end"], "percentile": result["percentile"], "measure": measure}
    return View(content, [versus, scorecards, *gap_tables], data | gap_data)


PAGE = Page(
    name="team",
    path="/team",
    title={"en": "Team", "fr": "Équipe"},
    build=build,
    texts=TEXT,
    params=("role", "measure"),
    param_docs={
        "role": "sdr, ae or am: the reps of one role (default: every role)",
        "measure": "the measure the reps are ranked on (default: leads for sdr, revenue for ae, am; else activities)",
    },
)
