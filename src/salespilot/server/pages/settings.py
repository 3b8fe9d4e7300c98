"""Settings (admins): the users who may sign in (add, remove, reset a password), the targets
(list, set one) and the workspace settings (base currency, time zone, funnel...), each written
through the Workspace with the validation of the CLI (``salespilot users``, ``salespilot
targets set``, ``salespilot settings``). The same through the API: ``GET``/``PUT
/api/v1/targets`` and ``GET``/``PATCH /api/v1/settings``.

Every form posts with the session's CSRF token and lands back on the page with a notice: what
was done, or the validation message naming the field."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from salespilot.engine.access import LANGUAGES, ROLES, User
from salespilot.engine.workspace import Workspace
from salespilot.errors import AccessError, Forbidden, ParameterError, UserInputError
from salespilot.server import api, formats, notices, words
from salespilot.server.context import Context
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html
from salespilot.settings import SETTINGS, validate

TARGET_KEYS = ("metric", "value", "period", "rep", "team")
SHOWN_TARGETS = 30  # on the page, the latest; the filters and the exports reach the others
TEXT = {
    "en": {
        "st_users": "Users",
        "st_email": "E-mail",
        "st_name": "Name",
        "st_role": "Role",
        "st_rep": "Rep id",
        "st_team": "Team",
        "st_language": "Language",
        "st_password": "Password (10 characters or more)",
        "st_add": "Add a user",
        "st_add_button": "Add",
        "st_remove": "Remove a user",
        "st_remove_button": "Remove",
        "st_reset": "Reset a password",
        "st_reset_button": "Set the password",
        "st_none": "—",
        "st_targets": "Targets",
        "st_set_target": "Set a target",
        "st_metric": "Metric (KPI)",
        "st_value": "Value",
        "st_period": "Period (2026-07, 2026-Q3, 2026, FY2026)",
        "st_scope": "Scope",
        "st_scope_id": "Rep or team",
        "st_save": "Save",
        "st_company": "the company",
        "st_settings": "Workspace settings",
        "st_setting": "Setting",
        "st_default": "Default",
        "st_meaning": "Meaning",
        "st_added": "User {email} added with role {role}.",
        "st_removed": "User {email} removed; their sessions and API tokens no longer work.",
        "st_reset_done": "Password of {email} changed; their sessions ended.",
        "st_target_done": "Target {verb}: {metric} = {value} for {who} in {period}.",
        "st_setting_done": "Setting {name} = {value}.",
        "st_set": "set",
        "st_updated": "updated",
        "st_unchanged": "unchanged",
        "st_filter": "Show",
    },
    "fr": {
        "st_users": "Utilisateurs",
        "st_email": "E-mail",
        "st_name": "Nom",
        "st_role": "Rôle",
        "st_rep": "Identifiant commercial",
        "st_team": "Équipe",
        "st_language": "Langue",
        "st_password": "Mot de passe (10 caractères ou plus)",
        "st_add": "Ajouter un utilisateur",
        "st_add_button": "Ajouter",
        "st_remove": "Supprimer un utilisateur",
        "st_remove_button": "Supprimer",
        "st_reset": "Réinitialiser un mot de passe",
        "st_reset_button": "Changer le mot de passe",
        "st_none": "—",
        "st_targets": "Objectifs",
        "st_set_target": "Fixer un objectif",
        "st_metric": "Indicateur",
        "st_value": "Valeur",
        "st_period": "Période (2026-07, 2026-Q3, 2026, FY2026)",
        "st_scope": "Portée",
        "st_scope_id": "Commercial ou équipe",
        "st_save": "Enregistrer",
        "st_company": "l'entreprise",
        "st_settings": "Paramètres de l'espace",
        "st_setting": "Paramètre",
        "st_default": "Par défaut",
        "st_meaning": "Signification",
        "st_added": "Utilisateur {email} ajouté avec le rôle {role}.",
        "st_removed": "Utilisateur {email} supprimé ; ses sessions et jetons d'API ne fonctionnent plus.",
        "st_reset_done": "Mot de passe de {email} changé ; ses sessions sont fermées.",
        "st_target_done": "Objectif {verb} : {metric} = {value} pour {who} en {period}.",
        "st_setting_done": "Paramètre {name} = {value}.",
        "st_set": "fixé",
        "st_updated": "mis à jour",
        "st_unchanged": "inchangé",
        "st_filter": "Afficher",
    },
}


# -- validation shared by the forms and the API -----------------------------------------------------
def target_value(raw: Any) -> float:
    """A target's value: a finite number of 0 or more (``salespilot targets set`` takes the same)."""
    if isinstance(raw, bool):
        raw = None
    try:
        number = float(raw) if isinstance(raw, int | float | str) and str(raw).strip() else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ParameterError(f"Field value: expected a number of 0 or more (got {raw!r}).")
    return number


