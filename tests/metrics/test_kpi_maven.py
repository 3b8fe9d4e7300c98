"""The real Maven CRM export (tests/data/maven), KPIs against a computation from the raw CSV.

The files are imported with examples/mappings/maven/*.yaml, as a user would; the reference reads
the same files with Python's csv module and applies the mapping's rules by hand: the 500
"Prospecting" rows have no engage_date (the only creation date) and are rejected; rep =
sales_agent; team = regional_office of sales_teams.csv; won/lost/open from deal_stage; dates are
calendar days (workspace in UTC). Every quarter, every rep and every team is compared: win rate on
the closed basis, win rate on all opportunities created (opportunity_to_signature_rate), revenue
and average deal value to the cent, days to close (n, median, mean, p90) to the 4th decimal.
"""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import DATA, EXAMPLES
from tests.metrics.reference import by_key, percentile, wilson

from salespilot.engine.workspace import Workspace

MAVEN = DATA / "maven"
MAPPINGS = EXAMPLES / "mappings" / "maven"
NAMES = ["win_rate", "opportunity_to_signature_rate", "revenue", "signatures", "average_deal_value", "sales_cycle_days"]
SPLITS = [(), ("rep",), ("team",)]


Product = dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], dict[str, Any]]]  # (kpi, by) -> rows by key
Fixture = tuple[Workspace, "Maven", Product]


def _read(name: str) -> list[dict[str, str]]:
    with (MAVEN / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _quarter(text: str) -> str:
    day = dt.date.fromisoformat(text)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


class Maven:
    """The reference: the raw pipeline rows as the mapping loads them, and each KPI by key."""

    def __init__(self) -> None:
        teams = {r["sales_agent"]: r["regional_office"] for r in _read("sales_teams.csv")}
        self.deals = []
        for r in _read("sales_pipeline.csv"):
            if not r["engage_date"]:  # Prospecting: no creation date, rejected by the import
                continue
            outcome = {"Won": "won", "Lost": "lost", "Engaging": "open"}[r["deal_stage"]]
            self.deals.append({**r, "outcome": outcome, "rep": r["sales_agent"], "team": teams[r["sales_agent"]]})

    def group(
        self, by: tuple[str, ...], when: str, keep: Callable[[dict[str, Any]], bool]
    ) -> dict[tuple[str, ...], list[dict[str, Any]]]:
        """The deals kept, by (quarter of ``when``, *their dimension values)."""
        out: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for d in self.deals:
            if d[when] and keep(d):
                out[(_quarter(d[when]), *(d[k] for k in by))].append(d)
        return out


@pytest.fixture(scope="module")
def maven(tmp_path_factory: pytest.TempPathFactory, new_workspace: Callable[[Path], Workspace]) -> Iterator[Fixture]:
    ws = new_workspace(tmp_path_factory.mktemp("maven"))
    ws.import_file(MAVEN / "sales_teams.csv", mapping=MAPPINGS / "sales_teams.yaml")
    ws.import_file(MAVEN / "accounts.csv", mapping=MAPPINGS / "accounts.yaml")
    pipeline = ws.import_file(MAVEN / "sales_pipeline.csv", mapping=MAPPINGS / "sales_pipeline.yaml")
    assert (pipeline.rows_read, pipeline.rejected) == (8800, 500)
    product: Product = {}
    for by in SPLITS:
        got = ws.kpi(NAMES, grain="quarter", by=list(by), output="rows")
        for name in NAMES:
            product[(name, by)] = by_key([r for r in got if r["kpi"] == name], by)
    yield ws, Maven(), product
    ws.close()


def test_reference_replicates_the_import(maven: Fixture) -> None:
    """8,800 rows less the 500 Prospecting ones; every one of the 35 agents has a team."""
    ws, ref, _ = maven
    assert len(ref.deals) == 8300
    assert sum(1 for d in ref.deals if d["outcome"] == "won") == 4238
    stored = ws.sql("SELECT count(*) AS n, count(DISTINCT owner_id) AS reps FROM opportunities").to_pylist()[0]
    assert (stored["n"], stored["reps"]) == (8300, len({d["rep"] for d in ref.deals}))


@pytest.mark.parametrize("by", SPLITS, ids=["total", "rep", "team"])
def test_win_rate_closed_basis_per_quarter(maven: Fixture, by: tuple[str, ...]) -> None:
    """Won / (won + lost) by close quarter; open (Engaging) deals have no close date and are nowhere."""
    _, ref, product = maven
    closed = ref.group(by, "close_date", lambda d: d["outcome"] in ("won", "lost"))
    got = product[("win_rate", by)]
    assert {k for k, r in got.items() if r["denominator"]} == set(closed)
    for key, row in got.items():
        deals = closed.get(key, [])
        won = sum(1 for d in deals if d["outcome"] == "won")
        assert (row["numerator"], row["denominator"]) == (won, len(deals)), key
        if deals:
            assert row["value"] == pytest.approx(won / len(deals), abs=5e-5), key
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(won, len(deals)), abs=1e-9), key
            assert ("small_sample" in row["flags"]) is (len(deals) < 30), key
        else:
            assert row["value"] is None and row["reason"], key


