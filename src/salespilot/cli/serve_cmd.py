"""``salespilot serve``: the dashboard and the REST API from one process (docs/server.md)."""

from __future__ import annotations

import os
import secrets

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="Send the session cookie over plain HTTP too (only behind no TLS on a trusted network).",
)
@click.option(
    "--db",
    "db",
    envvar="SALESPILOT_DB",
    default=None,
    metavar="PATH",
    help="Store file or postgresql:// URL (default: $SALESPILOT_DB, else ./salespilot.duckdb).",
)
def serve_cmd(host: str, port: int, insecure_cookies: bool, db: str | None) -> None:
    """Serve the dashboard and the REST API over the store.

    On a store with no user yet, an admin 'admin@salespilot.local' is created and its password printed
    once; add others with 'salespilot users add'.
    """
    import uvicorn

    from salespilot.engine.workspace import Workspace
    from salespilot.server.app import create_app

    target = db or os.environ.get("SALESPILOT_DB") or "salespilot.duckdb"
    with Workspace(target) as ws:
        if not ws.users():
            password = secrets.token_urlsafe(12)
            ws.add_user("admin@salespilot.local", password, "admin", name="Admin")
            click.echo(f"Created the first user: admin@salespilot.local, password {password} (shown once).")
    app = create_app(target, secure_cookies=not insecure_cookies)
    click.echo(f"SalesPilot on http://{host}:{port}/ (API: http://{host}:{port}/api/v1/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
