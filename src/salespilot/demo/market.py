"""The demo company's small tables: costs, web traffic, campaign stats, market size, targets, fx.

Each builder returns columns by canonical name: numpy arrays (days for dates, -1 or NaN for
null) or lists of strings."""

from __future__ import annotations

from typing import Any

import numpy as np

from salespilot.demo.company import (
    AE,
    AM,
    CHANNELS,
    COUNTRIES,
    COUNTRY_SHARE,
    CURRENCIES,
    DAY,
    MANAGER,
    OUTBOUND,
    PAID_SEARCH,
    REFERRAL,
    SDR,
    WEBSITE,
    Arr,
    Calendar,
    Campaigns,
    Leads,
    Reps,
    Rng,
    rep_id,
)
from salespilot.demo.pipeline import WON, Opps

Columns = dict[str, Any]  # numpy arrays or lists
CPL = np.array([40.0, 60.0, 220.0, 450.0, 350.0, 150.0])  # marketing cost per expected lead, by channel
SALARY = np.array([5200.0, 8500.0, 7500.0, 12000.0])  # monthly loaded cost by role
COMMISSION = 0.1  # of the bookings of the month
WEB = {WEBSITE: 0.025, PAID_SEARCH: 0.035, REFERRAL: 0.06}  # channel -> visitor to contact rate
SEG_MARKET = np.array([0.35, 0.35, 0.3])


def _month_days(cal: Calendar) -> tuple[Arr, Arr]:
    """First and last day of each month, the last month cut at yesterday."""
    return cal.months[:-1], np.minimum(cal.months[1:], cal.end) - 1


