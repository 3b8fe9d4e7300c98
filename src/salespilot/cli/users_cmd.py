"""``salespilot users add|list|remove|reset-password|token|revoke-tokens`` (docs/access.md)."""

from __future__ import annotations

import sys

import click

from salespilot.cli import output
from salespilot.cli.pipeline_cmd import db_option
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

COLUMNS = ["email", "name", "role", "rep_id", "team", "language"]
password_stdin_option = click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts) instead of asking for it.",
)


def _password(from_stdin: bool) -> str:
    """The password from stdin's first line, or asked twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ParameterError("--password-stdin: standard input holds no password (one line is expected).")
        return password
    typed: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return typed


@click.group("users")
def users() -> None:
    """Who may sign in to the server: users, their roles and their API tokens (docs/access.md)."""


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, metavar="ROLE", help="admin, manager, rep or viewer.")
@click.option("--name", default=None, help="The name the interface shows.")
@click.option("--rep-id", "rep_id", metavar="REP_ID", help="Their id in the reps table (a rep needs it).")
@click.option("--team", default=None, metavar="TEAM", help="A manager's team (default: their rep's team).")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@password_stdin_option
@db_option
def add_cmd(
    email: str,
    role: str,
    name: str | None,
    rep_id: str | None,
    team: str | None,
    language: str,
    password_stdin: bool,
    db: str | None,
) -> None:
    """Add a user: salespilot users add ann@example.com --role rep --rep-id R0016.

    A rep sees their own records, a manager those of their team and of the reps who report to
    them, a viewer everything without changing anything, an admin everything, and may import,
    change settings and manage users. The password (10 characters or more) is asked twice.
    """
    password = _password(password_stdin)
    with Workspace(db) as ws:
        user = ws.add_user(email, password, role, rep_id=rep_id, team=team, name=name, language=language)
    sees = f" (rep {user.rep_id})" if user.rep_id else ""
    sees += f" (team {user.team})" if user.team else ""
    click.echo(f"User {user.email} added with role {user.role}{sees}.")


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@db_option
def list_cmd(fmt: str, db: str | None) -> None:
    """The users, by e-mail (never their passwords or tokens)."""
    with Workspace(db) as ws:
        rows = [u.as_dict() for u in ws.users()]
    output.print_rows(rows, ["user_id", *COLUMNS] if fmt == "json" else COLUMNS, fmt, empty="No user.")


@users.command("remove")
@click.argument("email")
@db_option
def remove_cmd(email: str, db: str | None) -> None:
    """Remove a user, with their sessions and API tokens."""
    with Workspace(db) as ws:
        ws.remove_user(email)
    click.echo(f"User {email.strip().lower()} removed; their sessions and API tokens no longer work.")


@users.command("reset-password")
@click.argument("email")
@password_stdin_option
@db_option
def reset_password_cmd(email: str, password_stdin: bool, db: str | None) -> None:
    """Give a user a new password; their open sessions end (API tokens stay: see revoke-tokens)."""
    password = _password(password_stdin)
    with Workspace(db) as ws:
        ws.reset_password(email, password)
    click.echo(f"Password of {email.strip().lower()} changed; their sessions ended.")


@users.command("token")
@click.argument("email")
@click.option("--name", default=None, help="What the token is for (e.g. the script using it).")
@db_option
def token_cmd(email: str, name: str | None, db: str | None) -> None:
    """Print a new API token for the user, once: only its hash is kept.

    Send it as 'Authorization: Bearer TOKEN'; it sees what its user sees until revoked.
    """
    with Workspace(db) as ws:
        token = ws.new_token(email, name)
    click.echo(token)
    click.echo("Keep this token now: it is not shown again.", err=True)


@users.command("revoke-tokens")
@click.argument("email")
@db_option
def revoke_tokens_cmd(email: str, db: str | None) -> None:
    """End every API token of the user."""
    with Workspace(db) as ws:
        count = ws.revoke_tokens(email)
    click.echo(f"{count} API token{'' if count == 1 else 's'} of {email.strip().lower()} revoked.")
