"""The demo company in a store: written whole, reproducible, and valid by the importer's own rules.

The tests through ``ws`` and the round trip run on both stores (DuckDB file, PostgreSQL database).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

import salespilot
from salespilot.demo import generate
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError, UserInputError
from salespilot.model import TABLES


@pytest.fixture
def ws(db_url: str) -> Iterator[Workspace]:
    with salespilot.open(db_url) as workspace:
        yield workspace


def test_demo_writes_every_table_and_records_itself(ws: Workspace) -> None:
    written = ws.demo("small", seed=7)
    expected: dict[str, int] = dict.fromkeys(TABLES, 0)
    for name, chunk in generate("small", 7):
        expected[name] += chunk.num_rows
    assert written == expected
    counts = {t["table"]: t["rows"] for t in ws.status()["tables"]}
    assert counts == expected
    assert all(counts[name] > 0 for name in TABLES)
    assert ws.status()["imports"][0]["file"] == "demo company (size small, seed 7)"


def test_demo_refuses_to_mix_with_data_unless_replace(ws: Workspace) -> None:
    ws.demo("small", seed=1)
    with pytest.raises(UserInputError, match=r"already holds data.*--replace"):
        ws.demo("small", seed=2)
    ws.demo("small", seed=2, replace=True)
    first_seed = ws.sql("SELECT count(*) AS n FROM leads").to_pylist()[0]["n"]
    assert first_seed == sum(c.num_rows for n, c in generate("small", 2) if n == "leads")


def test_same_seed_same_store(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        with salespilot.open(tmp_path / f"{name}.duckdb") as ws:
            ws.demo("small", seed=3)
            digests.append(
                ws.sql(
                    "SELECT sum(hash(o)) AS h FROM (SELECT * EXCLUDE (_import_id) FROM opportunities) o"
                ).to_pylist()[0]["h"]
            )
    assert digests[0] == digests[1]


def test_bad_size_is_a_parameter_error(ws: Workspace) -> None:
    with pytest.raises(ParameterError, match='Did you mean "small"'):
        ws.demo("smal")


def test_the_demo_passes_the_importers_own_validation(tmp_path: Path, new_db: Callable[[], str]) -> None:
    """Export every demo table to CSV and import it back: nothing rejected, nothing changed."""
    with salespilot.open(new_db()) as demo, salespilot.open(new_db()) as copy:
        demo.demo("small", seed=11)
        for name in TABLES:
            columns = TABLES[name].column_names
            cols = ", ".join(columns)
            table = demo.sql(f"SELECT {cols} FROM {name}")
            path = tmp_path / f"{name}.csv"
            pacsv.write_csv(table, path)
            result = copy.import_file(path, table=name)
            assert (result.rejected, result.inserted) == (0, table.num_rows), (name, copy.rejects()[:3])
            order = ", ".join(str(i) for i in range(1, len(columns) + 1))  # ORDER BY ALL is DuckDB's only
            query = f"SELECT {cols} FROM {name} ORDER BY {order}"
            assert copy.sql(query).equals(demo.sql(query)), name
