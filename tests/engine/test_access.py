"""Users, passwords, sign-in rate limit, sessions, API tokens and scopes (docs/access.md), on
DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

import salespilot
from salespilot.engine import access
from salespilot.engine.access import User
from salespilot.engine.workspace import Workspace
from salespilot.errors import NotAuthenticated, ParameterError, TooManyAttempts
from salespilot.store.query import ibis_backend
from salespilot.store.scope import ScopeLens

PASSWORD = "correct horse battery"
# Team North: A1, A2, S1 (A1 and A2 report to M1, who is in no team); team South: A3, whose
# manager is M2; M3 manages nobody and is in no team.
REPS = (
    "rep_id,name,role,team,manager_id\n"
    "M1,Max,manager,,\nM2,Mia,manager,South,\nM3,Moe,manager,,\n"
    "A1,Ann,ae,North,M1\nA2,Alan,ae,North,M1\nS1,Sam,sdr,North,\nA3,Ava,ae,South,M2\n"
)


@pytest.fixture
def users_ws(db_url: str, tmp_path: Path) -> Iterator[Workspace]:
    ws = salespilot.open(db_url)
    reps = tmp_path / "reps.csv"
    reps.write_text(REPS, encoding="utf-8")
    assert ws.import_file(reps, table="reps").rejected == 0
    yield ws
    ws.close()


class Clock:
    """A clock the tests move by hand (``access._utcnow``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = dt.datetime(2026, 3, 1, 9, 0, 0)
        monkeypatch.setattr(access, "_utcnow", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


# -- users and passwords --------------------------------------------------------------------------
def test_the_password_is_stored_as_an_argon2id_hash(users_ws: Workspace) -> None:
    user = users_ws.add_user("Ann@Example.com", PASSWORD, "rep", rep_id="A1", name="Ann")
    assert user == User(1, "ann@example.com", "Ann", "rep", "A1", None, "en")
    stored = str(users_ws.store.scalar("SELECT password_hash FROM users WHERE user_id = ?", [user.user_id]))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    with pytest.raises(VerificationError):
        PasswordHasher().verify(stored, PASSWORD + "!")
    other = users_ws.add_user("bob@example.com", PASSWORD, "viewer")
    salted = users_ws.store.scalar("SELECT password_hash FROM users WHERE user_id = ?", [other.user_id])
    assert salted != stored
    assert [u.email for u in users_ws.users()] == ["ann@example.com", "bob@example.com"]


def test_sign_in_with_the_right_password_only(users_ws: Workspace, clock: Clock) -> None:
    users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    assert users_ws.authenticate("ANN@example.com ", PASSWORD, "10.0.0.1").rep_id == "A1"
    with pytest.raises(NotAuthenticated, match="Wrong e-mail or password"):
        users_ws.authenticate("ann@example.com", PASSWORD + "x", "10.0.0.1")
    with pytest.raises(NotAuthenticated, match="Wrong e-mail or password"):  # same answer for an unknown e-mail
        users_ws.authenticate("nobody@example.com", PASSWORD, "10.0.0.1")
    users_ws.reset_password("ann@example.com", "another long secret")
    with pytest.raises(NotAuthenticated):
        users_ws.authenticate("ann@example.com", PASSWORD, "10.0.0.1")
    assert users_ws.authenticate("ann@example.com", "another long secret", "10.0.0.1").email == "ann@example.com"


def test_the_rate_limit_trips_after_five_failures_per_email(users_ws: Workspace, clock: Clock) -> None:
    users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    for i in range(access.MAX_FAILURES_PER_EMAIL):
        with pytest.raises(NotAuthenticated):
            users_ws.authenticate("ann@example.com", "wrong password", f"10.0.0.{i}")
        clock.advance(minutes=1)
    # The 6th attempt is refused even with the right password, from any client.
    with pytest.raises(TooManyAttempts) as refused:
        users_ws.authenticate("ann@example.com", PASSWORD, "10.9.9.9")
    # The first failure was at 09:00, now is 09:05: it leaves the window at 09:15.
    assert refused.value.retry_after == 10 * 60
    assert "10 minutes" in str(refused.value)
    clock.advance(minutes=9, seconds=59)
    with pytest.raises(TooManyAttempts) as still:
        users_ws.authenticate("ann@example.com", PASSWORD, "10.9.9.9")
    assert still.value.retry_after == 1
    clock.advance(seconds=1)  # the oldest failure is 15 minutes old: four left in the window
    assert users_ws.authenticate("ann@example.com", PASSWORD, "10.9.9.9").email == "ann@example.com"
    # Refused attempts were not counted as failures (ok is NULL), successes neither.
    rows = users_ws.store.fetchall("SELECT ok, count(*) FROM login_attempts GROUP BY ok ORDER BY ok")
    assert sorted(rows, key=str) == sorted([(False, 5), (True, 1), (None, 2)], key=str)


def test_the_rate_limit_per_client(users_ws: Workspace, clock: Clock) -> None:
    users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    for i in range(access.MAX_FAILURES_PER_CLIENT):  # 20 e-mails, 1 failure each, from one address
        with pytest.raises(NotAuthenticated):
            users_ws.authenticate(f"guess{i}@example.com", "wrong password", "10.6.6.6")
    with pytest.raises(TooManyAttempts) as refused:
        users_ws.authenticate("ann@example.com", PASSWORD, "10.6.6.6")
    assert refused.value.retry_after == 15 * 60
    assert users_ws.authenticate("ann@example.com", PASSWORD, "10.0.0.1").email == "ann@example.com"  # elsewhere


# -- sessions and tokens --------------------------------------------------------------------------
def test_sessions_expire_and_end(users_ws: Workspace, clock: Clock) -> None:
    user = users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    token, csrf = users_ws.new_session(user)
    assert token != csrf
    assert users_ws.session_user(token) == (user, csrf)
    assert users_ws.session_user(token + "x") is None
    assert users_ws.session_user("") is None
    # Only the SHA-256 of the token is stored.
    assert users_ws.store.scalar("SELECT count(*) FROM sessions WHERE token_hash = ?", [token]) == 0
    clock.advance(hours=11, minutes=59)
    assert users_ws.session_user(token) == (user, csrf)
    clock.advance(minutes=1)
    assert users_ws.session_user(token) is None  # 12 hours: expired

    short, _ = users_ws.new_session(user, hours=1)
    assert users_ws.session_user(short) is not None
    users_ws.end_session(short)
    assert users_ws.session_user(short) is None

    again, _ = users_ws.new_session(user)
    users_ws.reset_password("ann@example.com", "a brand new secret")  # ends the sessions
    assert users_ws.session_user(again) is None
    with pytest.raises(ParameterError, match="positive"):
        users_ws.new_session(user, hours=0)


def test_api_tokens_work_until_revoked(users_ws: Workspace, clock: Clock) -> None:
    user = users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    first = users_ws.new_token("ann@example.com", "laptop")
    second = users_ws.new_token("ann@example.com")
    assert first.startswith("sp_") and len(first) == 3 + 43 and first != second
    assert users_ws.token_user(first) == user
    assert users_ws.token_user(second) == user
    assert users_ws.token_user("sp_" + "x" * 43) is None
    assert users_ws.token_user(first[3:]) is None  # no prefix: not a token
    last = users_ws.store.scalar("SELECT last_used_at FROM api_tokens WHERE name = ?", ["laptop"])
    assert last == clock.now
    assert users_ws.revoke_tokens("ann@example.com") == 2
    assert users_ws.token_user(first) is None
    assert users_ws.token_user(second) is None
    assert users_ws.revoke_tokens("ann@example.com") == 0


def test_remove_user_ends_their_sessions_and_tokens(users_ws: Workspace) -> None:
    user = users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    session, _ = users_ws.new_session(user)
    token = users_ws.new_token("ann@example.com")
    users_ws.remove_user("ann@example.com")
    assert users_ws.session_user(session) is None
    assert users_ws.token_user(token) is None
    assert users_ws.users() == []
    with pytest.raises(ParameterError, match=r'no user "ann@example\.com"'):
        users_ws.remove_user("ann@example.com")


# -- checks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "admn"}, r'role "admn" must be one of admin, manager, rep, viewer\. Did you mean "admin"\?'),
        ({"role": "rep"}, "needs the rep id"),
        ({"role": "rep", "rep_id": "A9"}, 'no rep "A9"'),
        ({"role": "manager"}, "needs a team"),
        ({"role": "manager", "team": "Nort"}, 'no team "Nort".*Did you mean "North"'),
        ({"role": "viewer", "password": "short"}, "at least 10 characters"),
        ({"role": "viewer", "email": "not-an-address"}, "not an e-mail address"),
        ({"role": "viewer", "language": "de"}, "must be one of en, fr"),
        ({"role": "viewer", "email": "ANN@example.com"}, r'already a user "ann@example\.com"'),
    ],
)
def test_bad_users_are_refused(users_ws: Workspace, kwargs: dict[str, str], message: str) -> None:
    users_ws.add_user("ann@example.com", PASSWORD, "viewer")
    args = {"email": "new@example.com", "password": PASSWORD, **kwargs}
    with pytest.raises(ParameterError, match=message):
        users_ws.add_user(**args)
    assert len(users_ws.users()) == 1


