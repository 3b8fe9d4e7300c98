"""Who may sign in, and what they see: users, passwords, sessions, API tokens, scopes (docs/access.md).

The server (and ``salespilot users``) call these functions with the workspace's store. Roles:

* ``admin``: sees everything, may write (import, settings, users);
* ``viewer``: sees everything, writes nothing;
* ``manager``: sees the records of their team's reps and of the reps who report to them;
* ``rep``: sees their own records.

What a manager or a rep sees is a lens (``salespilot.store.scope.ScopeLens``), applied where
every reader takes its tables: ``Workspace.for_user(user)``.

Secrets are never stored. Passwords are hashed with Argon2id (argon2-cffi's defaults, a salt
per hash) and verified with it; a hash made with older parameters is upgraded at the next
sign-in. Session and API tokens are 32 random bytes (``secrets``); the store keeps only their
SHA-256, so a copy of the store opens no session. Sign-ins are rate-limited per e-mail and per
client (``MAX_FAILURES_PER_EMAIL``, ``MAX_FAILURES_PER_CLIENT`` in ``WINDOW``).

Timestamps are naive UTC, as everywhere in the store. SQL goes through the store with ``?``
parameters only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any, assert_never

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from salespilot.errors import NotAuthenticated, ParameterError, StoreError, TooManyAttempts, did_you_mean
from salespilot.store.connection import Store
from salespilot.store.scope import ScopeLens


class AccessRole(enum.StrEnum):
    """What a user may do and see (not a rep's job, ``reps.role``: sdr, ae, am)."""

    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"
    VIEWER = "viewer"


ROLES = tuple(r.value for r in AccessRole)
LANGUAGES = ("en", "fr")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing a megabyte of "password" is a way to tie the server up
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
WINDOW = dt.timedelta(minutes=15)
KEEP_ATTEMPTS = dt.timedelta(days=30)
TOKEN_PREFIX = "sp_"
BAD_CREDENTIALS = "Wrong e-mail or password."

HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106's second recommendation)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_USER_COLUMNS = "user_id, email, name, role, rep_id, team, language"


@dataclass(frozen=True)
class User:
    """Someone who may sign in (no secret here: the hash stays in the store)."""

    user_id: int
    email: str
    name: str | None
    role: str
    rep_id: str | None
    team: str | None
    language: str

    @property
    def can_write(self) -> bool:
        """May import, change settings and manage users."""
        return self.role == "admin"

    @property
    def sees_all(self) -> bool:
        """Sees every record (no scope)."""
        return self.role in ("admin", "viewer")

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "rep_id": self.rep_id,
            "team": self.team,
            "language": self.language,
        }


def _utcnow() -> dt.datetime:
    """Now, naive UTC (tests replace it to travel in time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: tuple[Any, ...]) -> User:
    user_id, email, name, role, rep_id, team, language = row[:7]
    return User(int(user_id), str(email), name, str(role), rep_id, team, str(language))


@functools.cache
def _dummy_hash() -> str:
    """A hash nobody's password matches, verified for unknown e-mails so that they take as long."""
    return HASHER.hash(secrets.token_urlsafe(16))


# -- checks ---------------------------------------------------------------------------------------
def normal_email(email: str) -> str:
    """The e-mail as stored: trimmed, lowercased."""
    return email.strip().lower()


def check_email(email: str) -> str:
    address = normal_email(email)
    if len(address) > 254 or not _EMAIL_RE.match(address):
        raise ParameterError(f'"{email}" is not an e-mail address (expected name@example.com).')
    return address


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ParameterError(
            f"A password has at least {MIN_PASSWORD} characters (this one has {len(password)}); "
            "a few words strung together make a good one."
        )
    if len(password) > MAX_PASSWORD:
        raise ParameterError(f"A password has at most {MAX_PASSWORD} characters.")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ParameterError(f'The role "{role}" must be one of {", ".join(ROLES)}.{did_you_mean(role, ROLES)}')


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ParameterError(f'The language "{language}" must be one of {", ".join(LANGUAGES)}.')


