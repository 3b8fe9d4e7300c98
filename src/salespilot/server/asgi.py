"""The application of one server worker, built from the environment.

``salespilot serve --workers N`` (N > 1, a PostgreSQL store) runs
``uvicorn.run("salespilot.server.asgi:app", factory=True, workers=N)``: each worker process calls
``app()``, which reads what ``serve`` set in the environment and builds the same application as
the single-process server. Sessions, API tokens and sign-in attempts are rows of the store, so any
worker serves any request. See docs/server.md, "Team server".
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from salespilot.errors import ParameterError
from salespilot.server.app import create_app

DB_VAR = "SALESPILOT_DB"
SECURE_COOKIES_VAR = "SALESPILOT_SECURE_COOKIES"
UPLOAD_LIMIT_VAR = "SALESPILOT_UPLOAD_LIMIT_MB"
DEFAULT_DB = "salespilot.duckdb"
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def app() -> FastAPI:
    """The ASGI application over ``$SALESPILOT_DB`` (uvicorn's ``factory=True`` calls it once per worker)."""
    db = os.environ.get(DB_VAR) or DEFAULT_DB
    secure = _flag(SECURE_COOKIES_VAR, default=True)
    limit = _positive_int(UPLOAD_LIMIT_VAR)
    if limit is None:
        return create_app(db, secure_cookies=secure)
    return create_app(db, secure_cookies=secure, upload_limit_mb=limit)


def worker_environment(db: str, *, secure_cookies: bool, upload_limit_mb: int | None = None) -> dict[str, str]:
    """The variables ``app()`` reads, for the process that starts the workers to set."""
    env = {DB_VAR: db, SECURE_COOKIES_VAR: "1" if secure_cookies else "0"}
    if upload_limit_mb is not None:
        env[UPLOAD_LIMIT_VAR] = str(upload_limit_mb)
    return env


def _flag(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in _FLAGS:
        raise ParameterError(f"${name} must be 1 or 0 (got {raw!r}).")
    return _FLAGS[raw]


def _positive_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ParameterError(f"${name} must be a whole number of megabytes, 1 or more (got {raw!r}).")
    return int(raw)
