"""Printing for the CLI: tables, JSON, CSV, progress."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table as RichTable

from salespilot.engine.importing import ImportResult
from salespilot.model import TABLES
from salespilot.safe_csv import safe_cell

PROGRESS_MIN_BYTES = 5 << 20  # show a bar for files larger than this, in a terminal


def _console() -> Console:
    # Piped output is not cut to 80 columns: tables keep their cells whole.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=True, width=width)


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """Yield a callback (done, total) drawing a bar on stderr when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task: list[Any] = []
    labels = {"reading": "Reading", "merging": "Merging into the store"}

    def update(phase: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_BYTES:
            return
        if not task:
            bar.start()
            task.append(bar.add_task(labels["reading"], total=total))
        bar.update(task[0], completed=done, description=labels.get(phase, phase))

    try:
        yield update
    finally:
        if task:
            bar.stop()


@contextlib.contextmanager
def spinner(message: str) -> Iterator[None]:
    if not sys.stderr.isatty():
        yield
        return
    with Console(stderr=True).status(message):
        yield


def print_import(result: ImportResult) -> None:
    out = _console()
    out.print(f"Imported {result.file} into {result.table} (mapping: {result.mapping}, import {result.import_id})")
    table = RichTable(show_header=False, box=None, pad_edge=False)
    for label, value in (
        ("rows read", result.rows_read),
        ("inserted", result.inserted),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
        ("rejected", result.rejected),
    ):
        table.add_row(f"  {label}", f"{value:>10,}")
    out.print(table)
    if result.stage_changes:
        out.print(f"  {plural(result.stage_changes, 'stage change')} added to the history")
    if result.ignored_columns:
        out.print(f"  ignored source columns: {', '.join(result.ignored_columns)}")
    for w in result.warning_summary:
        out.print(
            f"  warning: {w['reason']}: {plural(w['values'], 'distinct value')} on {plural(w['rows'], 'row')} "
            f"(e.g. {w['example']!r}); import that table first, or check the ids"
        )
    for note in result.notes:
        out.print(f"  note: {note}")
    if result.rejected:
        where = f" and in {result.rejects_file}" if result.rejects_file else ""
        out.print(f"  rejected rows are listed by 'salespilot rejects'{where}; first ones:")
        for r in result.rejects[:10]:
            column = f" {r['column']}" if r["column"] else ""
            shown = "empty" if r["value"] is None else repr(r["value"])
            reason = str(r["reason"])
            if r["column"] and reason.startswith(f"{r['column']}: "):
                reason = reason[len(str(r["column"])) + 2 :]  # "amount: amount: expected..." reads badly
            out.print(f"    row {r['row']}{column}: {reason} (value: {shown})")


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, empty: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(list(rows), default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else safe_cell(row.get(c)) for c in columns])
        return
    if not rows:
        if empty:
            click.echo(empty)
        return
    table = RichTable(*columns)
    for row in rows:
        table.add_row(
            *("" if row.get(c) is None else f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in columns)
        )
    _console().print(table)


def _short_time(value: str | None) -> str | None:
    """'2024-03-01T10:05:00.123' -> '2024-03-01 10:05'; dates stay dates."""
    return None if value is None else value.replace("T", " ")[:16]


def print_status(info: dict[str, Any]) -> None:
    out = _console()
    out.print(f"Store {info['store']} (schema version {info['schema_version']})")
    tables = [{**t, "first": _short_time(t["first"]), "last": _short_time(t["last"])} for t in info["tables"]]
    print_rows(tables, ["table", "rows", "date_column", "first", "last"], "table", empty="")
    if info["imports"]:
        out.print("Last imports:")
        imports = [{**i, "finished_at": _short_time(i["finished_at"])} for i in info["imports"]]
        print_rows(
            imports,
            ["import_id", "table", "file", "finished_at", "rows_read", "inserted", "updated", "unchanged", "rejected"],
            "table",
            empty="",
        )
    else:
        out.print("No imports yet: try 'salespilot demo' or 'salespilot import FILE'.")
    out.print("Settings: " + ", ".join(f"{k}={v}" for k, v in info["settings"].items()))


def print_schema(name: str | None) -> None:
    from salespilot.errors import ParameterError, did_you_mean

    if name is not None and name not in TABLES:
        raise ParameterError(f'"{name}" is not a table.{did_you_mean(name, TABLES)} Tables: {", ".join(TABLES)}.')
    for table in TABLES.values():
        if name is not None and table.name != name:
            continue
        cols = []
        for c in table.columns:
            mark = "*" if c.required else ""
            enum = f" ({'|'.join(c.enum)})" if c.enum else ""
            cols.append(f"{c.name}{mark}: {c.type.value}{enum}")
        click.echo(f"{table.name} — {table.description}; key: {', '.join(table.key)}")
        for col in cols:
            click.echo(f"    {col}")


def number(value: Any, column: str) -> str | None:
    """A value as the table shows it: rates in %, money and durations with two decimals."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        if column in ("rate", "ci_low", "ci_high", "growth", "attainment"):
            return f"{value:.1%}"
        return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def plural(count: int, word: str) -> str:
    """'1 row', '2 rows', '1,234 rows'."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
