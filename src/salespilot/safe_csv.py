"""CSV writing that a spreadsheet cannot turn into code.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV/formula injection). Such text cells are
written with a leading apostrophe, which spreadsheets show as plain text. Numbers are not text
cells and are written as they are, so ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as it should be written to a spreadsheet cell."""
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write atomically (temporary file, then rename) with every text cell made safe."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([safe_cell(h) for h in header])
            for row in rows:
                writer.writerow(["" if v is None else safe_cell(v) for v in row])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
