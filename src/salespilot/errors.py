"""One exception root, with families by who must act.

- ``UserInputError``: the user's file, mapping, option or query is wrong; the message says
  what to change. The CLI prints it without a traceback and exits with status 2.
- ``StoreError``: the store cannot be used right now (locked, newer schema, unreachable).
  Driver exceptions are translated into it once, at the store boundary. Exit status 3.
- ``InternalError``: our bug. Exit status 1 with the traceback kept for a report.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SalesPilotError(Exception):
    """Root of every error SalesPilot raises on purpose."""

    exit_code = 1


class UserInputError(SalesPilotError):
    """Something the user gave (a file, a mapping, an option) is not what was expected."""

    exit_code = 2


class FileFormatError(UserInputError):
    """A file cannot be read as the format it claims or was sniffed as."""


class MappingError(UserInputError):
    """A mapping file (or the automatic mapping) does not fit the canonical model or the file."""


class ParameterError(UserInputError):
    """A command-line or API parameter has a value outside what is allowed."""


class NotFound(ParameterError):
    """A parameter names a thing the store does not hold (an import number...): 404 on the server."""


class NoRowsBehind(ParameterError):
    """The KPI has no single list of records behind its number (a retention, a cohort): the
    dashboard shows its figures without rows; the API's rows endpoint answers 400."""


class PlanError(UserInputError):
    """A compensation plan file is not a valid plan (docs/team.md)."""


class QueryError(UserInputError):
    """A query the user wrote (``Workspace.sql``) failed."""


class AccessError(UserInputError):
    """Who is asking may not do this: unknown or wrong credentials, too many attempts, a role
    without the right (the server answers 401 or 403)."""


class NotAuthenticated(AccessError):
    """No valid session, token or password: sign in first (HTTP 401)."""


class Forbidden(AccessError):
    """Signed in, but the role does not allow this (HTTP 403)."""


class TooManyAttempts(AccessError):
    """Too many failed sign-ins for this e-mail or address; wait, then try again (HTTP 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(SalesPilotError):
    """The store cannot be opened or written."""

    exit_code = 3


class StoreBusyError(StoreError):
    """Another process holds the store (an import, a server); retry when it is done."""


class MigrationError(StoreError):
    """The store's schema cannot be brought to the version this SalesPilot expects."""


class InternalError(SalesPilotError):
    """A bug of ours: an invariant broke."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean "x"?' when a close choice exists, else an empty string."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if not close:
        return ""
    return f' Did you mean "{lowered[close[0]]}"?'
