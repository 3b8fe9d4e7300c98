"""The demo company's people and prospects: calendar, reps, accounts, leads and fx rates.

Everything is numpy arrays of codes (indexes into the vocabularies below); the emitter turns
them into strings. Times are int64 seconds since 1970-01-01 (UTC), dates int64 days.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Arr = npt.NDArray[Any]
Rng = np.random.Generator
DAY = 86_400
EPOCH = dt.date(1970, 1, 1)


def words(text: str, sep: str = " ") -> tuple[str, ...]:
    return tuple(text.split(sep))


ROLES = ("sdr", "ae", "am", "manager")
SDR, AE, AM, MANAGER = range(4)
CHANNELS = ("outbound", "website", "paid_search", "events", "partners", "referral")
OUTBOUND, WEBSITE, PAID_SEARCH, EVENTS, PARTNERS, REFERRAL = range(6)
# per channel: share of leads, lead->opportunity rate, win rate, weekend activity, growth over the span
CH_SHARE = np.array([0.30, 0.22, 0.20, 0.10, 0.10, 0.08])
CH_CONV = np.array([0.27, 0.33, 0.24, 0.36, 0.45, 0.55])
CH_WIN = np.array([0.27, 0.31, 0.25, 0.30, 0.40, 0.45])
CH_WEEKEND = np.array([0.02, 0.40, 0.50, 0.03, 0.05, 0.20])
CH_GROWTH = np.array([1.5, 2.0, 2.6, 1.3, 1.8, 1.6])
SEASON = np.array([1.1, 1.05, 1.15, 1.0, 0.95, 1.05, 0.8, 0.55, 1.15, 1.2, 1.1, 0.75])
SEGMENTS = ("smb", "mid_market", "enterprise")
SEG_SHARE = np.array([0.6, 0.3, 0.1])
SEG_CONV = np.array([1.05, 1.0, 0.85])
SEG_EMPLOYEES = np.array([40.0, 500.0, 6000.0])
INDUSTRIES = words(
    "software|manufacturing|retail|financial services|healthcare|logistics|professional services|"
    "education|energy|media",
    "|",
)
INDUSTRY_WORD = words("Software Industries Retail Finance Health Logistics Partners Learning Energy Media")
COUNTRIES = ("FR", "DE", "GB", "US", "ES", "IT", "NL", "BE", "CH")
COUNTRY_SHARE = np.array([0.28, 0.18, 0.14, 0.12, 0.07, 0.07, 0.06, 0.04, 0.04])
LEGAL = ("SAS", "GmbH", "Ltd", "Inc.", "S.L.", "S.r.l.", "B.V.", "SA", "AG")
CURRENCIES = ("EUR", "USD", "GBP")
COUNTRY_CURRENCY = np.array([0, 0, 2, 1, 0, 0, 0, 0, 0])
FX_MEAN = np.array([1.0, 0.92, 1.17])  # base currency (EUR) per unit
NAME_HEAD = words(
    "Nord Alpen Blue Silver Atlas Nova Orion Vertex Cedar Harbor Summit Lumen Quantum Riviera Sterling "
    "Granite Helix Iris Juniper Kestrel Meridian Oak Pioneer Redwood"
)
NAME_TAIL = ("", "tech", "ware", "line", "point", "field", "gate", "stone", "bridge", "wave", "core", "works")
FIRST = words(
    "Alice Adam Amelia Arthur Chloe Daniel Emma Ethan Grace Hugo Isla James Julia Leo Lily Lucas Maya "
    "Noah Olivia Oscar Paul Rose Sam Sofia Thomas Zoe Clara Felix Hannah Jack Laura Max Nina Omar Priya "
    "Ravi Sara Tom Vera Yusuf Anna Ben Carla David Elena Finn Greta Henry Ines Jonas"
)
LAST = words(
    "Smith Jones Taylor Brown Wilson Evans Thomas Roberts Walker Wright Martin Bernard Dubois Durand "
    "Lefevre Moreau Laurent Simon Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Rossi Russo "
    "Ferrari Garcia Lopez Martinez Novak Jansen deVries Peeters Nielsen Berg Kowalski Silva Costa Murphy "
    "Kelly Hughes Price Bennett Carter Foster"
)
TEAM_NAMES = words(
    "Atlantic Pacific Nordic Iberia Benelux Alps Central Enterprise Growth Velocity Summit Horizon "
    "Pioneer Frontier Harbor Meridian"
)
LEAD_STATUS = ("new", "working", "nurturing", "converted", "disqualified")
NEW, WORKING, NURTURING, CONVERTED, DISQUALIFIED = range(5)
DQ_REASONS = words("no_budget|no_need|not_decision_maker|bad_fit|unreachable|duplicate|competitor_customer", "|")
DQ_SHARE = np.array([0.18, 0.22, 0.12, 0.2, 0.16, 0.05, 0.07])
EVENTS_BY_MONTH = {
    3: ("Sales Summit Paris", 1.1),
    6: ("SaaStr Europa", 1.2),
    9: ("Big Data London", 0.85),
    11: ("Web Summit", 0.9),
}
# name, channel, weight, quality (lead->opp and win multiplier), first month as a fraction of the span
STANDING_CAMPAIGNS: tuple[tuple[str | None, int, float, float, float], ...] = (
    ("Outbound - SMB sequence", OUTBOUND, 1.0, 0.85, 0.0),
    ("Outbound - Mid-market ICP list", OUTBOUND, 1.0, 1.1, 0.0),
    ("Outbound - Enterprise ABM", OUTBOUND, 0.6, 1.25, 0.33),
    ("Organic search", WEBSITE, 2.0, 1.0, 0.0),
    ("Free trial", WEBSITE, 1.0, 1.25, 0.25),
    ("Webinar: forecasting 101", WEBSITE, 0.6, 1.05, 0.0),
    ("Ebook: the sales KPI guide", WEBSITE, 0.6, 0.7, 0.0),
    ("Google Ads - Brand", PAID_SEARCH, 1.0, 1.3, 0.0),
    ("Google Ads - Generic", PAID_SEARCH, 1.5, 0.7, 0.0),
    ("LinkedIn Ads - Sales leaders", PAID_SEARCH, 1.0, 0.95, 0.0),
    ("Capterra listing", PAID_SEARCH, 0.6, 0.8, 0.5),
    ("Partner - Northbridge Consulting", PARTNERS, 1.0, 1.2, 0.0),
    ("Partner - Altium Integrators", PARTNERS, 0.8, 0.9, 0.0),
    ("Partner - Cloudline", PARTNERS, 0.5, 1.05, 0.5),
    (None, REFERRAL, 1.0, 1.0, 0.0),
)


# id prefix and digits per kind of record
IDS = {
    "rep": ("R", 4),
    "account": ("A", 7),
    "lead": ("L", 7),
    "opp": ("O", 7),
    "contract": ("C", 7),
    "activity": ("ACT", 9),
}


def rep_id(i: int) -> str:
    prefix, width = IDS["rep"]
    return f"{prefix}{i + 1:0{width}d}"


def to_days(d: dt.date) -> int:
    return (d - EPOCH).days


@dataclass(frozen=True)
class Calendar:
    start: int  # first day of the data
    end: int  # `today`: the data stops at its midnight
    months: Arr  # first day of each month touching [start, end], plus the next month's (sentinel)
    bad_months: Arr  # bool per month: the bad quarter

    @property
    def cutoff(self) -> int:
        return self.end * DAY

    @property
    def n_days(self) -> int:
        return self.end - self.start

    @property
    def n_months(self) -> int:
        return len(self.months) - 1

    def month_of(self, days: Arr) -> Arr:
        return np.searchsorted(self.months, days, side="right") - 1

    def month_labels(self) -> list[str]:
        return [str(m) for m in self.months[:-1].astype("datetime64[D]").astype("datetime64[M]")]


def make_calendar(today: dt.date) -> Calendar:
    start = dt.date(today.year - 3 + today.month // 12, today.month % 12 + 1, 1)  # 36 months to today's
    first = np.datetime64(start, "M")
    months = np.arange(first, np.datetime64(today, "M") + 2).astype("datetime64[D]").astype(np.int64)
    quarter_starts = np.flatnonzero(np.arange(first, first + len(months) - 1).astype(np.int64) % 3 == 0)
    bad_first = quarter_starts[quarter_starts <= len(months) - 1 - 18][-1]  # a quarter a year and a half ago
    bad = np.zeros(len(months) - 1, dtype=bool)
    bad[bad_first : bad_first + 3] = True
    return Calendar(to_days(start), to_days(today), months, bad)


def tod(rng: Rng, n: int, business: bool = True) -> Arr:
    """Seconds into the day: office hours (two humps), or spread over the day for web forms."""
    if business:
        hours = np.where(rng.random(n) < 0.55, rng.normal(10.5, 1.3, n), rng.normal(15.0, 1.4, n))
        hours = np.clip(hours, 7.5, 19.5)
    else:
        hours = np.clip(rng.normal(14.0, 4.0, n), 0.0, 23.99)
    return (hours * 3600).astype(np.int64)


def snap(rng: Rng, secs: Arr, lo: Arr, hi: Arr) -> Arr:
    """Move times to office hours on a weekday when that stays inside [lo, hi)."""
    day = secs // DAY
    wd = (day + 3) % 7  # 0 = Monday
    day = day + np.where(wd >= 5, 7 - wd, 0)
    moved = day * DAY + tod(rng, len(secs))
    return np.where((moved >= lo) & (moved < hi), moved, np.clip(secs, lo, np.maximum(hi - 1, lo)))


@dataclass
class Reps:
    role: Arr
    team: Arr  # -1 for the head of sales
    manager: Arr  # -1 for none
    active_from: Arr
    active_to: Arr  # -1 while still active
    skill: Arr  # multiplies conversion and win odds
    act: Arr  # activity volume multiplier
    qual: Arr  # probability of filling a qualification field
    speed: Arr  # multiplies stage durations
    names: list[str]
    emails: list[str]
    team_names: list[str]

    @property
    def n(self) -> int:
        return len(self.role)

    def eligible(self, cal: Calendar, role: int, before: int, after: int) -> Arr:
        """(month, rep) -> the rep of ``role`` is active from ``before`` days before the month to
        ``after`` days after it, so that all its work on an item of that month falls in its tenure."""
        ms, me = cal.months[:-1, None], cal.months[1:, None] - 1
        left_ok = (self.active_to[None, :] < 0) | (self.active_to[None, :] >= me + after)
        out: Arr = (self.active_from[None, :] <= ms - before) & left_ok & (self.role == role)[None, :]
        return out


def make_reps(rng: Rng, cal: Calendar, n: int, teams: int) -> Reps:
    others = n - 1 - teams
    sdrs = aes = round(others * 0.4)
    counts = (sdrs, aes, others - sdrs - aes)
    role = np.array([MANAGER] * (1 + teams) + [r for r, c in enumerate(counts) for _ in range(c)], dtype=np.int64)
    team = np.array([-1, *range(teams)] + [i % teams for c in counts for i in range(c)], dtype=np.int64)
    veteran = np.array([True] * (1 + teams) + [i < teams for c in counts for i in range(c)])
    manager = np.where(role == MANAGER, 0, team + 1)
    manager[0] = -1
    start, end = cal.start, cal.end
    active_from = start - rng.integers(90, 1500, n)
    joiner = ~veteran & (rng.random(n) < 0.35)
    active_from[joiner] = start + rng.integers(0, max(1, cal.n_days - 20), joiner.sum())
    cand = np.flatnonzero(~veteran & ~joiner)
    recent = rng.permutation(cand)[: max(2, n // 30)]
    active_from[recent] = end - rng.integers(10, 90, len(recent))
    active_to = np.full(n, -1, dtype=np.int64)
    cand = np.setdiff1d(np.flatnonzero(~veteran), recent)
    leavers = rng.permutation(cand)[: max(2, n // 10)]
    lo = np.maximum(active_from[leavers] + 150, start + 90)
    ok = lo < end - 30
    active_to[leavers[ok]] = lo[ok] + (rng.random(ok.sum()) * (end - 30 - lo[ok])).astype(np.int64)
    skill = rng.lognormal(0.0, 0.3, n)
    for r in (SDR, AE):  # a star and a weak performer among the veterans of each role
        stars = rng.permutation(np.flatnonzero(veteran & (role == r)))
        skill[stars[0]], skill[stars[-1]] = 2.3, 0.5
    act = np.clip(np.sqrt(skill) * rng.lognormal(0.0, 0.2, n), 0.3, 3.0)
    qual = np.clip(0.55 + 0.25 * np.log(skill) + rng.normal(0.0, 0.12, n), 0.08, 0.97)
    speed = rng.lognormal(0.0, 0.2, n) / skill**0.15
    names: list[str] = []
    emails: list[str] = []
    while len(names) < n:
        first, last = FIRST[rng.integers(len(FIRST))], LAST[rng.integers(len(LAST))]
        if f"{first} {last}" not in names:
            names.append(f"{first} {last}")
            emails.append(f"{first}.{last}@skyline-demo.example".lower())
    tn = [
        TEAM_NAMES[i % len(TEAM_NAMES)] + ("" if i < len(TEAM_NAMES) else f" {i // len(TEAM_NAMES) + 1}")
        for i in range(teams)
    ]
    return Reps(role, team, manager, active_from, active_to, skill, act, qual, speed, names, emails, tn)


def pick(rng: Rng, month: Arr, elig: Arr, weight: Arr, team: Arr | None = None, rep_team: Arr | None = None) -> Arr:
    """A rep per item, eligible in the item's month, weighted, from the item's team when one can."""
    if month.size == 0:
        return np.zeros(0, dtype=np.int64)
    n_teams = 0 if team is None or rep_team is None else int(rep_team.max()) + 1
    tkey = np.zeros(len(month), dtype=np.int64) if team is None else np.where(team < 0, n_teams, team)
    key = month * (n_teams + 1) + tkey
    order = np.argsort(key, kind="stable")
    sk = key[order]
    cuts = np.r_[0, np.flatnonzero(np.diff(sk)) + 1, len(sk)]
    out = np.empty(len(month), dtype=np.int64)
    fallback = elig.any(axis=0)
    for a, b in itertools.pairwise(cuts):
        m, t = divmod(int(sk[a]), n_teams + 1)
        cand = elig[m]
        if t < n_teams and rep_team is not None and (cand & (rep_team == t)).any():
            cand = cand & (rep_team == t)
        if not cand.any():
            cand = fallback
        idx = np.flatnonzero(cand)
        cw = np.cumsum(weight[idx])
        out[order[a:b]] = idx[np.searchsorted(cw, rng.random(b - a) * cw[-1], side="right")]
    return out


@dataclass
class Campaigns:
    names: list[str | None]
    channel: Arr
    quality: Arr
    expected: Arr  # (day, campaign): expected leads


@dataclass
class Accounts:
    created: Arr
    segment: Arr
    industry: Arr
    country: Arr
    employees: Arr
    head: Arr
    tail: Arr


@dataclass
class Leads:
    created: Arr
    campaign: Arr
    channel: Arr
    account: Arr
    owner: Arr
    status: Arr
    dq: Arr  # disqualified reason, -1 for none
    opp_at: Arr  # when the lead became an opportunity, -1 for never


def make_campaigns(cal: Calendar, n_leads: int) -> Campaigns:
    spec = [(n, c, w, q, int(f * cal.n_months), cal.n_months) for n, c, w, q, f in STANDING_CAMPAIGNS]
    for i, label in enumerate(cal.month_labels()):
        if int(label[5:]) in EVENTS_BY_MONTH:
            name, quality = EVENTS_BY_MONTH[int(label[5:])]
            spec.append((f"{name} {label[:4]}", EVENTS, 1.0, quality, i, i + 1))
    days = np.arange(cal.start, cal.end)
    month = cal.month_of(days)
    cal_month = (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)) % 12
    weekend = ((days + 3) % 7) >= 5
    frac = (days - cal.start) / cal.n_days
    channel = np.array([s[1] for s in spec])
    w = np.array([s[2] for s in spec])[None, :] * np.ones((len(days), 1))
    w *= (month[:, None] >= np.array([s[4] for s in spec])) & (month[:, None] < np.array([s[5] for s in spec]))
    w *= 1.0 + (CH_GROWTH[channel][None, :] - 1.0) * frac[:, None]
    w *= (SEASON[cal_month] * np.where(cal.bad_months[month], 0.8, 1.0))[:, None]
    w *= np.where(weekend[:, None], CH_WEEKEND[channel][None, :], 1.0)
    for c in range(len(CHANNELS)):
        w[:, channel == c] *= CH_SHARE[c] / w[:, channel == c].sum()
    return Campaigns([s[0] for s in spec], channel, np.array([s[3] for s in spec]), w / w.sum() * n_leads)


def make_leads(rng: Rng, cal: Calendar, reps: Reps, camps: Campaigns, n: int) -> tuple[Leads, Accounts]:
    p = camps.expected.ravel() / camps.expected.sum()
    cell = np.repeat(np.arange(p.size), rng.multinomial(n, p))
    k = camps.expected.shape[1]
    camp, day = cell % k, cell // k
    channel = camps.channel[camp]
    web = (channel == WEBSITE) | (channel == PAID_SEARCH)
    created = (cal.start + day) * DAY + np.where(web, tod(rng, n, False), tod(rng, n))
    order = np.argsort(created, kind="stable")
    created, camp, channel = created[order], camp[order], channel[order]
    accounts = make_accounts(rng, cal, int(n * 0.7) + 10)
    account = _lead_accounts(rng, accounts, created)
    month = cal.month_of(created // DAY)
    owner = pick(rng, month, reps.eligible(cal, SDR, 60, 60), reps.act)
    by_ae = ((channel == PARTNERS) | (channel == REFERRAL)) & (rng.random(n) < 0.4)
    owner[by_ae] = pick(rng, month[by_ae], reps.eligible(cal, AE, 0, 90), reps.act)
    seg = accounts.segment[account]
    p_conv = CH_CONV[channel] * camps.quality[camp] * np.sqrt(reps.skill[owner]) * SEG_CONV[seg]
    p_conv *= np.where(cal.bad_months[month], 0.85, 1.0)
    p_conv = np.clip(p_conv * 0.355 / p_conv.mean(), 0.0, 0.95)
    delay = np.clip(rng.lognormal(np.log(6.0), 0.8, n), 0.1, 60.0)
    opp_at = created + np.maximum((delay * DAY).astype(np.int64), 3600)
    opp_at = snap(rng, opp_at, created + 3600, created + 61 * DAY)
    converted = (rng.random(n) < p_conv) & (opp_at < cal.cutoff)
    age = (cal.cutoff - created) / DAY
    u = rng.random(n)
    status = np.where(
        age < 30, np.where((age < 5) | (u < 0.3), NEW, WORKING), np.where(u < 0.22, NURTURING, DISQUALIFIED)
    )
    status[converted] = CONVERTED
    dq = np.where(status == DISQUALIFIED, rng.choice(len(DQ_REASONS), n, p=DQ_SHARE), -1)
    leads = Leads(created, camp, channel, account, owner, status, dq, np.where(converted, opp_at, -1))
    return leads, accounts


def _lead_accounts(rng: Rng, accounts: Accounts, created: Arr) -> Arr:
    """Leads' accounts: a few accounts come back several times; account ids follow creation."""
    n_acc = accounts.head.size
    acc = rng.integers(0, n_acc, created.size)
    first = np.full(n_acc, np.iinfo(np.int64).max)
    np.minimum.at(first, acc, created)
    has = first < np.iinfo(np.int64).max
    accounts.created[has] = first[has] - rng.integers(3600, 120 * DAY, has.sum())
    order = np.argsort(accounts.created, kind="stable")
    for name in ("created", "segment", "industry", "country", "employees", "head", "tail"):
        setattr(accounts, name, getattr(accounts, name)[order])
    rank = np.empty(n_acc, dtype=np.int64)
    rank[order] = np.arange(n_acc)
    return rank[acc]


def make_accounts(rng: Rng, cal: Calendar, n: int) -> Accounts:
    seg = rng.choice(3, n, p=SEG_SHARE)
    employees = np.maximum(rng.lognormal(np.log(SEG_EMPLOYEES[seg]), 0.6), 2).astype(np.int64)
    created = (cal.start + rng.integers(-365, cal.n_days, n)) * DAY + tod(rng, n)
    return Accounts(
        np.minimum(created, cal.cutoff - 1),
        seg,
        rng.integers(0, len(INDUSTRIES), n),
        rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARE),
        employees,
        rng.integers(0, len(NAME_HEAD), n),
        rng.integers(0, len(NAME_TAIL), n),
    )


def make_fx(rng: Rng, cal: Calendar) -> Arr:
    """(currency, day) -> rate to the base currency; a mean-reverting walk, 1.0 for EUR."""
    steps = rng.normal(0.0, 0.004, (len(CURRENCIES), cal.n_days))
    logs = np.zeros_like(steps)
    for d in range(1, cal.n_days):
        logs[:, d] = logs[:, d - 1] * 0.995 + steps[:, d]
    rates = FX_MEAN[:, None] * np.exp(logs)
    rates[0] = 1.0
    return np.round(rates, 5)
