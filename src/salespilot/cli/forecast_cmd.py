"""``salespilot forecast`` and ``salespilot forecast backtest`` (docs/forecast.md)."""

from __future__ import annotations

import json
from typing import Any

import click

from salespilot.cli import output
from salespilot.cli.losses_cmd import FORMATS
from salespilot.cli.pipeline_cmd import as_of_option, db_option

DEAL_COLUMNS = ["opportunity_id", "owner", "stage", "segment", "value", "probability", "forecast_category", "flags"]
PERIOD_COLUMNS = ["period", "as_of", "forecast", "p10", "p90", "actual", "in_range", "weighted_pipeline", "run_rate"]


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}"


@click.group("forecast", invoke_without_command=True)
@click.option("--horizon", default="month", show_default=True, help="month, quarter or N-days (e.g. 90-days).")
@click.option("--by", "by", type=click.Choice(["rep", "team"]), default=None, help="One row per rep or team.")
@as_of_option
@click.option("--simulations", type=click.IntRange(min=100), default=10_000, show_default=True)
@click.option("--new-pipeline/--no-new-pipeline", default=True, show_default=True, help="Add deals not yet created.")
@click.option("--deals", "shown_deals", type=click.IntRange(min=0), default=10, show_default=True, help="Deals listed.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
@click.pass_context
def forecast(
    ctx: click.Context,
    horizon: str,
    by: str | None,
    as_of: str | None,
    simulations: int,
    new_pipeline: bool,
    shown_deals: int,
    fmt: str,
    db: str | None,
) -> None:
    """Expected bookings for the horizon with their P10-P90 range: salespilot forecast --horizon quarter.

    Already won + for each open deal its probability of being won within the horizon (measured on
    the company's own past) x its amount, simulated 10,000 times. 'salespilot forecast backtest'
    replays it on past dates.
    """
    if ctx.invoked_subcommand is not None:
        return
    from salespilot.engine.workspace import Workspace

    with Workspace(db, read_only=True) as ws:
        result = ws.forecast(horizon, by, as_of, simulations, new_pipeline)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        rows = [{**d, "flags": ";".join(d["flags"])} for d in result["deals"]]
        output.print_rows(rows, DEAL_COLUMNS, "csv", empty="")
        return
    cur = result["base_currency"]
    click.echo(
        f"Bookings {result['from']} to {result['to']} (as of {result['now'][:10]}), {cur}: expected "
        f"{_money(result['expected'])}, P10 {_money(result['p10'])}, P50 {_money(result['p50'])}, "
        f"P90 {_money(result['p90'])}."
    )
    click.echo(
        f"Already won {_money(result['already_won'])}; {len(result['deals'])} open deals; "
        f"not yet created {_money(result['new_pipeline'])}. For comparison: weighted pipeline "
        f"{_money(result['weighted_pipeline'])}, run rate {_money(result['run_rate'])}."
    )
    for flag in result["flags"]:
        click.echo(f"Note: {flag}")
    if len(result["categories"]) > 1 or result["categories"][0]["category"] != "(none)":
        rows = [
            {
                **c,
                "value": _money(c["value"]),
                "expected": _money(c["expected"]),
                "share": f"{c['expected_share'] or 0:.0%}",
            }
            for c in result["categories"]
        ]
        click.echo("Against the reps' forecast categories (share: what we expect of the category's value):")
        output.print_rows(rows, ["category", "deals", "value", "expected", "share"], "table", empty="")
    if by is not None:
        columns = [by, "already_won", "open_deals", "expected", "p10", "p50", "p90"]
        rows = [{k: _money(v) if isinstance(v, float) else v for k, v in g.items()} for g in result["groups"]]
        output.print_rows(rows, columns, "table", empty="")
    if shown_deals:
        rows = [
            {**d, "value": _money(d["value"]), "probability": f"{d['probability']:.1%}", "flags": ", ".join(d["flags"])}
            for d in result["deals"][:shown_deals]
        ]
        output.print_rows(rows, DEAL_COLUMNS, "table", empty="")


@forecast.command("backtest")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First period replayed (default: a year back).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last period replayed (default: the last one over).")
@click.option("--every", type=click.Choice(["month", "quarter"]), default="month", show_default=True)
@click.option("--simulations", type=click.IntRange(min=100), default=2_000, show_default=True)
@click.option("--new-pipeline/--no-new-pipeline", default=True, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def backtest_cmd(
    start: str | None, end: str | None, every: str, simulations: int, new_pipeline: bool, fmt: str, db: str | None
) -> None:
    """Replay the forecast as of past dates (no peeking) against what was then booked.

    Per period: the forecast made the day before it started, its P10-P90 range and the bookings;
    then each method's error (MAPE), bias and the range's coverage (about 80% when calibrated),
    next to a naive weighted pipeline and a run rate.
    """
    from salespilot.engine.workspace import Workspace

    with Workspace(db, read_only=True) as ws:
        result = ws.backtest(start, end, every, simulations, new_pipeline)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        output.print_rows(result["periods"], PERIOD_COLUMNS, "csv", empty="")
        return
    rows = [
        {
            k: _money(v) if isinstance(v, float) else ("yes" if v else "no") if k == "in_range" else v
            for k, v in p.items()
        }
        for p in result["periods"]
    ]
    output.print_rows(rows, PERIOD_COLUMNS, "table", empty="")
    click.echo(f"P10-P90 coverage: {result['coverage']:.0%} of {len(result['periods'])} periods (aim: about 80%).")
    methods = [
        {
            "method": name,
            "MAPE": "" if m["mape"] is None else f"{m['mape']:.0%}",
            "bias": "" if m["bias"] is None else f"{m['bias']:+.0%}",
            "MAE": _money(m["mae"]),
        }
        for name, m in result["methods"].items()
    ]
    output.print_rows(methods, ["method", "MAPE", "bias", "MAE"], "table", empty="")
