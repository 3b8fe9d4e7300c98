"""Import speed and memory: SalesPilot's import vs DuckDB's own read_csv of the same file.

    .venv/bin/python benchmarks/import_bench.py [--rows 1000000] [--sizes 1000000,2000000]

For each size it writes a leads CSV, then in fresh subprocesses (so that peak memory is each
one's own) times (a) `salespilot import` into a new store and (b) DuckDB's
`CREATE TABLE AS SELECT * FROM read_csv(...)` into a new database file, and prints the times,
their ratio, and each process's peak resident memory. Aim: ratio within 2x, and memory that
does not grow with file size beyond DuckDB's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SALESPILOT = """
import json, resource, sys, time
import salespilot
from salespilot.engine import workspace  # load the modules before the clock starts, as for duckdb
t0 = time.perf_counter()
with salespilot.open(sys.argv[1]) as ws:
    r = ws.import_file(sys.argv[2], table="leads")
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rows": r.inserted,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DUCKDB = """
import json, resource, sys, time
import duckdb
t0 = time.perf_counter()
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE leads AS SELECT * FROM read_csv(?)", [sys.argv[2]])
rows = con.execute("SELECT count(*) FROM leads").fetchone()[0]
con.close()
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rows": rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_leads(path: Path, rows: int) -> None:
    channels = ["outbound", "website", "paid search", "events", "partners", "referral"]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("lead_id,created_at,channel,campaign,account_id,owner_id,status,disqualified_reason\n")
        for i in range(rows):
            handle.write(
                f"L{i:08d},20{22 + i % 3}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00,"
                f"{channels[i % 6]},campaign {i % 97},A{i % 50000:06d},R{i % 250:04d},"
                f"{'disqualified' if i % 5 == 0 else 'open'},{'no budget' if i % 5 == 0 else ''}\n"
            )


def run(code: str, db: Path, csv: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, str(db), str(csv)], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,2000000", help="comma-separated row counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    print(
        f"{'rows':>10} {'file MB':>8} {'salespilot s':>13} {'duckdb s':>9} {'ratio':>6} "
        f"{'salespilot MB':>14} {'duckdb MB':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for rows in (int(s) for s in args.sizes.split(",")):
            csv = folder / f"leads_{rows}.csv"
            t0 = time.perf_counter()
            write_leads(csv, rows)
            best: dict[str, dict[str, float]] = {}
            for name, code in (("salespilot", SALESPILOT), ("duckdb", DUCKDB)):
                for i in range(args.repeat):
                    db = folder / f"{name}_{rows}_{i}.duckdb"
                    result = run(code, db, csv)
                    assert result["rows"] == rows, (name, result)
                    if name not in best or result["seconds"] < best[name]["seconds"]:
                        best[name] = result
                    db.unlink()
            sp, dd = best["salespilot"], best["duckdb"]
            print(
                f"{rows:>10,} {csv.stat().st_size / 1e6:>8.1f} {sp['seconds']:>13.2f} {dd['seconds']:>9.2f} "
                f"{sp['seconds'] / dd['seconds']:>6.2f} {sp['peak_mb']:>14.0f} {dd['peak_mb']:>10.0f}"
            )
            csv.unlink()
            del t0


if __name__ == "__main__":
    main()
