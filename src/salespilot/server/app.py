"""The HTTP face: the REST API (``/api/v1``, OpenAPI at ``/api/v1/openapi.json``) and the dashboard.

One process serves both over one Workspace. Every request is authenticated (an API token as
``Authorization: Bearer sp_...``, or the browser's ``sp_session`` cookie) and every read goes
through ``Workspace.for_user``: the user's scope is a lens applied where data is queried, so a
filter or a URL cannot widen it. Errors have one JSON shape: ``{"error": {"code", "message",
"status"}}``. See docs/server.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from salespilot.errors import (
    AccessError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    ParameterError,
    SalesPilotError,
    StoreError,
    TooManyAttempts,
    UserInputError,
)
from salespilot.server import api, api_docs, layout, messages
from salespilot.server.context import SESSION_COOKIE, Context, Viewer
from salespilot.server.filters import openapi_query, parse
from salespilot.server.pages import Page, PageQuery, View, registry
from salespilot.server.tables import Table, to_csv, to_xlsx

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
EXPORTS = {
    "csv": ("text/csv; charset=utf-8", to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}


def _status(exc: SalesPilotError) -> int:
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, TooManyAttempts):
        return 429
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UserInputError):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 500


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "status": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(db: str, *, secure_cookies: bool = True, upload_limit_mb: int = 50) -> FastAPI:
    """The ASGI application over the store ``db`` (a DuckDB path or a PostgreSQL URL)."""
    ctx = Context(db, secure_cookies=secure_cookies, upload_limit_mb=upload_limit_mb)
    app = FastAPI(
        title="SalesPilot",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI comes from a CDN: the server writes its own page (server.api_docs)
        redoc_url=None,
    )
    app.state.workspace = ctx.workspace
    app.state.context = ctx
    app.state.upload_limit = upload_limit_mb * 1024 * 1024
    pages = registry()

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > app.state.upload_limit:
            return error_response(413, "too_large", f"The request body exceeds {upload_limit_mb} MB.")
        response: Response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(SalesPilotError)
    async def on_error(request: Request, exc: SalesPilotError) -> Response:
        status = _status(exc)
        if status == 401 and not request.url.path.startswith(("/api/", "/export/")):
            return RedirectResponse("/login", status_code=303)
        extra = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
        code = type(exc).__name__
        message = str(exc) if status < 500 or isinstance(exc, StoreError) else "Internal error; see the server log."
        if request.method == "GET" and not request.url.path.startswith(("/api/", "/export/")) and status < 500:
            return _error_page(ctx, pages, request, status, lambda t: message, extra)
        return error_response(status, code, message, extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        parts = [f"parameter {'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return error_response(400, "ParameterError", "; ".join(parts) or "Invalid request.")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")  # named as ours are
        path = request.url.path
        if exc.status_code == 404 and request.method == "GET" and not path.startswith(("/api/", "/export/")):
            return _error_page(ctx, pages, request, 404, lambda t: t["not_found"].format(path=path))
        return error_response(exc.status_code, code, str(exc.detail))

    api.routes(app, ctx)
    api_docs.routes(app)
    _auth_routes(app, ctx)
    for page in pages:
        _page_routes(app, ctx, page, pages)
        if page.routes is not None:
            page.routes(app, ctx)
    return app


def _language(ctx: Context, request: Request) -> str:
    """The language of the signed-in user, else the one asked (``?lang=``, the browser's)."""
    try:
        user, _ = ctx.current(request)
    except SalesPilotError:
        return layout.asked_language(request.query_params, request.headers.get("accept-language", ""))
    return user.language if user.language in layout.LANGUAGES else "en"


def _error_page(
    ctx: Context,
    pages: list[Page],
    request: Request,
    status: int,
    message: Callable[[dict[str, str]], str],
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """An error as a page in the user's language, with the navigation bar when they are signed in."""
    try:
        viewer: Viewer | None = ctx.viewer(request)
    except SalesPilotError:
        viewer = None
    lang = viewer.lang if viewer is not None else _language(ctx, request)
    t = layout.texts(lang)
    top = ""
    if viewer is not None:
        links = [(p.path, p.title.get(lang, p.title["en"])) for p in pages if p.nav and _visible(p, viewer)]
        top = layout.nav(t, viewer.csrf, links, request.url.path, lang)
    body = (
        f'{top}<main class="sp-main"><h1>{_escape(t["error_title"])}</h1>'
        f'<p class="sp-error">{_escape(messages.text(message(t), lang))}</p>'
        f'<a href="/">← {_escape(t["back"])}</a></main>'
    )
    return HTMLResponse(layout.document("SalesPilot", body, lang), status_code=status, headers=headers)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _visible(page: Page, viewer: Viewer) -> bool:
    return not page.admin or viewer.user.role == "admin"


def run_page(ctx: Context, page: Page, request: Request) -> tuple[Viewer, View]:
    """Build ``page`` for the user of ``request``: in their scope, narrowed by the filters."""
    viewer = ctx.viewer(request, page.texts)
    if not _visible(page, viewer):
        raise Forbidden(f"Only an admin may open the {page.name} page.")
    f = parse(request)
    params = {**request.query_params, **request.path_params}

    def build() -> View:
        with ctx.scoped(viewer.user, f.dims if page.slice else None) as ws:
            currency = str(ws.settings()["base_currency"]).upper()
            return page.build(PageQuery(ws, viewer, f, ctx, currency, params))

    if not page.cache:
        return viewer, build()
    view = ctx.remember(page.name, params, viewer.user, viewer.lang, build, lambda v: v.status == 200)
    return viewer, view


def _page_routes(app: FastAPI, ctx: Context, page: Page, pages: list[Page]) -> None:
    def show(request: Request) -> HTMLResponse:
        viewer, view = run_page(ctx, page, request)
        t = viewer.t
        links = [(p.path, p.title.get(viewer.lang, p.title["en"])) for p in pages if p.nav and _visible(p, viewer)]
        top = layout.nav(t, viewer.csrf, links, request.url.path, viewer.lang)
        keep = {k: request.query_params[k] for k in page.params if request.query_params.get(k)}
        bar = layout.filter_form(t, parse(request), page.filters, keep, page.periods) if page.filters else ""
        content = view.content if view.content.startswith("<main") else f'<main class="sp-main">{view.content}</main>'
        title = page.title.get(viewer.lang, page.title["en"])
        return HTMLResponse(layout.document(title, top + bar + content, viewer.lang), status_code=view.status)

    def as_json(request: Request) -> JSONResponse:
        _viewer, view = run_page(ctx, page, request)
        body = {"page": page.name, "tables": [t.as_dict() for t in view.tables], "data": api.plain(view.data)}
        return JSONResponse(body, status_code=view.status)

    def export(request: Request, table: str, fmt: str) -> Response:
        if fmt not in EXPORTS:
            raise ParameterError(f"Parameter format: expected csv or xlsx (got {fmt!r}).")
        _viewer, view = run_page(ctx, page, request)
        chosen: Table | None = next((t for t in view.tables if t.name == table), None)
        if chosen is None:
            names = ", ".join(t.name for t in view.tables) or "none"
            raise ParameterError(f"Parameter table: the {page.name} page has no table {table!r} (it has: {names}).")
        media, write = EXPORTS[fmt]
        disposition = f'attachment; filename="{page.name}-{table}.{fmt}"'
        return Response(write(chosen), media_type=media, headers={"Content-Disposition": disposition})

    app.add_api_route(page.path, show, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    query = openapi_query(page.query_names(), page.param_docs)
    path = f"/api/v1/pages/{page.name}" if "{" not in page.path else f"/api/v1/pages/{page.path.strip('/')}"
    app.add_api_route(path, as_json, methods=["GET"], name=f"page_{page.name}", openapi_extra=query)
    app.add_api_route(
        f"/export/{page.name}/{{table}}.{{fmt}}",
        export,
        methods=["GET"],
        name=f"export_{page.name}",
        openapi_extra=query,
    )


def _auth_routes(app: FastAPI, ctx: Context) -> None:
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(layout.ICON, media_type="image/svg+xml")

    @app.get("/static/app.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(layout.stylesheet(), media_type="text/css")

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> str:
        lang = layout.asked_language(request.query_params, request.headers.get("accept-language", ""))
        return layout.document("SalesPilot", layout.login_form(layout.texts(lang), lang), lang)

    @app.post("/login", include_in_schema=False)
    def login(request: Request, email: str = Form(...), password: str = Form(...), lang: str = Form("")) -> Response:
        client = request.client.host if request.client else "unknown"
        lang = layout.asked_language({"lang": lang}, request.headers.get("accept-language", ""))
        t = layout.texts(lang)
        try:
            with ctx.lock:
                user = ctx.workspace.authenticate(email, password, client)
                token, _csrf = ctx.workspace.new_session(user)
        except TooManyAttempts as exc:
            wait = t["too_many"].format(m=-(-exc.retry_after // 60))
            return HTMLResponse(
                layout.document("SalesPilot", layout.login_form(t, lang, wait), lang),
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        except AccessError as exc:
            note = t["bad_login"] if isinstance(exc, NotAuthenticated) else str(exc)
            return HTMLResponse(layout.document("SalesPilot", layout.login_form(t, lang, note), lang), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, secure=ctx.secure_cookies, samesite="lax", max_age=12 * 3600
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")) -> Response:
        _user, expected = ctx.current(request)
        ctx.check_csrf(expected, csrf)
        with ctx.lock:
            ctx.workspace.end_session(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.post("/language", include_in_schema=False)
    def language(request: Request, language: str = Form(...), csrf: str = Form(""), back: str = Form("/")) -> Response:
        """Any user may choose their own interface language."""
        user, expected = ctx.current(request)
        ctx.check_csrf(expected, csrf)
        if language not in layout.LANGUAGES:
            raise ParameterError(f"Parameter language: expected one of {', '.join(layout.LANGUAGES)}.")
        with ctx.lock:
            ctx.workspace.set_language(user.user_id, language)
        target = back if back.startswith("/") and not back.startswith("//") else "/"
        return RedirectResponse(target, status_code=303)