@pytest.mark.parametrize("by", SPLITS, ids=["total", "rep", "team"])
def test_win_rate_all_opportunities_basis_per_quarter(maven: Fixture, by: tuple[str, ...]) -> None:
    """Won / all opportunities engaged in the quarter (Engaging ones stay in the denominator); cohort flags."""
    _, ref, product = maven
    created = ref.group(by, "engage_date", lambda d: True)
    got = product[("opportunity_to_signature_rate", by)]
    assert {k for k, r in got.items() if r["denominator"]} == set(created)
    data_end = max(dt.date.fromisoformat(d[c]) for d in ref.deals for c in ("engage_date", "close_date") if d[c])
    assert data_end == dt.date(2017, 12, 31)
    for key, row in got.items():
        deals = created.get(key, [])
        won = sum(1 for d in deals if d["outcome"] == "won")
        assert (row["numerator"], row["denominator"]) == (won, len(deals)), key
        if deals:
            assert row["value"] == pytest.approx(won / len(deals), abs=5e-5), key
        year, q = int(key[0][:4]), int(key[0][-1])
        quarter_end = dt.date(year + (q == 4), q * 3 % 12 + 1, 1) - dt.timedelta(days=1)
        assert row["cohort_age_days"] == (data_end - quarter_end).days, key
        assert ("immature_cohort" in row["flags"]) is ((data_end - quarter_end).days < 90), key
    if not by:
        assert "immature_cohort" in got[("2017-Q4",)]["flags"] and "immature_cohort" not in got[("2017-Q3",)]["flags"]


@pytest.mark.parametrize("by", SPLITS, ids=["total", "rep", "team"])
def test_revenue_and_average_deal_value_per_quarter(maven: Fixture, by: tuple[str, ...]) -> None:
    """Sum of close_value of the won deals by close quarter, to the cent; average = revenue / signatures."""
    _, ref, product = maven
    won = ref.group(by, "close_date", lambda d: d["outcome"] == "won")
    revenue, adv, signatures = (product[(n, by)] for n in ("revenue", "average_deal_value", "signatures"))
    assert {k for k, r in revenue.items() if r["value"]} == set(won)
    for key, row in revenue.items():
        deals = won.get(key, [])
        total = sum(int(d["close_value"]) for d in deals)  # whole currency units in the file
        assert row["value"] == pytest.approx(total, abs=0.005), key
        assert signatures[key]["value"] == len(deals), key
        if deals:
            assert adv[key]["value"] == pytest.approx(total / len(deals), abs=0.005), key
            assert (adv[key]["numerator"], adv[key]["denominator"]) == (pytest.approx(total, abs=0.005), len(deals))
        else:
            assert adv[key]["value"] is None and adv[key]["reason"], key


@pytest.mark.parametrize("by", SPLITS, ids=["total", "rep", "team"])
def test_days_to_close_per_quarter(maven: Fixture, by: tuple[str, ...]) -> None:
    """close_date - engage_date of won deals: n, median, mean and p90 (numpy linear) to the 4th decimal."""
    _, ref, product = maven
    won = ref.group(by, "close_date", lambda d: d["outcome"] == "won")
    got = product[("sales_cycle_days", by)]
    assert {k for k, r in got.items() if r["n"]} == set(won)
    for key, row in got.items():
        days = [
            (dt.date.fromisoformat(d["close_date"]) - dt.date.fromisoformat(d["engage_date"])).days
            for d in won.get(key, [])
        ]
        assert row["n"] == len(days), key
        if not days:
            assert row["value"] is None and row["reason"], key
            continue
        assert row["median"] == pytest.approx(percentile(days, 50), abs=5e-5), key
        assert row["mean"] == pytest.approx(statistics.fmean(days), abs=5e-5), key
        assert row["p90"] == pytest.approx(percentile(days, 90), abs=5e-5), key
        assert row["value"] == row["median"]


def test_maven_headline_numbers(maven: Fixture) -> None:
    """A few numbers worked out once from the CSV, pinned: the whole period at grain all."""
    ws, ref, _ = maven
    won = [d for d in ref.deals if d["outcome"] == "won"]
    lost = [d for d in ref.deals if d["outcome"] == "lost"]
    assert len(won) == 4238 and len(lost) == 2473
    assert sum(int(d["close_value"]) for d in won) == 10_005_534
    win = ws.kpi("win_rate", grain="all", output="rows")[0]
    assert (win["numerator"], win["denominator"], round(win["value"], 4)) == (4238, 6711, 0.6315)
    revenue = ws.kpi("revenue", grain="all", output="rows")[0]
    assert revenue["value"] == 10_005_534.0
