"""The REST API's own routes (``/api/v1``): who am I, the KPI catalogue, a KPI's values and the
rows behind it, the funnel, the pipeline and the users. Every page's view is also served as JSON
at ``/api/v1/pages/<page>`` (salespilot.server.app). Lists carry ``items``, ``total``, ``limit``
and ``offset``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from salespilot.errors import AccessError, Forbidden, NotAuthenticated, ParameterError, TooManyAttempts
from salespilot.server.context import Context
from salespilot.server.filters import FILTER_DIMS, PERIOD_QUERY, kpi_dims, openapi_query, parse
from salespilot.server.tables import Column, Table, to_csv


def plain(value: Any) -> Any:
    """Dataclasses and dates as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    return value


def listing(items: list[Any], total: int | None = None, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    return {
        "items": items,
        "total": len(items) if total is None else total,
        "limit": len(items) if limit is None else limit,
        "offset": offset,
    }


def page_bounds(limit: int, offset: int) -> None:
    if not 1 <= limit <= 1000:
        raise ParameterError(f"Parameter limit: expected 1 to 1000 (got {limit}).")
    if offset < 0:
        raise ParameterError(f"Parameter offset: expected 0 or more (got {offset}).")


KPI_QUERY = openapi_query([*PERIOD_QUERY, *FILTER_DIMS])
ROWS_QUERY = openapi_query(["from", "to", *FILTER_DIMS])


def routes(app: FastAPI, ctx: Context) -> None:
    catalogue = ctx.catalogue

    @app.get("/api/v1/me")
    def me(request: Request) -> dict[str, Any]:
        user, _ = ctx.current(request)
        return user.as_dict()

    @app.get("/api/v1/kpis")
    def kpi_catalogue(request: Request) -> dict[str, Any]:
        ctx.current(request)
        items = [
            {
                "name": k.name,
                "label_en": k.label_en,
                "label_fr": k.label_fr,
                "description": k.description,
                "description_fr": k.description_fr,
                "unit": k.unit,
                "direction": k.direction,
                "dimensions": list(k.dimensions),
            }
            for k in catalogue.kpis.values()
        ]
        return listing(items)

    @app.get("/api/v1/kpis/{name}", openapi_extra=KPI_QUERY)
    def kpi_values(request: Request, name: str) -> dict[str, Any]:
        user, _ = ctx.current(request)
        f = parse(request)
        dims = kpi_dims(catalogue, name, f.dims)

        def build() -> list[dict[str, Any]]:
            with ctx.scoped(user) as ws:
                return list(ws.kpi([name], grain=f.grain, filters=dims, start=f.start, end=f.end, output="rows"))

        rows = ctx.remember("api:kpi", {**request.query_params, "kpi": name}, user, "", build)
        return listing(plain(rows))

    @app.get("/api/v1/kpis/{name}/rows", openapi_extra=ROWS_QUERY)
    def kpi_rows(request: Request, name: str, limit: int = 200, offset: int = 0) -> dict[str, Any]:
        user, _ = ctx.current(request)
        page_bounds(limit, offset)
        f = parse(request)
        dims = kpi_dims(catalogue, name, f.dims)
        with ctx.scoped(user) as ws:
            found = ws.kpi_rows(name, filters=dims, start=f.start, end=f.end, limit=offset + limit)
        items = plain(list(found.get("rows", []))[offset:])
        return {**{k: v for k, v in found.items() if k != "rows"}, "items": items, "limit": limit, "offset": offset}

    @app.get("/export/kpis/{name}/rows.csv", openapi_extra=ROWS_QUERY)
    def export_rows(request: Request, name: str) -> Response:
        """The rows behind a KPI as CSV (up to 100,000), in the user's scope, safe to open in a spreadsheet."""
        user, _ = ctx.current(request)
        f = parse(request)
        dims = kpi_dims(catalogue, name, f.dims)
        with ctx.scoped(user) as ws:
            found = ws.kpi_rows(name, filters=dims, start=f.start, end=f.end, limit=100_000)
        rows = list(found.get("rows", []))
        table = Table("rows", name, [Column(k, k) for k in (rows[0] if rows else {})], rows)
        disposition = f'attachment; filename="{name}-rows.csv"'
        return Response(
            to_csv(table), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
        )

    @app.get("/api/v1/funnel", openapi_extra=KPI_QUERY)
    def funnel(request: Request) -> dict[str, Any]:
        user, _ = ctx.current(request)
        f = parse(request)

        def build() -> list[Any]:
            with ctx.scoped(user, f.dims) as ws:
                return [plain(p) for p in ws.funnel(grain=f.grain, start=f.start, end=f.end)]

        return listing(ctx.remember("api:funnel", request.query_params, user, "", build))

    @app.get("/api/v1/pipeline", openapi_extra=openapi_query(FILTER_DIMS))
    def pipeline(request: Request) -> dict[str, Any]:
        user, _ = ctx.current(request)
        f = parse(request)
        with ctx.scoped(user, f.dims) as ws:
            stuck = ws.stuck_deals()
            durations = ws.stage_durations()
        stages = {"stages": durations.stages, "cycle": durations.cycle, "data_end": durations.data_end}
        return {"stuck_deals": {"items": plain(stuck), "total": len(stuck)}, "stage_durations": plain(stages)}

    @app.post("/api/v1/tokens", status_code=201)
    async def new_token(request: Request) -> dict[str, Any]:
        """A new API token for ``{"email", "password", "name"?}``: shown once, it sees what its user
        sees. Rate-limited as the sign-in is; the way to a token while the server holds the store."""
        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("email", "password")):
            raise ParameterError('The body must be a JSON object: {"email", "password", "name"?}.')
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise ParameterError("name must be a string: what the token is for.")
        client = request.client.host if request.client else "unknown"

        def work() -> dict[str, Any]:
            with ctx.lock:
                try:
                    user = ctx.workspace.authenticate(body["email"], body["password"], client)
                except TooManyAttempts:
                    raise
                except AccessError as exc:
                    raise NotAuthenticated(str(exc)) from None
                token = ctx.workspace.new_token(user.email, name)
            return {"token": token, "email": user.email, "role": user.role}

        return await run_in_threadpool(work)

    @app.get("/api/v1/users")
    def users(request: Request, limit: int = 200, offset: int = 0) -> dict[str, Any]:
        user, _ = ctx.current(request)
        page_bounds(limit, offset)
        if user.role != "admin":
            raise Forbidden("Only an admin may list users.")
        with ctx.lock:
            items = [u.as_dict() for u in ctx.workspace.users()]
        return listing(items[offset : offset + limit], len(items), limit, offset)
