"""Customer KPIs on hand-made stores: renewals, retention, ARPA, cohorts (docs/kpis.md, "Customers").

Each store is written as CSV files and imported through the public API; each expected number is
worked out by hand in the test (the comments say how) and, for whole series, recomputed by the
plain-Python reference at the top of this file from the rows written, never from the product's
queries. The last test runs everything on the small demo company and checks invariants.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError
from salespilot.metrics.runner import CUSTOM

Row = dict[str, Any]
D = dt.date
CUSTOMER_KPIS = [
    "renewal_rate",
    "logo_retention",
    "net_revenue_retention",
    "gross_revenue_retention",
    "arpa",
    "cohort_retention",
    "cohort_profitability",
]
OPP = ["opportunity_id", "created_at", "account_id", "outcome", "closed_at", "amount", "currency", "channel"]
CONTRACT = ["contract_id", "account_id", "start_date", "end_date", "value", "term_months", "renews_contract_id"]


# -- the plain-Python reference -------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    id: str
    account: str
    start: D
    end: D | None
    value: float
    term: int | None = None
    renews: str | None = None

    @property
    def yearly(self) -> float:
        return self.value / self.term * 12 if self.term else self.value

    def covers(self, day: D) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def add_months(day: D, months: int) -> D:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return D(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def quarter_bounds(first: D, last: D) -> list[tuple[str, D, D]]:
    """(label, first day, last day) of each calendar quarter from ``first``'s to ``last``'s."""
    out = []
    start = D(first.year, (first.month - 1) // 3 * 3 + 1, 1)
    while start <= last:
        nxt = add_months(start, 3)
        out.append((f"{start.year}-Q{(start.month - 1) // 3 + 1}", start, nxt - dt.timedelta(days=1)))
        start = nxt
    return out


def contract_value(contracts: Iterable[Contract], account: str, day: D) -> float | None:
    """Recurring value of ``account`` on ``day``; None when it is not active."""
    covering = [c for c in contracts if c.account == account and c.covers(day)]
    return sum(c.yearly for c in covering) if covering else None


def renewed(c: Contract, contracts: Sequence[Contract], grace: int) -> bool:
    return any(
        o.renews == c.id or (o.account == c.account and o.id != c.id and abs((o.start - c.end).days) <= grace)
        for o in contracts
        if c.end is not None
    )


# -- helpers ----------------------------------------------------------------------------------------


def write(folder: Path, table: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    path = folder / f"{table}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    return path


def load(ws: Workspace, folder: Path, table: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    result = ws.import_file(write(folder, table, header, rows), table=table)
    assert result.rejected == 0, ws.rejects()


def contract_rows(contracts: Iterable[Contract]) -> list[list[Any]]:
    return [[c.id, c.account, c.start, c.end, c.value, c.term, c.renews] for c in contracts]


def by_period(rows: list[Row], kpi: str, **dims: Any) -> dict[str, Row]:
    found = [r for r in rows if r["kpi"] == kpi and all(r.get(d) == v for d, v in dims.items())]
    out = {r["period"]: r for r in found}
    assert len(out) == len(found), f"{kpi}: several rows per period"
    return out


def cohort(rows: list[Row], kpi: str, period: str, **dims: Any) -> list[Row]:
    return [
        r for r in rows if r["kpi"] == kpi and r["period"] == period and all(r.get(d) == v for d, v in dims.items())
    ]


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# -- renewals -------------------------------------------------------------------------------------

RENEWAL_END = D(2024, 12, 31)
SEGMENTS = {"A1": "smb", "A2": "smb", "A3": "mid", "A4": "mid", "A5": "ent", "A6": "ent", "A7": "smb"}
RENEWALS = [
    # A1: renewed through the link, although K2 starts 61 days after K1's end.
    Contract("K1", "A1", D(2023, 1, 1), D(2023, 12, 31), 1200),
    Contract("K2", "A1", D(2024, 3, 1), D(2025, 2, 28), 1500, renews="K1"),  # ends after the data: not ending
    # A2: renewed by date, 20 days after the end; K3's value is for 24 months (yearly 1000).
    Contract("K3", "A2", D(2023, 1, 1), D(2023, 12, 31), 2000, term=24),
    Contract("K4", "A2", D(2024, 1, 20), None, 1000),  # open-ended: never ends
    # A3: the next contract starts 46 days later: churned, then K6 ends with nothing after it.
    Contract("K5", "A3", D(2023, 4, 1), D(2023, 12, 31), 800),
    Contract("K6", "A3", D(2024, 2, 15), D(2024, 6, 30), 600),
    # A4: renewed by a contract starting 29 days *before* the end; K8 then lapses (not pending).
    Contract("K7", "A4", D(2023, 6, 1), D(2023, 11, 30), 500),
    Contract("K8", "A4", D(2023, 11, 1), D(2024, 10, 31), 700),
    # A5, A6: ending less than 30 days before the data's end, not renewed yet: pending.
    Contract("K9", "A5", D(2024, 1, 1), D(2024, 12, 15), 900),
    Contract("K10", "A6", D(2024, 1, 1), D(2024, 12, 31), 400),
    # A7: a successor exactly 30 days after the end (renewed), then one 31 days after (not).
    Contract("K12", "A7", D(2023, 1, 1), D(2023, 6, 30), 100),
    Contract("K13", "A7", D(2023, 7, 30), D(2023, 12, 31), 100),
    Contract("K14", "A7", D(2024, 1, 31), None, 100),
]


@pytest.fixture(scope="module")
def renewals(new_workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("renewals")
    ws = new_workspace(folder)
    load(ws, folder, "accounts", ["account_id", "segment"], SEGMENTS.items())
    opps = [
        [f"W{c.id}", f"{c.start}T09:00:00Z", c.account, "won", f"{c.start}T10:00:00Z", 1, None, None] for c in RENEWALS
    ]
    opps.append(["END", f"{RENEWAL_END}T12:00:00Z", None, "open", None, None, None, None])  # the data's last day
    load(ws, folder, "opportunities", OPP, opps)
    load(ws, folder, "contracts", CONTRACT, contract_rows(RENEWALS))
    yield ws
    ws.close()


def test_renewals_by_link_and_by_date_within_grace(renewals: Workspace) -> None:
    rows = renewals.kpi(["renewal_rate"], grain="quarter", output="rows")
    q = by_period(rows, "renewal_rate")
    assert list(q) == [f"{y}-Q{n}" for y in (2023, 2024) for n in (1, 2, 3, 4)]
    # 2023-Q2: K12, renewed by K13 starting exactly 30 days after its end.
    assert (q["2023-Q2"]["numerator"], q["2023-Q2"]["denominator"]) == (1, 1)
    # 2023-Q4 ending: K1 (link), K3 (20 days), K5 (46 days: no), K7 (29 days before), K13 (31 days: no).
    r = q["2023-Q4"]
    assert (r["numerator"], r["denominator"], r["renewed_by_link"]) == (3, 5, 1)
    assert r["value"] == pytest.approx(3 / 5)
    assert r["ci_low"] < 3 / 5 < r["ci_high"]
    assert "small_sample" in r["flags"]
    # By yearly value: renewed K1 1200 + K3 2000/24*12 + K7 500, of 1200 + 1000 + 800 + 500 + 100.
    assert r["value_renewed"] == pytest.approx(2700)
    assert r["value_ending"] == pytest.approx(3600)
    assert r["renewal_rate_by_value"] == pytest.approx(0.75)
    # 2024-Q2: K6 lapses. 2024-Q4: K8 lapsed; K9 and K10 are within their grace days at the data's end.
    assert (q["2024-Q2"]["numerator"], q["2024-Q2"]["denominator"]) == (0, 1)
    r = q["2024-Q4"]
    assert (r["numerator"], r["denominator"], r["pending"], r["value"]) == (0, 3, 2, 0.0)
    assert "pending_renewals" in r["flags"]
    # Empty periods: no value, a reason, never 0.
    for period in ("2023-Q1", "2023-Q3", "2024-Q1", "2024-Q3"):
        assert q[period]["value"] is None and q[period]["denominator"] == 0
        assert q[period]["reason"] == "no contract ended in the period"
        assert q[period]["renewal_rate_by_value"] is None


def test_renewals_match_the_reference_for_every_grace(renewals: Workspace, tmp_path: Path) -> None:
    for grace in (0, 29, 30, 46):
        renewals.set_setting("renewal_grace_days", str(grace))
        try:
            rows = renewals.kpi(["renewal_rate"], grain="quarter", output="rows")
        finally:
            renewals.set_setting("renewal_grace_days", "30")
        got = by_period(rows, "renewal_rate")
        for label, first, last in quarter_bounds(D(2023, 1, 1), RENEWAL_END):
            ending = [c for c in RENEWALS if c.end is not None and first <= c.end <= last and c.end <= RENEWAL_END]
            kept = [c for c in ending if renewed(c, RENEWALS, grace)]
            row = got[label]
            assert (row["numerator"], row["denominator"]) == (len(kept), len(ending)), (grace, label)
            assert close(row["value_renewed"], sum(c.yearly for c in kept)), (grace, label)
    # By hand: with no grace, only the link renews in 2023-Q4; with 46 days, K5 and K13 renew too.
    assert [renewed_in_2023_q4(renewals, grace) for grace in (0, 29, 30, 46)] == [1, 3, 3, 5]


def renewed_in_2023_q4(ws: Workspace, grace: int) -> int:
    ws.set_setting("renewal_grace_days", str(grace))
    try:
        rows = ws.kpi(["renewal_rate"], grain="quarter", output="rows")
    finally:
        ws.set_setting("renewal_grace_days", "30")
    numerator: int = by_period(rows, "renewal_rate")["2023-Q4"]["numerator"]
    return numerator


def test_renewals_by_segment_and_after_the_data(renewals: Workspace) -> None:
    rows = renewals.kpi(["renewal_rate"], grain="quarter", by="segment", output="rows")
    smb = by_period(rows, "renewal_rate", segment="smb")["2023-Q4"]  # K1 yes, K3 yes, K13 no
    mid = by_period(rows, "renewal_rate", segment="mid")["2023-Q4"]  # K5 no, K7 yes
    assert (smb["numerator"], smb["denominator"], mid["numerator"], mid["denominator"]) == (2, 3, 1, 2)
    assert {r["segment"] for r in rows} == {"smb", "mid", "ent"}
    # K2 ends on 2025-02-28, after the data's last day: 2025-Q1 has nothing to measure yet.
    rows = renewals.kpi(["renewal_rate"], grain="quarter", start="2024-10-01", end="2025-03-31", output="rows")
    q = by_period(rows, "renewal_rate")
    assert q["2024-Q4"]["denominator"] == 3
    assert q["2025-Q1"]["value"] is None and q["2025-Q1"]["denominator"] == 0
    assert "after the data's last day" in q["2025-Q1"]["reason"]


# -- activity, retention, ARPA, cohorts with contracts --------------------------------------------

DATA_END = D(2024, 11, 15)
ACCOUNTS = {"B1": "smb", "B2": "smb", "B3": "mid", "B4": "mid", "B5": "ent"}
CONTRACTS = [
    Contract("C1", "B1", D(2024, 1, 1), D(2024, 12, 31), 1000),
    Contract("C2", "B1", D(2024, 8, 1), None, 500),  # upsell in Q3
    Contract("C3", "B2", D(2023, 7, 1), D(2024, 5, 15), 2000),  # churns in Q2
    Contract("C4", "B3", D(2024, 1, 1), D(2024, 4, 30), 1200),  # downsell in Q2: C4 ends, C5 stays
    Contract("C5", "B3", D(2024, 4, 1), D(2025, 3, 31), 600),
    Contract("C6", "B4", D(2024, 2, 10), None, 3000),  # new customer in Q1
    Contract("C7", "B5", D(2023, 1, 1), D(2024, 12, 31), 24000, term=24),  # yearly 12000
]
# (id, account, local close day, amount, channel): the first win of each account acquires it.
WINS = [
    ("O1", "B1", D(2024, 1, 1), 1000, "web"),
    ("O2", "B1", D(2024, 7, 20), 500, "web"),
    ("O3", "B2", D(2023, 6, 20), 2000, "events"),
    ("O4", "B3", D(2023, 12, 20), 1200, "events"),
    ("O5", "B3", D(2024, 3, 25), 600, "events"),
    ("O6", "B4", D(2024, 2, 5), 3000, "events"),
    ("O7", "B5", D(2022, 12, 15), 24000, "web"),
]
COSTS = [
    (D(2023, 2, 1), 700, "web"),  # a quarter without any new customer
    (D(2023, 4, 1), 500, "events"),
    (D(2023, 10, 1), 2000, "events"),
    (D(2024, 1, 1), 3000, "web"),
    (D(2024, 2, 1), 1500, "events"),
]


@pytest.fixture(scope="module")
def book(new_workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("book")
    ws = new_workspace(folder)
    load(ws, folder, "accounts", ["account_id", "segment"], ACCOUNTS.items())
    opps: list[list[Any]] = [
        [o, f"{day}T08:00:00Z", account, "won", f"{day}T10:00:00Z", amount, None, channel]
        for o, account, day, amount, channel in WINS
    ]
    opps.append(["LOST", "2024-03-01T10:00:00Z", "B2", "lost", "2024-03-05T10:00:00Z", 999, None, None])
    opps.append(["END", f"{DATA_END}T12:00:00Z", None, "open", None, None, None, None])  # the data's last day
    load(ws, folder, "opportunities", OPP, opps)
    load(ws, folder, "contracts", CONTRACT, contract_rows(CONTRACTS))
    load(ws, folder, "costs", ["period_start", "amount", "channel"], COSTS)
    yield ws
    ws.close()


def test_logo_retention_counts_churned_customers_only(book: Workspace) -> None:
    rows = book.kpi(["logo_retention"], grain="quarter", output="rows")
    q = by_period(rows, "logo_retention")
    # First data day: B5's first win, 2022-12-15. On 2022-10-01 nobody is active yet.
    assert q["2022-Q4"]["value"] is None and q["2022-Q4"]["reason"] == "no customer active on the period's first day"
    # 2024-Q1: B1, B2, B3, B5 on 1 January, all still there on 31 March (B4, new, is not counted).
    assert (q["2024-Q1"]["numerator"], q["2024-Q1"]["denominator"]) == (4, 4)
    # 2024-Q2: B1..B5 on 1 April; B2's contract ended on 15 May.
    assert (q["2024-Q2"]["numerator"], q["2024-Q2"]["denominator"], q["2024-Q2"]["churned"]) == (4, 5, 1)
    assert q["2024-Q2"]["value"] == pytest.approx(0.8)
    # 2024-Q4 is measured up to the data's last day (15 November).
    assert (q["2024-Q4"]["numerator"], q["2024-Q4"]["denominator"]) == (4, 4)
    assert "partial_period" in q["2024-Q4"]["flags"]
    # The reference, quarter by quarter.
    for label, first, last in quarter_bounds(D(2022, 12, 15), DATA_END):
        last = min(last, DATA_END)
        start = {a for a in ACCOUNTS if contract_value(CONTRACTS, a, first) is not None}
        kept = {a for a in start if contract_value(CONTRACTS, a, last) is not None}
        assert (q[label]["numerator"], q[label]["denominator"]) == (len(kept), len(start)), label


def test_upsells_raise_net_retention_above_one_while_gross_stays_at_most_one(book: Workspace) -> None:
    rows = book.kpi(["net_revenue_retention", "gross_revenue_retention"], grain="quarter", output="rows")
    nrr, grr = by_period(rows, "net_revenue_retention"), by_period(rows, "gross_revenue_retention")
    # 2024-Q1: start B1 1000 + B2 2000 + B3 1200 + B5 12000 = 16200, the same on 31 March.
    assert nrr["2024-Q1"]["denominator"] == pytest.approx(16200) and nrr["2024-Q1"]["value"] == pytest.approx(1)
    # 2024-Q2: start B1 1000, B2 2000, B3 1200 + 600, B4 3000, B5 12000 = 19800; end: B2 gone, B3 600.
    assert nrr["2024-Q2"]["value"] == pytest.approx(16600 / 19800)
    assert grr["2024-Q2"]["value"] == pytest.approx(16600 / 19800)
    # 2024-Q3: B1's upsell: start 16600, end 17100; gross caps B1 at its start value.
    assert nrr["2024-Q3"]["value"] == pytest.approx(17100 / 16600)
    assert nrr["2024-Q3"]["value"] > 1
    assert grr["2024-Q3"]["value"] == pytest.approx(1.0)
    assert nrr["2024-Q3"]["numerator"] == pytest.approx(17100) and nrr["2024-Q3"]["customers"] == 4
    for label, first, last in quarter_bounds(D(2022, 12, 15), DATA_END):
        last = min(last, DATA_END)
        start = {a: v for a in ACCOUNTS if (v := contract_value(CONTRACTS, a, first)) is not None}
        end = {a: contract_value(CONTRACTS, a, last) or 0.0 for a in start}
        den = sum(start.values())
        assert close(nrr[label]["value"], sum(end.values()) / den if den else None), label
        assert close(grr[label]["value"], sum(min(end[a], v) for a, v in start.items()) / den if den else None), label
        if grr[label]["value"] is not None:
            assert grr[label]["value"] <= 1 + 1e-12
            assert grr[label]["value"] <= nrr[label]["value"] + 1e-12


def test_arpa_is_revenue_over_customers_active_during_the_period(book: Workspace) -> None:
    rows = book.kpi(["arpa"], grain="quarter", output="rows")
    q = by_period(rows, "arpa")
    # 2023-Q4: B3's 1200 won, but only B2 and B5 hold a contract then: 1200 / 2.
    assert (q["2023-Q4"]["numerator"], q["2023-Q4"]["denominator"]) == (1200, 2)
    # 2024-Q1: 1000 + 600 + 3000 won; B1..B5 all active at some day.
    assert q["2024-Q1"]["value"] == pytest.approx(4600 / 5)
    assert q["2024-Q1"]["growth"] == pytest.approx(920 / 600 - 1)
    # 2024-Q2: nothing won: 0 (there are customers), growth -100%; Q3: 500 over B1, B3, B4, B5.
    assert q["2024-Q2"]["value"] == 0 and q["2024-Q2"]["growth"] == pytest.approx(-1)
    assert q["2024-Q3"]["value"] == pytest.approx(125) and q["2024-Q3"]["previous"] == 0
    assert q["2024-Q3"]["growth"] is None  # nothing to grow from
    # 2022-Q4: B5 won 24000 but its contract starts in 2023: no active customer, no value.
    assert q["2022-Q4"]["value"] is None and q["2022-Q4"]["reason"] == "no customer active in the period"
    for label, first, last in quarter_bounds(D(2022, 12, 15), DATA_END):
        won = sum(amount for _, _, day, amount, _ in WINS if first <= day <= last)
        active = {c.account for c in CONTRACTS if c.start <= min(last, DATA_END) and (c.end is None or c.end >= first)}
        assert close(q[label]["value"], won / len(active) if active else None), label
    # By segment and with a filter: smb holds B1 and B2.
    rows = book.kpi(["arpa"], grain="quarter", by="segment", output="rows")
    assert by_period(rows, "arpa", segment="smb")["2024-Q1"]["value"] == pytest.approx(1000 / 2)
    rows = book.kpi(["arpa"], grain="quarter", filters={"segment": "mid"}, output="rows")
    assert by_period(rows, "arpa")["2024-Q1"]["value"] == pytest.approx(3600 / 2)


def test_cohort_retention_rows_for_each_period_since_acquisition(book: Workspace) -> None:
    rows = book.kpi(["cohort_retention"], grain="quarter", output="rows")
    # Cohort 2023-Q2 = {B2}: its contract starts on 1 July (inactive at the end of Q2), ends 15 May 2024.
    b2 = cohort(rows, "cohort_retention", "2023-Q2")
    assert [r["periods_since"] for r in b2] == list(range(7))  # 2023-Q2 .. 2024-Q4
    assert [r["numerator"] for r in b2] == [0, 1, 1, 1, 0, 0, 0]
    assert {r["cohort_size"] for r in b2} == {1}
    assert [r["measured_on"] for r in b2][:2] == ["2023-06-30", "2023-09-30"]
    assert b2[-1]["measured_on"] == str(DATA_END) and b2[-1]["flags"] == ["partial_period", "small_sample"]
    # Cohort 2024-Q1 = {B1, B4}: active throughout.
    q1 = cohort(rows, "cohort_retention", "2024-Q1")
    assert [(r["periods_since"], r["active"], r["cohort_size"], r["value"]) for r in q1] == [
        (0, 2, 2, 1.0),
        (1, 2, 2, 1.0),
        (2, 2, 2, 1.0),
        (3, 2, 2, 1.0),
    ]
    assert all(r["ci_low"] < 1.0 and r["ci_high"] == pytest.approx(1.0) for r in q1)
    # Cohorts without customers: one row, no periods_since, a reason.
    for empty in ("2023-Q1", "2023-Q3", "2024-Q2", "2024-Q3", "2024-Q4"):
        (row,) = cohort(rows, "cohort_retention", empty)
        assert row["periods_since"] is None and row["value"] is None and row["cohort_size"] == 0
        assert row["reason"] == "no customer acquired in the period"
    # The reference: every customer, every k.
    acquired: dict[str, D] = {}
    for _, account, day, _, _ in sorted(WINS, key=lambda w: w[2]):
        acquired.setdefault(account, day)
    for label, first, _ in quarter_bounds(D(2022, 12, 15), DATA_END):
        members = [a for a, day in acquired.items() if first <= day < add_months(first, 3)]
        series = [r for r in cohort(rows, "cohort_retention", label) if r["periods_since"] is not None]
        assert len(series) == (len(quarter_bounds(first, DATA_END)) if members else 0), label
        if not members:
            continue
        for r, (_, _, last) in zip(series, quarter_bounds(first, DATA_END), strict=True):
            day = min(last, DATA_END)
            n = sum(1 for a in members if contract_value(CONTRACTS, a, day) is not None)
            assert (r["numerator"], r["denominator"], r["measured_on"]) == (n, len(members), str(day)), label


def test_cohort_profitability_and_payback(book: Workspace) -> None:
    rows = book.kpi(["cohort_profitability"], grain="quarter", output="rows")
    # 2024-Q1 = {B1, B4}, costs 3000 + 1500; won 1000 + 3000 in Q1, then B1's 500 in Q3: pays back at k = 2.
    q1 = cohort(rows, "cohort_profitability", "2024-Q1")
    assert [r["value"] for r in q1] == [-500, -500, 0, 0]
    assert [r["revenue"] for r in q1] == [4000, 4000, 4500, 4500]
    assert {r["acquisition_cost"] for r in q1} == {4500} and {r["payback_period"] for r in q1} == {2}
    # 2023-Q4 = {B3}, costs 2000: won 1200, then 600 in 2024-Q1: never pays back.
    q4 = cohort(rows, "cohort_profitability", "2023-Q4")
    assert [r["value"] for r in q4] == [-800, -200, -200, -200, -200]
    assert {r["payback_period"] for r in q4} == {None}
    # 2022-Q4 = {B5} without costs: pays back at once, and says there were no costs.
    q0 = cohort(rows, "cohort_profitability", "2022-Q4")
    assert q0[0]["value"] == 24000 and q0[0]["payback_period"] == 0 and "no_costs" in q0[0]["flags"]
    # 2023-Q1: costs but no customer.
    (row,) = cohort(rows, "cohort_profitability", "2023-Q1")
    assert row["acquisition_cost"] == 700 and row["value"] is None and row["periods_since"] is None
    # By channel, like CAC: web = {B1} against 3000, events = {B4} against 1500.
    rows = book.kpi(["cohort_profitability"], grain="quarter", by="channel", output="rows")
    web = cohort(rows, "cohort_profitability", "2024-Q1", channel="web")
    events = cohort(rows, "cohort_profitability", "2024-Q1", channel="events")
    assert [r["value"] for r in web] == [-2000, -2000, -1500, -1500] and web[0]["payback_period"] is None
    assert [r["value"] for r in events] == [1500] * 4 and events[0]["payback_period"] == 0


def test_a_range_picks_the_cohorts_and_periods(book: Workspace) -> None:
    rows = book.kpi(CUSTOMER_KPIS, grain="quarter", start="2024-01-01", end="2025-03-31", output="rows")
    for name in CUSTOMER_KPIS:
        assert {r["period"] for r in rows if r["kpi"] == name} == {
            f"{q}" for q in ("2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1")
        }, name
    after = [r for r in rows if r["period"] == "2025-Q1"]
    assert after and all(r["value"] is None and "after the data's last day" in r["reason"] for r in after)
    # The cohort of 2024-Q1 is still followed to the data's end; ARPA's growth reaches before --from.
    assert len(cohort(rows, "cohort_retention", "2024-Q1")) == 4
    assert by_period(rows, "arpa")["2024-Q1"]["previous"] == pytest.approx(600)


# -- without contracts: the trailing window of wins -------------------------------------------------

WINDOW_END = D(2024, 8, 31)
# (id, account, close time UTC, amount); Paris: D3's deal closes at 00:30 on 1 April, local time.
FALLBACK_WINS = [
    ("F1", "D1", "2024-01-10T10:00:00Z", 100),
    ("F2", "D1", "2024-05-20T10:00:00Z", 300),
    ("F3", "D2", "2024-02-29T10:00:00Z", 200),
    ("F4", "D3", "2024-03-31T22:30:00Z", 400),
]
FALLBACK_LOCAL = {"F1": D(2024, 1, 10), "F2": D(2024, 5, 20), "F3": D(2024, 2, 29), "F4": D(2024, 4, 1)}


@pytest.fixture(scope="module")
def window(new_workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("window")
    ws = new_workspace(folder)
    ws.set_setting("timezone", "Europe/Paris")
    ws.set_setting("active_window_months", "3")
    load(ws, folder, "accounts", ["account_id", "segment"], [("D1", "smb"), ("D2", "smb"), ("D3", "mid")])
    opps: list[list[Any]] = [
        [o, "2024-01-01T09:00:00Z", a, "won", t, amount, None, None] for o, a, t, amount in FALLBACK_WINS
    ]
    opps.append(["END", f"{WINDOW_END}T10:00:00Z", None, "open", None, None, None, None])
    load(ws, folder, "opportunities", OPP, opps)
    yield ws
    ws.close()


def window_value(account: str, day: D, months: int) -> float | None:
    """Won amounts of ``account`` on the local days in (day - months, day]; None when there are none."""
    amounts = [
        amount
        for o, a, _, amount in FALLBACK_WINS
        if a == account and add_months(day, -months) < FALLBACK_LOCAL[o] <= day
    ]
    return float(sum(amounts)) if amounts else None


def month_bounds(first: D, last: D) -> list[tuple[str, D, D]]:
    out = []
    start = first.replace(day=1)
    while start <= last:
        nxt = add_months(start, 1)
        out.append((f"{start.year}-{start.month:02d}", start, nxt - dt.timedelta(days=1)))
        start = nxt
    return out


def test_without_contracts_a_customer_is_active_for_the_trailing_window(window: Workspace) -> None:
    rows = window.kpi(["logo_retention", "net_revenue_retention", "renewal_rate"], grain="month", output="rows")
    logo, nrr = by_period(rows, "logo_retention"), by_period(rows, "net_revenue_retention")
    # April: D1 (10 Jan), D2 (29 Feb), D3 (1 April, local) on 1 April; on 30 April D1's win is
    # more than 3 months old. May: D2's win of 29 Feb drops out on 29 May; D1 is back (20 May)
    # but was not active on 1 May, so it is not in the base.
    assert (logo["2024-04"]["numerator"], logo["2024-04"]["denominator"]) == (2, 3)
    assert nrr["2024-04"]["value"] == pytest.approx(600 / 700)
    assert (logo["2024-05"]["numerator"], logo["2024-05"]["denominator"]) == (1, 2)
    assert nrr["2024-05"]["value"] == pytest.approx(400 / 600)
    # March: D3's deal is April's in Paris, so only D1 and D2.
    assert logo["2024-03"]["denominator"] == 2
    for label, first, last in month_bounds(D(2024, 1, 10), WINDOW_END):
        last = min(last, WINDOW_END)
        start = {a: v for a in ("D1", "D2", "D3") if (v := window_value(a, first, 3)) is not None}
        end = {a: window_value(a, last, 3) for a in start}
        kept = [a for a, v in end.items() if v is not None]
        assert (logo[label]["numerator"], logo[label]["denominator"]) == (len(kept), len(start)), label
        den = sum(start.values())
        assert close(nrr[label]["value"], sum(v or 0.0 for v in end.values()) / den if den else None), label
    # No contracts, no renewals: every period says so.
    assert {r["reason"] for r in rows if r["kpi"] == "renewal_rate"} == {"the workspace has no contracts"}


def test_without_contracts_the_window_setting_and_cohorts(window: Workspace) -> None:
    rows = window.kpi(["cohort_retention", "arpa"], grain="month", output="rows")
    # D3 is April's customer in Paris (31 March, 22:30 UTC): February holds D2, March nobody.
    assert {r["cohort_size"] for r in cohort(rows, "cohort_retention", "2024-02")} == {1}
    assert {r["cohort_size"] for r in cohort(rows, "cohort_retention", "2024-03")} == {0}
    april = cohort(rows, "cohort_retention", "2024-04")
    # D3 (1 April) stays active through June (window: 3 months), not on 31 July.
    assert [r["numerator"] for r in april] == [1, 1, 1, 0, 0]
    # ARPA in May: D1's 300 won; active at some day of May: D1 (20 May), D2 (to 28 May), D3.
    assert by_period(rows, "arpa")["2024-05"]["value"] == pytest.approx(300 / 3)
    window.set_setting("active_window_months", "12")
    try:
        rows = window.kpi(["logo_retention"], grain="month", output="rows")
    finally:
        window.set_setting("active_window_months", "3")
    logo = by_period(rows, "logo_retention")
    assert all(r["value"] in (None, 1.0) for r in logo.values())  # nobody's win is a year old yet
    assert (logo["2024-08"]["numerator"], logo["2024-08"]["denominator"]) == (3, 3)


# -- the product around them ------------------------------------------------------------------------


def test_catalogue_declares_them_and_the_runner_registers_their_builders(book: Workspace) -> None:
    assert book.kpi(["logo_retention"], output="rows")  # through the runner, which registers the builders
    assert set(CUSTOMER_KPIS) <= set(CUSTOM)
    with pytest.raises(ParameterError, match="only defined by"):
        book.kpi(["cohort_retention"], grain="all", output="rows")
    with pytest.raises(ParameterError, match="cannot be split"):
        book.kpi(["renewal_rate"], by="rep", output="rows")
    explained = book.kpi_result(["net_revenue_retention"], grain="quarter").sql["net_revenue_retention"]
    assert explained[0].startswith("-- net_revenue_retention") and any("contracts" in s for s in explained)


def test_mixed_kpis_keep_every_column_in_arrow(book: Workspace) -> None:
    table = book.kpi(["revenue", "cohort_retention", "renewal_rate"], grain="quarter")
    for column in ("previous", "periods_since", "cohort_size", "renewal_rate_by_value", "ci_low"):
        assert column in table.column_names


def test_an_empty_store_gives_no_rows_and_no_error(ws: Workspace) -> None:
    assert ws.kpi(CUSTOMER_KPIS, grain="quarter", output="rows") == []
    rows = ws.kpi(CUSTOMER_KPIS, grain="quarter", start="2024-01-01", end="2024-06-30", output="rows")
    assert rows and all(r["value"] is None and r["reason"] for r in rows)


# -- the demo company: invariants -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = salespilot.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    ws.demo("small")
    yield ws
    ws.close()


def test_demo_company_invariants(demo: Workspace) -> None:
    rows = demo.kpi([*CUSTOMER_KPIS, "new_customers"], grain="quarter", output="rows")
    for r in rows:
        assert (r["value"] is None) == (r["reason"] is not None), r
        if r["kpi"] in ("renewal_rate", "logo_retention", "cohort_retention") and r["value"] is not None:
            assert 0 <= r["numerator"] <= r["denominator"] and r["value"] == r["numerator"] / r["denominator"]
            assert r["ci_low"] - 1e-12 <= r["value"] <= r["ci_high"] + 1e-12
        if r["kpi"] == "renewal_rate" and r["renewal_rate_by_value"] is not None:
            assert 0 <= r["renewal_rate_by_value"] <= 1
    nrr, grr = by_period(rows, "net_revenue_retention"), by_period(rows, "gross_revenue_retention")
    logo = by_period(rows, "logo_retention")
    assert any(r["value"] is not None for r in grr.values())
    for period, g in grr.items():
        if g["value"] is not None:
            assert 0 <= g["value"] <= 1 + 1e-12 and g["value"] <= nrr[period]["value"] + 1e-12
            assert nrr[period]["customers"] == logo[period]["denominator"]
    # Cohorts: contiguous k from 0, sizes = new customers of the period, payback = first k >= 0.
    new = by_period(rows, "new_customers")
    periods = sorted({r["period"] for r in rows if r["kpi"] == "cohort_profitability"})
    for period in periods:
        retention = cohort(rows, "cohort_retention", period)
        profit = cohort(rows, "cohort_profitability", period)
        assert retention[0]["cohort_size"] == profit[0]["cohort_size"] == new.get(period, {}).get("value", 0)
        if profit[0]["periods_since"] is None:
            continue
        assert [r["periods_since"] for r in profit] == list(range(len(profit)))
        assert [r["periods_since"] for r in retention] == list(range(len(profit)))
        values = [r["value"] for r in profit]
        assert values == sorted(values)  # cumulative revenue never falls
        assert all(math.isclose(r["value"], r["revenue"] - r["acquisition_cost"]) for r in profit)
        payback = next((k for k, v in enumerate(values) if v >= 0), None)
        assert {r["payback_period"] for r in profit} == {payback}
    # Logo retention and renewals recomputed from the raw contracts.
    raw = demo.sql("SELECT contract_id, account_id, start_date, end_date, renews_contract_id FROM contracts")
    contracts = [
        Contract(r["contract_id"], r["account_id"], r["start_date"], r["end_date"], 0.0, renews=r["renews_contract_id"])
        for r in raw.to_pylist()
    ]
    end = demo.sql("SELECT max(closed_at) AS c, max(created_at) AS o FROM opportunities").to_pylist()[0]
    activities = demo.sql("SELECT max(occurred_at) AS a FROM activities").to_pylist()[0]["a"]
    leads = demo.sql("SELECT max(created_at) AS l FROM leads").to_pylist()[0]["l"]
    data_end = max(end["c"], end["o"], activities, leads).date()
    accounts = {c.account for c in contracts}
    by_account: dict[str, list[Contract]] = {}
    for c in contracts:
        by_account.setdefault(c.account, []).append(c)
    renewals = by_period(rows, "renewal_rate")
    first_day = min(c.start for c in contracts)
    for label, first, last in quarter_bounds(first_day, data_end):
        last = min(last, data_end)
        start = {a for a in accounts if any(c.covers(first) for c in by_account[a])}
        kept = {a for a in start if any(c.covers(last) for c in by_account[a])}
        assert (logo[label]["numerator"], logo[label]["denominator"]) == (len(kept), len(start)), label
        ending = [c for c in contracts if c.end is not None and first <= c.end <= last]
        done = [c for c in ending if renewed(c, contracts, 30)]
        assert (renewals[label]["numerator"], renewals[label]["denominator"]) == (len(done), len(ending)), label