def test_roles_and_rights() -> None:
    assert access.ROLES == ("admin", "manager", "rep", "viewer")
    make = {r: User(1, "a@b.co", None, r, None, None, "en") for r in access.ROLES}
    assert [r for r, u in make.items() if u.can_write] == ["admin"]
    assert [r for r, u in make.items() if u.sees_all] == ["admin", "viewer"]
    assert make["rep"].as_dict() == {
        "user_id": 1,
        "email": "a@b.co",
        "name": None,
        "role": "rep",
        "rep_id": None,
        "team": None,
        "language": "en",
    }


def test_set_language(users_ws: Workspace) -> None:
    user = users_ws.add_user("ann@example.com", PASSWORD, "viewer")
    users_ws.set_language(user.user_id, "fr")
    assert [u.language for u in users_ws.users()] == ["fr"]
    with pytest.raises(ParameterError, match="en, fr"):
        users_ws.set_language(user.user_id, "es")
    with pytest.raises(ParameterError, match="no user 99"):
        users_ws.set_language(99, "en")


# -- scopes ---------------------------------------------------------------------------------------
def test_scope_lens_of_each_role(users_ws: Workspace) -> None:
    store = users_ws.store
    admin = users_ws.add_user("admin@example.com", PASSWORD, "admin")
    viewer = users_ws.add_user("viewer@example.com", PASSWORD, "viewer")
    rep = users_ws.add_user("ann@example.com", PASSWORD, "rep", rep_id="A1")
    by_team = users_ws.add_user("north@example.com", PASSWORD, "manager", team="North")
    m1 = users_ws.add_user("max@example.com", PASSWORD, "manager", rep_id="M1")  # no team: their reports
    m2 = users_ws.add_user("mia@example.com", PASSWORD, "manager", rep_id="M2")  # team South (from reps)
    assert m2.team == "South"
    assert access.scope_lens(store, admin) is None
    assert access.scope_lens(store, viewer) is None
    assert access.scope_lens(store, rep) == ScopeLens(frozenset({"A1"}))
    assert access.scope_lens(store, by_team) == ScopeLens(frozenset({"A1", "A2", "S1"}), frozenset({"North"}))
    assert access.scope_lens(store, m1) == ScopeLens(frozenset({"M1", "A1", "A2"}))
    assert access.scope_lens(store, m2) == ScopeLens(frozenset({"M2", "A3"}), frozenset({"South"}))