def _rep_team(store: Store, rep_id: str) -> str | None:
    """The team of the rep ``rep_id``; a ParameterError listing a few known ids when there is none."""
    row = store.fetchone("SELECT rep_id, team FROM reps WHERE rep_id = ?", [rep_id])
    if row is None:
        known = [str(r) for (r,) in store.fetchall("SELECT rep_id FROM reps ORDER BY rep_id")]
        shown = ", ".join(known[:5]) + (f" and {len(known) - 5} more" if len(known) > 5 else "")
        listed = f" Known rep ids: {shown}." if known else " The store has no reps yet: import them first."
        raise ParameterError(f'There is no rep "{rep_id}" in the reps table.{did_you_mean(rep_id, known)}{listed}')
    return None if row[1] is None else str(row[1])


def _check_team(store: Store, team: str) -> None:
    """A ParameterError when no rep of the reps table is in ``team`` (a typo would show nothing)."""
    known = [str(t) for (t,) in store.fetchall("SELECT DISTINCT team FROM reps WHERE team IS NOT NULL ORDER BY team")]
    if team not in known:
        listed = f" Known teams: {', '.join(known)}." if known else " The store has no reps yet: import them first."
        raise ParameterError(f'There is no team "{team}" in the reps table.{did_you_mean(team, known)}{listed}')


def _require(store: Store, email: str) -> User:
    user = get_user(store, email)
    if user is None:
        raise ParameterError(f'There is no user "{normal_email(email)}" (see salespilot users list).')
    return user


# -- users ----------------------------------------------------------------------------------------
def add_user(
    store: Store,
    email: str,
    password: str,
    role: str,
    rep_id: str | None = None,
    team: str | None = None,
    name: str | None = None,
    language: str = "en",
) -> User:
    """A new user. A rep needs ``rep_id`` (a rep of the reps table); a manager a ``team`` or a
    ``rep_id`` (their team is ``team``, else their rep's)."""
    address = check_email(email)
    _check_role(role)
    _check_language(language)
    check_password(password)
    rep_id = rep_id or None
    team = team or None
    if role == "rep" and rep_id is None:
        raise ParameterError("A user of role rep needs the rep id they have in the reps table (--rep-id REP_ID).")
    if role == "manager" and rep_id is None and team is None:
        raise ParameterError(
            "A user of role manager needs a team (--team TEAM) or their own rep id (--rep-id REP_ID): "
            "it is what they see."
        )
    if get_user(store, address) is not None:  # before the slow hash; checked again when writing
        raise ParameterError(f'There is already a user "{address}" (salespilot users reset-password changes it).')
    if rep_id is not None:
        rep_team = _rep_team(store, rep_id)
        if team is None and role == "manager":
            team = rep_team
    if team is not None:
        _check_team(store, team)
    hashed = HASHER.hash(password)
    with store.transaction():
        if store.scalar("SELECT count(*) FROM users WHERE email = ?", [address]):
            raise ParameterError(f'There is already a user "{address}" (salespilot users reset-password changes it).')
        user_id = int(store.scalar("SELECT coalesce(max(user_id), 0) + 1 FROM users"))
        store.execute(
            "INSERT INTO users (user_id, email, name, password_hash, role, rep_id, team, language, created_at, "
            "disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE)",
            [user_id, address, name, hashed, role, rep_id, team, language, _utcnow()],
        )
    return User(user_id, address, name, role, rep_id, team, language)


def get_user(store: Store, email: str) -> User | None:
    """The user of this e-mail (any case), if any."""
    row = store.fetchone(f"SELECT {_USER_COLUMNS} FROM users WHERE email = ?", [normal_email(email)])
    return None if row is None else _user(row)


def list_users(store: Store) -> list[User]:
    """Every user, by e-mail."""
    return [_user(r) for r in store.fetchall(f"SELECT {_USER_COLUMNS} FROM users ORDER BY email")]


def remove_user(store: Store, email: str) -> None:
    """Remove a user, their sessions and their API tokens."""
    user = _require(store, email)
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE user_id = ?", [user.user_id])
        store.execute("DELETE FROM api_tokens WHERE user_id = ?", [user.user_id])
        store.execute("DELETE FROM users WHERE user_id = ?", [user.user_id])


