"""Views already built, served again while nothing they depend on has changed.

A page's view depends on: the page and its parameters (the URL's query and path), the user (who
they are, their role, rep and team: their scope; their language), the data, the settings and the
day. The key holds each of these, so a cached view is never shown to another scope, and any
change of the data (every write goes through an import, recorded in ``imports``, the demo
included), of the settings or of the date (periods that are not over yet) makes a new key. On
PostgreSQL with several workers, each worker has its own cache and reads the version on every
request, so a write through one worker is seen by all the others at their next request.

Pages that hold a session's CSRF token in their forms (imports, settings) are not cached.
``$SALESPILOT_PAGE_CACHE`` sets how many views a process keeps (default 256; 0: no cache).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from salespilot.engine.access import User
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

SIZE_VAR = "SALESPILOT_PAGE_CACHE"
DEFAULT_SIZE = 256


def size_from_environment() -> int:
    raw = os.environ.get(SIZE_VAR, "").strip()
    if not raw:
        return DEFAULT_SIZE
    if not raw.isdigit():
        raise ParameterError(f"${SIZE_VAR} must be a whole number of views, 0 for no cache (got {raw!r}).")
    return int(raw)


def data_version(ws: Workspace) -> tuple[Hashable, ...]:
    """What the data and the settings are now, in a few bytes: the imports so far (their number and
    the last one's id), every setting, and today's date in the workspace's time zone."""
    imports = ws.store.arrow("SELECT count(*) AS n, max(import_id) AS last FROM imports").to_pylist()[0]
    settings = ws.settings()
    today = dt.datetime.now(ZoneInfo(str(settings.get("timezone") or "UTC"))).date()
    return imports["n"], imports["last"], tuple(sorted((k, str(v)) for k, v in settings.items())), today


def user_key(user: User, lang: str) -> tuple[Hashable, ...]:
    return user.user_id, user.role, user.rep_id, user.team, lang


def params_key(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in params.items()))


class PageCache:
    """A bounded map from keys to views, the least recently used dropped first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._views: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        if self.size == 0:
            return None
        with self._lock:
            found = self._views.get(key)
            if found is None:
                self.misses += 1
                return None
            self._views.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, view: Any) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._views[key] = view
            self._views.move_to_end(key)
            while len(self._views) > self.size:
                self._views.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._views.clear()
