"""``salespilot pipeline``: time spent in each stage, and the deals stuck in theirs."""

from __future__ import annotations

import json
from typing import Any

import click

from salespilot.cli import output
from salespilot.engine.workspace import Workspace

FORMATS = click.Choice(["table", "json", "csv"])
DURATION_COLUMNS = ["stage", "order", "n", "events", "censored", "median", "p75", "p90"]
DEAL_COLUMNS = [
    "opportunity_id",
    "owner",
    "segment",
    "stage",
    "days_in_stage",
    "threshold_days",
    "threshold_basis",
    "value_at_risk",
    "currency",
    "days_since_activity",
    "reasons",
]
GROUP_COLUMNS = ["deals", "over_threshold", "idle", "value_at_risk", "opportunity_ids"]


def as_of_option(func: Any) -> Any:
    return click.option(
        "--as-of",
        "as_of",
        metavar="YYYY-MM-DD",
        default=None,
        help="As the store stood at the end of that day (docs/asof.md).",
    )(func)


def db_option(func: Any) -> Any:
    return click.option(
        "--db",
        "db",
        envvar="SALESPILOT_DB",
        default=None,
        metavar="STORE",
        help="A .duckdb file or a postgresql:// URL (default: $SALESPILOT_DB, else ./salespilot.duckdb).",
    )(func)


@click.group("pipeline")
def pipeline() -> None:
    """The open pipeline: time spent in each stage, and the deals stuck in theirs."""


@pipeline.command("durations")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@as_of_option
@db_option
def durations_cmd(fmt: str, as_of: str | None, db: str | None) -> None:
    """Days spent in each stage (and the whole cycle): n, median, p75, p90 (Kaplan-Meier, open deals censored)."""
    with Workspace(db, read_only=True) as ws:
        result = (ws.as_of(as_of) if as_of else ws).stage_durations()
    rows = result.as_rows()
    if fmt == "json":
        end = result.data_end.isoformat() if result.data_end is not None else None
        click.echo(json.dumps({"data_end": end, "stages": result.stages, "cycle": result.cycle}, default=str))
        return
    output.print_rows(rows, DURATION_COLUMNS, fmt, empty="No stage history in the store.")


@pipeline.command("stuck")
@click.option(
    "--percentile",
    type=click.FloatRange(min=0, max=100, min_open=True, max_open=True),
    default=90,
    show_default=True,
    help="Stuck when the time in the current stage exceeds this percentile of the stage's history.",
)
@click.option(
    "--by",
    "by",
    type=click.Choice(["rep", "stage", "segment"]),
    default=None,
    help="One row per rep (stage, segment): deals, value at risk.",
)
@click.option(
    "--idle-days",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="Also flag an open deal with no activity for more than this many days.",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@as_of_option
@db_option
def stuck_cmd(percentile: float, by: str | None, idle_days: float, fmt: str, as_of: str | None, db: str | None) -> None:
    """Open deals stuck in their stage or idle, sorted by value at risk."""
    with Workspace(db, read_only=True) as ws:
        view = ws.as_of(as_of) if as_of else ws
        rows = view.stuck_deals(percentile=percentile, by=by, idle_days=idle_days)
    if fmt == "json":
        click.echo(json.dumps(rows, default=str, ensure_ascii=False))
        return
    columns = [by, *GROUP_COLUMNS] if by else DEAL_COLUMNS
    flat = [
        {k: ";".join(v) if isinstance(v, list) else v for k, v in r.items()}
        | {"value_at_risk": r["value_at_risk"] if fmt == "csv" else output.number(r["value_at_risk"], "value")}
        for r in rows
    ]
    output.print_rows(flat, columns, fmt, empty="No stuck or idle open deal.")


@pipeline.command("movement")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="The first date (its end of day).")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="The second date (its end of day).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def movement_cmd(start: str, end: str, fmt: str, db: str | None) -> None:
    """What changed in the pipeline between two dates: created, won, lost, advanced, moved back,
    pushed, pulled in, amount changes (docs/asof.md)."""
    with Workspace(db, read_only=True) as ws:
        result = ws.pipeline_movement(start, end)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        rows = [{**r, "moves": ";".join(r["moves"])} for r in result["deals"]]
        columns = ["opportunity_id", "owner", "moves", "stage_before", "stage_after", "value_before", "value_after"]
        output.print_rows(rows, [*columns, "close_before", "close_after"], "csv", empty="")
        return
    rows = [
        {
            **r,
            "value": f"{r['value']:,.0f}",
            "amount_change": "" if r["amount_change"] is None else f"{r['amount_change']:+,.0f}",
        }
        for r in result["summary"]
    ]
    output.print_rows(rows, ["move", "deals", "value", "amount_change"], "table", empty="")
