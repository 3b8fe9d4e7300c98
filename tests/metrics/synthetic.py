"""A small synthetic CRM (two years, every table), written as CSV files for the cross-check tests.

Deterministic (seeded), and made to hold the traps: leads with several opportunities,
opportunities with several activities, open deals, USD amounts, costs without a channel,
timestamps at any hour of the day (so that local periods differ from UTC ones near midnight),
reps without a team, blank channels and segments.

It steers clear of the bugs the focused tests document (so that the cross-check tests what is
right and the xfail tests say what is wrong): USD deals do not close between 22:00 and 24:00 UTC
(fx rate of the UTC vs local day), a lead that has an account always has a channel (new
customers' channel fallback), web contacts always outnumber leads (contact_to_lead_rate > 1).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from tests.metrics.reference import write_csv

FIRST = dt.datetime(2023, 1, 1, 0, 0)
LAST = dt.datetime(2024, 12, 30, 20, 0)  # nothing after this but the closing activity
CLOSING_ACTIVITY = "2024-12-31T12:00:00Z"  # the data's last timestamp (same day in UTC and Paris)

REPS = [("R1", "North"), ("R2", "North"), ("R3", "South"), ("R4", "South"), ("R5", "West"), ("R6", "")]
CHANNELS = ["web", "events", "partner"]
CAMPAIGNS = [("C1", "web"), ("C2", "events"), ("C3", "web"), ("C4", "partner")]
SEGMENTS = ["smb", "mid", "enterprise"]

# Import order: referenced tables first.
TABLES = (
    "reps",
    "accounts",
    "leads",
    "opportunities",
    "activities",
    "costs",
    "web_traffic",
    "campaign_stats",
    "market_size",
    "fx_rates",
    "targets",
)


def _stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(rng: random.Random, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    seconds = int((high - low).total_seconds())
    return low + dt.timedelta(seconds=rng.randrange(seconds // 60) * 60)


# Daylight-saving changes in Paris (UTC): elapsed time and local wall-clock time differ across them.
DST_CHANGES = [
    dt.datetime(y, m, d, 1) for y, m, d in ((2023, 3, 26), (2023, 10, 29), (2024, 3, 31), (2024, 10, 27), (2025, 3, 30))
]


def _same_clock(created: dt.datetime, closed: dt.datetime) -> dt.datetime:
    """Move ``created`` after the last daylight-saving change before ``closed``, if one lies between.

    The sales cycle is then the same in elapsed and in wall-clock time; the difference is the
    subject of test_kpi_calendar.py::test_sales_cycle_counts_local_days_across_daylight_saving.
    """
    between = [c for c in DST_CHANGES if created < c <= closed]
    return between[-1] + min(dt.timedelta(hours=1), (closed - between[-1]) / 2) if between else created


def build(directory: Path, seed: int = 20240331) -> dict[str, Path]:
    """Write one CSV per table into ``directory``; returns the paths by table, in import order."""
    rng = random.Random(seed)
    files: dict[str, Path] = {}

    def save(table: str, header: list[str], rows: list[list[object]]) -> None:
        files[table] = write_csv(directory / f"{table}.csv", header, rows)

    save("reps", ["rep_id", "name", "team", "role"], [[r, f"Rep {r}", t, "ae"] for r, t in REPS])

    accounts = [f"A{i:02d}" for i in range(1, 41)]
    save(
        "accounts",
        ["account_id", "name", "segment", "industry", "country"],
        [
            [
                a,
                f"Company {a}",
                rng.choice([*SEGMENTS, ""]),
                rng.choice(["tech", "retail", "health"]),
                rng.choice(["FR", "DE", "US"]),
            ]
            for a in accounts
        ],
    )

    leads = []
    for i in range(1, 401):
        created = _moment(rng, FIRST, LAST - dt.timedelta(days=30))
        account = rng.choice(accounts) if rng.random() < 0.7 else ""
        channel = rng.choice(CHANNELS) if account or rng.random() < 0.7 else ""
        campaign = rng.choice([c for c, ch in CAMPAIGNS if ch == channel] + [""]) if channel else ""
        owner = rng.choice([r for r, _ in REPS] + [""])
        leads.append([f"L{i:03d}", _stamp(created), channel, campaign, account, owner, "open"])
    save("leads", ["lead_id", "created_at", "channel", "campaign", "account_id", "owner_id", "status"], leads)

    opps = []
    for i in range(1, 261):
        if rng.random() < 0.7:
            lead = rng.choice(leads)  # leads drawn twice have several opportunities
            lead_id, account = lead[0], lead[4]
            lead_at = dt.datetime.strptime(lead[1], "%Y-%m-%dT%H:%M:%SZ")
            created = _moment(rng, lead_at, min(lead_at + dt.timedelta(days=60), LAST))
            channel = rng.choice(CHANNELS) if rng.random() < 0.2 else ""
        else:
            lead_id, account = "", rng.choice(accounts)
            created = _moment(rng, FIRST, LAST - dt.timedelta(days=5))
            channel = rng.choice([*CHANNELS, ""])
        currency = rng.choice(["EUR", "EUR", "", "USD", "usd"])
        outcome = rng.choice(["won", "won", "lost", "open"])
        closed = created + dt.timedelta(days=rng.uniform(0.5, 150))
        if currency.upper() == "USD" and closed.hour >= 22:
            closed -= dt.timedelta(hours=3)  # see the module docstring
        if outcome == "open" or closed > LAST:
            outcome, closed_text = "open", ""
        else:
            created = _same_clock(created, closed)
            closed_text = _stamp(closed)
        amount = rng.randrange(100, 20000)
        margin = round(amount * rng.uniform(0.3, 0.8), 2) if rng.random() < 0.5 else ""
        stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(outcome) or rng.choice(["Discovery", "Proposal"])
        opps.append(
            [
                f"O{i:03d}",
                _stamp(created),
                lead_id,
                account,
                rng.choice([r for r, _ in REPS] + [""]),
                stage,
                amount,
                margin,
                currency,
                closed_text,
                outcome,
                rng.choice(["P1", "P2", "P3", ""]),
                channel,
                rng.choice(["new", "renewal", "upsell", ""]),
            ]
        )
    # Won deals closed just before a local midnight that starts a new month, week or year (EUR, so
    # the fx day does not matter): UTC says one period, Paris the next.
    for i, closed_text in enumerate(
        [
            "2023-03-31T22:30:00Z",  # 00:30 on 1 April (summer time)
            "2023-10-31T23:30:00Z",  # 00:30 on 1 November (winter time)
            "2023-12-31T23:30:00Z",  # 00:30 on 1 January 2024
            "2024-01-31T23:10:00Z",  # 00:10 on 1 February
            "2024-06-30T22:15:00Z",  # 00:15 on 1 July: a new quarter
            "2024-12-29T23:30:00Z",  # 00:30 on Monday 30 December: 2025-W01
        ]
    ):
        closed = dt.datetime.strptime(closed_text, "%Y-%m-%dT%H:%M:%SZ")
        created = _same_clock(closed - dt.timedelta(days=20 + i), closed)
        opps.append([f"B{i}", _stamp(created), "", rng.choice(accounts), "R3", "Closed Won", 1000 + i, "", "EUR",
                     closed_text, "won", "P1", "events", "new"])  # fmt: skip
    save(
        "opportunities",
        [
            "opportunity_id",
            "created_at",
            "lead_id",
            "account_id",
            "owner_id",
            "stage",
            "amount",
            "margin",
            "currency",
            "closed_at",
            "outcome",
            "product",
            "channel",
            "type",
        ],
        opps,
    )

    activities = []
    for i in range(1, 501):
        opp = rng.choice(opps)  # opportunities drawn twice have several activities
        activities.append(
            [
                f"X{i:03d}",
                rng.choice([r for r, _ in REPS]),
                rng.choice(["call", "email", "meeting", "demo"]),
                _stamp(_moment(rng, FIRST, LAST)),
                opp[0],
                opp[3],
            ]
        )
    activities.append(["X999", "R1", "call", CLOSING_ACTIVITY, "", ""])
    save("activities", ["activity_id", "rep_id", "type", "occurred_at", "opportunity_id", "account_id"], activities)

    months = [dt.date(2023 + m // 12, m % 12 + 1, 1) for m in range(24)]
    costs = []
    for month in months:
        for channel in CHANNELS:
            currency = "USD" if channel == "partner" else "EUR"
            costs.append([month.isoformat(), rng.randrange(500, 5000), "marketing", channel, "", currency])
        campaign, channel = rng.choice(CAMPAIGNS)
        costs.append([month.isoformat(), rng.randrange(100, 900), "marketing", channel, campaign, ""])
        costs.append([month.isoformat(), rng.randrange(2000, 9000), "sales", "", "", ""])  # no channel
    save("costs", ["period_start", "amount", "category", "channel", "campaign", "currency"], costs)

    web = []
    day = FIRST.date()
    while day <= LAST.date():
        for channel in CHANNELS:
            web.append([day.isoformat(), channel, rng.randrange(50, 300), rng.randrange(5, 20)])
        day += dt.timedelta(days=1)
    save("web_traffic", ["date", "channel", "visitors", "contacts"], web)

    stats = []
    day = FIRST.date()
    while day <= LAST.date():
        for campaign, channel in CAMPAIGNS:
            if rng.random() < 0.8:
                impressions = rng.randrange(200, 5000)
                engagements = rng.randrange(0, 60)
                stats.append([day.isoformat(), campaign, channel, impressions, engagements + 10, engagements])
        day += dt.timedelta(days=7)
    save("campaign_stats", ["date", "campaign", "channel", "impressions", "clicks", "engagements"], stats)

    market = [[f"{y}-01-01", s, "", rng.randrange(400_000, 900_000)] for y in (2023, 2024) for s in SEGMENTS]
    save("market_size", ["period_start", "segment", "country", "value"], market)

    fx = []
    for month in [dt.date(2022, 12, 1), *months]:
        for d in (1, 15):
            fx.append([month.replace(day=d).isoformat(), "USD", round(rng.uniform(0.85, 0.95), 4)])
    save("fx_rates", ["date", "currency", "rate_to_base"], fx)

    targets = [[f"2024-{m:02d}", "revenue", 150_000, "company", ""] for m in range(1, 7)]
    targets += [[f"2024-Q{q}", "revenue", 60_000, "rep", r] for q in (1, 2, 3, 4) for r in ("R1", "R2")]
    targets += [
        ["2024-05", "win_rate", 0.6, "company", ""],
        ["2024-Q3", "activities", 40, "team", "North"],
        ["2024-03", "cac", 5000, "company", ""],
        ["2024-W10", "leads", 5, "company", ""],
        ["2024-02", "opportunity_to_signature_rate", 0.5, "company", ""],
    ]
    save("targets", ["period", "metric", "value", "scope", "scope_id"], targets)
    return files