def reset_password(store: Store, email: str, password: str) -> None:
    """A new password; the user's sessions end (API tokens stay: revoke_tokens ends those)."""
    check_password(password)
    user = _require(store, email)
    hashed = HASHER.hash(password)
    with store.transaction():
        store.execute("UPDATE users SET password_hash = ? WHERE user_id = ?", [hashed, user.user_id])
        store.execute("DELETE FROM sessions WHERE user_id = ?", [user.user_id])


def set_language(store: Store, user_id: int, language: str) -> None:
    """The language the interface speaks to this user (en, fr)."""
    _check_language(language)
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM users WHERE user_id = ?", [user_id]):
            raise ParameterError(f"There is no user {user_id}.")
        store.execute("UPDATE users SET language = ? WHERE user_id = ?", [language, user_id])


# -- signing in -----------------------------------------------------------------------------------
def _wait(failures: list[dt.datetime], limit: int, now: dt.datetime) -> int:
    """Seconds until fewer than ``limit`` of ``failures`` (most recent first) are in the window."""
    if len(failures) < limit:
        return 0
    return max(1, math.ceil((failures[limit - 1] + WINDOW - now).total_seconds()))


def _recent_failures(store: Store, column: str, value: str, limit: int, now: dt.datetime) -> list[dt.datetime]:
    sql = {
        "email": "SELECT attempted_at FROM login_attempts WHERE email = ? AND ok = FALSE AND attempted_at > ? "
        "ORDER BY attempted_at DESC LIMIT ?",
        "client": "SELECT attempted_at FROM login_attempts WHERE client = ? AND ok = FALSE AND attempted_at > ? "
        "ORDER BY attempted_at DESC LIMIT ?",
    }[column]
    return [r for (r,) in store.fetchall(sql, [value, now - WINDOW, limit])]


def authenticate(store: Store, email: str, password: str, client: str = "cli") -> User:
    """The user whose e-mail and password these are, else ``NotAuthenticated`` (one message for an
    unknown e-mail and a wrong password). After ``MAX_FAILURES_PER_EMAIL`` failures for the e-mail,
    or ``MAX_FAILURES_PER_CLIENT`` for the client (an IP address), in the last ``WINDOW``, the
    next attempts are refused with ``TooManyAttempts`` even with the right password, until the
    oldest of those failures is ``WINDOW`` old. Every attempt is recorded."""
    address = normal_email(email)
    now = _utcnow()
    with store.transaction():
        # Counted and recorded (as a failure until proven right) in one writer transaction, so
        # that attempts sent in parallel cannot all pass the count before any is recorded.
        by_email = _recent_failures(store, "email", address, MAX_FAILURES_PER_EMAIL, now)
        by_client = _recent_failures(store, "client", client, MAX_FAILURES_PER_CLIENT, now)
        wait = max(_wait(by_email, MAX_FAILURES_PER_EMAIL, now), _wait(by_client, MAX_FAILURES_PER_CLIENT, now))
        store.execute(
            "INSERT INTO login_attempts (email, client, attempted_at, ok) VALUES (?, ?, ?, ?)",
            [address, client, now, None if wait else False],
        )
        store.execute("DELETE FROM login_attempts WHERE attempted_at < ?", [now - KEEP_ATTEMPTS])
    if wait:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(
            f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}.", retry_after=wait
        )
    row = store.fetchone(f"SELECT {_USER_COLUMNS}, password_hash, disabled FROM users WHERE email = ?", [address])
    stored = _dummy_hash() if row is None else str(row[7])
    try:
        HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise NotAuthenticated(BAD_CREDENTIALS) from None
    if row is None or row[8]:  # a disabled user: the same answer as a wrong password
        raise NotAuthenticated(BAD_CREDENTIALS)
    with store.transaction():
        store.execute(
            "UPDATE login_attempts SET ok = TRUE WHERE email = ? AND client = ? AND attempted_at = ?",
            [address, client, now],
        )
        if HASHER.check_needs_rehash(stored):
            store.execute("UPDATE users SET password_hash = ? WHERE user_id = ?", [HASHER.hash(password), row[0]])
    return _user(row)


