"""The dashboard's filters as a lens: a sliced workspace agrees with the KPI engine's own filters
(an independent path) and with plain SQL over the raw tables, on DuckDB and PostgreSQL."""

from __future__ import annotations

import pytest

from salespilot.engine.access import User
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError

KPIS = ["signatures", "revenue", "leads", "opportunities", "win_rate"]


def _values(rows: list[dict[str, object]]) -> dict[tuple[object, object], object]:
    return {(r["kpi"], r["period"]): r["value"] for r in rows}


def _close(a: dict[tuple[object, object], object], b: dict[tuple[object, object], object]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) and isinstance(other, float):
            assert value == pytest.approx(other, rel=1e-9), key
        else:
            assert value == other, key


def test_the_slice_agrees_with_the_engines_filters_and_sql(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.demo("small")
        rep, team = (
            ws.sql("SELECT rep_id, team FROM reps WHERE role = 'ae' AND team IS NOT NULL ORDER BY rep_id LIMIT 1")
            .to_pylist()[0]
            .values()
        )
        channel = (
            ws.sql("SELECT channel FROM leads GROUP BY channel ORDER BY count(*) DESC LIMIT 1").column(0)[0].as_py()
        )
        for filters in (
            {"segment": "smb"},
            {"channel": channel},
            {"rep": rep},
            {"team": team},
            {"rep": rep, "segment": "smb"},
        ):
            sliced = ws.sliced(filters).kpi(KPIS, grain="quarter", output="rows")
            engine = ws.kpi(KPIS, grain="quarter", filters=filters, output="rows")
            _close(_values(sliced), _values(engine))

        # costs cannot be split by rep or segment: the CAC has no value there, with the reason; a
        # channel keeps its own costs
        for filters in ({"segment": "smb"}, {"rep": rep}):
            row = ws.sliced(filters).kpi(["cac"], grain="all", output="rows")[0]
            assert row["value"] is None and "cannot be split" in row["reason"]
        by_channel = ws.sliced({"channel": channel}).kpi(["costs"], grain="all", output="rows")[0]
        assert by_channel["value"] == pytest.approx(
            ws.sql("SELECT sum(amount) FROM costs WHERE channel = ?", [channel]).column(0)[0].as_py() or 0.0
        )

        # the funnel's first step and the stuck deals, against SQL written by hand
        smb = ws.sliced({"segment": "smb"})
        leads = sum(s.volume or 0 for p in smb.funnel(grain="year") for s in p.steps if s.step == "lead")
        sql_leads = (
            ws.sql(
                "SELECT count(*) FROM leads l JOIN accounts a ON a.account_id = l.account_id WHERE a.segment = 'smb'"
            )
            .column(0)[0]
            .as_py()
        )
        whole = sum(s.volume or 0 for p in ws.funnel(grain="year") for s in p.steps if s.step == "lead")
        assert 0 < leads < whole
        assert leads == sql_leads
        mine = {d["opportunity_id"] for d in ws.sliced({"rep": rep}).stuck_deals()}
        owned = set(ws.sql("SELECT opportunity_id FROM opportunities WHERE owner_id = ?", [rep]).column(0).to_pylist())
        everyone = {d["opportunity_id"] for d in ws.stuck_deals()}
        assert mine == everyone & owned and everyone - owned

        # nothing matches: nothing shown, never everything
        nobody = ws.sliced({"rep": "nobody"}).kpi(["signatures", "leads"], grain="year", output="rows")
        assert all(not r["value"] for r in nobody)
        assert ws.sliced({"segment": "nowhere"}).stuck_deals() == []
        # spend cannot be split by rep: costs are empty in a rep's slice, kept for a channel
        # (the spend, CAC's numerator, is then 0: pages must say so rather than show a CAC of 0)
        assert any(r["numerator"] for r in ws.kpi(["cac"], grain="year", output="rows"))
        assert all(r["numerator"] == 0 for r in ws.sliced({"rep": rep}).kpi(["cac"], grain="year", output="rows"))
        with pytest.raises(ParameterError, match="Parameter campaign: not a filter"):
            ws.sliced({"campaign": "x"})
        assert ws.sliced({"segment": ""}).kpi(["leads"], grain="year", output="rows") == ws.kpi(
            ["leads"], grain="year", output="rows"
        )

        # a slice composes with a user's scope: a rep filtering on another team sees nothing
        other_team = (
            ws.sql("SELECT team FROM reps WHERE team IS NOT NULL AND team <> ? LIMIT 1", [team]).column(0)[0].as_py()
        )
        user = User(user_id=1, email="r@example.com", name=None, role="rep", rep_id=rep, team=None, language="en")
        scoped = ws.for_user(user)
        assert scoped.sliced({"team": team}).kpi(["opportunities"], grain="year", output="rows") == scoped.kpi(
            ["opportunities"], grain="year", output="rows"
        )
        hidden = scoped.sliced({"team": other_team}).kpi(["opportunities"], grain="year", output="rows")
        assert all(not r["value"] for r in hidden)
