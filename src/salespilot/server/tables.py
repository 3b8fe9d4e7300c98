"""Page tables: one view-model drawn as HTML, served as JSON and exported to CSV and XLSX.

A page builds ``Table``s of raw values (numbers stay numbers, dates stay dates); the page shows
them formatted for the user's language, the API returns them as they are, and
``/export/<page>/<table>.csv|xlsx`` writes them for a spreadsheet. Exports are safe against
formula injection: in CSV a text cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or a
carriage return) gets a leading apostrophe (``safe_csv.safe_cell``); in XLSX every text cell is
written as a string cell, which a spreadsheet never evaluates. openpyxl writes the XLSX: it is
the well-kept library for the format, already a dependency of the importer.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from salespilot.safe_csv import safe_cell
from salespilot.server import flags, formats

UNITS = ("text", "count", "currency", "money", "rate", "ratio", "days", "date", "datetime", "number", "flags", "period")
# "money": an amount in the currency of its row's ``currency`` (a deal's own), shown with it.
# "flags": a list of flag codes; the API returns the list, the page its words (server/flags.py),
# an export the codes joined by "; ". "period": a period label (2026-06, 2026-Q2); the page shows
# it in words (juin 2026, T2 2026), the API and exports keep the label.


MORE = {
    "en": ("{n} more rows: the CSV and XLSX exports hold them all.", "{n} more rows; the exports hold the first {m}."),
    "fr": (
        "{n} lignes de plus : les exports CSV et XLSX les contiennent toutes.",
        "{n} lignes de plus ; les exports contiennent les {m} premières.",
    ),
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str = "text"
    # codes -> the user's words for the page (server/words.py); the API and exports keep the codes
    words: Mapping[str, str] | None = None
    shown: bool = True  # False: in the API and the exports only (a "money" column's currency)


@dataclass
class Table:
    """A titled table of rows (dicts keyed by the columns' keys)."""

    name: str
    title: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None  # rows before a display limit, when shown rows are fewer

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in self.columns],
            "items": [{c.key: plain(row.get(c.key)) for c in self.columns} for row in self.rows],
            "total": len(self.rows) if self.total is None else self.total,
        }


def plain(value: Any) -> Any:
    """A cell as JSON: dates in ISO form, NaN as null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def cell_text(value: Any, unit: str, lang: str, currency: str, words: Mapping[str, str] | None = None) -> str:
    if unit == "flags":
        return flags.text(_codes(value), lang)
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if words is not None and isinstance(value, str):
        return words.get(value, value)
    if unit == "period" and isinstance(value, str):
        return formats.label_words(value, lang)
    if unit == "money" and isinstance(value, int | float):
        return formats.money(value, lang, currency)
    if unit == "datetime" and isinstance(value, dt.datetime):
        return formats.moment(value, lang)
    if unit == "date" and isinstance(value, dt.date):
        return formats.date(value, lang)
    if unit == "number" and isinstance(value, int | float):
        return formats.number(value, lang, 1 if isinstance(value, float) and value % 1 else 0)
    if unit in ("count", "currency", "rate", "ratio", "days") and isinstance(value, int | float):
        return formats.value(value, unit, lang, currency)
    return str(value)


def to_html(
    table: Table,
    lang: str,
    currency: str,
    export: str | None = None,
    query: str = "",
    limit: int = 200,
    folded: str | None = None,
) -> str:
    """The table as HTML (numbers right-aligned, raw value in ``data-value``), with export links;
    ``folded``: the table is closed under that summary line until the user opens it."""
    columns = [c for c in table.columns if c.shown]
    head = "".join(f'<th class="sp-u-{c.unit}">{html.escape(c.label)}</th>' for c in columns)
    body = []
    for row in table.rows[:limit]:
        cells = []
        for c in columns:
            value = row.get(c.key)
            shown = _export(value, c.unit)
            raw = "" if shown is None else html.escape(str(plain(shown)))
            own = str(row.get("currency") or currency) if c.unit == "money" else currency  # a deal's currency
            text = html.escape(cell_text(value, c.unit, lang, own, c.words))
            cells.append(f'<td class="sp-u-{c.unit}" data-value="{raw}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    links = ""
    if export is not None:
        suffix = f"?{query}" if query else ""
        links = (
            f'<p class="sp-export"><a href="{html.escape(export + ".csv" + suffix)}">CSV</a> '
            f'<a href="{html.escape(export + ".xlsx" + suffix)}">XLSX</a></p>'
        )
    shown = len(table.rows)
    more = _more(shown, limit, table.total, lang)
    grid = (
        f'<div class="sp-scroll"><table class="sp-table" data-table="{html.escape(table.name)}"><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>{more}"
    )
    if folded is not None:
        grid = f'<details class="sp-fold"><summary>{html.escape(folded)}</summary>{grid}</details>'
    heading = f"<h2>{html.escape(table.title)}</h2>"
    return f'<section class="sp-section" id="{html.escape(table.name)}">{heading}{links}{grid}</section>'


def _more(shown: int, limit: int, total: int | None, lang: str) -> str:
    """The line under a table cut for the page: how many rows are not shown, and where they are."""
    whole = shown if total is None else max(total, shown)
    hidden = whole - min(shown, limit)
    if hidden <= 0:
        return ""
    every, first = MORE[lang if lang in MORE else "en"]
    n = formats.number(hidden, lang)
    text = every.format(n=n) if whole == shown else first.format(n=n, m=formats.number(shown, lang))
    return f'<p class="sp-more">{html.escape(text)}</p>'


def _codes(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _export(value: Any, unit: str) -> Any:
    """A cell for a spreadsheet: flag codes joined by "; " (an empty list: no cell)."""
    if unit == "flags":
        return "; ".join(_codes(value)) or None
    return value


def to_csv(table: Table) -> bytes:
    """CSV (UTF-8 with a BOM, so that Excel reads accents), every text cell formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(c.label) for c in table.columns])
    for row in table.rows:
        cells = [_export(row.get(c.key), c.unit) for c in table.columns]
        writer.writerow(["" if v is None else safe_cell(plain(v)) for v in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """XLSX with one sheet; text cells are string cells (never formulas), numbers stay numbers."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(table.title))

    def cell(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | dt.date):
            return None if isinstance(value, float) and value != value else value
        text = WriteOnlyCell(sheet, value=str(value))
        text.data_type = "s"  # typed after the value: a text starting with "=" stays text
        return text

    sheet.append([cell(c.label) for c in table.columns])
    for row in table.rows:
        sheet.append([cell(_export(row.get(c.key), c.unit)) for c in table.columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    cleaned = "".join(ch for ch in title if ch not in "[]:*?/\\").strip()
    return (cleaned or "Sheet")[:31]
