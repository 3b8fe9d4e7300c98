"""The API's reference page (``/api/v1/docs``), written on the server from the OpenAPI schema.

FastAPI's own page loads Swagger UI from a CDN, which the server's offline promise and its
Content-Security-Policy (``default-src 'self'``) both forbid; this page needs no script: each
operation with its summary, its parameters and its body, and a link to the schema itself
(``/api/v1/openapi.json``) for the tools that read it. Like the schema, it describes the API and
holds no data, so it is served without signing in.
"""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from salespilot.server import layout

METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    kind = str(schema.get("type", "any"))
    return f"{kind} (default {schema['default']!r})" if "default" in schema else kind


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    description = html.escape(str(op.get("description", ""))).replace("\n\n", "</p><p>")
    description = re.sub(r"``(.+?)``", r"<code>\1</code>", description)
    summary = "" if description else html.escape(str(op.get("summary", "")))  # else a name made of the code's
    rows = "".join(
        f"<tr><td><code>{html.escape(str(p['name']))}</code></td><td>{html.escape(str(p.get('in', '')))}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td><td>{html.escape(_type(p.get('schema', {})))}</td></tr>"
        for p in op.get("parameters", [])
    )
    table = (
        f"<table><thead><tr><th>parameter</th><th>in</th><th>required</th><th>type</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<section class="sp-api-op" id="{method}-{html.escape(path)}"><h3><code>{method.upper()} '
        f"{html.escape(path)}</code> {summary}</h3>{f'<p>{description}</p>' if description else ''}{table}</section>"
    )


def page(schema: dict[str, Any]) -> str:
    """The reference page of ``schema`` (an OpenAPI document), as HTML."""
    parts = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in METHODS:
            if method in item:
                parts.append(_operation(path, method, item[method]))
    intro = (
        "<p>Every call is authenticated with <code>Authorization: Bearer sp_...</code> (a token from "
        "<code>salespilot users token EMAIL</code> or <code>POST /api/v1/tokens</code>). Errors have one "
        'shape: <code>{"error": {"code", "message", "status"}}</code>. The machine-readable schema: '
        '<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>'
    )
    body = f'<main class="sp-main"><h1>SalesPilot API</h1>{intro}{"".join(parts)}</main>'
    return layout.document("API", body, "en")


def routes(app: FastAPI) -> None:
    @app.get("/api/v1/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs() -> str:
        return page(app.openapi())
