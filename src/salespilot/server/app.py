"""The HTTP face: the REST API (``/api/v1``, OpenAPI at ``/api/v1/openapi.json``) and the dashboard.

One process serves both over one Workspace. Every request is authenticated (an API token as
``Authorization: Bearer sp_...``, or the browser's ``sp_session`` cookie) and every read goes
through ``Workspace.for_user``: the user's scope is a lens applied where data is queried, so a
filter or a URL cannot widen it. Errors have one JSON shape: ``{"error": {"code", "message",
"status"}}``. See docs/server.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from salespilot.engine.access import User
from salespilot.engine.workspace import Workspace
from salespilot.errors import (
    AccessError,
    Forbidden,
    NotAuthenticated,
    ParameterError,
    SalesPilotError,
    StoreError,
    TooManyAttempts,
    UserInputError,
)
from salespilot.metrics.catalogue import load_catalogue
from salespilot.safe_csv import safe_cell
from salespilot.server import charts, formats

SESSION_COOKIE = "sp_session"
GRAINS = ("month", "quarter", "year")
FILTER_DIMS = ("rep", "team", "channel", "segment")
HEADLINE = ("revenue", "signatures", "new_customers", "win_rate", "average_deal_value", "leads")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
TEXT = {
    "en": {
        "overview": "Overview",
        "signin": "Sign in",
        "signout": "Sign out",
        "email": "E-mail",
        "password": "Password",
        "previous": "previous period",
        "target": "target",
        "apply": "Apply",
        "from": "From",
        "to": "To",
        "grain": "Grain",
        "all": "all",
        "rows": "Rows behind",
        "funnel": "Funnel",
        "pipeline": "Pipeline",
        "empty": "No data for these filters.",
        "step": "Step",
        "volume": "Volume",
        "rate": "Conversion",
        "reference": "Reference",
        "lever": "Lever",
        "durations": "Days in stage (median to P90)",
        "stuck": "Stuck deals",
        "deal": "Deal",
        "owner": "Owner",
        "stage": "Stage",
        "in_stage": "In stage",
        "threshold": "Threshold",
        "at_risk": "Value at risk",
    },
    "fr": {
        "overview": "Vue d'ensemble",
        "signin": "Se connecter",
        "signout": "Se déconnecter",
        "email": "E-mail",
        "password": "Mot de passe",
        "previous": "période précédente",
        "target": "objectif",
        "apply": "Appliquer",
        "from": "Du",
        "to": "Au",
        "grain": "Granularité",
        "all": "tous",
        "rows": "Lignes sous-jacentes",
        "funnel": "Entonnoir",
        "pipeline": "Pipeline",
        "empty": "Aucune donnée pour ces filtres.",
        "step": "Étape",
        "volume": "Volume",
        "rate": "Conversion",
        "reference": "Référence",
        "lever": "Levier",
        "durations": "Jours par étape (médiane à P90)",
        "stuck": "Affaires bloquées",
        "deal": "Affaire",
        "owner": "Responsable",
        "stage": "Étape",
        "in_stage": "Dans l'étape",
        "threshold": "Seuil",
        "at_risk": "Valeur à risque",
    },
}


def _status(exc: SalesPilotError) -> int:
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, TooManyAttempts):
        return 429
    if isinstance(exc, UserInputError):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 500


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "status": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def _filters(request: Request) -> dict[str, Any]:
    """The page and API filters from the query string, validated (a ParameterError names the parameter)."""
    q = request.query_params
    grain = q.get("grain", "month")
    if grain not in GRAINS:
        raise ParameterError(f"Parameter grain: expected one of {', '.join(GRAINS)} (got {grain!r}).")
    dates: dict[str, dt.date | None] = {}
    for name in ("from", "to"):
        raw = q.get(name) or None
        try:
            dates[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ParameterError(f"Parameter {name}: expected a date YYYY-MM-DD (got {raw!r}).") from None
    if dates["from"] and dates["to"] and dates["to"] < dates["from"]:
        raise ParameterError(f"Parameter to ({dates['to']}) is before from ({dates['from']}).")
    dims = {d: q[d] for d in FILTER_DIMS if q.get(d)}
    return {"grain": grain, "start": dates["from"], "end": dates["to"], "dims": dims}


def create_app(db: str, *, secure_cookies: bool = True, upload_limit_mb: int = 50) -> FastAPI:
    """The ASGI application over the store ``db`` (a DuckDB path or a PostgreSQL URL)."""
    workspace = Workspace(db)
    lock = threading.RLock()  # one connection per process: requests take turns on it
    catalogue = load_catalogue()
    app = FastAPI(
        title="SalesPilot",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.workspace = workspace
    app.state.upload_limit = upload_limit_mb * 1024 * 1024

    @contextmanager
    def scoped(user: User) -> Iterator[Workspace]:
        with lock:
            yield workspace.for_user(user)

    def current(request: Request) -> tuple[User, str | None]:
        header = request.headers.get("authorization", "")
        with lock:
            if header.lower().startswith("bearer "):
                user = workspace.token_user(header[7:].strip())
                if user is None:
                    raise NotAuthenticated("The API token is unknown or revoked.")
                return user, None
            cookie = request.cookies.get(SESSION_COOKIE)
            found = workspace.session_user(cookie) if cookie else None
        if found is None:
            raise NotAuthenticated("Sign in first: no valid session or API token.")
        return found

    def viewer(request: Request) -> tuple[User, str | None, str, dict[str, str]]:
        """The signed-in user of a page, their CSRF token, language and its interface texts."""
        user, csrf = current(request)
        lang = user.language if user.language in TEXT else "en"
        return user, csrf, lang, TEXT[lang]

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > app.state.upload_limit:
            return _error(413, "too_large", f"The request body exceeds {upload_limit_mb} MB.")
        response: Response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(SalesPilotError)
    async def on_error(request: Request, exc: SalesPilotError) -> Response:
        status = _status(exc)
        if status == 401 and not request.url.path.startswith("/api/"):
            return RedirectResponse("/login", status_code=303)
        extra = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
        code = type(exc).__name__
        message = str(exc) if status < 500 or isinstance(exc, StoreError) else "Internal error; see the server log."
        return _error(status, code, message, extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        parts = [f"parameter {'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return _error(400, "ParameterError", "; ".join(parts) or "Invalid request.")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, "http_error", str(exc.detail))

    # -- API -----------------------------------------------------------------------------------
    @app.get("/api/v1/me")
    def me(request: Request) -> dict[str, Any]:
        user, _ = current(request)
        return user.as_dict()

    @app.get("/api/v1/kpis")
    def kpi_catalogue(request: Request) -> dict[str, Any]:
        current(request)
        items = [
            {
                "name": k.name,
                "label_en": k.label_en,
                "label_fr": k.label_fr,
                "description": k.description,
                "unit": k.unit,
                "direction": k.direction,
                "dimensions": list(k.dimensions),
            }
            for k in catalogue.kpis.values()
        ]
        return {"items": items, "total": len(items), "limit": len(items), "offset": 0}

    def _kpi_filters(name: str, dims: dict[str, str]) -> dict[str, str]:
        kpi = catalogue.kpis.get(name)
        if kpi is None:
            raise ParameterError(f"Unknown KPI {name!r} (see /api/v1/kpis).")
        wrong = [d for d in dims if d not in kpi.dimensions]
        if wrong:
            raise ParameterError(f"Parameter {wrong[0]}: {name} cannot be filtered by {wrong[0]}.")
        return dims

    @app.get("/api/v1/kpis/{name}")
    def kpi_values(request: Request, name: str) -> dict[str, Any]:
        user, _ = current(request)
        f = _filters(request)
        dims = _kpi_filters(name, f["dims"])
        with scoped(user) as ws:
            rows = ws.kpi([name], grain=f["grain"], filters=dims, start=f["start"], end=f["end"], output="rows")
        return {"items": rows, "total": len(rows), "limit": len(rows), "offset": 0}

    @app.get("/api/v1/kpis/{name}/rows")
    def kpi_rows(request: Request, name: str, limit: int = 200, offset: int = 0) -> dict[str, Any]:
        user, _ = current(request)
        if not 1 <= limit <= 1000 or offset < 0:
            raise ParameterError("Parameter limit: expected 1 to 1000, offset 0 or more.")
        f = _filters(request)
        dims = _kpi_filters(name, f["dims"])
        with scoped(user) as ws:
            found = ws.kpi_rows(name, filters=dims, start=f["start"], end=f["end"], limit=offset + limit)
        items = list(found.get("rows", []))[offset:]
        return {**{k: v for k, v in found.items() if k != "rows"}, "items": items, "limit": limit, "offset": offset}

    @app.get("/export/kpis/{name}/rows.csv")
    def export_rows(request: Request, name: str) -> Response:
        """The rows behind a KPI as CSV (up to 100,000), in the user's scope, safe to open in a spreadsheet."""
        user, _ = current(request)
        f = _filters(request)
        dims = _kpi_filters(name, f["dims"])
        with scoped(user) as ws:
            found = ws.kpi_rows(name, filters=dims, start=f["start"], end=f["end"], limit=100_000)
        rows = list(found.get("rows", []))
        header = list(rows[0]) if rows else []
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(_plain(row[column])) for column in header])
        disposition = f'attachment; filename="{name}-rows.csv"'
        return Response(buffer.getvalue(), media_type="text/csv", headers={"Content-Disposition": disposition})

    @app.get("/api/v1/funnel")
    def funnel(request: Request) -> dict[str, Any]:
        user, _ = current(request)
        f = _filters(request)
        with scoped(user) as ws:
            periods = ws.funnel(grain=f["grain"], start=f["start"], end=f["end"])
        items = [_plain(p) for p in periods]
        return {"items": items, "total": len(items), "limit": len(items), "offset": 0}

    @app.get("/api/v1/pipeline")
    def pipeline(request: Request) -> dict[str, Any]:
        user, _ = current(request)
        with scoped(user) as ws:
            stuck = ws.stuck_deals()
            durations = ws.stage_durations()
        stages = {"stages": durations.stages, "cycle": durations.cycle, "data_end": durations.data_end}
        return {"stuck_deals": {"items": _plain(stuck), "total": len(stuck)}, "stage_durations": _plain(stages)}

    @app.get("/api/v1/users")
    def users(request: Request) -> dict[str, Any]:
        user, _ = current(request)
        if user.role != "admin":
            raise Forbidden("Only an admin may list users.")
        with lock:
            items = [u.as_dict() for u in workspace.users()]
        return {"items": items, "total": len(items), "limit": len(items), "offset": 0}

    # -- pages ---------------------------------------------------------------------------------
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(ICON, media_type="image/svg+xml")

    @app.get("/static/app.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(STYLE, media_type="text/css")

    @app.get("/login", response_class=HTMLResponse)
    def login_page(error: str | None = None) -> str:
        t = TEXT["en"]
        note = f'<p class="sp-error">{html.escape(error)}</p>' if error else ""
        body = (
            f'<form method="post" action="/login" class="sp-login"><h1>SalesPilot</h1>{note}'
            f'<label>{t["email"]} <input name="email" type="email" required autocomplete="username"></label>'
            f'<label>{t["password"]} <input name="password" type="password" required '
            f'autocomplete="current-password"></label><button>{t["signin"]}</button></form>'
        )
        return _page("SalesPilot", body, "en")

    @app.post("/login")
    def login(request: Request, email: str = Form(...), password: str = Form(...)) -> Response:
        client = request.client.host if request.client else "unknown"
        try:
            with lock:
                user = workspace.authenticate(email, password, client)
                token, _csrf = workspace.new_session(user)
        except TooManyAttempts as exc:
            return HTMLResponse(
                _page("SalesPilot", f'<p class="sp-error">{html.escape(str(exc))}</p>', "en"),
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        except AccessError as exc:
            return HTMLResponse(
                _page("SalesPilot", f'<p class="sp-error">{html.escape(str(exc))}</p>', "en"), status_code=401
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, secure=secure_cookies, samesite="lax", max_age=12 * 3600
        )
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        _user, expected = current(request)
        if expected is not None and csrf != expected:
            raise Forbidden("The form's CSRF token is missing or wrong; reload the page.")
        with lock:
            workspace.end_session(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> str:
        user, csrf, lang, t = viewer(request)
        f = _filters(request)
        cards = []
        with scoped(user) as ws:
            currency = ws.settings()["base_currency"].upper()
            for name in HEADLINE:
                kpi = catalogue.kpis[name]
                dims = {d: v for d, v in f["dims"].items() if d in kpi.dimensions}
                rows = ws.kpi([name], grain=f["grain"], filters=dims, start=f["start"], end=f["end"], output="rows")
                rows = rows[-12:]
                last = rows[-1] if rows else {}
                value = last.get("value")
                text = formats.value(value, kpi.unit, lang, currency)
                spark = charts.sparkline([r.get("value") for r in rows], kpi.label(lang))
                period = html.escape(str(last.get("period", "")))
                extra = ""
                for key in ("previous", "target"):
                    if last.get(key) is not None:
                        shown = formats.value(last[key], kpi.unit, lang, currency)
                        extra += f"<small>{t[key]}: {html.escape(shown)}</small>"
                link = f"/api/v1/kpis/{name}/rows?{request.url.query}"
                cards.append(
                    f'<article class="sp-card" data-kpi="{name}"><h2 title="{html.escape(kpi.description)}">'
                    f"{html.escape(kpi.label(lang))}</h2>"
                    f'<a class="sp-number" href="{html.escape(link)}" data-value="{html.escape(str(value))}">'
                    f"{html.escape(text)}</a><p>{period}</p>{extra}{spark}</article>"
                )
        body = _nav(t, csrf) + _filter_form(t, f) + f'<main class="sp-cards">{"".join(cards)}</main>'
        return _page(t["overview"], body, lang)

    @app.get("/funnel", response_class=HTMLResponse)
    def funnel_page(request: Request) -> str:
        user, csrf, lang, t = viewer(request)
        f = _filters(request)
        with scoped(user) as ws:
            periods = ws.funnel(grain=f["grain"], start=f["start"], end=f["end"])
        if not periods:
            content = f"<p>{t['empty']}</p>"
        else:
            last = periods[-1]
            steps = [(s.step, None if s.volume is None else float(s.volume)) for s in last.steps]
            rates = [formats.percent(s.rate, lang) for s in last.steps if s.next_step]
            chart = charts.funnel(steps, f"{t['funnel']} {last.period}", lambda v: formats.number(v, lang), rates)
            rows = "".join(
                f"<tr><td>{html.escape(s.step)} → {html.escape(s.next_step or '')}</td>"
                f'<td data-value="{s.volume}">{formats.number(s.volume, lang)}</td>'
                f"<td>{formats.percent(s.rate, lang)} [{formats.percent(s.ci_low, lang)}, "
                f"{formats.percent(s.ci_high, lang)}]</td><td>{formats.percent(s.reference, lang)}</td>"
                f"<td>{html.escape(s.lever or '')}</td></tr>"
                for s in last.steps
                if s.next_step
            )
            head = "".join(f"<th>{t[k]}</th>" for k in ("step", "volume", "rate", "reference", "lever"))
            content = (
                f"<h2>{html.escape(str(last.period))}</h2>{chart}"
                f'<table class="sp-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            )
        body = _nav(t, csrf) + _filter_form(t, f) + f'<main class="sp-main">{content}</main>'
        return _page(t["funnel"], body, lang)

    @app.get("/pipeline", response_class=HTMLResponse)
    def pipeline_page(request: Request) -> str:
        user, csrf, lang, t = viewer(request)
        with scoped(user) as ws:
            stuck = ws.stuck_deals()
            durations = ws.stage_durations()
            currency = ws.settings()["base_currency"].upper()
        stages = [s for s in durations.stages if s.get("median") is not None]
        # A percentile the survival curve does not reach falls back to the one below (0 days is a value).
        p75 = [s["median"] if s["p75"] is None else s["p75"] for s in stages]
        p90 = [low if s["p90"] is None else s["p90"] for s, low in zip(stages, p75, strict=True)]
        chart = charts.ranges(
            [str(s["stage"]) for s in stages],
            [float(s["median"]) for s in stages],
            [float(v) for v in p75],
            [float(v) for v in p90],
            t["durations"],
            lambda v: formats.days(v, lang),
        )
        rows = "".join(
            f"<tr><td>{html.escape(str(d['opportunity_id']))}</td><td>{html.escape(str(d['owner']))}</td>"
            f"<td>{html.escape(str(d['stage']))}</td><td>{formats.days(d['days_in_stage'], lang)}</td>"
            f"<td>{formats.days(d['threshold_days'], lang)}</td>"
            f"<td>{formats.money(d['value_at_risk'], lang, currency)}</td></tr>"
            for d in stuck[:100]
        )
        head = "".join(f"<th>{t[k]}</th>" for k in ("deal", "owner", "stage", "in_stage", "threshold", "at_risk"))
        content = (
            f"<h2>{t['durations']}</h2>{chart}<h2>{t['stuck']} ({len(stuck)})</h2>"
            f'<table class="sp-table" id="stuck"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        )
        body = _nav(t, csrf) + f'<main class="sp-main">{content}</main>'
        return _page(t["pipeline"], body, lang)

    return app


def _plain(value: Any) -> Any:
    """Dataclasses and dates as JSON-ready values."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    return value


def _nav(t: dict[str, str], csrf: str | None) -> str:
    form = (
        f'<form method="post" action="/logout"><input type="hidden" name="csrf" value="{html.escape(csrf or "")}">'
        f"<button>{t['signout']}</button></form>"
    )
    return (
        f'<header class="sp-nav"><strong>SalesPilot</strong><a href="/">{t["overview"]}</a>'
        f'<a href="/funnel">{t["funnel"]}</a><a href="/pipeline">{t["pipeline"]}</a>{form}</header>'
    )


def _filter_form(t: dict[str, str], f: dict[str, Any]) -> str:
    grains = "".join(f'<option value="{g}"{" selected" if g == f["grain"] else ""}>{g}</option>' for g in GRAINS)
    dims = "".join(
        f'<label>{d} <input name="{d}" value="{html.escape(f["dims"].get(d, ""))}"></label>' for d in FILTER_DIMS
    )
    start = f["start"].isoformat() if f["start"] else ""
    end = f["end"].isoformat() if f["end"] else ""
    return (
        f'<form class="sp-filters" method="get"><label>{t["grain"]} <select name="grain">{grains}</select></label>'
        f'<label>{t["from"]} <input type="date" name="from" value="{start}"></label>'
        f'<label>{t["to"]} <input type="date" name="to" value="{end}"></label>{dims}'
        f"<button>{t['apply']}</button></form>"
    )


ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2733"/>'
    '<path d="M3 12l3-4 3 2 4-6" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)
STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
.sp-nav{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;background:#1d2733;color:#fff}
.sp-nav a{color:#fff}.sp-nav form{margin-left:auto}
.sp-filters{display:flex;flex-wrap:wrap;gap:.5rem;padding:.6rem 1rem;background:#fff}
.sp-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:1rem;padding:1rem}
.sp-card{background:#fff;border-radius:8px;padding:.8rem;box-shadow:0 1px 2px #0002}
.sp-card h2{font-size:.95rem;margin:0}.sp-number{font-size:1.6rem;font-weight:600;color:inherit}
.sp-card small{display:block;color:#566}.sp-chart{width:100%;height:auto;color:#2a6fdb}
.sp-line{fill:none;stroke:currentColor;stroke-width:1.5}.sp-dot{fill:currentColor}
.sp-main{padding:1rem;max-width:70rem}.sp-main .sp-chart{max-width:48rem}
.sp-table{border-collapse:collapse;background:#fff;width:100%;overflow-x:auto;display:block}
.sp-table td,.sp-table th{padding:.3rem .6rem;border-bottom:1px solid #e3e7ec;text-align:left}
.sp-bar,.sp-funnel-step,.sp-range{fill:#2a6fdb}.sp-range-mid{fill:#1d2733}.sp-label,.sp-value{font-size:12px}
.sp-login{max-width:20rem;margin:4rem auto;display:grid;gap:.6rem}.sp-error{color:#b00020}
"""


def _page(title: str, body: str, lang: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)} · SalesPilot</title><link rel='stylesheet' href='/static/app.css'></head>"
        f"<body>{body}</body></html>"
    )
