"""The ``salespilot`` command: a thin face over the Workspace.

Every command takes ``--db PATH`` (else ``SALESPILOT_DB``, else ``./salespilot.duckdb``).
A user's mistake ends in a one-paragraph message and a non-zero exit status, never a
traceback (``SALESPILOT_DEBUG=1`` shows tracebacks of our own bugs).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from salespilot.cli import output
from salespilot.cli.comp_cmd import comp
from salespilot.cli.export_cmd import export_cmd
from salespilot.cli.forecast_cmd import forecast
from salespilot.cli.funnel_cmd import funnel_cmd
from salespilot.cli.kpi_cmd import kpi_cmd
from salespilot.cli.losses_cmd import losses_cmd, qualification_cmd
from salespilot.cli.pipeline_cmd import pipeline
from salespilot.cli.plan_cmd import plan_cmd
from salespilot.cli.serve_cmd import serve_cmd
from salespilot.cli.targets_cmd import targets
from salespilot.cli.team_cmd import reps_cmd
from salespilot.cli.users_cmd import users
from salespilot.engine.workspace import Workspace
from salespilot.errors import FileFormatError, InternalError, SalesPilotError
from salespilot.ingest.mapping import load_mapping, preset_names
from salespilot.model import TABLES
from salespilot.settings import SETTINGS

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = click.Choice(["table", "json", "csv"])


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db",
        envvar="SALESPILOT_DB",
        default=None,
        metavar="PATH",
        help="Store file (default: $SALESPILOT_DB, else ./salespilot.duckdb).",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="salespilot")
def cli() -> None:
    """SalesPilot: commercial KPIs from your CRM data.

    Start with 'salespilot demo' for a demo company, or 'salespilot import FILE' for your own
    CRM export, then 'salespilot status'.
    """


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--table", "table", metavar="TABLE", help=f"Canonical table: {', '.join(TABLES)}.")
@click.option("--mapping", "mapping", metavar="MAPPING", help="Mapping YAML file, or a preset name (see 'presets').")
@click.option(
    "--exported-at",
    "exported_at",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]),
    metavar="YYYY-MM-DD[THH:MM]",
    default=None,
    help="When the export was taken (UTC): the changes it brings are dated then (default: now).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@db_option
def import_cmd(
    file: str, table: str | None, mapping: str | None, exported_at: dt.datetime | None, fmt: str, db: str | None
) -> None:
    """Import FILE (CSV, XLSX, Parquet, JSON, NDJSON) into the store.

    Rows that fail validation are set aside (see 'salespilot rejects'); the import lands whole
    or not at all. Importing the same file again changes nothing.
    """
    if not Path(file).is_file():  # before the store is opened: a typo creates no empty store
        raise FileFormatError(f"File {file} does not exist (or is not a file).")
    if mapping is not None:
        load_mapping(mapping)  # a broken mapping is reported before anything is opened, too
    with Workspace(db) as ws, output.progress_bar(enabled=fmt == "table") as progress:
        result = ws.import_file(file, table=table, mapping=mapping, progress=progress, exported_at=exported_at)
    if fmt == "json":
        data = result.as_dict()
        keys = ["table", "file", "rows_read", "inserted", "updated", "unchanged", "rejected", "rejects"]
        ordered = {k: data[k] for k in keys} | {k: v for k, v in data.items() if k not in keys}
        click.echo(json.dumps(ordered, default=str, ensure_ascii=False))
    else:
        output.print_import(result)
    if result.rows_read and not (result.inserted or result.updated or result.unchanged):
        click.echo(
            f"Error: every one of the {result.rows_read:,} rows of {file} was rejected; nothing was loaded. "
            "See 'salespilot rejects': the mapping is probably wrong.",
            err=True,
        )
        sys.exit(2)


@cli.command("rejects")
@click.option("--import", "import_id", type=int, metavar="ID", help="Import id (default: the last import).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@db_option
def rejects_cmd(import_id: int | None, limit: int | None, fmt: str, db: str | None) -> None:
    """List the rows an import set aside, with file, row, column, value and reason."""
    with Workspace(db, read_only=True) as ws:
        rows = ws.rejects(import_id, limit)
    output.print_rows(rows, ["import_id", "file", "row", "column", "value", "reason"], fmt, empty="No rejected rows.")


@cli.command("demo")
@click.option("--size", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True)
@click.option("--replace", is_flag=True, help="Wipe the store's data first.")
@db_option
def demo_cmd(size: str, seed: int, replace: bool, db: str | None) -> None:
    """Write a realistic demo B2B company into the store (reproducible for a seed)."""
    with Workspace(db) as ws, output.spinner(f"Generating the {size} demo company (seed {seed})"):
        written = ws.demo(size=size, seed=seed, replace=replace)
        path = ws.path
    click.echo(f"Demo company written to {path}:")
    output.print_rows([{"table": t, "rows": n} for t, n in written.items()], ["table", "rows"], "table", empty="")


@cli.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@db_option
def status_cmd(fmt: str, db: str | None) -> None:
    """What the store holds: tables, rows, date ranges, last imports."""
    with Workspace(db, read_only=True) as ws:
        info = ws.status()
        info["settings"] = ws.settings()
    if fmt == "json":
        click.echo(json.dumps(info, default=str))
    else:
        output.print_status(info)


@cli.command("settings")
@click.argument("name", required=False)
@click.argument("value", required=False)
@db_option
def settings_cmd(name: str | None, value: str | None, db: str | None) -> None:
    """Show the workspace settings, or set one: 'salespilot settings timezone Europe/Paris'."""
    if value is not None and name is None:
        raise click.UsageError("give the setting's name before its value")
    with Workspace(db) as ws:
        if name is not None and value is not None:
            ws.set_setting(name, value)
        shown = ws.settings() if name is None else {name: ws.get_setting(name)}
    output.print_rows(
        [{"setting": k, "value": v, "meaning": SETTINGS[k].description} for k, v in shown.items()],
        ["setting", "value", "meaning"],
        "table",
        empty="",
    )


@cli.command("presets")
def presets_cmd() -> None:
    """List the built-in mappings for common CRM exports."""
    for name in preset_names():
        click.echo(name)


@cli.command("schema")
@click.argument("table", required=False)
def schema_cmd(table: str | None) -> None:
    """Show the canonical tables and their columns (required ones marked *)."""
    output.print_schema(table)


cli.add_command(kpi_cmd)
cli.add_command(export_cmd)
cli.add_command(plan_cmd)
cli.add_command(funnel_cmd)
cli.add_command(pipeline)
cli.add_command(losses_cmd)
cli.add_command(qualification_cmd)
cli.add_command(reps_cmd)
cli.add_command(targets)
cli.add_command(comp)
cli.add_command(forecast)
cli.add_command(users)
cli.add_command(serve_cmd)


def main() -> None:
    try:
        cli.main(standalone_mode=False, prog_name="salespilot")
    except click.exceptions.Abort:
        click.echo("Interrupted; nothing was written.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing was written.", err=True)
        sys.exit(130)
    except InternalError as exc:
        _internal(exc)
    except SalesPilotError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # our bug: say so briefly, keep the details for a report
        _internal(exc)


def _internal(exc: BaseException) -> None:
    if os.environ.get("SALESPILOT_DEBUG"):
        traceback.print_exc()
    click.echo(
        f"Internal error (a bug in SalesPilot, not your data): {type(exc).__name__}: {exc}\n"
        "Run again with SALESPILOT_DEBUG=1 for details, and please report it.",
        err=True,
    )
    sys.exit(1)
