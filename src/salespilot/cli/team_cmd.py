"""``salespilot reps``: each rep's scorecard against the peers of the same role, and the revenue gap
to the top quartile split into its causes (docs/team.md)."""

from __future__ import annotations

import json
from typing import Any

import click

from salespilot.cli import output
from salespilot.cli.losses_cmd import FORMATS, GRAINS
from salespilot.cli.pipeline_cmd import db_option
from salespilot.engine.workspace import Workspace

ROLE = click.Choice(["sdr", "ae", "am"])
PERCENTILE = click.FloatRange(min=0, max=100, min_open=True, max_open=True)
# The measures the table shows per role (JSON and CSV carry them all).
SHOWN = {
    "sdr": ["calls", "activities", "leads", "call_to_lead", "lead_to_opportunity_rate"],
    "ae": [
        "activities",
        "opportunities",
        "signatures",
        "revenue",
        "average_deal_value",
        "sales_cycle_days",
        "win_rate",
    ],
    "am": ["activities", "opportunities", "signatures", "revenue", "average_deal_value", "win_rate"],
}
RATES = {"call_to_lead", "lead_to_opportunity_rate", "opportunity_to_signature_rate", "win_rate", "attainment"}
CSV_COLUMNS = ["period", "rep", "name", "role", "team", "peers", "measure", "value", "rank"]
CSV_COLUMNS += ["top_quartile", "gap", "target", "attainment"]


def _from_to(func: Any) -> Any:
    func = click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day (default: the data's last day).")(func)
    return click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (default: 3 months back).")(func)


def shown(value: Any, measure: str) -> str:
    if value is None:
        return ""
    if measure in RATES:
        return f"{value:.0%}"
    if measure == "sales_cycle_days":
        return f"{value:.0f} d"
    return f"{value:,.0f}"


@click.group("reps", invoke_without_command=True)
@click.option("--grain", type=GRAINS, default="month", show_default=True)
@click.option("--role", type=ROLE, default=None, help="Only this role (default: sdr, ae and am).")
@_from_to
@click.option("--percentile", type=PERCENTILE, default=75, show_default=True, help="The bar: the role's top quartile.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
@click.pass_context
def reps_cmd(
    ctx: click.Context,
    grain: str,
    role: str | None,
    start: str | None,
    end: str | None,
    percentile: float,
    fmt: str,
    db: str | None,
) -> None:
    """Each rep's scorecard: salespilot reps --grain quarter --role ae.

    Per rep and period: activity per type, results (leads, opportunities, signatures, revenue,
    average deal, cycle, conversion at each step), attainment of each target, rank among the
    peers of the same role and gap to their top quartile. 'salespilot reps gaps' splits each
    rep's revenue gap into its causes.
    """
    if ctx.invoked_subcommand is not None:
        return
    with Workspace(db, read_only=True) as ws:
        result = ws.reps(grain=grain, role=role, start=start, end=end, percentile=percentile)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        rows = [
            {**{k: card[k] for k in ("period", "rep", "name", "role", "team", "peers")}, "measure": m, **cell}
            for card in result["reps"]
            for m, cell in card["measures"].items()
        ]
        output.print_rows(rows, CSV_COLUMNS, "csv", empty="")
        return
    _print_scorecards(result)


def _print_scorecards(result: dict[str, Any]) -> None:
    cards = result["reps"]
    if not cards:
        click.echo(f"No active rep between {result['start']} and {result['end']}.")
        return
    click.echo(
        f"From {result['start']} to {result['end']}; (#n): rank among the role's peers; "
        f"bar: the peers' {result['percentile']:g}th percentile."
    )
    for period in dict.fromkeys(c["period"] for c in cards):
        for role, measures in SHOWN.items():
            group = [c for c in cards if c["period"] == period and c["role"] == role]
            if not group:
                continue
            click.echo(f"\n{period}, {role} ({len(group)} reps)")
            rows = []
            for card in group:
                row = {"rep": card["rep"], "name": card["name"]}
                for m in measures:
                    cell = card["measures"][m]
                    rank = f" (#{cell['rank']})" if cell["rank"] is not None and cell["value"] is not None else ""
                    row[m] = shown(cell["value"], m) + rank
                attained = [
                    f"{m} {shown(c['attainment'], 'attainment')}"
                    for m, c in card["measures"].items()
                    if c.get("attainment") is not None
                ]
                row["attainment"] = ", ".join(attained)
                rows.append(row)
            bar = {"rep": "bar", "name": f"top {100 - result['percentile']:g}%"}
            bar |= {m: shown(group[0]["measures"][m]["top_quartile"], m) for m in measures}
            rows.append(bar)
            output.print_rows(rows, ["rep", "name", *measures, "attainment"], "table", empty="")


@reps_cmd.command("gaps")
@click.option("--role", type=ROLE, default=None, help="Only this role (default: sdr, ae and am).")
@_from_to
@click.option("--percentile", type=PERCENTILE, default=75, show_default=True, help="The benchmark's percentile.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def gaps_cmd(role: str | None, start: str | None, end: str | None, percentile: float, fmt: str, db: str | None) -> None:
    """Each rep's revenue gap to the role's top quartile, split into its causes.

    Activity volume, conversion at each step, cycle time and deal size: the parts add up to the
    gap (Shapley decomposition; docs/team.md), and the largest shortfall says what to coach.
    """
    with Workspace(db, read_only=True) as ws:
        result = ws.rep_gaps(role=role, start=start, end=end, percentile=percentile)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        rows = [
            {k: g[k] for k in ("rep", "name", "role", "revenue", "benchmark_revenue", "gap", "focus")} | part
            for g in result["reps"]
            for part in g["parts"]
        ]
        columns = ["rep", "name", "role", "revenue", "benchmark_revenue", "gap", "focus"]
        output.print_rows(rows, [*columns, "factor", "value", "benchmark", "contribution"], "csv", empty="")
        return
    if not result["reps"]:
        click.echo(f"No active rep between {result['start']} and {result['end']}.")
        return
    click.echo(
        f"Revenue from {result['start']} to {result['end']} against the role's top quartile (the mean of the reps "
        f"at or above its {result['percentile']:g}th percentile); each factor's part of the gap."
    )
    for role_name, factors in result["chains"].items():
        group = [g for g in result["reps"] if g["role"] == role_name]
        if not group:
            continue
        labels = list(factors.values())
        click.echo(f"\n{role_name}: {' x '.join(labels)}")
        rows = []
        for g in group:
            row = {
                "rep": g["rep"],
                "name": g["name"],
                "revenue": f"{g['revenue']:,.0f}",
                "top quartile": f"{g['benchmark_revenue']:,.0f}",
                "gap": f"{g['gap']:+,.0f}",
            }
            parts = {p["factor"]: p["contribution"] for p in g["parts"]}
            for label in labels:
                row[label] = f"{parts[label]:+,.0f}" if label in parts else ""
            merged = [f"{k} {v:+,.0f}" for k, v in parts.items() if k not in labels]
            row["coach"] = "; ".join([*merged, g["advice"] or ""]).strip("; ")
            rows.append(row)
        output.print_rows(rows, ["rep", "name", "revenue", "top quartile", "gap", *labels, "coach"], "table", empty="")
