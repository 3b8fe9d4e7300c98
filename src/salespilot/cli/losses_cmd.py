"""``salespilot losses`` and ``salespilot qualification``: why deals are lost, and how well they
were qualified (docs/losses.md)."""

from __future__ import annotations

import json
from typing import Any

import click

from salespilot.analytics.losses import GROUPINGS
from salespilot.analytics.qualification import FIELDS
from salespilot.cli import output
from salespilot.cli.pipeline_cmd import db_option
from salespilot.engine.workspace import Workspace
from salespilot.metrics.periods import Grain

FORMATS = click.Choice(["table", "json", "csv"])
GRAINS = click.Choice([g.value for g in Grain])
EXTRA_COLUMNS = {
    "reason": ["lever", "texts"],
    "stage": [],
    "competitor": ["won", "closed", "win_rate", "ci_low", "ci_high"],
    "rep": ["won", "closed", "win_rate", "ci_low", "ci_high", "top_reason"],
    "segment": ["won", "closed", "win_rate", "ci_low", "ci_high", "top_reason"],
}


def _from_to(func: Any) -> Any:
    func = click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day (inclusive).")(func)
    return click.option("--from", "start", metavar="YYYY-MM-DD", help="First day.")(func)


@click.command("losses")
@click.option("--by", "by", type=click.Choice(GROUPINGS), default="reason", show_default=True)
@click.option("--grain", type=GRAINS, default="month", show_default=True, help="Period of the close.")
@_from_to
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def losses_cmd(by: str, grain: str, start: str | None, end: str | None, fmt: str, db: str | None) -> None:
    """Lost deals and their value by reason (with its lever), stage lost, competitor, rep or segment."""
    with Workspace(db, read_only=True) as ws:
        result = ws.losses(by=by, grain=grain, start=start, end=end)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    rows = [
        r | {"texts": "; ".join(f"{t['text']} ({t['count']})" for t in r["texts"])} if "texts" in r else r
        for r in result["rows"]
    ]
    columns = ["period", by, "lost", "lost_value", "share_of_lost", "share_of_lost_value", *EXTRA_COLUMNS[by]]
    output.print_rows(rows, columns, fmt, empty="No lost deal in the period.")


@click.command("qualification")
@click.option("--grain", type=GRAINS, default="month", show_default=True, help="Period of the creation.")
@_from_to
@click.option(
    "--late-stage",
    "late_stage",
    metavar="STAGE",
    default=None,
    help="List open deals at this stage or beyond that are not fully qualified (default: proposal, else the last).",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def qualification_cmd(
    grain: str, start: str | None, end: str | None, late_stage: str | None, fmt: str, db: str | None
) -> None:
    """The six qualification fields: per opportunity and rep, and against win rate and cycle."""
    with Workspace(db, read_only=True) as ws:
        result = ws.qualification(grain=grain, start=start, end=end, late_stage=late_stage)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":  # one table: the opportunities, with their fields
        columns = ["opportunity_id", "period", "owner", "outcome", "stage", *FIELDS, "filled", "fully_qualified"]
        output.print_rows(result["opportunities"], columns, fmt, empty="")
        return
    click.echo("Fully qualified opportunities per rep and period:")
    output.print_rows(
        result["by_rep"],
        ["period", "rep", "opportunities", "fully_qualified", "share", "ci_low", "ci_high"],
        fmt,
        empty="No opportunity in the period.",
    )
    click.echo("Fully vs partly qualified closed deals:")
    columns = ["qualified", "closed", "won", "win_rate", "ci_low", "ci_high", "cycle_n", "cycle_median_days"]
    output.print_rows(result["comparison"], columns, fmt, empty="")
    click.echo("Win rate with each field filled vs empty (difference, 95% interval):")
    columns = ["field", "filled_closed", "filled_win_rate", "empty_closed", "empty_win_rate", "difference"]
    output.print_rows(result["fields_effect"], [*columns, "ci_low", "ci_high"], fmt, empty="")
    click.echo(f"Open deals at {result['late_stage']} or beyond, not fully qualified:")
    late = [r | {"missing": ", ".join(r["missing"])} for r in result["late_unqualified"]]
    output.print_rows(late, ["opportunity_id", "owner", "stage", "value", "currency", "missing"], fmt, empty="None.")
