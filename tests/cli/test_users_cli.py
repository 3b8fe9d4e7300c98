"""``salespilot users``: add, list, remove, reset-password, token, revoke-tokens, and the
mistakes a user makes, answered without a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import run_cli

import salespilot

PASSWORD = "a long enough password"


def run_with_stdin(*args: str, db: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    """``run_cli`` with text on standard input."""
    return run_cli(*args, db=db, stdin=stdin)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,name,role,team\nR1,Ann,ae,North\nR2,Bob,ae,South\n", encoding="utf-8")
    with salespilot.open(db) as ws:
        assert ws.import_file(reps, table="reps").rejected == 0
    return db


def add(db: Path, email: str, *options: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return run_with_stdin("users", "add", email, *options, "--password-stdin", db=db, stdin=password + "\n")


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def test_add_list_remove(store: Path) -> None:
    result = add(store, "Ann@Example.com", "--role", "rep", "--rep-id", "R1", "--name", "Ann", "--language", "fr")
    assert result.returncode == 0, result.stderr
    assert "ann@example.com added with role rep" in result.stdout
    assert add(store, "boss@example.com", "--role", "manager", "--team", "North").returncode == 0
    assert add(store, "admin@example.com", "--role", "admin").returncode == 0

    listed = run_cli("users", "list", "--format", "json", db=store)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["email"], r["role"], r["rep_id"], r["team"], r["language"]) for r in rows] == [
        ("admin@example.com", "admin", None, None, "en"),
        ("ann@example.com", "rep", "R1", None, "fr"),
        ("boss@example.com", "manager", None, "North", "en"),
    ]
    assert "password" not in listed.stdout
    table = run_cli("users", "list", db=store)
    assert table.returncode == 0 and "ann@example.com" in table.stdout and "manager" in table.stdout

    removed = run_cli("users", "remove", "ANN@example.com", db=store)
    assert removed.returncode == 0, removed.stderr
    assert [r["email"] for r in json.loads(run_cli("users", "list", "--format", "json", db=store).stdout)] == [
        "admin@example.com",
        "boss@example.com",
    ]
    assert_clean_error(run_cli("users", "remove", "ann@example.com", db=store), 'no user "ann@example.com"')


def test_the_password_read_from_stdin_signs_in(store: Path) -> None:
    assert add(store, "ann@example.com", "--role", "viewer", password="first long password").returncode == 0
    with salespilot.open(store) as ws:
        assert ws.authenticate("ann@example.com", "first long password", "test").role == "viewer"
    reset = run_with_stdin(
        "users", "reset-password", "ann@example.com", "--password-stdin", db=store, stdin="second long password\r\n"
    )
    assert reset.returncode == 0, reset.stderr
    with salespilot.open(store) as ws:
        assert ws.authenticate("ann@example.com", "second long password", "test").email == "ann@example.com"
    assert_clean_error(
        run_with_stdin("users", "reset-password", "ann@example.com", "--password-stdin", db=store, stdin="short\n"),
        "at least 10 characters",
    )
    assert_clean_error(
        run_with_stdin("users", "reset-password", "nobody@example.com", "--password-stdin", db=store, stdin=PASSWORD),
        'no user "nobody@example.com"',
    )
    assert_clean_error(
        run_with_stdin("users", "reset-password", "ann@example.com", "--password-stdin", db=store, stdin=""),
        "no password",
    )


def test_the_password_is_asked_twice_without_echo(store: Path) -> None:
    typed = run_with_stdin("users", "add", "ann@example.com", "--role", "viewer", db=store, stdin=f"{PASSWORD}\n" * 2)
    assert typed.returncode == 0, typed.stderr
    assert PASSWORD not in typed.stdout + typed.stderr
    mismatch = run_with_stdin(
        "users", "add", "bob@example.com", "--role", "viewer", db=store, stdin=f"{PASSWORD}\nsomething else\n"
    )
    assert mismatch.returncode != 0
    assert "Traceback" not in mismatch.stderr
    with salespilot.open(store) as ws:
        assert [u.email for u in ws.users()] == ["ann@example.com"]


def test_tokens_are_printed_once_and_revoked(store: Path) -> None:
    assert add(store, "ann@example.com", "--role", "rep", "--rep-id", "R2").returncode == 0
    made = run_cli("users", "token", "ann@example.com", "--name", "nightly export", db=store)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("sp_") and "\n" not in token
    assert "not shown again" in made.stderr
    with salespilot.open(store) as ws:
        user = ws.token_user(token)
        assert user is not None and user.rep_id == "R2"
        assert token not in str(ws.sql("SELECT * FROM api_tokens").to_pylist())  # only its hash
    revoked = run_cli("users", "revoke-tokens", "ann@example.com", db=store)
    assert revoked.returncode == 0, revoked.stderr
    assert "1 API token of ann@example.com revoked" in revoked.stdout
    with salespilot.open(store) as ws:
        assert ws.token_user(token) is None
    assert_clean_error(run_cli("users", "token", "nobody@example.com", db=store), 'no user "nobody@example.com"')
    assert_clean_error(run_cli("users", "revoke-tokens", "nobody@example.com", db=store), "no user")


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (("--role", "boss"), ('The role "boss" must be one of admin, manager, rep, viewer',)),
        (("--role", "reps", "--rep-id", "R1"), ('Did you mean "rep"?',)),
        (("--role", "rep", "--rep-id", "R9"), ('There is no rep "R9"', "Known rep ids: R1, R2")),
        (("--role", "rep"), ("--rep-id",)),
        (("--role", "manager", "--team", "Nowhere"), ('There is no team "Nowhere"',)),
    ],
)
def test_add_mistakes_are_clear(store: Path, options: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    assert_clean_error(add(store, "new@example.com", *options), *fragments)


def test_short_password_and_duplicate_email_are_clear(store: Path) -> None:
    short = add(store, "ann@example.com", "--role", "viewer", password="too short")
    assert_clean_error(short, "at least 10 characters")
    assert add(store, "ann@example.com", "--role", "viewer").returncode == 0
    assert_clean_error(add(store, "ANN@example.com", "--role", "admin"), 'already a user "ann@example.com"')
    assert_clean_error(add(store, "not an address", "--role", "admin"), "not an e-mail address")
    missing_role = run_with_stdin("users", "add", "x@example.com", "--password-stdin", db=store, stdin=PASSWORD)
    assert missing_role.returncode == 2 and "--role" in missing_role.stderr and "Traceback" not in missing_role.stderr