# -- sessions -------------------------------------------------------------------------------------
def new_session(store: Store, user: User, hours: float = 12) -> tuple[str, str]:
    """A session of ``hours`` for ``user``: its token (for the cookie) and its CSRF token (for forms)."""
    if not hours > 0:
        raise ParameterError(f"A session lasts a positive number of hours (got {hours:g}).")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _utcnow()
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
        store.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            [_digest(token), user.user_id, csrf, now, now + dt.timedelta(hours=hours)],
        )
    return token, csrf


def session_user(store: Store, token: str) -> tuple[User, str] | None:
    """The user of a session token and the session's CSRF token; ``None`` when the session is
    unknown, has expired, or its user is disabled or removed."""
    if not token:
        return None
    row = store.fetchone(
        "SELECT u.user_id, u.email, u.name, u.role, u.rep_id, u.team, u.language, s.csrf "
        "FROM sessions s JOIN users u ON u.user_id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND NOT u.disabled",
        [_digest(token), _utcnow()],
    )
    return None if row is None else (_user(row), str(row[7]))


def end_session(store: Store, token: str) -> None:
    """Sign out: the session token opens nothing any more."""
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE token_hash = ?", [_digest(token)])


# -- API tokens -----------------------------------------------------------------------------------
def new_token(store: Store, email: str, name: str | None = None) -> str:
    """A new API token for the user (``sp_`` + 43 characters): shown once, stored as its SHA-256."""
    user = _require(store, email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction():
        store.execute(
            "INSERT INTO api_tokens (token_hash, user_id, name, created_at, last_used_at) VALUES (?, ?, ?, ?, NULL)",
            [_digest(token), user.user_id, name, _utcnow()],
        )
    return token


def token_user(store: Store, token: str) -> User | None:
    """The user of an API token (and its last use is now); ``None`` for an unknown or revoked
    token, or a disabled user."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = _digest(token)
    row = store.fetchone(
        "SELECT u.user_id, u.email, u.name, u.role, u.rep_id, u.team, u.language "
        "FROM api_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = ? AND NOT u.disabled",
        [digest],
    )
    if row is None:
        return None
    # The last use is a hint for the admin, not a condition: while another process holds the
    # writer lock (an import), the token works and its last use is not updated.
    with contextlib.suppress(StoreError), store.transaction():
        store.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", [_utcnow(), digest])
    return _user(row)


def revoke_tokens(store: Store, email: str) -> int:
    """End every API token of the user; returns how many there were."""
    user = _require(store, email)
    with store.transaction():
        count = int(store.scalar("SELECT count(*) FROM api_tokens WHERE user_id = ?", [user.user_id]))
        store.execute("DELETE FROM api_tokens WHERE user_id = ?", [user.user_id])
    return count


# -- scope ----------------------------------------------------------------------------------------
def scope_lens(store: Store, user: User) -> ScopeLens | None:
    """What ``user`` sees: ``None`` (everything) for an admin or a viewer; a rep's own records; a
    manager's, the records of the reps of their team or who report to them (``manager_id``),
    and their own. A scope that resolves to no rep shows nothing."""
    try:
        role = AccessRole(user.role)
    except ValueError:
        return ScopeLens(frozenset(), frozenset())  # a role we do not know sees nothing
    match role:
        case AccessRole.ADMIN | AccessRole.VIEWER:
            return None
        case AccessRole.REP:
            return ScopeLens(frozenset({user.rep_id}) if user.rep_id else frozenset(), frozenset())
        case AccessRole.MANAGER:
            return _manager_lens(store, user)
        case _:
            assert_never(role)


def _manager_lens(store: Store, user: User) -> ScopeLens:
    team = user.team
    if team is None and user.rep_id is not None:
        team = store.scalar("SELECT team FROM reps WHERE rep_id = ?", [user.rep_id])
    reps: set[str] = set()
    if team is not None:
        reps |= {str(r) for (r,) in store.fetchall("SELECT rep_id FROM reps WHERE team = ?", [team])}
    if user.rep_id is not None:
        reps |= {str(r) for (r,) in store.fetchall("SELECT rep_id FROM reps WHERE manager_id = ?", [user.rep_id])}
        reps.add(user.rep_id)
    return ScopeLens(frozenset(reps), frozenset({str(team)}) if team is not None else frozenset())