def test_an_empty_scope_is_empty_not_everything(users_ws: Workspace) -> None:
    store = users_ws.store
    lonely = users_ws.add_user("moe@example.com", PASSWORD, "manager", rep_id="M3")  # manages nobody
    assert access.scope_lens(store, lonely) == ScopeLens(frozenset({"M3"}))
    empty_team = User(9, "e@example.com", None, "manager", None, "Gone", "en")  # a team whose reps left
    assert access.scope_lens(store, empty_team) == ScopeLens(frozenset(), frozenset({"Gone"}))
    no_rep = User(9, "r@example.com", None, "rep", None, None, "en")
    assert access.scope_lens(store, no_rep) == ScopeLens(frozenset())
    unknown = User(9, "u@example.com", None, "superuser", None, None, "en")
    assert access.scope_lens(store, unknown) == ScopeLens(frozenset())
    for user in (empty_team, no_rep, unknown):
        reps = ibis_backend(users_ws.for_user(user).store).table("reps")
        assert reps.count().to_pyarrow().as_py() == 0
    assert ibis_backend(users_ws.for_user(lonely).store).table("reps").rep_id.to_pyarrow().to_pylist() == ["M3"]


def test_for_user_is_read_only(users_ws: Workspace) -> None:
    viewer = users_ws.add_user("viewer@example.com", PASSWORD, "viewer")
    admin = users_ws.add_user("admin@example.com", PASSWORD, "admin")
    for user in (viewer, admin):
        view = users_ws.for_user(user)
        assert view is not users_ws
        with pytest.raises(ParameterError, match="read-only"):
            view.set_setting("timezone", "Europe/Paris")
        with pytest.raises(ParameterError, match="read-only"):
            view.add_user("x@example.com", PASSWORD, "viewer")
        view.close()  # closing the view leaves the workspace open
    assert len(users_ws.users()) == 2
