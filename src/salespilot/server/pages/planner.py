"""The planner: from a revenue target (or a number of signatures) over a horizon back to the
calls, leads and opportunities needed and the SDRs and AEs they take (``Workspace.plan``,
docs/planner.md). A GET form, so the URL keeps the inputs and a plan can be shared; the same plan
is served as JSON at ``/api/v1/plan`` (and ``/api/v1/pages/planner``).

The inputs are read as ``salespilot plan`` reads its options: amounts, counts and capacities above
0, ``rates`` one of the engine's sources, the horizon and the rate overrides checked by the
engine's own parsers. A wrong input names its field; the page shows it above the form.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request

from salespilot.engine.planning import RATE_SOURCES, STEPS, Capacity, Plan, parse_horizon
from salespilot.errors import ParameterError, did_you_mean
from salespilot.server import api, charts, flags, formats, messages, words
from salespilot.server.context import Context
from salespilot.server.filters import openapi_query
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html
from salespilot.settings import parse_reference_rates

AMOUNTS = ("revenue", "signatures", "deal_value")
CAPACITY = {"sdr_calls_per_day": 60.0, "ae_opportunities_per_month": 25.0, "working_days": 21.0}
FIELDS = ("revenue", "signatures", "horizon", "rates", "deal_value", *STEPS, "from", "to", *CAPACITY)
VOLUMES = ("calls", "leads", "opportunities", "signatures")
HORIZONS = ("month", "quarter", "year", "90-days")
PARAM_DOCS = {
    "revenue": "the revenue target over the horizon (base currency); or signatures",
    "signatures": "the number of signatures targeted over the horizon",
    "horizon": "month, quarter, year or N-days (default: month)",
    "rates": "reference, measured or per-rep: where the conversion rates come from",
    "deal_value": "the average deal value (default: the data's)",
    "call_to_lead": "a rate override, 0 to 1",
    "lead_to_opportunity": "a rate override, 0 to 1",
    "opportunity_to_signature": "a rate override, 0 to 1",
    "from": "first day of the window of measured rates and capacity, YYYY-MM-DD",
    "to": "last day of that window, YYYY-MM-DD",
    "sdr_calls_per_day": "calls per SDR per day (default 60)",
    "ae_opportunities_per_month": "opportunities per AE per month (default 25)",
    "working_days": "working days per month (default 21)",
}

TEXT = {
    "en": {
        "intro": "Enter a revenue target or a number of signatures to see what it takes.",
        "target": "Target",
        "revenue": "Revenue target",
        "signatures": "Signatures targeted",
        "horizon": "Horizon",
        "rates": "Rates",
        "reference": "reference",
        "measured": "measured",
        "per-rep": "per rep",
        "deal_value": "Average deal value",
        "deal_value_hint": "empty: the data's",
        "overrides": "Rate overrides (with reference rates)",
        "call_to_lead": "Call → lead",
        "lead_to_opportunity": "Lead → opportunity",
        "opportunity_to_signature": "Opportunity → signature",
        "window": "Window of measured rates, capacity",
        "from": "From",
        "to": "To",
        "sdr_calls_per_day": "Calls per SDR per day",
        "ae_opportunities_per_month": "Opportunities per AE per month",
        "working_days": "Working days per month",
        "submit": "Plan",
        "invalid": "Invalid input",
        "volumes": "Volumes needed",
        "volume": "Volume",
        "needed": "Needed",
        "whole": "Rounded up",
        "low": "Low (95%)",
        "high": "High (95%)",
        "calls": "Calls",
        "leads": "Leads",
        "opportunities": "Opportunities",
        "signatures_step": "Signatures",
        "funnel": "Funnel needed",
        "rates_used": "Rates used",
        "step": "Step",
        "rate": "Rate",
        "successes": "Successes",
        "trials": "Trials",
        "source": "Source",
        "override": "override",
        "headcount": "Headcount needed",
        "headcount_chart": "Reps needed against today's",
        "role": "Role",
        "today": "Today",
        "to_hire": "To hire",
        "capacity": "Capacity per month",
        "unit": "Unit",
        "sdr": "SDR",
        "ae": "AE",
        "calls per month": "calls per month",
        "opportunities per month": "opportunities per month",
        "summary": "Plan",
        "horizon_days": "Horizon",
        "working": "working days",
        "deal_value_used": "Average deal value",
        "option": "given",
        "data": "from the data",
        "target_revenue": "Revenue targeted",
        "rates_window": "Rates measured from {start} to {end}",
        "unbounded": "unbounded",
    },
    "fr": {
        "intro": "Saisissez un objectif de chiffre d'affaires ou un nombre de signatures pour voir ce qu'il faut.",
        "target": "Objectif",
        "revenue": "Objectif de chiffre d'affaires",
        "signatures": "Signatures visées",
        "horizon": "Horizon",
        "rates": "Taux",
        "reference": "de référence",
        "measured": "mesurés",
        "per-rep": "par commercial",
        "deal_value": "Panier moyen",
        "deal_value_hint": "vide : celui des données",
        "overrides": "Taux imposés (avec les taux de référence)",
        "call_to_lead": "Appel → lead",
        "lead_to_opportunity": "Lead → opportunité",
        "opportunity_to_signature": "Opportunité → signature",
        "window": "Fenêtre des taux mesurés, capacité",
        "from": "Du",
        "to": "Au",
        "sdr_calls_per_day": "Appels par SDR et par jour",
        "ae_opportunities_per_month": "Opportunités par AE et par mois",
        "working_days": "Jours ouvrés par mois",
        "submit": "Planifier",
        "invalid": "Saisie invalide",
        "volumes": "Volumes nécessaires",
        "volume": "Volume",
        "needed": "Nécessaire",
        "whole": "Arrondi au-dessus",
        "low": "Bas (95 %)",
        "high": "Haut (95 %)",
        "calls": "Appels",
        "leads": "Leads",
        "opportunities": "Opportunités",
        "signatures_step": "Signatures",
        "funnel": "Entonnoir nécessaire",
        "rates_used": "Taux utilisés",
        "step": "Étape",
        "rate": "Taux",
        "successes": "Succès",
        "trials": "Essais",
        "source": "Source",
        "override": "imposé",
        "headcount": "Effectifs nécessaires",
        "headcount_chart": "Commerciaux nécessaires face à l'effectif actuel",
        "role": "Rôle",
        "today": "Aujourd'hui",
        "to_hire": "À recruter",
        "capacity": "Capacité par mois",
        "unit": "Unité",
        "sdr": "SDR",
        "ae": "AE",
        "calls per month": "appels par mois",
        "opportunities per month": "opportunités par mois",
        "summary": "Plan",
        "horizon_days": "Horizon",
        "working": "jours ouvrés",
        "deal_value_used": "Panier moyen",
        "option": "saisi",
        "data": "issu des données",
        "target_revenue": "Chiffre d'affaires visé",
        "rates_window": "Taux mesurés du {start} au {end}",
        "unbounded": "non borné",
    },
}


class PlanInputError(ParameterError):
    """A planner input that is not what ``salespilot plan`` accepts; ``field`` names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.field = name