def set_target(ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """Set one target from ``{metric, value, period, rep?, team?}``, checked as the CLI checks it."""
    unknown = sorted(set(body) - set(TARGET_KEYS))
    if unknown:
        raise ParameterError(f"Field {unknown[0]}: not a field of a target (expected {', '.join(TARGET_KEYS)}).")
    for key in ("metric", "period", "rep", "team"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ParameterError(f"Field {key}: expected a text (got {body[key]!r}).")
    for key in ("metric", "period"):
        if not str(body.get(key) or "").strip():
            raise ParameterError(f"Field {key}: required.")
    metric, period = str(body["metric"]).strip(), str(body["period"]).strip()
    value = target_value(body.get("value"))
    rep, team = (str(body.get(k) or "").strip() or None for k in ("rep", "team"))
    try:
        result = ws.set_target(metric, value, period, rep=rep, team=team)
    except ParameterError as exc:
        raise ParameterError(_named(str(exc))) from None
    verb = "unchanged" if result.unchanged else "updated" if result.updated else "set"
    scope, scope_id = ("rep", rep) if rep else ("team", team) if team else ("company", None)
    target = {"period": period, "metric": metric, "value": value, "scope": scope, "scope_id": scope_id}
    return {"target": target, "result": verb, "import_id": result.import_id}


def _named(message: str) -> str:
    """The engine's messages name the CLI's options; the API's fields are named without dashes."""
    for option, field in (("--period", "period"), ("--rep or --team", "rep or team"), ("--rep", "rep")):
        message = message.replace(option, field)
    if message.startswith('"') and "is not a KPI" in message:
        return f"Field metric: {message}"
    if "is not a rep id" in message:
        return f"Field rep: {message}"
    if "is not a team" in message:
        return f"Field team: {message}"
    if message.startswith("period "):
        return f"Field {message}"
    return message


def new_settings(body: Any) -> dict[str, str]:
    """``{name: value}`` checked whole (every name known, every value valid) before any is written."""
    if not isinstance(body, dict) or not body:
        names = ", ".join(SETTINGS)
        raise ParameterError(
            f"The body must be a JSON object of settings to change, e.g. {{'timezone': 'UTC'}} ({names})."
        )
    clean = {}
    for name, value in body.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ParameterError(f"Setting {name}: expected a text or a number (got {value!r}).")
        clean[str(name)] = validate(str(name), str(value))
    return clean


def settings_items(ws: Workspace) -> list[dict[str, Any]]:
    return [
        {"name": k, "value": v, "default": SETTINGS[k].default, "description": SETTINGS[k].description}
        for k, v in ws.settings().items()
    ]


# The settings' meanings in French (the English ones are salespilot.settings'); a test checks
# that every setting has one.
MEANING_FR = {
    "timezone": "fuseau horaire de l'espace ; les heures locales des fichiers y sont lues",
    "base_currency": "devise dans laquelle chaque montant est converti",
    "fiscal_year_start_month": "premier mois de l'exercice fiscal (1-12)",
    "active_window_months": "sans contrats, un client est actif s'il a gagné une affaire dans ce nombre de mois",
    "renewal_grace_days": "un contrat qui commence avec ce retard (en jours) renouvelle encore le précédent",
    "small_sample": "les résultats sur moins d'observations sont signalés",
    "default_margin_rate": "taux de marge brute utilisé quand les affaires n'en portent pas",
    "funnel_steps": "les étapes de l'entonnoir, consécutives, de haut en bas",
    "funnel_stages": "on : l'entonnoir montre aussi les étapes des opportunités (comme --stages)",
    "reference_rates": "taux de conversion de référence de l'entonnoir et du planificateur (ETAPE=TAUX,...)",
    "stage_order": "étapes des opportunités dans l'ordre de l'entonnoir (séparées par des virgules) ; "
    "les autres suivent à leur place habituelle",
}


# -- the page ----------------------------------------------------------------------------------------
def _options(
    choices: list[str], chosen: str | None = None, empty: str | None = None, shown: Mapping[str, str] | None = None
) -> str:
    """``<option>``s of the codes ``choices``, each shown in the user's words (``shown``)."""
    first = f'<option value="">{html.escape(empty)}</option>' if empty is not None else ""
    return first + "".join(
        f'<option value="{html.escape(c)}"{" selected" if c == chosen else ""}>'
        f"{html.escape((shown or {}).get(c, c))}</option>"
        for c in choices
    )


def _period_key(period: str) -> tuple[str, str]:
    """Periods in time order: 2026-12 after 2026-Q3, FY2026 with 2026."""
    text = period.removeprefix("FY")
    year, _, rest = text.partition("-")
    quarter = {"Q1": "03", "Q2": "06", "Q3": "09", "Q4": "12"}
    return year, quarter.get(rest, rest or "99")


def _field(label: str, name: str, kind: str = "text", extra: str = "") -> str:
    return f'<label>{label} <input name="{name}" type="{kind}"{extra}></label>'


def _users(q: PageQuery, ws: Workspace, token: str, reps: Mapping[str, str], teams: list[str]) -> tuple[str, Table]:
    t = q.t
    users = [u.as_dict() for u in ws.users()]
    table = Table(
        "users",
        f"{t['st_users']} ({len(users)})",
        [
            Column("email", t["st_email"]),
            Column("name", t["st_name"]),
            Column("role", t["st_role"], words=words.of("user_role", q.lang)),
            Column("rep_id", t["st_rep"]),
            Column("team", t["st_team"]),
            Column("language", t["st_language"], words=words.of("language", q.lang)),
        ],
        users,
    )
    emails = [str(u["email"]) for u in users]
    roles = _options(list(ROLES), "rep", None, words.of("user_role", q.lang))
    languages = _options(list(LANGUAGES), q.lang, None, words.of("language", q.lang))
    add = (
        f'<form class="sp-form" method="post" action="/settings/users/add" id="add-user"><h3>{t["st_add"]}</h3>'
        f"{token}{_field(t['st_email'], 'email', 'email', ' required')}{_field(t['st_name'], 'name')}"
        f"{_field(t['st_password'], 'password', 'password', ' required minlength=10 autocomplete=new-password')}"
        f'<label>{t["st_role"]} <select name="role">{roles}</select></label>'
        f'<label>{t["st_rep"]} <select name="rep_id">'
        f"{_options(list(reps), None, t['st_none'], reps)}</select></label>"
        f'<label>{t["st_team"]} <select name="team">{_options(teams, None, t["st_none"])}</select></label>'
        f'<label>{t["st_language"]} <select name="language">{languages}</select></label>'
        f"<button>{t['st_add_button']}</button></form>"
    )
    remove = (
        f'<form class="sp-form" method="post" action="/settings/users/remove" id="remove-user">'
        f"<h3>{t['st_remove']}</h3>{token}"
        f'<label>{t["st_email"]} <select name="email">{_options(emails)}</select></label>'
        f"<button>{t['st_remove_button']}</button></form>"
    )
    reset = (
        f'<form class="sp-form" method="post" action="/settings/users/password" id="reset-password">'
        f"<h3>{t['st_reset']}</h3>{token}"
        f'<label>{t["st_email"]} <select name="email">{_options(emails)}</select></label>'
        f"{_field(t['st_password'], 'password', 'password', ' required minlength=10 autocomplete=new-password')}"
        f"<button>{t['st_reset_button']}</button></form>"
    )
    html_part = (
        to_html(table, q.lang, q.currency, "/export/settings/users")
        + f'<div class="sp-forms">{add}{remove}{reset}</div>'
    )
    return html_part, table


def _targets(q: PageQuery, ws: Workspace, token: str, reps: Mapping[str, str], teams: list[str]) -> tuple[str, Table]:
    t, p = q.t, q.params
    period, metric, scope = (p.get(k) or None for k in ("period", "metric", "scope"))
    rows = ws.targets(period=period, metric=metric, scope=scope)
    rows.sort(key=lambda r: _period_key(str(r["period"])), reverse=True)  # the latest periods first
    kpi_words = {k.name: k.label(q.lang) for k in q.ctx.catalogue.kpis.values()}
    table = Table(
        "targets",
        f"{t['st_targets']} ({len(rows)})",
        [
            Column("period", t["period"], "period"),
            Column("metric", t["st_metric"], words=kpi_words),
            Column("value", t["st_value"], "number"),
            Column("scope", t["st_scope"], words=words.of("scope", q.lang)),
            Column("scope_id", t["st_scope_id"]),
        ],
        rows,
    )
    names = q.ctx.catalogue.names()
    shown = f"period={period or ''}&metric={metric or ''}&scope={scope or ''}"
    show = (
        f'<form class="sp-filters" method="get" action="/settings">'
        f'<label>{t["period"]} <input name="period" value="{html.escape(period or "")}"></label>'
        f'<label>{t["st_metric"]} <select name="metric">{_options(names, metric, t["all"], kpi_words)}</select></label>'
        f'<label>{t["st_scope"]} <select name="scope">'
        f"{_options(['company', 'team', 'rep'], scope, t['all'], words.of('scope', q.lang))}</select></label>"
        f"<button>{t['st_filter']}</button></form>"
    )
    form = (
        f'<form class="sp-form" method="post" action="/settings/targets" id="set-target"><h3>{t["st_set_target"]}</h3>'
        f'{token}<label>{t["st_metric"]} <select name="metric">'
        f"{_options(names, 'revenue', None, kpi_words)}</select></label>"
        f"{_field(t['st_value'], 'value', 'number', ' required min=0 step=any')}"
        f"{_field(t['st_period'], 'period', 'text', ' required placeholder=2026-07')}"
        f'<label>{t["st_rep"]} <select name="rep">{_options(list(reps), None, t["st_none"], reps)}</select></label>'
        f'<label>{t["st_team"]} <select name="team">{_options(teams, None, t["st_none"])}</select></label>'
        f"<button>{t['st_save']}</button></form>"
    )
    forms = (
        f'<section class="sp-section" id="targets-form"><div class="sp-forms">{form}<div>{show}</div></div></section>'
    )
    part = forms + to_html(table, q.lang, q.currency, "/export/settings/targets", shown, limit=SHOWN_TARGETS)
    return part, table


def meaning(item: Mapping[str, str], lang: str) -> str:
    """A setting's meaning in ``lang``."""
    return MEANING_FR.get(item["name"], item["description"]) if lang == "fr" else item["description"]


def _settings(q: PageQuery, ws: Workspace, token: str) -> tuple[str, Table]:
    t = q.t
    items = [{**i, "description": meaning(i, q.lang)} for i in settings_items(ws)]
    table = Table(
        "settings",
        t["st_settings"],
        [
            Column("name", t["st_setting"]),
            Column("value", t["value"]),
            Column("default", t["st_default"]),
            Column("description", t["st_meaning"]),
        ],
        items,
    )
    rows = "".join(
        f'<tr><th><label for="setting-{html.escape(i["name"])}"><code>{html.escape(i["name"])}</code></label></th><td>'
        f'<form method="post" action="/settings/settings" class="sp-inline">{token}'
        f'<input type="hidden" name="name" value="{html.escape(i["name"])}">'
        f'<input id="setting-{html.escape(i["name"])}" name="value" value="{html.escape(i["value"])}">'
        f"<button>{t['st_save']}</button></form></td>"
        f'<td class="sp-note">{html.escape(i["description"])} '
        f"({t['st_default']}{formats.colon(q.lang)}{html.escape(i['default'] or '–')})</td></tr>"
        for i in items
    )
    part = (
        f'<section class="sp-section" id="settings"><h2>{t["st_settings"]}</h2>'
        f'<div class="sp-scroll"><table class="sp-table sp-settings" data-table="settings"><tbody>{rows}'
        f"</tbody></table></div></section>"
    )
    return part, table


def build(q: PageQuery) -> View:
    token = f'<input type="hidden" name="csrf" value="{html.escape(q.viewer.csrf or "")}">'
    notice = notices.html_of(notices.decode(q.viewer.csrf, q.params.get("notice")))
    with q.ctx.writer(q.viewer.user, "manage users") as ws:
        reps_rows = ws.sql("SELECT rep_id, name, team FROM reps ORDER BY rep_id").to_pylist()
        # each rep's option: id and name (R0014 · Vera Muller); the id is what is stored
        reps = {str(r["rep_id"]): " · ".join(str(v) for v in (r["rep_id"], r["name"]) if v) for r in reps_rows}
        teams = sorted({str(r["team"]) for r in reps_rows if r["team"] is not None})
        users_html, users = _users(q, ws, token, reps, teams)
        targets_html, targets = _targets(q, ws, token, reps, teams)
        settings_html, settings = _settings(q, ws, token)
    content = f'<div id="notice">{notice}</div>{users_html}{targets_html}{settings_html}'
    return View(content, [users, targets, settings], {"reps": len(reps), "teams": teams})


# -- the routes that write -------------------------------------------------------------------------
def routes(app: FastAPI, ctx: Context) -> None:

    def form(request: Request, csrf: str, what: str, section: str, work: Callable[[Workspace, User], str]) -> Response:
        """Check the user and the CSRF token, do ``work``; land on the page with its notice."""
        user, expected = ctx.current(request)
        with ctx.writer(user, what) as ws:
            ctx.check_csrf(expected, csrf)
            try:
                key = notices.encode(expected, True, work(ws, user))
            except AccessError:
                raise
            except UserInputError as exc:
                key = notices.encode(expected, False, str(exc))
        return RedirectResponse(f"/settings?{urlencode({'notice': key})}#{section}", status_code=303)

    @app.post("/settings/users/add", include_in_schema=False)
    def add_user(
        request: Request,
        csrf: str = Form(""),
        email: str = Form(""),
        name: str = Form(""),
        password: str = Form(""),
        role: str = Form(""),
        rep_id: str = Form(""),
        team: str = Form(""),
        language: str = Form("en"),
    ) -> Response:
        def work(ws: Workspace, user: User) -> str:
            added = ws.add_user(email, password, role, rep_id or None, team or None, name or None, language)
            return texts(user)["st_added"].format(email=added.email, role=added.role)

        return form(request, csrf, "manage users", "users", work)

    @app.post("/settings/users/remove", include_in_schema=False)
    def remove_user(request: Request, csrf: str = Form(""), email: str = Form("")) -> Response:
        def work(ws: Workspace, user: User) -> str:
            if email.strip().lower() == user.email:
                raise ParameterError("Field email: you cannot remove yourself here (another admin can).")
            ws.remove_user(email)
            return texts(user)["st_removed"].format(email=email.strip().lower())

        return form(request, csrf, "manage users", "users", work)

    @app.post("/settings/users/password", include_in_schema=False)
    def reset_password(
        request: Request, csrf: str = Form(""), email: str = Form(""), password: str = Form("")
    ) -> Response:
        def work(ws: Workspace, user: User) -> str:
            ws.reset_password(email, password)
            return texts(user)["st_reset_done"].format(email=email.strip().lower())

        return form(request, csrf, "manage users", "users", work)

    @app.post("/settings/targets", include_in_schema=False)
    def target_form(
        request: Request,
        csrf: str = Form(""),
        metric: str = Form(""),
        value: str = Form(""),
        period: str = Form(""),
        rep: str = Form(""),
        team: str = Form(""),
    ) -> Response:
        def work(ws: Workspace, user: User) -> str:
            body = {"metric": metric, "value": value, "period": period, "rep": rep, "team": team}
            done = set_target(ws, body)
            t, target = texts(user), done["target"]
            who = f"{target['scope']} {target['scope_id']}" if target["scope_id"] else t["st_company"]
            return t["st_target_done"].format(
                verb=t[f"st_{done['result']}"], metric=metric, value=f"{target['value']:g}", who=who, period=period
            )

        return form(request, csrf, "set targets", "targets", work)

    @app.post("/settings/settings", include_in_schema=False)
    def setting_form(request: Request, csrf: str = Form(""), name: str = Form(""), value: str = Form("")) -> Response:
        def work(ws: Workspace, user: User) -> str:
            clean = ws.set_setting(name, value)
            return texts(user)["st_setting_done"].format(name=name, value=clean)

        return form(request, csrf, "change settings", "settings", work)

    # -- the API ----------------------------------------------------------------------------------
    @app.get("/api/v1/targets")
    def api_targets(
        request: Request,
        period: str | None = None,
        metric: str | None = None,
        scope: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> dict[str, Any]:
        """The targets (admin), by period, scope and metric; filters ``period``, ``metric``, ``scope``."""
        user, _ = ctx.current(request)
        api.page_bounds(limit, offset)
        with ctx.writer(user, "list targets") as ws:
            try:
                rows = ws.targets(period=period, metric=metric, scope=scope)
            except ParameterError as exc:
                raise ParameterError(str(exc).replace("--scope", "Parameter scope:", 1)) from None
        return api.listing(rows[offset : offset + limit], len(rows), limit, offset)

    @app.put("/api/v1/targets")
    async def api_set_target(request: Request) -> dict[str, Any]:
        """Set (or replace) one target: ``{"metric", "value", "period", "rep"?, "team"?}``."""
        user, _ = await run_in_threadpool(ctx.current, request)
        if not user.can_write:
            raise Forbidden("Only an admin may set targets.")
        body = await _json(request)
        if not isinstance(body, dict):
            raise ParameterError('The body must be a JSON object: {"metric", "value", "period", "rep"?, "team"?}.')

        def work() -> dict[str, Any]:
            with ctx.writer(user, "set targets") as ws:
                return set_target(ws, body)

        return await run_in_threadpool(work)

    @app.get("/api/v1/settings")
    def api_settings(request: Request) -> dict[str, Any]:
        """The workspace settings (admin): name, value, default, meaning."""
        user, _ = ctx.current(request)
        with ctx.writer(user, "read the settings") as ws:
            items = settings_items(ws)
        return api.listing(items)

    @app.patch("/api/v1/settings")
    async def api_patch_settings(request: Request) -> dict[str, Any]:
        """Change settings: ``{"base_currency": "USD", ...}``, each validated before any is written."""
        user, _ = await run_in_threadpool(ctx.current, request)
        if not user.can_write:
            raise Forbidden("Only an admin may change settings.")
        body = await _json(request)

        def work() -> dict[str, Any]:
            with ctx.writer(user, "change settings") as ws:
                for name, value in new_settings(body).items():
                    ws.set_setting(name, value)
                return api.listing(settings_items(ws))

        return await run_in_threadpool(work)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ParameterError("The body must be JSON (Content-Type: application/json).") from None


def texts(user: User) -> dict[str, str]:
    lang = user.language if user.language in TEXT else "en"
    return TEXT[lang]


PAGE = Page(
    name="settings",
    path="/settings",
    title={"en": "Settings", "fr": "Paramètres"},
    build=build,
    texts=TEXT,
    filters=(),
    slice=False,
    admin=True,
    cache=False,  # its forms hold the session's CSRF token
    routes=routes,
)
