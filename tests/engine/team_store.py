"""A hand-made store for the team tests; every figure of tests/engine/test_team.py is counted
by hand from it. UTC, data from 2026-01-01 to 2026-02-15; USD is worth 0.5 EUR.

Reps: AEs A1 A2 A3 A4, SDR S1, SDR S2 (from 2026-02-10), manager M1.
Activities: January A1 10 calls + 5 meetings, A2 4 meetings, A3 2 demos; S1 20 calls;
February S2 5 calls.
Leads (owner S1, created in January): L1 L2 L3 L4; L5 (owner S2, 2026-02-15).
Opportunities: O1 (L1, A1) won 2026-01-20, 1,000 EUR; O2 (L2, A1) lost 2026-01-25, 500 EUR;
O3 (L3, A2) won 2026-02-10, 2,000 USD = 1,000 EUR; O4 (A3) won 2026-01-28, 3,000 EUR;
O5 (A4) open, 700 EUR.
Contracts: C1 (O1) ends 2026-02-12, not renewed (a churn); C2 (O4) ends 2026-02-05 and C3
renews it.
Targets: A1 revenue 2,000 and activities 10 in 2026-01.
"""

from __future__ import annotations

from pathlib import Path

import salespilot

TABLES = {
    "reps": (
        "rep_id,name,role,team,active_from\n"
        "A1,Ann,ae,North,2025-01-01\nA2,Alan,ae,North,2025-01-01\nA3,Ava,ae,South,2025-01-01\n"
        "A4,Abe,ae,South,2025-01-01\nS1,Sam,sdr,North,2025-01-01\nS2,Sue,sdr,South,2026-02-10\n"
        "M1,Max,manager,,2025-01-01\n"
    ),
    "accounts": "account_id,name\nX1,Acme\nX4,Beta\n",
    "activities": "activity_id,rep_id,type,occurred_at\n"
    + "".join(f"a1c{i},A1,call,2026-01-{2 + i:02d}T10:00:00Z\n" for i in range(10))
    + "".join(f"a1m{i},A1,meeting,2026-01-{2 + i:02d}T11:00:00Z\n" for i in range(5))
    + "".join(f"a2m{i},A2,meeting,2026-01-{2 + i:02d}T11:00:00Z\n" for i in range(4))
    + "".join(f"a3d{i},A3,demo,2026-01-{2 + i:02d}T11:00:00Z\n" for i in range(2))
    + "".join(f"s1c{i},S1,call,2026-01-{2 + i:02d}T09:00:00Z\n" for i in range(20))
    + "".join(f"s2c{i},S2,call,2026-02-{10 + i:02d}T09:00:00Z\n" for i in range(5)),
    "leads": (
        "lead_id,created_at,owner_id\n"
        "L1,2026-01-10T09:00:00Z,S1\nL2,2026-01-10T09:00:00Z,S1\nL3,2026-01-10T09:00:00Z,S1\n"
        "L4,2026-01-10T09:00:00Z,S1\nL5,2026-02-15T09:00:00Z,S2\n"
    ),
    "opportunities": (
        "opportunity_id,created_at,lead_id,account_id,owner_id,amount,currency,closed_at,outcome\n"
        "O1,2026-01-05T09:00:00Z,L1,X1,A1,1000,EUR,2026-01-20T09:00:00Z,won\n"
        "O2,2026-01-06T09:00:00Z,L2,X1,A1,500,EUR,2026-01-25T09:00:00Z,lost\n"
        "O3,2026-01-07T09:00:00Z,L3,X1,A2,2000,USD,2026-02-10T09:00:00Z,won\n"
        "O4,2026-01-08T09:00:00Z,,X4,A3,3000,EUR,2026-01-28T09:00:00Z,won\n"
        "O5,2026-01-09T09:00:00Z,,X4,A4,700,EUR,,open\n"
    ),
    "contracts": (
        "contract_id,account_id,start_date,end_date,value,opportunity_id,renews_contract_id\n"
        "C1,X1,2026-01-20,2026-02-12,1000,O1,\nC2,X4,2026-01-28,2026-02-05,3000,O4,\n"
        "C3,X4,2026-02-06,2027-02-05,3000,,C2\n"
    ),
    "fx_rates": "date,currency,rate_to_base\n2025-12-01,USD,0.5\n",
    "targets": "period,metric,value,scope,scope_id\n2026-01,revenue,2000,rep,A1\n2026-01,activities,10,rep,A1\n",
}


def build(folder: Path) -> Path:
    db = folder / "team.duckdb"
    with salespilot.open(db) as ws:
        for table, text in TABLES.items():
            path = folder / f"{table}.csv"
            path.write_text(text, encoding="utf-8")
            result = ws.import_file(path, table=table)
            assert result.rejected == 0, (table, result.rejects)
    return db
