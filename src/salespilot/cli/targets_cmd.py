"""``salespilot targets set|list|suggest`` (docs/team.md)."""

from __future__ import annotations

import json

import click

from salespilot.cli import output
from salespilot.cli.losses_cmd import FORMATS
from salespilot.cli.pipeline_cmd import db_option
from salespilot.cli.team_cmd import PERCENTILE, ROLE, _from_to
from salespilot.engine.workspace import Workspace


@click.group("targets")
def targets() -> None:
    """Objectives per period, of the company, a team or a rep; compared with the KPIs."""


@targets.command("set")
@click.argument("metric")
@click.argument("value", type=click.FloatRange(min=0))
@click.option("--period", required=True, metavar="PERIOD", help="2026-07, 2026-Q3, 2026, FY2026...")
@click.option("--rep", default=None, metavar="REP_ID", help="A rep's target (default: the company's).")
@click.option("--team", default=None, metavar="TEAM", help="A team's target.")
@db_option
def set_cmd(metric: str, value: float, period: str, rep: str | None, team: str | None, db: str | None) -> None:
    """Set one target: salespilot targets set revenue 50000 --period 2026-07 --rep R0016.

    METRIC is a KPI name (salespilot kpi --list); 'salespilot kpi METRIC --by rep' then shows the
    target and the attainment. A target set again for the same period, metric and scope replaces
    the old one. Many targets at once: import a file (salespilot import targets.csv --table targets).
    """
    with Workspace(db) as ws:
        result = ws.set_target(metric, value, period, rep=rep, team=team)
    who = f"rep {rep}" if rep else f"team {team}" if team else "the company"
    verb = "unchanged" if result.unchanged else "updated" if result.updated else "set"
    click.echo(f"Target {verb}: {metric} = {value:,g} for {who} in {period} (import {result.import_id}).")


@targets.command("list")
@click.option("--period", default=None, metavar="PERIOD")
@click.option("--metric", default=None)
@click.option("--scope", type=click.Choice(["company", "team", "rep"]), default=None)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def list_cmd(period: str | None, metric: str | None, scope: str | None, fmt: str, db: str | None) -> None:
    """The targets, by period, scope and metric."""
    with Workspace(db, read_only=True) as ws:
        rows = ws.targets(period=period, metric=metric, scope=scope)
    output.print_rows(rows, ["period", "metric", "value", "scope", "scope_id"], fmt, empty="No target.")


@targets.command("suggest")
@click.option("--role", type=ROLE, default=None, help="Only this role (default: sdr, ae and am).")
@click.option("--percentile", type=PERCENTILE, default=75, show_default=True, help="The role's percentile to aim at.")
@_from_to
@click.option(
    "--save",
    "save_for",
    multiple=True,
    metavar="PERIOD",
    help="Write the suggestions as targets of every active rep of the role for PERIOD (repeatable).",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def suggest_cmd(
    role: str | None,
    percentile: float,
    start: str | None,
    end: str | None,
    save_for: tuple[str, ...],
    fmt: str,
    db: str | None,
) -> None:
    """Monthly targets per role from the measured top quartile of the role's reps.

    Each rep's mean per month over the window (default: the last twelve months), then the
    role's percentile of those means: what the best reps of the role already do.
    """
    with Workspace(db, read_only=not save_for) as ws:
        result = ws.suggest_targets(role, percentile, start, end, save_for=list(save_for))
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    rows = [{**r, "flags": ";".join(r["flags"])} for r in result["rows"]]
    if fmt == "table":
        click.echo(
            f"From {result['start']} to {result['end']}: the {result['percentile']:g}th percentile of the reps' "
            "monthly means, per role."
        )
        rows = [
            {**r, "value": f"{r['value']:.0%}" if r["metric"].endswith("rate") else f"{r['value']:,.2f}"} for r in rows
        ]
    output.print_rows(rows, ["role", "metric", "value", "per", "reps", "median", "flags"], fmt, empty="No data.")
    if "saved" in result and fmt == "table":
        saved = result["saved"]
        click.echo(
            f"Saved for {', '.join(save_for)}: {saved['inserted']} targets new, {saved['updated']} updated "
            f"(import {saved['import_id']})."
        )
