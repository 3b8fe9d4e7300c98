"""The importer's reasons in French: a file with every kind of mistake is imported for real, and
each reason the store then holds (rejects and warnings) reads in French on the pages; English
stays as it is, and an unknown reason is shown as written."""

from __future__ import annotations

from pathlib import Path

import salespilot
from salespilot.server import reasons

OPPORTUNITIES = (
    "opportunity_id,created_at,owner_id,amount,currency,closed_at,outcome\n"
    "O1,2025-01-05,R1,100,EUR,2025-02-01,won\n"  # good, but R1 is no rep: a warning
    ",2025-01-05,R1,100,EUR,2025-02-01,won\n"  # id required
    "O3,2025-13-05,R1,100,EUR,2025-02-01,won\n"  # a date that is none
    "O4,2025-01-05,R1,abc,EUR,2025-02-01,won\n"  # not a number
    "O5,2025-01-05,R1,-5,EUR,2025-02-01,won\n"  # negative
    "O6,2025-01-05,R1,100,EUR,2025-02-01,maybe\n"  # not an outcome
    "O7,2025-01-05,R1,100,EUR,,won\n"  # won without a close date
    "O8,2025-03-05,R1,100,EUR,2025-02-01,won\n"  # closed before created
    "O9,9999-12-31,R1,100,EUR,,open\n"  # a placeholder date
    "O1,2025-01-06,R1,100,EUR,2025-02-01,won\n"  # the key again
    "O11,2025-01-05,R1\n"  # too few fields
)


def test_every_reason_the_importer_gives_reads_in_french(tmp_path: Path) -> None:
    path = tmp_path / "opportunities.csv"
    path.write_text(OPPORTUNITIES, encoding="utf-8")
    with salespilot.open(str(tmp_path / "store.duckdb")) as ws:
        result = ws.import_file(path, table="opportunities")
        given = [r["reason"] for r in ws.rejects(result.import_id, limit=100)]
        given += [w["reason"] for w in ws.warnings(result.import_id)]
    assert result.rejected == 10 and len(set(given)) >= 10
    for reason in given:
        french = reasons.text(reason, "fr")
        assert french != reason, f"no French for: {reason}"
        assert not any(word in french for word in ("expected", "required", "before", "unknown", " or ")), french
        assert reasons.text(reason, "en") == reason
    assert reasons.text("amount is required but empty", "fr") == "amount est obligatoire mais vide"
    assert reasons.text("a brand-new reason", "fr") == "a brand-new reason"
    assert reasons.text(None, "fr") is None
