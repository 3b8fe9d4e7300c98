"""The data's span (its years and last day), kept between KPI calls while the data is the same:
an import that moves it is seen at once, each scope has its own, and a store written without the
importer is measured every time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from salespilot.engine.access import User
from salespilot.engine.kpis import _span_key, data_years_and_end
from salespilot.engine.workspace import Workspace
from salespilot.store.query import ibis_backend


def _end(ws: Workspace) -> dt.date | None:
    return data_years_and_end(ibis_backend(ws.store), "UTC")[1]


def test_an_import_that_moves_the_span_is_seen_at_once(ws: Workspace, tmp_path: Path) -> None:
    ws.demo("small")
    end = _end(ws)
    assert end is not None and _end(ws) == end  # the second time from the kept span
    later = end + dt.timedelta(days=400)
    leads = tmp_path / "leads.csv"
    leads.write_text(f"lead_id,created_at,channel\nSPAN-1,{later.isoformat()},web\n", encoding="utf-8")
    assert ws.import_file(str(leads), table="leads").inserted == 1
    assert _end(ws) == later
    months = [r["period"] for r in ws.kpi(["leads"], grain="month", output="rows")]
    assert months[-1] == later.strftime("%Y-%m")


def test_each_scope_has_its_own_span(ws: Workspace) -> None:
    ws.demo("small")
    rep = ws.sql("SELECT rep_id FROM reps WHERE role = 'ae' ORDER BY rep_id LIMIT 1").column(0)[0].as_py()
    mine = ws.for_user(User(1, "r@example.com", None, "rep", rep, None, "en"))
    whole, own = _span_key(ibis_backend(ws.store), "UTC"), _span_key(ibis_backend(mine.store), "UTC")
    assert whole is not None and own is not None and whole != own
    last = ws.sql(
        "SELECT max(greatest(created_at, coalesce(closed_at, created_at))) FROM opportunities WHERE owner_id = ?", [rep]
    )
    activity = ws.sql("SELECT max(occurred_at) FROM activities WHERE rep_id = ?", [rep]).column(0)[0].as_py()
    expected = max(last.column(0)[0].as_py(), activity).date()
    assert _end(mine) == expected


def test_a_store_written_without_the_importer_is_not_kept(ws: Workspace) -> None:
    ws.store.execute("INSERT INTO leads (lead_id, created_at, channel) VALUES ('RAW-1', '2020-01-05', 'web')")
    assert _span_key(ibis_backend(ws.store), "UTC") is None
    assert _end(ws) == dt.date(2020, 1, 5)
    ws.store.execute("INSERT INTO leads (lead_id, created_at, channel) VALUES ('RAW-2', '2021-03-07', 'web')")
    assert _end(ws) == dt.date(2021, 3, 7)
