"""What every route of the server shares: the workspace, the lock that serialises its one
connection, the catalogue, and who is asking (``current``/``viewer``) with their scope."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

from salespilot.engine.access import User
from salespilot.engine.workspace import Workspace
from salespilot.errors import Forbidden, NotAuthenticated
from salespilot.metrics.catalogue import load_catalogue
from salespilot.server.cache import PageCache, data_version, params_key, size_from_environment, user_key
from salespilot.server.layout import LANGUAGES, texts

SESSION_COOKIE = "sp_session"
T = TypeVar("T")


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a page, their CSRF token (None for an API token), language and texts."""

    user: User
    csrf: str | None
    lang: str
    t: dict[str, str]


class Context:
    def __init__(self, db: str, *, secure_cookies: bool, upload_limit_mb: int) -> None:
        self.workspace = Workspace(db)
        self.lock = threading.RLock()  # one connection per process: requests take turns on it
        self.catalogue = load_catalogue()
        self.secure_cookies = secure_cookies
        self.upload_limit_mb = upload_limit_mb
        self.pages = PageCache(size_from_environment())

    def current(self, request: Request) -> tuple[User, str | None]:
        """The user of ``request`` (an API token, else the session cookie) and the session's CSRF token."""
        header = request.headers.get("authorization", "")
        with self.lock:
            if header.lower().startswith("bearer "):
                user = self.workspace.token_user(header[7:].strip())
                if user is None:
                    raise NotAuthenticated("The API token is unknown or revoked.")
                return user, None
            cookie = request.cookies.get(SESSION_COOKIE)
            found = self.workspace.session_user(cookie) if cookie else None
        if found is None:
            raise NotAuthenticated("Sign in first: no valid session or API token.")
        return found

    def viewer(self, request: Request, *extra: dict[str, dict[str, str]]) -> Viewer:
        user, csrf = self.current(request)
        lang = user.language if user.language in LANGUAGES else "en"
        return Viewer(user, csrf, lang, texts(lang, *extra))

    @contextmanager
    def scoped(self, user: User, dims: Mapping[str, str] | None = None) -> Iterator[Workspace]:
        """The workspace as ``user`` may see it, narrowed to the filters ``dims`` when given."""
        with self.lock:
            ws = self.workspace.for_user(user)
            yield ws.sliced(dict(dims)) if dims else ws

    def remember(
        self,
        name: str,
        params: Mapping[str, str],
        user: User,
        lang: str,
        build: Callable[[], T],
        keep: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """``build()``, or the value it gave for the same ``name``, ``params``, user (their scope and
        language) and data version (server/cache.py); ``keep``: whether a value may be served again."""
        if self.pages.size == 0:
            return build()
        with self.lock:
            key = (name, params_key(params), user_key(user, lang), data_version(self.workspace))
        found: T | None = self.pages.get(key)
        if found is not None:
            return found
        value = build()
        if keep(value):
            self.pages.put(key, value)
        return value

    @contextmanager
    def writer(self, user: User, what: str) -> Iterator[Workspace]:
        """The workspace itself, for an admin's write (``what`` names it in the refusal)."""
        if not user.can_write:
            raise Forbidden(f"Only an admin may {what}.")
        with self.lock:
            try:
                yield self.workspace
            finally:
                self.pages.clear()  # the version would tell; this frees the memory at once

    @staticmethod
    def check_csrf(expected: str | None, given: str) -> None:
        """A form posted from a session must carry its CSRF token (API tokens need none)."""
        if expected is not None and given != expected:
            raise Forbidden("The form's CSRF token is missing or wrong; reload the page.")
