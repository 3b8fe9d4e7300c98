"""``salespilot funnel``: per step, the volume, the measured conversion, the reference and the lever."""

from __future__ import annotations

from typing import Any

import click

from salespilot.analytics.funnel import as_rows
from salespilot.cli import output
from salespilot.cli.pipeline_cmd import as_of_option
from salespilot.engine.workspace import Workspace
from salespilot.metrics.periods import Grain

COLUMNS = [
    "step",
    "next_step",
    "volume",
    "rate",
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
    "reference",
    "below_reference",
    "lever",
    "reason",
    "flags",
]


@click.command("funnel")
@click.option("--grain", type=click.Choice([g.value for g in Grain]), default="month", show_default=True)
@click.option("--by", "by", default=None, metavar="DIM", help="Split by one dimension (rep, team, segment...).")
@click.option("--from", "start", metavar="DATE", help="First day (YYYY-MM-DD), in the workspace time zone.")
@click.option("--to", "end", metavar="DATE", help="Last day (YYYY-MM-DD), included.")
@click.option(
    "--steps",
    default=None,
    metavar="STEP,STEP...",
    help="Consecutive steps of call,lead,opportunity,signature (default: the funnel_steps setting).",
)
@click.option(
    "--stages/--no-stages",
    default=None,
    help="Add the opportunity stages between opportunity and signature (default: the funnel_stages setting).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@as_of_option
@click.option("--db", "db", envvar="SALESPILOT_DB", default=None, metavar="STORE", help="The store (see --help).")
def funnel_cmd(
    grain: str,
    by: str | None,
    start: str | None,
    end: str | None,
    steps: str | None,
    stages: bool | None,
    fmt: str,
    as_of: str | None,
    db: str | None,
) -> None:
    """The funnel: salespilot funnel --grain quarter --by team.

    Per period and step: the volume, the measured conversion to the next step (cohort-based,
    with its 95% interval), the reference rate, and the lever to pull when the step is
    significantly below the reference (its interval lies below it).
    """
    with Workspace(db, read_only=True) as ws:
        result = (ws.as_of(as_of) if as_of else ws).funnel(
            grain=grain, by=by, start=start, end=end, steps=steps, stages=stages
        )
    rows = as_rows(result)
    dims = [by] if by else []
    columns = ["period", *dims, *COLUMNS]
    if fmt == "json":
        output.print_rows(rows, columns, fmt, empty="")
        return
    if fmt == "csv":
        output.print_rows([{**r, "flags": ";".join(r["flags"])} for r in rows], columns, fmt, empty="")
        return
    output.print_rows([_shown(r) for r in rows], ["period", *dims, *TABLE_COLUMNS], "table", empty="No data.")


TABLE_COLUMNS = ["step", "volume", "conversion", "95% interval", "reference", "flag"]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    rate, low, high, ref = row["rate"], row["ci_low"], row["ci_high"], row["reference"]
    flag = f"BELOW: {row['lever']}" if row["below_reference"] else ", ".join(row["flags"])
    step = row["step"] if row["next_step"] is None else f"{row['step']} -> {row['next_step']}"
    return {
        "period": row["period"],
        **{k: v for k, v in row.items() if k not in COLUMNS and k not in ("period", "period_start")},
        "step": step,
        "volume": output.number(row["volume"], "volume"),
        "conversion": "" if rate is None else f"{rate:.1%}",
        "95% interval": "" if low is None or high is None else f"{low:.1%} - {high:.1%}",
        "reference": "" if ref is None else f"{ref:.0%}",
        "flag": flag,
    }
