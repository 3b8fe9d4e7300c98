"""Lenses: every reader sees the tables through them, on DuckDB and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest
from tests.conftest import write

import salespilot
from salespilot.errors import ParameterError
from salespilot.store.lens import with_lenses
from salespilot.store.query import ibis_backend


class OwnerLens:
    """Only the opportunities of one owner (what a rep's scope does, in miniature)."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def apply(self, con: ibis.BaseBackend, name: str, table: ir.Table) -> ir.Table:
        return table.filter(table.owner_id == self.owner) if name == "opportunities" else table


class WonLens:
    def apply(self, con: ibis.BaseBackend, name: str, table: ir.Table) -> ir.Table:
        return table.filter(table.outcome == "won") if name == "opportunities" else table


OPPORTUNITIES = """opportunity_id,created_at,owner_id,amount,currency,closed_at,outcome
o1,2025-01-05,r1,100,EUR,2025-02-01,won
o2,2025-01-06,r1,200,EUR,2025-02-02,lost
o3,2025-01-07,r2,400,EUR,2025-02-03,won
o4,2025-01-08,r2,800,EUR,,open
"""


@pytest.fixture
def store_with_deals(db_url: str, tmp_path: Path) -> str:
    with salespilot.open(db_url) as ws:
        ws.set_setting("base_currency", "EUR")
        ws.import_file(write(tmp_path / "opps.csv", OPPORTUNITIES), table="opportunities")
    return db_url


def _revenue(ws: salespilot.Workspace) -> float:
    rows = ws.kpi(["revenue"], grain="year", output="rows")
    return float(sum(r["value"] or 0 for r in rows))


def test_a_lens_changes_what_every_reader_sees(store_with_deals: str) -> None:
    with salespilot.open(store_with_deals) as ws:
        assert _revenue(ws) == 500.0  # o1 + o3 (won); by hand
        r1 = ws.lensed(OwnerLens("r1"))
        assert _revenue(r1) == 100.0
        assert _revenue(ws.lensed(OwnerLens("r2"))) == 400.0
        # lenses compose, in order, and a lensed view of a lensed view keeps both
        assert _revenue(r1.lensed(WonLens())) == 100.0
        con = ibis_backend(r1.lensed(WonLens()).store)
        assert con.table("opportunities").count().execute() == 1
        assert ibis_backend(ws.store).table("opportunities").count().execute() == 4  # the workspace is untouched
        r1.close()  # closing a view leaves the workspace open
        assert _revenue(ws) == 500.0


def test_a_lensed_view_refuses_writes(store_with_deals: str, tmp_path: Path) -> None:
    with salespilot.open(store_with_deals) as ws:
        view = ws.lensed(OwnerLens("r1"))
        with pytest.raises(ParameterError, match="read-only"):
            view.import_file(write(tmp_path / "more.csv", OPPORTUNITIES), table="opportunities")
        with pytest.raises(ParameterError, match="read-only"):
            view.set_setting("timezone", "Europe/Paris")
        assert with_lenses(ws.store).read_only
