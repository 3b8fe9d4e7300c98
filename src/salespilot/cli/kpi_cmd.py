"""``salespilot kpi``: KPIs by period and dimension."""

from __future__ import annotations

import json

import click

from salespilot.cli import output
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError
from salespilot.metrics.catalogue import DIMENSIONS, load_catalogue
from salespilot.metrics.periods import Grain

KIND_COLUMNS = {
    "rate": ["numerator", "denominator", "ci_low", "ci_high"],
    "duration": ["n", "median", "mean", "p90"],
}


@click.command("kpi")
@click.argument("names", nargs=-1)
@click.option("--list", "show_list", is_flag=True, help="List the KPIs with their definitions.")
@click.option("--grain", type=click.Choice([g.value for g in Grain]), default="month", show_default=True)
@click.option("--by", "by", default="", metavar="DIM[,DIM]", help=f"Split by: {', '.join(DIMENSIONS)}.")
@click.option("--filter", "filters", multiple=True, metavar="DIM=VALUE", help="Keep one value of a dimension.")
@click.option("--from", "start", metavar="DATE", help="First day (YYYY-MM-DD), in the workspace time zone.")
@click.option("--to", "end", metavar="DATE", help="Last day (YYYY-MM-DD), included.")
@click.option("--fiscal", is_flag=True, help="Quarters and years of the fiscal calendar.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--explain", is_flag=True, help="Print the query behind each KPI.")
@click.option("--catalogue", "catalogue", metavar="FILE", help="A YAML file of your own KPI definitions.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", default=None, help="As the store stood at the end of that day.")
@click.option(
    "--db",
    "db",
    envvar="SALESPILOT_DB",
    default=None,
    metavar="STORE",
    help="A .duckdb file, a postgresql:// URL, or spark:DIR (a Parquet export).",
)
def kpi_cmd(
    names: tuple[str, ...],
    show_list: bool,
    grain: str,
    by: str,
    filters: tuple[str, ...],
    start: str | None,
    end: str | None,
    fiscal: bool,
    fmt: str,
    explain: bool,
    catalogue: str | None,
    as_of: str | None,
    db: str | None,
) -> None:
    """Compute KPIs: salespilot kpi revenue win_rate --grain quarter --by channel."""
    if show_list:
        _print_list(catalogue, fmt)
        return
    if not names:
        raise click.UsageError("name at least one KPI, or use --list")
    parsed = {}
    for item in filters:
        dim, sep, value = item.partition("=")
        if not sep or not dim.strip():
            raise ParameterError(f'--filter "{item}" must be DIM=VALUE, e.g. --filter channel=events.')
        parsed[dim.strip()] = value
    with Workspace(db, read_only=True) as ws:
        result = (ws.as_of(as_of) if as_of else ws).kpi_result(
            list(names), grain, by, parsed, start, end, fiscal, catalogue
        )
    if explain:
        for name, queries in result.sql.items():
            click.echo(f"-- {name}")
            for sql in queries:
                click.echo(sql.rstrip() + ";")
            click.echo("")
        return
    rows = result.rows
    if fmt == "json":
        click.echo(json.dumps(rows, default=str, ensure_ascii=False))
        return
    columns = ["kpi", "period", *result.by]
    if any("periods_since" in r for r in rows):  # cohort KPIs: one row per cohort and age
        columns.append("periods_since")
    columns.append("value")
    extra: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns and key not in extra and key not in ("label", "unit", "period_start"):
                extra.append(key)
    if fmt == "csv":
        flat = [{**r, "flags": ";".join(r["flags"])} for r in rows]
        output.print_rows(flat, columns + extra, "csv", empty="")
        return
    shown = [
        c for c in [*KIND_COLUMNS["rate"], *KIND_COLUMNS["duration"], "growth", "target", "attainment"] if c in extra
    ]
    table_rows = [
        {
            **r,
            "value": output.number(r.get("value"), "rate" if r.get("unit") == "rate" else "value"),
            **{c: output.number(r.get(c), c) for c in shown},
            "flags": ", ".join(r["flags"]),
            "reason": r.get("reason"),
        }
        for r in rows
    ]
    output.print_rows(table_rows, [*columns, *shown, "flags", "reason"], "table", empty="No data in that range.")


def _print_list(catalogue: str | None, fmt: str) -> None:
    cat = load_catalogue(catalogue)
    rows = [
        {
            "kpi": k.name,
            "kind": k.kind.value,
            "unit": k.unit,
            "direction": k.direction,
            "label_en": k.label_en,
            "label_fr": k.label_fr,
            "dimensions": ", ".join(k.dimensions),
            "description": k.description,
            "description_fr": k.description_fr,
            "origin": k.origin,
        }
        for k in cat.kpis.values()
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    output.print_rows(rows, ["kpi", "kind", "unit", "label_en", "dimensions", "description"], fmt, empty="")