@dataclass(frozen=True)
class Inputs:
    """The planner's inputs, read and checked; ``given`` keeps the raw texts for the form."""

    revenue: float | None = None
    signatures: float | None = None
    horizon: str = "month"
    rates: str = "reference"
    deal_value: float | None = None
    references: dict[str, float] = field(default_factory=dict)
    start: dt.date | None = None
    end: dt.date | None = None
    capacity: Capacity = field(default_factory=Capacity)
    given: dict[str, str] = field(default_factory=dict)

    @property
    def planned(self) -> bool:
        return self.revenue is not None or self.signatures is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revenue": self.revenue,
            "signatures": self.signatures,
            "horizon": self.horizon,
            "rates": self.rates,
            "deal_value": self.deal_value,
            "references": self.references,
            "from": self.start,
            "to": self.end,
            "sdr_calls_per_day": self.capacity.sdr_calls_per_day,
            "ae_opportunities_per_month": self.capacity.ae_opportunities_per_month,
            "working_days": self.capacity.working_days_per_month,
        }


def _positive(name: str, raw: str) -> float:
    """A number above 0, as the CLI's options take them (``click.FloatRange(min=0, min_open=True)``)."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise PlanInputError(name, f"Parameter {name}: expected a number above 0 (got {raw!r}).")
    return value


def _date(name: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise PlanInputError(name, f"Parameter {name}: expected a date YYYY-MM-DD (got {raw!r}).") from None


def read(params: Mapping[str, str]) -> Inputs:
    """The inputs in ``params`` (the query string), checked; empty fields are left out."""
    for key in params:
        if key not in FIELDS:
            raise PlanInputError(
                key, f"Parameter {key}: unknown; expected one of {', '.join(FIELDS)}.{did_you_mean(key, FIELDS)}"
            )
    given = {k: str(v).strip() for k, v in params.items() if str(v).strip()}
    numbers = {name: _positive(name, given[name]) for name in (*AMOUNTS, *CAPACITY) if name in given}
    horizon = given.get("horizon", "month")
    try:
        parse_horizon(horizon)
    except ParameterError as exc:
        raise PlanInputError("horizon", f"Parameter horizon: {str(exc).removeprefix('--horizon ')}") from None
    rates = given.get("rates", "reference")
    if rates not in RATE_SOURCES:
        raise PlanInputError(
            "rates",
            f"Parameter rates: expected one of {', '.join(RATE_SOURCES)} (got {rates!r})."
            + did_you_mean(rates, RATE_SOURCES),
        )
    references = {}
    for step in STEPS:
        if step not in given:
            continue
        try:  # the check of the reference_rates setting: a number in (0, 1]
            references[step] = parse_reference_rates(f"{step}={given[step]}")[step]
        except ParameterError:
            raise PlanInputError(
                step, f"Parameter {step}: expected a rate above 0 and at most 1, e.g. 0.25 (got {given[step]!r})."
            ) from None
        if rates != "reference":
            raise PlanInputError(
                step,
                f"Parameter {step}: a rate override replaces a reference rate, so it needs rates=reference "
                f"(with rates={rates} the rates are measured).",
            )
    start = _date("from", given["from"]) if "from" in given else None
    end = _date("to", given["to"]) if "to" in given else None
    if start and end and end < start:
        raise PlanInputError("to", f"Parameter to ({end}) is before from ({start}).")
    if "revenue" in numbers and "signatures" in numbers:
        raise PlanInputError(
            "signatures", "Parameter signatures: give a revenue target or a number of signatures, not both."
        )
    capacity = Capacity(
        numbers.get("sdr_calls_per_day", CAPACITY["sdr_calls_per_day"]),
        numbers.get("ae_opportunities_per_month", CAPACITY["ae_opportunities_per_month"]),
        numbers.get("working_days", CAPACITY["working_days"]),
    )
    return Inputs(
        numbers.get("revenue"),
        numbers.get("signatures"),
        horizon,
        rates,
        numbers.get("deal_value"),
        references,
        start,
        end,
        capacity,
        given,
    )


_OPTION = re.compile(r"--([a-z][a-z-]*)")


def _field_of(message: str) -> str:
    """The field an engine refusal is about: the deal value, the rates (their source or their
    window), else the first option it names (``--horizon``: horizon)."""
    for option, name in (("--deal-value", "deal_value"), ("--rates", "rates")):
        if option in message:
            return name
    found = _OPTION.search(message)
    name = found.group(1).replace("-", "_") if found else "rates"
    return name if name in FIELDS else "rates"


def _web(message: str) -> str:
    """An engine message with the form's field names instead of the CLI's options."""
    message = re.sub(r"--rates (reference|measured|per-rep)", r"rates=\1", message)
    return _OPTION.sub(lambda m: m.group(1).replace("-", "_"), message)


# per-rep averages the rates of the team's reps; a rep's own view holds one rep
ALONE = (
    "Parameter rates: per-rep plans a team from each of its reps' own rates, and a rep sees only their own: "
    "use measured."
)


def make_plan(ws: Any, inputs: Inputs) -> Plan:
    """``Workspace.plan`` with these inputs; its refusals name the field (not the CLI option)."""
    if not inputs.planned:
        raise PlanInputError("revenue", "Parameter revenue: give a revenue target or a number of signatures.")
    try:
        plan: Plan = ws.plan(
            revenue=inputs.revenue,
            signatures=inputs.signatures,
            horizon=inputs.horizon,
            rates=inputs.rates,
            start=inputs.start,
            end=inputs.end,
            deal_value=inputs.deal_value,
            capacity=inputs.capacity,
            references=inputs.references or None,
        )
    except ParameterError as exc:
        name = _field_of(str(exc))
        raise PlanInputError(name, f"Parameter {name}: {_web(str(exc))}") from None
    return plan


def _whole(value: float | None) -> int | None:
    """Rounded up: a plan needs whole calls and whole people (to the engine's float precision)."""
    return None if value is None else math.ceil(round(value, 9))


def tables(plan: Plan, inputs: Inputs, t: dict[str, str], lang: str = "en") -> list[Table]:
    """The plan's view-model: the volumes, the rates and the headcount."""
    ranged = plan.interval_method is not None
    step_label = {"signatures": t["signatures_step"]}
    volumes = Table(
        "volumes",
        t["volumes"],
        [
            Column("step", t["volume"]),
            Column("name", "id"),
            Column("needed", t["needed"], "ratio"),
            Column("whole", t["whole"], "count"),
            *([Column("low", t["low"], "ratio"), Column("high", t["high"], "ratio")] if ranged else []),
        ],
        [
            {
                "step": step_label.get(v.name, t.get(v.name, v.name)),
                "name": v.name,
                "needed": v.value,
                "whole": _whole(v.value),
                "low": v.low,
                "high": v.high,
            }
            for v in plan.volumes
            if v.name in VOLUMES
        ],
    )
    rates = Table(
        "rates",
        t["rates_used"],
        [
            Column("step", t["step"]),
            Column("name", "id"),
            Column("rate", t["rate"], "rate"),
            *([Column("low", t["low"], "rate"), Column("high", t["high"], "rate")] if ranged else []),
            Column("successes", t["successes"], "count"),
            Column("trials", t["trials"], "count"),
            Column("source", t["source"]),
            Column("flags", t["flags"], "flags"),
        ],
        [
            {
                "step": t[r.step],
                "name": r.step,
                "rate": r.value,
                "low": r.low,
                "high": r.high,
                "successes": r.successes,
                "trials": r.trials,
                "source": t["override"] if r.step in inputs.references else t[plan.rates_source],
                "flags": list(r.flags),
            }
            for r in plan.rates
        ],
    )
    headcount = Table(
        "headcount",
        t["headcount"],
        [
            Column("role", t["role"], words=words.of("rep_role", lang)),
            Column("needed", t["needed"], "ratio"),
            Column("whole", t["whole"], "count"),
            Column("today", t["today"], "count"),
            Column("to_hire", t["to_hire"], "count"),
            Column("capacity_per_month", t["capacity"], "count"),
            Column("unit", t["unit"]),
        ],
        [
            {
                "role": t[h.role],
                "needed": h.needed,
                "whole": _whole(h.needed),
                "today": h.today,
                "to_hire": None if h.needed is None else max(0, (_whole(h.needed) or 0) - h.today),
                "capacity_per_month": h.capacity_per_month,
                "unit": t.get(h.unit, h.unit),
            }
            for h in plan.headcount
        ],
    )
    return [volumes, rates, headcount]


def view_data(plan: Plan | None, inputs: Inputs | None, error: PlanInputError | None = None) -> dict[str, Any]:
    """The JSON of a plan: the inputs read, the engine's plan (``plan.as_dict()``) and the error."""
    return {
        "inputs": inputs.as_dict() if inputs is not None else None,
        "plan": plan.as_dict() if plan is not None else None,
        "error": None if error is None else {"field": error.field, "message": str(error)},
    }


# -- the page ---------------------------------------------------------------------------------------------


def _input(name: str, t: dict[str, str], given: Mapping[str, str], bad: str | None, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{html.escape(v)}"' for k, v in attrs.items())
    invalid = ' aria-invalid="true" class="sp-invalid"' if name == bad else ""
    value = html.escape(given.get(name, ""))
    return f'<label>{html.escape(t[name])} <input name="{name}" value="{value}"{extra}{invalid}></label>'


def form(t: dict[str, str], given: Mapping[str, str], bad: str | None) -> str:
    """The GET form, holding what was given (so the URL keeps the plan)."""
    number = {"type": "number", "step": "any", "inputmode": "decimal"}
    rates = given.get("rates", "reference")
    options = "".join(
        f'<option value="{s}"{" selected" if s == rates else ""}>{html.escape(t[s])}</option>' for s in RATE_SOURCES
    )
    horizons = "".join(f'<option value="{h}"></option>' for h in HORIZONS)
    rates_invalid = ' aria-invalid="true" class="sp-invalid"' if bad == "rates" else ""
    horizon = {"horizon": given.get("horizon", "month")}
    open_overrides = " open" if any(s in given for s in STEPS) or bad in STEPS else ""
    window = ("from", "to", *CAPACITY)
    open_window = " open" if any(k in given for k in window) or bad in window else ""
    return (
        '<form class="sp-form sp-plan-form" method="get" action="/planner">'
        f"<fieldset><legend>{t['target']}</legend>"
        + _input("revenue", t, given, bad, **number)
        + _input("signatures", t, given, bad, **number)
        + "</fieldset>"
        + _input("horizon", t, horizon, bad, list="sp-horizons")
        + f'<datalist id="sp-horizons">{horizons}</datalist>'
        + f'<label>{t["rates"]} <select name="rates"{rates_invalid}>{options}</select></label>'
        + _input("deal_value", t, given, bad, placeholder=t["deal_value_hint"], **number)
        + f"<details{open_overrides}><summary>{t['overrides']}</summary>"
        + "".join(_input(s, t, given, bad, placeholder="0.25", **number) for s in STEPS)
        + f"</details><details{open_window}><summary>{t['window']}</summary>"
        + _input("from", t, given, bad, type="date")
        + _input("to", t, given, bad, type="date")
        + "".join(_input(k, t, given, bad, placeholder=f"{v:g}", **number) for k, v in CAPACITY.items())
        + f'</details><button type="submit">{t["submit"]}</button></form>'
    )


def _shown_table(table: Table, lang: str, currency: str, export: str, query: str) -> str:
    """A table on the page without its ``name`` column (the steps' ids, for the JSON and the exports)."""
    columns = [c for c in table.columns if c.key != "name"]
    return to_html(Table(table.name, table.title, columns, table.rows), lang, currency, export, query)


def _shown(value: float, lang: str) -> str:
    """A volume on the chart as the table's "whole" column gives it: rounded up to whole calls,
    leads, deals (a chart saying 2 100 beside a table saying 2 146 reads as two plans)."""
    if not math.isfinite(value):
        return formats.number(value, lang)
    return formats.number(_whole(value), lang)


def _summary(plan: Plan, t: dict[str, str], lang: str, currency: str) -> str:
    months = plan.horizon_days / (365.25 / 12)
    rows = [
        (
            t["horizon_days"],
            f"{formats.days(plan.horizon_days, lang, 1)} ({formats.number(plan.working_days, lang, 1)} "
            f"{t['working']}) · {formats.number(months, lang, 1)} × {t['month']}",
        ),
        (t["rates"], t[plan.rates_source]),
    ]
    if plan.deal_value is not None:
        source = plan.window.get("deal_value_source")
        rows.append(
            (t["deal_value_used"], f"{formats.money(plan.deal_value, lang, currency)} ({t.get(str(source), '')})")
        )
    revenue = next((v.value for v in plan.volumes if v.name == "revenue"), None)
    if revenue is not None:
        rows.append((t["target_revenue"], formats.money(revenue, lang, currency)))
    if plan.interval_method is not None:
        start, end = (plan.window.get(k) for k in ("from", "to"))
        rows.append((t["source"], t["rates_window"].format(start=start, end=end) + f" ({plan.interval_method})"))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    return (
        f'<section class="sp-section" id="plan"><h2>{t["summary"]}</h2>'
        f'<dl class="sp-plan-summary">{items}</dl></section>'
    )


def build(q: PageQuery) -> View:
    t, lang = q.t, q.lang
    params = dict(parse_qsl(q.filters.query, keep_blank_values=True))  # the query only, not the path's
    given = {k: v for k, v in params.items() if v.strip()}
    try:
        inputs = read(params)
        if inputs.rates == "per-rep" and q.viewer.user.role == "rep":
            raise PlanInputError("rates", ALONE)
        plan = make_plan(q.ws, inputs) if inputs.planned else None
    except PlanInputError as exc:
        said = html.escape(messages.text(str(exc), lang))
        message = f'<p class="sp-error" role="alert" id="plan-error">{t["invalid"]}{formats.colon(lang)}{said}</p>'
        content = f'<main class="sp-main sp-planner">{message}{form(t, given, exc.field)}</main>'
        return View(content, [], view_data(None, None, exc), status=400)
    if plan is None:
        content = f'<main class="sp-main sp-planner"><p class="sp-note">{t["intro"]}</p>{form(t, given, None)}</main>'
        return View(content, [], view_data(None, inputs))
    volumes, rates, headcount = tables(plan, inputs, t, q.lang)
    steps = [(row["step"], float(row["needed"])) for row in volumes.rows]
    by_step = {r.step: r.value for r in plan.rates}
    texts = [formats.percent(by_step.get(s), lang) for s in STEPS]
    chart = charts.funnel(steps, t["funnel"], partial(_shown, lang=lang), texts)
    staff = [h for h in plan.headcount if h.needed is not None]
    bars = charts.bars(
        [t[h.role] for h in staff],
        [h.needed for h in staff],
        t["headcount_chart"],
        partial(formats.number, lang=lang, decimals=1),
        [float(h.today) for h in staff],
        [h.needed is not None and h.needed > h.today for h in staff],
        reference_label=t["today"],
    )
    notes = "".join(f'<p class="sp-note sp-flag">{html.escape(flags.one(flag, lang, t))}</p>' for flag in plan.flags)
    export = q.filters.query
    content = (
        '<main class="sp-main sp-planner">'
        + form(t, given, None)
        + _summary(plan, t, lang, q.currency)
        + f'<section class="sp-section" id="funnel-needed"><h2>{t["funnel"]}</h2>{chart}</section>'
        + _shown_table(volumes, lang, q.currency, q.export("volumes", "planner"), export)
        + f'<section class="sp-section" id="staff"><h2>{t["headcount_chart"]}</h2>{bars}{notes}</section>'
        + _shown_table(headcount, lang, q.currency, q.export("headcount", "planner"), export)
        + _shown_table(rates, lang, q.currency, q.export("rates", "planner"), export)
        + "</main>"
    )
    return View(content, [volumes, rates, headcount], view_data(plan, inputs))


def routes(app: FastAPI, ctx: Context) -> None:
    def plan_api(request: Request) -> dict[str, Any]:
        """The plan of the query's inputs (as the planner page's form sends them), in the user's scope:
        ``inputs``, ``plan`` (the JSON of ``salespilot plan --format json``) and the page's ``tables``.
        A wrong input answers 400 with a message naming its field."""
        viewer = ctx.viewer(request, TEXT)
        try:
            inputs = read(request.query_params)
            with ctx.scoped(viewer.user) as ws:
                plan = make_plan(ws, inputs)
        except PlanInputError as exc:  # the API's one error shape, code ParameterError
            raise ParameterError(str(exc)) from None
        body = api.plain(view_data(plan, inputs))
        body["tables"] = [table.as_dict() for table in tables(plan, inputs, viewer.t, viewer.lang)]
        return dict(body)

    query = openapi_query(list(PARAM_DOCS), PARAM_DOCS)
    app.add_api_route("/api/v1/plan", plan_api, methods=["GET"], name="plan", openapi_extra=query)


PAGE = Page(
    name="planner",
    path="/planner",
    title={"en": "Planner", "fr": "Planificateur"},
    build=build,
    texts=TEXT,
    filters=(),  # the form is the page's own filter bar
    slice=False,  # the plan is the user's scope as a whole
    routes=routes,
    param_docs=PARAM_DOCS,
)