def _by_month(cal: Calendar, times: Arr, weights: Arr | None = None) -> Arr:
    return np.bincount(cal.month_of(times // DAY), weights, minlength=cal.n_months)[: cal.n_months]


def costs(rng: Rng, cal: Calendar, reps: Reps, camps: Campaigns, opps: Opps) -> Columns:
    first, last = _month_days(cal)
    month = cal.month_of(np.arange(cal.start, cal.end))
    expected = np.stack([np.bincount(month, camps.expected[:, k], cal.n_months) for k in range(len(camps.names))], 1)
    factor = rng.lognormal(0.0, 0.25, len(camps.names)) / np.sqrt(camps.quality)
    spend = expected * (CPL[camps.channel] * factor)[None, :] * rng.lognormal(0.0, 0.15, expected.shape)
    m, k = np.nonzero(expected >= 0.05)
    mid = (first + last) // 2
    left = (reps.active_to < 0)[None, :] | (reps.active_to >= mid[:, None])
    on = (reps.active_from[None, :] <= mid[:, None]) & left
    share = (last - first + 1) / (cal.months[1:] - cal.months[:-1])
    heads = np.stack([(on & (reps.role == r)[None, :]).sum(1) for r in range(4)], 1) * share[:, None]
    won = opps["outcome"] == WON
    booked = _by_month(cal, opps["closed"][won], opps["amount_eur"][won])
    sdr = heads[:, SDR] * SALARY[SDR] * 1.15  # with the dialer and data tools
    rest = heads[:, [AE, AM, MANAGER]] @ SALARY[[AE, AM, MANAGER]] + COMMISSION * booked
    months = np.arange(cal.n_months)
    return {
        "period_start": np.concatenate([first[m], first, first]),
        "period_end": np.concatenate([last[m], last, last]),
        "amount": np.round(np.concatenate([spend[m, k], sdr, rest]), 2),
        "category": ["marketing"] * m.size + ["sales"] * 2 * cal.n_months,
        "channel": [CHANNELS[c] for c in camps.channel[k]] + [CHANNELS[OUTBOUND]] * months.size + [None] * months.size,
        "campaign": [camps.names[i] for i in k] + [None] * 2 * cal.n_months,
        "currency": ["EUR"] * (m.size + 2 * cal.n_months),
    }


def web_traffic(rng: Rng, cal: Calendar, camps: Campaigns, leads: Leads) -> Columns:
    chans = list(WEB)
    day = leads.created // DAY - cal.start
    parts: list[tuple[Arr, Arr, Arr]] = []
    for c in chans:
        sel = leads.channel == c
        made = np.bincount(day[sel], minlength=cal.n_days)[: cal.n_days]
        expected = camps.expected[:, camps.channel == c].sum(1)
        contacts = made + rng.poisson(0.7 * expected + 0.3)
        visitors = np.maximum(rng.poisson(contacts / WEB[c] * rng.lognormal(0.0, 0.1, cal.n_days)), contacts)
        parts.append((np.full(cal.n_days, c), contacts, visitors))
    return {
        "date": np.tile(np.arange(cal.start, cal.end), len(chans)),
        "channel": [CHANNELS[c] for p in parts for c in p[0]],
        "contacts": np.concatenate([p[1] for p in parts]),
        "visitors": np.concatenate([p[2] for p in parts]),
    }


def campaign_stats(rng: Rng, cal: Calendar, camps: Campaigns) -> Columns:
    keep = np.array(
        [c in (WEBSITE, PAID_SEARCH) and n != "Organic search" for n, c in zip(camps.names, camps.channel, strict=True)]
    )
    d, k = np.nonzero((camps.expected > 0) & keep[None, :])
    paid = camps.channel[k] == PAID_SEARCH
    ctr = np.where(paid, 0.02, 0.05) * rng.lognormal(0.0, 0.3, len(camps.names))[k]
    clicks = rng.poisson(camps.expected[d, k] / np.where(paid, 0.04, 0.08) + 0.5)
    impressions = np.maximum(rng.poisson(clicks / ctr), clicks)
    return {
        "date": cal.start + d,
        "campaign": [camps.names[i] for i in k],
        "channel": [CHANNELS[c] for c in camps.channel[k]],
        "impressions": impressions,
        "clicks": clicks,
        "engagements": clicks + rng.poisson(impressions * 0.004),
    }


def market_size(rng: Rng, cal: Calendar, opps: Opps) -> Columns:
    """Yearly market per segment and country, about 40 times the company's yearly bookings."""
    won = opps["outcome"] == WON
    yearly = max(float(opps["amount_eur"][won].sum()) / 3.0, 1.0)
    first_year = int(str(cal.months[0].astype("datetime64[D]"))[:4])
    years = range(first_year, first_year + 4)
    rows = [(y, s, c) for y in years for s in range(3) for c in range(len(COUNTRIES))]
    y, s, c = (np.array(v) for v in zip(*rows, strict=True))
    value = yearly * 40 * SEG_MARKET[s] * COUNTRY_SHARE[c] * 1.08 ** (y - first_year) * rng.lognormal(0, 0.3, y.size)
    jan1 = (np.array([f"{v}-01-01" for v in y], dtype="datetime64[D]")).astype(np.int64)
    dec31 = (np.array([f"{v}-12-31" for v in y], dtype="datetime64[D]")).astype(np.int64)
    return {
        "period_start": jan1,
        "period_end": dec31,
        "value": np.round(value, -3),
        "segment": [("smb", "mid_market", "enterprise")[i] for i in s],
        "country": [COUNTRIES[i] for i in c],
    }


def _plan(actual: Arr, full: Arr, horizon: int, lift: float) -> Arr:
    """A straight-line plan through the complete months, ``lift`` above it, extended ``horizon`` months."""
    x = np.flatnonzero(full)
    slope, icpt = np.polyfit(x, actual[x], 1) if x.size > 1 else (0.0, float(actual.mean()))
    out: Arr = np.maximum(np.round((icpt + slope * np.arange(actual.size + horizon)) * lift, 2), 0.0)
    return out


def targets(cal: Calendar, reps: Reps, leads: Leads, opps: Opps, tally: Arr) -> Columns:
    """Company monthly, quarterly and yearly; team quarterly revenue; rep monthly by role.

    ``tally`` is the activities per (rep, month)."""
    labels = cal.month_labels()
    horizon = 12 - int(labels[-1][5:])  # to the end of the current year
    future = [str(np.datetime64(labels[-1]) + i) for i in range(1, horizon + 1)]
    full = cal.months[1:] <= cal.end
    won = opps["outcome"] == WON
    order = np.argsort(np.where(won, opps["closed"], np.iinfo(np.int64).max), kind="stable")
    _, first = np.unique(opps["account"][order], return_index=True)
    first_won = order[first][won[order[first]]]
    actual = {
        "revenue": _by_month(cal, opps["closed"][won], opps["amount_eur"][won]),
        "new_customers": _by_month(cal, opps["closed"][first_won]),
        "leads": _by_month(cal, leads.created),
        "opportunities": _by_month(cal, opps["created"]),
        "activities": tally.sum(0).astype(np.float64),
    }
    rows: list[tuple[str, str, float, str, str | None]] = []
    all_labels = labels + future
    quarters = [f"{x[:4]}-Q{(int(x[5:]) - 1) // 3 + 1}" for x in all_labels]
    for metric, values in actual.items():
        plan = _plan(values, full, horizon, 1.08)
        rows += [(p, metric, float(v), "company", None) for p, v in zip(all_labels, plan, strict=True)]
        if metric in ("revenue", "new_customers"):
            for q in dict.fromkeys(quarters):
                value = float(sum(v for x, v in zip(quarters, plan, strict=True) if x == q))
                rows.append((q, metric, round(value, 2), "company", None))
                ae = np.bincount(reps.team[reps.role == AE], minlength=len(reps.team_names))
                rows += [
                    (q, metric, round(value * n / ae.sum(), 2), "team", t)
                    for t, n in zip(reps.team_names, ae, strict=True)
                    if n
                ]
    year = [x[:4] for x in all_labels]
    plan = _plan(actual["revenue"], full, horizon, 1.08)
    rows += [
        (y, "revenue", round(float(plan[[i for i, v in enumerate(year) if v == y]].sum()), 2), "company", None)
        for y in dict.fromkeys(year)
    ]
    won_by_rep = np.zeros((reps.n, cal.n_months))
    np.add.at(won_by_rep, (opps["owner"][won], cal.month_of(opps["closed"][won] // DAY)), opps["amount_eur"][won])
    lead_by_rep = np.zeros((reps.n, cal.n_months))
    np.add.at(lead_by_rep, (leads.owner, cal.month_of(leads.created // DAY)), 1.0)
    for role, metric, values in (
        (AE, "revenue", won_by_rep),
        (AM, "revenue", won_by_rep),
        (SDR, "leads", lead_by_rep),
        (SDR, "activities", tally),
        (AE, "activities", tally),
    ):
        on = reps.eligible(cal, role, 0, 0).T & full[None, :]
        per_rep = np.where(on, values, 0.0).sum(0) / np.maximum(on.sum(0), 1)
        plan = _plan(per_rep, full & (on.sum(0) > 0), 0, 1.1)
        r, m = np.nonzero(on)
        rows += [(labels[j], metric, float(plan[j]), "rep", rep_id(int(i))) for i, j in zip(r, m, strict=True)]
    return {k: [row[i] for row in rows] for i, k in enumerate(("period", "metric", "value", "scope", "scope_id"))}


def fx_rates(cal: Calendar, fx: Arr) -> Columns:
    cur = range(1, len(CURRENCIES))
    return {
        "date": np.tile(np.arange(cal.start, cal.end), len(cur)),
        "currency": [CURRENCIES[c] for c in cur for _ in range(cal.n_days)],
        "rate_to_base": np.concatenate([fx[c] for c in cur]),
    }
