"""The store contract on both backends: placeholders, the bulk path, transactions, Ibis, the factory."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import write

from salespilot.store.connection import DuckDBStore, open_store
from salespilot.store.migrations import migrate

# Values the bulk path must keep exactly: empty text is not null, quotes, separators, line breaks,
# COPY's end-of-data marker, non-ASCII, spreadsheet formulas, microseconds, extreme floats.
TRICKY = pa.table(
    {
        "lead_id": pa.array(["L1", "L2", "L3", "L4", "L5", "L6"]),
        "created_at": pa.array(
            [
                dt.datetime(2024, 1, 1, 9, 30, 0, 123456),
                dt.datetime(1999, 12, 31, 23, 59, 59),
                dt.datetime(2024, 2, 29),
                dt.datetime(2030, 6, 1, 0, 0, 0, 1),
                dt.datetime(1970, 1, 1),
                dt.datetime(2024, 7, 1, 12),
            ],
            pa.timestamp("us"),
        ),
        "channel": pa.array(["", None, 'say "hi", then;go', "line\nbreak\r\n", "\\.", "=cmd|' /C calc'!A0"]),
        "campaign": pa.array(["café ☕", "tab\there", None, "", "%s ? %%", "'quoted'"]),
    }
)


def test_placeholders_and_percent_signs_mean_the_same_on_both(db_url: str) -> None:
    with open_store(db_url) as store:
        row = store.fetchone("SELECT ? AS a, '%' || ? AS b, 'what?' AS c, ? AS d", ["x", "y", 5])
        assert row == ("x", "%y", "what?", 5)
        assert store.scalar("SELECT 'a%b' LIKE 'a%'") is True  # no parameters: % is left alone
        assert store.fetchall("SELECT 1 WHERE 'x' = ?", ["y"]) == []


def test_append_arrow_keeps_every_value_exactly(db_url: str) -> None:
    with open_store(db_url) as store:
        migrate(store)
        with store.transaction():
            store.append_arrow("leads", TRICKY)
        back = store.arrow("SELECT lead_id, created_at, channel, campaign FROM leads ORDER BY lead_id")
        assert back.equals(TRICKY), back.to_pylist()
        assert store.scalar("SELECT count(*) FROM leads WHERE channel IS NULL") == 1
        assert store.scalar("SELECT count(*) FROM leads WHERE channel = ''") == 1
        typed = store.arrow(
            "SELECT count(*) AS n, max(created_at) AS last, CAST(NULL AS DOUBLE PRECISION) AS x FROM leads"
        )
        assert typed.schema.field("n").type == pa.int64()
        assert typed.schema.field("last").type == pa.timestamp("us")
        assert typed.schema.field("x").type == pa.float64()


def test_a_transaction_is_all_or_nothing_and_ibis_sees_inside_it(db_url: str) -> None:
    with open_store(db_url) as store:
        migrate(store)
        con = store.ibis()
        with pytest.raises(RuntimeError, match="stop"), store.transaction():
            store.append_arrow("leads", TRICKY)
            assert con.table("leads").count().to_pyarrow().as_py() == 6  # the same connection, the same transaction
            raise RuntimeError("stop")
        assert store.scalar("SELECT count(*) FROM leads") == 0
        assert con.table("leads").count().to_pyarrow().as_py() == 0
        with store.transaction():
            store.append_arrow("leads", TRICKY.slice(0, 2))
        assert con.table("leads").count().to_pyarrow().as_py() == 2


def test_the_factory_picks_the_backend_by_the_db_string(db_url: str, backend: str) -> None:
    with open_store(db_url) as store:
        assert store.kind == backend
        if backend == "duckdb":
            assert isinstance(store, DuckDBStore) and store.path == Path(db_url) and store.label == db_url
        else:
            assert store.path is None and store.label == db_url and store.name == db_url.rsplit("/", 1)[1]


def test_the_default_install_needs_no_psycopg(tmp_path: Path) -> None:
    """A DuckDB store works where psycopg cannot be imported; a PostgreSQL URL says what to install."""
    write(tmp_path / "leads.csv", "lead_id,created_at\nL1,2024-01-01\n")
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import salespilot\n"
        "from salespilot.errors import StoreError\n"
        f"with salespilot.open({str(tmp_path / 's.duckdb')!r}) as ws:\n"
        f"    print(ws.import_file({str(tmp_path / 'leads.csv')!r}).inserted)\n"
        "try:\n"
        "    salespilot.open('postgresql://me:secret@127.0.0.1:5432/crm')\n"
        "except StoreError as exc:\n"
        "    print(exc)\n"
        "print('psycopg' in sys.modules and sys.modules['psycopg'] is not None)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    inserted, message, loaded = run.stdout.strip().split("\n")
    assert inserted == "1" and loaded == "False"
    assert "pip install 'salespilot[postgres]'" in message and "postgresql://me@127.0.0.1:5432/crm" in message
    assert "secret" not in message
