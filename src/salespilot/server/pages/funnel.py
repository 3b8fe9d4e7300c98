"""The funnel: each step's volume and conversion to the next, with its 95% interval, the
reference it is compared with and the lever to pull. The last period whose conversions have had
time to mature is shown first; every period is in the table."""

from __future__ import annotations

import html
from typing import Any

from salespilot.server import charts, flags, formats
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html

TEXT = {
    "en": {
        "step": "Step",
        "next": "Next step",
        "volume": "Volume",
        "rate": "Conversion",
        "ci_low": "95% low",
        "ci_high": "95% high",
        "reference": "Reference",
        "lever": "Lever",
        "steps": "Steps by period",
        "below": "below reference",
        "step_call": "call",
        "step_lead": "lead",
        "step_opportunity": "opportunity",
        "step_signature": "signature",
        "lever_call_to_lead": "check the call lists and the pitch",
        "lever_lead_to_opportunity": "adjust the target or the qualification process",
        "lever_opportunity_to_signature": "look at the loss reasons",
    },
    "fr": {
        "step": "Étape",
        "next": "Étape suivante",
        "volume": "Volume",
        "rate": "Conversion",
        "ci_low": "Borne basse 95 %",
        "ci_high": "Borne haute 95 %",
        "reference": "Référence",
        "lever": "Levier",
        "steps": "Étapes par période",
        "below": "sous la référence",
        "step_call": "appel",
        "step_lead": "lead",
        "step_opportunity": "opportunité",
        "step_signature": "signature",
        "lever_call_to_lead": "revoir les listes d'appels et le discours",
        "lever_lead_to_opportunity": "revoir le ciblage ou la qualification",
        "lever_opportunity_to_signature": "étudier les motifs de perte",
    },
}


def _step(t: dict[str, str], step: str | None) -> str:
    """A funnel step in the user's language (a step the page does not know stays as written)."""
    return t.get(f"step_{step}", step or "")


def _lever(t: dict[str, str], step: Any) -> str:
    """The lever of a step below its reference, in the user's language."""
    if not step.lever:
        return ""
    return t.get(f"lever_{step.step}_to_{step.next_step}", str(step.lever))


def build(q: PageQuery) -> View:
    t, lang, f = q.t, q.lang, q.filters
    periods = q.ws.funnel(grain=f.grain, start=f.start, end=f.end)
    step_words = {code: _step(t, code) for p in periods for s in p.steps for code in (s.step, s.next_step) if code}
    table = Table(
        "steps",
        t["steps"],
        [
            Column("period", t["period"], "period"),
            Column("step", t["step"], words=step_words),
            Column("next_step", t["next"], words=step_words),
            Column("volume", t["volume"], "count"),
            Column("rate", t["rate"], "rate"),
            Column("ci_low", t["ci_low"], "rate"),
            Column("ci_high", t["ci_high"], "rate"),
            Column("reference", t["reference"], "rate"),
            Column("lever", t["lever"]),
            Column("flags", t["flags"], "flags"),
        ],
    )
    for p in periods:
        for s in p.steps:
            row = {k: getattr(s, k) for k in ("step", "next_step", "volume", "rate", "ci_low", "ci_high")}
            lever = _lever(t, s) or None
            row.update(period=str(p.period), reference=s.reference, lever=lever, flags=list(s.flags))
            table.rows.append(row)
    if not periods:
        return View(f"<p>{t['empty']}</p>", [table])
    last = periods[-1]
    steps = [(_step(t, s.step), None if s.volume is None else float(s.volume)) for s in last.steps]
    rates = [formats.percent(s.rate, lang) for s in last.steps if s.next_step]
    when = formats.period_label(str(last.period), last.period_start, f.grain, lang)
    chart = charts.funnel(steps, when, lambda v: formats.number(v, lang), rates)
    rows = "".join(
        f"<tr><td>{html.escape(_step(t, s.step))} → {html.escape(_step(t, s.next_step))}</td>"
        f'<td class="sp-u-count" data-value="{s.volume}">{formats.number(s.volume, lang)}</td>'
        f'<td class="sp-u-rate">{formats.percent(s.rate, lang)} [{formats.percent(s.ci_low, lang)}, '
        f"{formats.percent(s.ci_high, lang)}]</td>"
        f'<td class="sp-u-rate">{formats.percent(s.reference, lang)}'
        f"{' <span class=sp-flag>' + t['below'] + '</span>' if s.below_reference else ''}</td>"
        f"<td>{html.escape(_lever(t, s))}</td>"
        f'<td class="sp-flag">{html.escape(flags.text(s.flags, lang))}</td></tr>'
        for s in last.steps
        if s.next_step
    )
    head = "".join(f"<th>{t[k]}</th>" for k in ("step", "volume", "rate", "reference", "lever", "flags"))
    # the latest period first, then every period of the range (exportable), newest first
    table.rows.sort(key=lambda r: str(r["period"]), reverse=True)  # stable: each period's steps in order
    content = (
        f"<h2>{html.escape(when)}</h2>{chart}"
        f'<div class="sp-scroll"><table class="sp-table" id="last"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>" + to_html(table, lang, q.currency, q.export("steps", "funnel"), f.query)
    )
    return View(content, [table])


PAGE = Page(name="funnel", path="/funnel", title={"en": "Funnel", "fr": "Entonnoir"}, build=build, texts=TEXT)
