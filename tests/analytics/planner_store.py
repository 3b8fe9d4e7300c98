"""A hand-made store for the planner tests; every rate below is counted by hand.

Window 2024 (data end 2024-12-15). SDR S1: 30 calls, 6 leads, 3 converted; SDR S2: 10 calls,
2 leads, 1 converted. AE A1: 3 opportunities, 2 won (1,000 and 3,000 EUR), 1 lost; AE A2 (left
on 2024-06-30): 1 opportunity, lost. Company: 40 calls -> 8 leads (0.2) -> 4 converted (0.5);
4 opportunities -> 2 won (0.5); average deal value 2,000. Five emails are no calls.
"""

from __future__ import annotations

from pathlib import Path

import salespilot


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def build(folder: Path) -> Path:
    db = folder / "plan.duckdb"
    reps = _write(
        folder / "reps.csv",
        "rep_id,name,role,active_from,active_to",
        [
            "S1,Sam,sdr,2023-01-01,",
            "S2,Sue,sdr,2023-01-01,",
            "A1,Ann,ae,2023-01-01,",
            "A2,Al,ae,2023-01-01,2024-06-30",
        ],
    )
    calls = [f"C{i},S1,call,2024-03-{1 + i % 28:02d} 10:00:00" for i in range(30)]
    calls += [f"D{i},S2,call,2024-04-{1 + i:02d} 10:00:00" for i in range(10)]
    calls += [f"E{i},S1,email,2024-04-{1 + i:02d} 11:00:00" for i in range(5)]
    activities = _write(folder / "activities.csv", "activity_id,rep_id,type,occurred_at", calls)
    leads = _write(
        folder / "leads.csv",
        "lead_id,created_at,owner_id",
        [f"L{i},2024-05-{1 + i:02d} 09:00:00,S1" for i in range(6)]
        + [f"M{i},2024-05-{10 + i:02d} 09:00:00,S2" for i in range(2)],
    )
    opportunities = _write(
        folder / "opportunities.csv",
        "opportunity_id,created_at,lead_id,owner_id,amount,currency,closed_at,outcome",
        [
            "O1,2024-06-01 09:00:00,L0,A1,1000,EUR,2024-11-01 09:00:00,won",
            "O2,2024-06-02 09:00:00,L1,A1,3000,EUR,2024-12-15 09:00:00,won",
            "O3,2024-06-03 09:00:00,L2,A1,5000,EUR,2024-11-03 09:00:00,lost",
            "O4,2024-06-04 09:00:00,M0,A2,7000,EUR,2024-06-20 09:00:00,lost",
        ],
    )
    with salespilot.open(db) as ws:
        for table, path in (
            ("reps", reps),
            ("activities", activities),
            ("leads", leads),
            ("opportunities", opportunities),
        ):
            result = ws.import_file(path, table=table)
            assert not result.rejected, (table, ws.rejects())
    return db
