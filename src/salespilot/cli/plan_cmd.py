"""``salespilot plan``: the funnel planner, backward from a target or forward from a volume."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from salespilot.analytics.planner import RATE_SOURCES, STEP_LABELS, Capacity, Plan
from salespilot.cli import output
from salespilot.engine.workspace import Workspace

POSITIVE = click.FloatRange(min=0, min_open=True)


@click.command("plan")
@click.option("--revenue", type=POSITIVE, metavar="AMOUNT", help="Backward: the revenue target (base currency).")
@click.option("--signatures", type=POSITIVE, metavar="N", help="Backward: the number of signatures targeted.")
@click.option(
    "--horizon",
    default="month",
    show_default=True,
    metavar="PERIOD",
    help="month, quarter, year or N-days: the time the target (or the team) has.",
)
@click.option("--calls", type=POSITIVE, metavar="N", help="Forward: from this many cold calls.")
@click.option("--leads", type=POSITIVE, metavar="N", help="Forward: from this many leads.")
@click.option("--team", is_flag=True, help="Forward: from today's active SDRs at their capacity over the horizon.")
@click.option("--rates", type=click.Choice(RATE_SOURCES), default="reference", show_default=True)
@click.option("--from", "start", metavar="DATE", help="Window of measured rates: first day (default: 12 months).")
@click.option("--to", "end", metavar="DATE", help="Window of measured rates: last day (default: the data's end).")
@click.option("--deal-value", type=POSITIVE, metavar="AMOUNT", help="Average deal value (default: the data's).")
@click.option("--sdr-calls-per-day", type=POSITIVE, default=60, show_default=True, help="Capacity of an SDR.")
@click.option("--ae-opportunities-per-month", type=POSITIVE, default=25, show_default=True, help="Capacity of an AE.")
@click.option("--working-days", type=POSITIVE, default=21, show_default=True, help="Working days in a month.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--db", "db", envvar="SALESPILOT_DB", default=None, metavar="STORE", help="The store (see --help).")
def plan_cmd(
    revenue: float | None,
    signatures: float | None,
    horizon: str,
    calls: float | None,
    leads: float | None,
    team: bool,
    rates: str,
    start: str | None,
    end: str | None,
    deal_value: float | None,
    sdr_calls_per_day: float,
    ae_opportunities_per_month: float,
    working_days: float,
    fmt: str,
    db: str | None,
) -> None:
    """Plan the funnel: salespilot plan --revenue 500000 --horizon quarter, or --calls 1000.

    Backward from --revenue or --signatures to the calls, leads and opportunities needed and the
    SDRs and AEs they take; forward from --calls, --leads or --team to the expected results.
    """
    capacity = Capacity(sdr_calls_per_day, ae_opportunities_per_month, working_days)
    with Workspace(db, read_only=True) as ws:
        result = ws.plan(
            revenue=revenue,
            signatures=signatures,
            horizon=horizon,
            calls=calls,
            leads=leads,
            team=team,
            rates=rates,
            start=start,
            end=end,
            deal_value=deal_value,
            capacity=capacity,
        )
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), default=str, ensure_ascii=False))
        return
    _print(result)


def shown(value: float | None) -> str:
    """Two significant figures, as the rates behind the numbers (JSON keeps every digit)."""
    if value is None:
        return ""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    digits = 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    return f"{rounded:,.{max(digits, 0)}f}"


def _print(plan: Plan) -> None:
    ranged = plan.interval_method is not None
    rows: list[dict[str, Any]] = [
        {
            "volume": v.name,
            "expected" if plan.direction == "forward" else "needed": shown(v.value),
            "low": shown(v.low),
            "high": shown(v.high) if v.high is not None or v.low is None else "unbounded",
        }
        for v in plan.volumes
    ]
    columns = ["volume", "expected" if plan.direction == "forward" else "needed"] + (["low", "high"] if ranged else [])
    months = plan.horizon_days / (365.25 / 12)
    click.echo(
        f"Plan {plan.direction}, {plan.rates_source} rates, over {shown(months)} month(s) "
        f"({shown(plan.working_days)} working days)."
    )
    output.print_rows(rows, columns, "table", empty="")
    output.print_rows(
        [
            {
                "step": STEP_LABELS[r.step],
                "rate": "" if r.value is None else f"{r.value:.1%}",
                "95% interval": "" if not ranged or r.low is None else f"{r.low:.1%} - {r.high:.1%}",
                "observed": "" if r.trials is None else f"{r.successes:,.0f} / {r.trials:,.0f}",
            }
            for r in plan.rates
        ],
        ["step", "rate", *(["95% interval", "observed"] if ranged else [])],
        "table",
        empty="",
    )
    output.print_rows(
        [
            {
                "role": h.role.upper(),
                "needed": shown(h.needed),
                "today": h.today,
                "capacity": f"{h.capacity_per_month:,.4g} {h.unit}",
            }
            for h in plan.headcount
        ],
        ["role", "needed", "today", "capacity"],
        "table",
        empty="",
    )
    if plan.deal_value is not None:
        click.echo(f"Average deal value: {shown(plan.deal_value)} ({plan.window.get('deal_value_source')}).")
    if ranged:
        window = f"{plan.window.get('from')} to {plan.window.get('to')}"
        click.echo(f"Rates measured from {window}; ranges: {plan.interval_method}.")
    for flag in plan.flags:
        click.echo(f"Note: {flag}")
