"""``salespilot comp simulate PLAN``: a compensation plan replayed on the measured numbers
(docs/team.md)."""

from __future__ import annotations

import json
from typing import Any

import click

from salespilot.cli import output
from salespilot.cli.losses_cmd import FORMATS
from salespilot.cli.pipeline_cmd import db_option
from salespilot.cli.team_cmd import _from_to
from salespilot.engine.workspace import Workspace

LINE_COLUMNS = ["rep", "period", "revenue", "quota", "attainment", "base", "commission", "bonuses", "capped"]
LINE_COLUMNS += ["clawback", "payout", "bonuses_won", "flags"]
REP_COLUMNS = ["rep", "name", "role", "periods", "revenue", "base", "commission", "bonuses", "capped", "clawback"]
REP_COLUMNS += ["payout", "cost_of_sales"]
COMPARE_COLUMNS = ["rep", "name", "role", "revenue", "payout_a", "payout_b", "difference"]
COMPARE_COLUMNS += ["cost_of_sales_a", "cost_of_sales_b"]


@click.group("comp")
def comp() -> None:
    """Compensation plans: what a plan would have paid, on real numbers."""


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}"


def _share(value: Any) -> str:
    return "" if value is None else f"{value:.1%}"


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key.startswith("cost_of_sales") or key == "attainment":
            out[key] = _share(value)
        elif isinstance(value, float):
            out[key] = _money(value)
        else:
            out[key] = value
    return out


@comp.command("simulate")
@click.argument("plan", type=click.Path(dir_okay=False))
@_from_to
@click.option("--compare", "other", type=click.Path(dir_okay=False), default=None, help="A second plan, side by side.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def simulate_cmd(plan: str, start: str | None, end: str | None, other: str | None, fmt: str, db: str | None) -> None:
    """Replay PLAN (YAML) on the measured data: salespilot comp simulate plan.yaml --compare new.yaml.

    Pay per rep and period (base, commission by attainment tier, bonuses, cap, clawback), the cost
    of sales as a share of revenue, and what the plan rewards (the rank correlation of each rep's
    variable pay with revenue, win rate, activity...). The window defaults to the twelve months
    up to the data's end. CSV gives one row per rep and period.
    """
    with Workspace(db, read_only=True) as ws:
        result = ws.simulate_comp(plan, start, end, compare=other)
    if fmt == "json":
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        if other is None:
            lines = [
                {**x, "bonuses_won": ";".join(x["bonuses_won"]), "flags": ";".join(x["flags"])} for x in result["lines"]
            ]
            output.print_rows(lines, LINE_COLUMNS, "csv", empty="")
        else:
            output.print_rows(result["comparison"]["reps"], COMPARE_COLUMNS, "csv", empty="")
        return
    if other is not None:
        c = result["comparison"]
        click.echo(f"A: {c['plans'][0]}   B: {c['plans'][1]}   from {c['start']} to {c['end']}")
        output.print_rows([_shown(r) for r in c["reps"]], COMPARE_COLUMNS, "table", empty="No rep in either plan.")
        ta, tb = c["total"]["a"], c["total"]["b"]
        click.echo(
            f"Total payout A {_money(ta['payout'])} ({_share(ta['cost_of_sales'])} of revenue), "
            f"B {_money(tb['payout'])} ({_share(tb['cost_of_sales'])}); B - A {c['total']['difference']:+,.0f}."
        )
        for label, key in (("A", "a"), ("B", "b")):
            _print_rewards(f"What plan {label} rewards", c["rewards"][key])
        return
    click.echo(f"{result['plan']}: from {result['start']} to {result['end']}, per {result['period']}")
    output.print_rows([_shown(r) for r in result["reps"]], REP_COLUMNS, "table", empty="No rep the plan applies to.")
    t = result["total"]
    click.echo(
        f"Total payout {_money(t['payout'])} on revenue {_money(t['revenue'])}: cost of sales "
        f"{_share(t['cost_of_sales'])}; capped {_money(t['capped'])}, clawed back {_money(t['clawback'])}."
    )
    if result["clawback_outside"]:
        amount = sum(x["clawback"] for x in result["clawback_outside"])
        click.echo(f"Not charged: {_money(amount)} of clawback on churns where the rep has no pay period.")
    _print_rewards("What the plan rewards", result["rewards"])


def _print_rewards(title: str, rewards: list[dict[str, Any]]) -> None:
    click.echo(f"{title} (Spearman correlation of each rep's variable pay with the measure, -1 to 1):")
    rows = [
        {
            "measure": r["measure"],
            "spearman": "" if r["spearman"] is None else f"{r['spearman']:+.2f}",
            "reps": r["reps"],
        }
        for r in rewards
    ]
    output.print_rows(rows, ["measure", "spearman", "reps"], "table", empty="")
