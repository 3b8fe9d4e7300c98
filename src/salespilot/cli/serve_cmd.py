"""``salespilot serve``: the dashboard and the REST API, from one process or several (docs/server.md)."""

from __future__ import annotations

import os
import secrets

import click

from salespilot.errors import ParameterError
from salespilot.store.connection import is_postgres_url, resolve_db

MAX_WORKERS = 64


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="Send the session cookie over plain HTTP too (only behind no TLS on a trusted network).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, MAX_WORKERS),
    help="Worker processes; more than 1 needs a postgresql:// store.",
)
@click.option(
    "--db",
    "db",
    envvar="SALESPILOT_DB",
    default=None,
    metavar="PATH",
    help="Store file or postgresql:// URL (default: $SALESPILOT_DB, else ./salespilot.duckdb).",
)
def serve_cmd(host: str, port: int, insecure_cookies: bool, workers: int, db: str | None) -> None:
    """Serve the dashboard and the REST API over the store.

    On a store with no user yet, an admin 'admin@salespilot.local' is created and its password printed
    once; add others with 'salespilot users add'.
    """
    target = resolve_db(db)
    if workers > 1 and not is_postgres_url(target):
        raise ParameterError(
            f"--workers {workers}: {target} is a DuckDB file, which one process at a time may write, so it is "
            "served by one worker. Use --workers 1, or move the store to PostgreSQL (--db postgresql://...) "
            "to run several workers."
        )
    _first_admin(target)
    secure = not insecure_cookies
    plural = f" ({workers} workers)" if workers > 1 else ""
    click.echo(f"SalesPilot on http://{host}:{port}/{plural} (API: http://{host}:{port}/api/v1/docs)")
    if workers == 1:
        _serve_one(target, host, port, secure)
    else:
        _serve_many(target, host, port, secure, workers)


def _first_admin(target: str) -> None:
    """On a store with no user yet, create the first admin and print its password once."""
    from salespilot.engine.workspace import Workspace

    with Workspace(target) as ws:
        if not ws.users():
            password = secrets.token_urlsafe(12)
            ws.add_user("admin@salespilot.local", password, "admin", name="Admin")
            click.echo(f"Created the first user: admin@salespilot.local, password {password} (shown once).")


def _serve_one(target: str, host: str, port: int, secure: bool) -> None:
    """One process, one workspace: the application object is built here."""
    import uvicorn

    from salespilot.server.app import create_app

    uvicorn.run(create_app(target, secure_cookies=secure), host=host, port=port, log_level="warning")


def _serve_many(target: str, host: str, port: int, secure: bool, workers: int) -> None:
    """``workers`` processes, each building its application from the environment (salespilot.server.asgi)."""
    import uvicorn

    from salespilot.server.asgi import app, worker_environment

    os.environ.update(worker_environment(target, secure_cookies=secure))
    # Built once here first: a problem is told once, with the CLI's message, not by workers that
    # uvicorn would restart over and over.
    app().state.workspace.close()
    uvicorn.run("salespilot.server.asgi:app", factory=True, workers=workers, host=host, port=port, log_level="warning")
