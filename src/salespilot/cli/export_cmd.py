"""``salespilot export``: the canonical tables as Parquet files, for Spark and other engines."""

from __future__ import annotations

import click

from salespilot.cli import output
from salespilot.engine.workspace import Workspace


@click.command("export")
@click.option(
    "--parquet",
    "parquet",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=str),
    help="Folder to write: one <table>.parquet per canonical table, settings.json, manifest.json.",
)
@click.option("--replace", is_flag=True, help="Replace DIR when it holds an earlier export.")
@click.option(
    "--db",
    "db",
    envvar="SALESPILOT_DB",
    default=None,
    metavar="PATH",
    help="Store file (default: $SALESPILOT_DB, else ./salespilot.duckdb).",
)
def export_cmd(parquet: str, replace: bool, db: str | None) -> None:
    """Export every canonical table to Parquet files in DIR (atomic: all or nothing).

    Spark reads the folder: see docs/engines.md. DIR must be new or empty; --replace swaps out
    an earlier export once the new one is complete.
    """
    with Workspace(db, read_only=True) as ws:
        manifest = ws.export_parquet(parquet, replace=replace)
    tables = manifest["tables"]
    total = sum(t["rows"] for t in tables.values())
    click.echo(f"Exported {len(tables)} tables ({total:,} rows) to {parquet} in {manifest['seconds']:.1f} s:")
    rows = [{"table": name, "rows": t["rows"], "file": t["file"]} for name, t in tables.items()]
    output.print_rows(rows, ["table", "rows", "file"], "table", empty="")
