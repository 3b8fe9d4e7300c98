"""The demo company's pipeline: opportunities with their stage history, and contracts with
renewals, churn and upsells. Arrays of codes, as in ``company``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salespilot.demo.company import (
    AE,
    AM,
    CH_WIN,
    COUNTRY_CURRENCY,
    DAY,
    PARTNERS,
    Accounts,
    Arr,
    Calendar,
    Campaigns,
    Leads,
    Reps,
    Rng,
    pick,
    tod,
)

STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation")
STAGE_DAYS = np.array([6.0, 9.0, 10.0, 12.0, 10.0])
MAX_LIFE_DAYS = 300  # older deals are closed lost by the CRM clean-up
OUTCOMES = ("open", "won", "lost")
OPEN, WON, LOST = range(3)
TYPES = ("new", "renewal", "upsell")
SEG_SPEED = np.array([0.6, 1.0, 1.8])
SEG_AMOUNT = np.array([7000.0, 26000.0, 95000.0])
SEG_WIN = np.array([0.15, 0.0, -0.35])
SEG_RENEW = np.array([0.8, 0.87, 0.93])
PRODUCTS = ("Core", "Growth", "Enterprise", "Analytics")
PROD_BY_SEG = np.array([[0.65, 0.2, 0.0, 0.15], [0.3, 0.45, 0.1, 0.15], [0.05, 0.2, 0.6, 0.15]])
PROD_F = np.array([0.8, 1.1, 1.7, 0.6])
PROD_MARGIN = np.array([0.84, 0.8, 0.74, 0.88])
LOSS_REASONS = ("bad_target", "no_pain", "no_fit", "competitor", "budget", "timing", "no_decision", "other")
BAD_TARGET, NO_PAIN, NO_FIT, COMPETITOR, BUDGET, TIMING, NO_DECISION, OTHER = range(8)
LOSS_BY_STAGE = np.array(
    [
        [0.30, 0.30, 0.10, 0.03, 0.07, 0.08, 0.07, 0.05],
        [0.15, 0.25, 0.20, 0.05, 0.10, 0.10, 0.10, 0.05],
        [0.05, 0.12, 0.25, 0.15, 0.13, 0.12, 0.13, 0.05],
        [0.02, 0.05, 0.08, 0.30, 0.25, 0.12, 0.13, 0.05],
        [0.01, 0.03, 0.04, 0.35, 0.30, 0.10, 0.12, 0.05],
    ]
)
RENEWAL_LOSS = np.array([[0.0, 0.1, 0.15, 0.25, 0.3, 0.05, 0.1, 0.05]])
LOSS_TEXTS = (
    "Project cancelled after a reorganisation",
    "Our champion left the company",
    "Bought by a group with a global contract",
    "Legal refused the data processing terms",
    "Went silent after the board meeting",
)
COMPETITORS = ("Salesforce", "HubSpot", "Pipedrive", "Clari", "Gong", "Zoho")
COMP_SHARE = np.array([0.3, 0.3, 0.15, 0.1, 0.1, 0.05])
FORECAST = ("commit", "best_case", "pipeline", "omitted")
FORECAST_BY_STAGE = np.array(
    [[0, 0, 0.9, 0.1], [0, 0.05, 0.85, 0.1], [0, 0.35, 0.6, 0.05], [0.3, 0.5, 0.2, 0], [0.65, 0.35, 0, 0]]
)
# the first five qualification fields' values; the sixth, decision_date, is the expected close date as text
QUALIFICATION = (
    (
        "Forecasts are built by hand in spreadsheets",
        "No visibility on the pipeline",
        "Reps spend hours on reporting",
        "Deals slip without warning",
        "Churn is noticed too late",
        "Marketing and sales disagree on lead quality",
    ),
    (
        "Cut reporting time by half",
        "Forecast within 10% each quarter",
        "Grow new bookings 20% this year",
        "One dashboard for the leadership team",
        "Onboard new reps faster",
    ),
    (
        "Weekly forecast call runs on the dashboard",
        "Pipeline reviewed every Monday",
        "CAC tracked per channel",
        "All reps use it within 60 days",
        "Board pack produced in one hour",
    ),
    (*COMPETITORS, "No competitor identified", "Spreadsheets / in-house tool"),
    (
        "Approved",
        "Approved, needs CFO sign-off",
        "Planned for next quarter",
        "Under review",
        "Within the team's tool budget",
    ),
)
FIELD_RATE = np.array([0.95, 0.9, 0.7, 0.8, 0.8, 0.7])
BIG = np.iinfo(np.int64).max // 2

Opps = dict[str, Arr]
DEFAULTS: dict[str, float] = {
    "lead": -1,
    "kind": 0,
    "loss": -1,
    "loss_text": -1,
    "competitor": -1,
    "channel": -1,
    "forecast": -1,
    "quiet": BIG,
    "drift": 1.0,
}


def choose(rng: Rng, table: Arr, row: Arr) -> Arr:
    """For each item, a category drawn from ``table[row]`` (rows of probabilities)."""
    out = np.zeros(len(row), dtype=np.int64)
    for r in range(table.shape[0]):
        sel = np.flatnonzero(row == r)
        cum = np.cumsum(table[r]) / table[r].sum()
        out[sel] = np.minimum(np.searchsorted(cum, rng.random(sel.size), side="right"), table.shape[1] - 1)
    return out


def lifecycle(rng: Rng, cal: Calendar, created: Arr, reached: Arr, speed: Arr, won: Arr, stuck: Arr, left: Arr) -> Opps:
    """Stage entries (n, stages; -1 when not entered by today), close, outcome and current stage.

    A deal still open after MAX_LIFE_DAYS, or when its owner leaves (``left``, a day or -1), is
    closed lost ("capped"): the CRM clean-up. Owners are picked active 90 days past creation."""
    days = np.ceil(rng.lognormal(np.log(STAGE_DAYS[None, :] * speed[:, None]), 0.55))
    rows = np.flatnonzero(stuck >= 0)
    days[rows, stuck[rows]] *= rng.uniform(8.0, 40.0, rows.size)
    days = np.where(reached, days, 0.0)
    cum = np.cumsum(days, axis=1)
    entries = np.where(reached, created[:, None] + ((cum - days) * DAY).astype(np.int64), -1)
    deadline = created + rng.integers(MAX_LIFE_DAYS - 60, MAX_LIFE_DAYS, created.size) * DAY
    deadline = np.where(left >= 0, np.minimum(deadline, left * DAY + tod(rng, created.size)), deadline)
    closed = created + (cum[:, -1] * DAY).astype(np.int64)
    capped = closed > deadline
    closed = np.where(capped, deadline, closed)
    is_open = closed >= cal.cutoff
    entries[(entries >= closed[:, None]) | (entries >= cal.cutoff)] = -1
    quiet = np.full(created.size, BIG)  # stuck deals: no activity from a few days into the stage
    entered = entries[rows, stuck[rows]]
    quiet[rows] = np.where(entered >= 0, entered + rng.integers(2, 10, rows.size) * DAY, BIG)
    return {
        "created": created,
        "entries": entries,
        "closed": np.where(is_open, -1, closed),
        "outcome": np.where(is_open, OPEN, np.where(won & ~capped, WON, LOST)),
        "stage": (entries >= 0).shape[1] - 1 - np.argmax((entries >= 0)[:, ::-1], axis=1),
        "capped": capped & ~is_open,
        "quiet": quiet,
    }


def qualify(rng: Rng, quality: Arr) -> tuple[Opps, Arr]:
    """The six qualification fields (codes, -1 when empty; the sixth a flag) and the share filled."""
    filled = rng.random((quality.size, 6)) < quality[:, None] * FIELD_RATE[None, :]
    out = {
        f"q{i}": np.where(filled[:, i], rng.integers(0, len(v), quality.size), -1) for i, v in enumerate(QUALIFICATION)
    }
    out["q5"] = filled[:, 5].astype(np.int64) - 1
    return out, filled.mean(axis=1)


def money(rng: Rng, cal: Calendar, fx: Arr, eur: Arr, currency: Arr, created: Arr, product: Arr) -> Opps:
    rate = fx[currency, np.clip(created // DAY - cal.start, 0, fx.shape[1] - 1)]
    amount = np.maximum(np.round(eur / rate / 100.0) * 100.0, 500.0)
    margin = np.round(amount * PROD_MARGIN[product] * rng.uniform(0.93, 1.05, amount.size), 2)
    return {"amount": amount, "amount_eur": amount * rate, "margin": margin, "currency": currency}


def finish(rng: Rng, o: Opps, ecd: Arr) -> Opps:
    """Expected close date (slipping deals keep a past one), forecast category of open deals."""
    o.pop("capped", None)
    o = {k: np.full(ecd.size, v) for k, v in DEFAULTS.items() if k not in o} | o | {"ecd": ecd}
    o["loss_text"] = np.where(o["loss"] == OTHER, rng.integers(0, len(LOSS_TEXTS), ecd.size), -1)
    is_open = o["outcome"] == OPEN
    o["forecast"] = np.where(is_open, choose(rng, FORECAST_BY_STAGE, o["stage"]), -1)
    o["forecast"][is_open & (o["quiet"] < BIG) & (rng.random(ecd.size) < 0.4)] = 3
    return o


def new_business(
    rng: Rng, cal: Calendar, reps: Reps, camps: Campaigns, leads: Leads, accounts: Accounts, fx: Arr
) -> Opps:
    li = np.flatnonzero(leads.opp_at >= 0)
    n = li.size
    created, acc, ch, camp = leads.opp_at[li], leads.account[li], leads.channel[li], leads.campaign[li]
    seg = accounts.segment[acc]
    month = cal.month_of(created // DAY)
    lead_owner = leads.owner[li]
    team = np.where(rng.random(n) < 0.5, reps.team[lead_owner], -1)  # half the deals stay in the SDR's team
    picked = pick(rng, month, reps.eligible(cal, AE, 0, 90), reps.act, team, reps.team)
    owner = np.where(reps.role[lead_owner] == AE, lead_owner, picked)
    product = choose(rng, PROD_BY_SEG, seg)
    eur = rng.lognormal(np.log(SEG_AMOUNT[seg] * PROD_F[product]), 0.5)
    o = money(rng, cal, fx, eur, COUNTRY_CURRENCY[accounts.country[acc]], created, product)
    q, score = qualify(rng, np.clip(reps.qual[owner] + rng.normal(0, 0.1, n), 0.0, 1.0))
    has_comp = rng.random(n) < 0.5
    comp = rng.choice(len(COMPETITORS), n, p=COMP_SHARE)
    q["q3"] = np.where(q["q3"] < 0, -1, np.where(has_comp, comp, len(COMPETITORS) + (rng.random(n) < 0.5)))
    logit = (
        np.log(CH_WIN[ch] / (1 - CH_WIN[ch]))
        + np.log(reps.skill[owner])
        + 1.6 * (score - 0.6)
        + SEG_WIN[seg]
        + 0.5 * np.log(camps.quality[camp])
        - 0.3 * has_comp
        - 0.8 * cal.bad_months[month]
    )
    lo, hi = -4.0, 4.0
    for _ in range(40):  # the intercept giving a 28% eventual win rate (renewals lift the total)
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (1 / (1 + np.exp(-(logit + mid)))).mean() < 0.28 else (lo, mid)
    won = rng.random(n) < 1 / (1 + np.exp(-(logit + lo)))
    last = np.where(
        won,
        np.where(rng.random(n) < np.where(seg == 0, 0.3, 0.08), 3, 4),
        rng.choice(5, n, p=[0.3, 0.25, 0.2, 0.14, 0.11]),
    )
    stuck = np.where(rng.random(n) < 0.08, (rng.random(n) * (last + 1)).astype(np.int64), -1)
    speed = SEG_SPEED[seg] * reps.speed[owner]
    reached = np.arange(5)[None, :] <= last[:, None]
    life = lifecycle(rng, cal, created, reached, speed, won, stuck, reps.active_to[owner])
    o |= life | q | {"lead": li, "account": acc, "owner": owner, "product": product}
    o["drift"] = rng.lognormal(0.0, 0.2, n)
    lost = o["outcome"] == LOST
    loss = np.where(lost, choose(rng, LOSS_BY_STAGE, o["stage"]), -1)
    u = rng.random(n)
    loss = np.where(lost & (q["q0"] < 0) & (o["stage"] <= 2) & (u < 0.4), NO_PAIN, loss)
    loss = np.where(lost & (q["q4"] < 0) & (o["stage"] >= 3) & (u < 0.35), BUDGET, loss)
    loss = np.where(lost & (ch == 0) & (o["stage"] <= 1) & (u > 0.75), BAD_TARGET, loss)
    loss = np.where(lost & cal.bad_months[month] & (u > 0.7), BUDGET, loss)
    o["loss"] = np.where(life["capped"], np.where(u < 0.6, NO_DECISION, TIMING), loss)
    o["competitor"] = np.where(has_comp | (o["loss"] == COMPETITOR), comp, -1)
    u = rng.random(n)
    o["channel"] = np.where(u < 0.1, ch, np.where(u < 0.13, PARTNERS, -1))
    plan = np.round(STAGE_DAYS.sum() * speed * rng.uniform(0.6, 1.0, n)).astype(np.int64)
    return finish(rng, o, created // DAY + plan)


@dataclass
class Contracts:
    account: Arr
    start: Arr  # days
    end: Arr  # days, inclusive
    value: Arr  # per year, in the contract's currency
    currency: Arr
    opp: Arr  # -1 for none
    renews: Arr  # -1 for none
    team: Arr  # the team that sold it
    product: Arr

    @property
    def n(self) -> int:
        return len(self.start)


def _concat(parts: list[Opps]) -> Opps:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _contracts(parts: list[Contracts]) -> Contracts:
    return Contracts(*(np.concatenate([getattr(p, f) for p in parts]) for f in Contracts.__dataclass_fields__))


def _term_end(rng: Rng, start: Arr, p12: float) -> Arr:
    years = np.where(rng.random(start.size) < p12, 1, rng.choice([2, 3], start.size, p=[0.6, 0.4]))
    return start + np.round(years * 365.25).astype(np.int64) - 1


def customers(rng: Rng, cal: Calendar, reps: Reps, accounts: Accounts, fx: Arr, new: Opps) -> tuple[Opps, Contracts]:
    """Contracts for won deals, then round by round: renewals (or churn) at term, upsells during it."""
    won = np.flatnonzero(new["outcome"] == WON)
    start = new["closed"][won] // DAY
    first = Contracts(
        new["account"][won],
        start,
        _term_end(rng, start, 0.82),
        new["amount"][won],
        new["currency"][won],
        won,
        np.full(won.size, -1),
        reps.team[new["owner"][won]],
        new["product"][won],
    )
    opps, done, pending, n_opps = [new], [first], first, len(new["created"])
    elig = reps.eligible(cal, AM, 0, 90)
    ids = np.arange(first.n)
    while pending.n:
        p, k = pending, pending.n
        seg = accounts.segment[p.account]
        due = p.end < cal.end
        renew = due & (rng.random(k) < SEG_RENEW[seg])
        created = (p.end - rng.integers(40, 75, k)) * DAY + tod(rng, k)
        r = np.flatnonzero((due & (rng.random(k) < 0.6)) | (~due & (p.end < cal.end + 90) & (created < cal.cutoff)))
        created = created[r]
        closed = np.where(due[r], (p.end[r] - rng.integers(1, 20, r.size)) * DAY + tod(rng, r.size), BIG)
        value = np.round(p.value * rng.uniform(0.98, 1.12, k), -1)
        month = cal.month_of(created // DAY)
        owner = pick(rng, month, elig, reps.act, p.team[r], reps.team)
        mid = created + (np.minimum(closed, cal.cutoff) - created) // 2
        entries = np.full((r.size, 5), -1, dtype=np.int64)
        entries[:, 3], entries[:, 4] = created, np.where(mid < cal.cutoff, mid, -1)
        is_open = closed >= cal.cutoff
        outcome = np.where(is_open, OPEN, np.where(renew[r], WON, LOST))
        rate = fx[p.currency[r], np.clip(created // DAY - cal.start, 0, fx.shape[1] - 1)]
        amount = np.where(renew[r], value[r], p.value[r])
        q, _ = qualify(rng, np.full(r.size, 0.3))
        ro: Opps = q | {
            "created": created,
            "entries": entries,
            "closed": np.where(is_open, -1, closed),
            "outcome": outcome,
            "stage": np.where(entries[:, 4] >= 0, 4, 3),
            "account": p.account[r],
            "owner": owner,
            "product": p.product[r],
            "amount": amount,
            "amount_eur": amount * rate,
            "margin": np.round(amount * 0.85, 2),
            "currency": p.currency[r],
        }
        ro["loss"] = np.where(outcome == LOST, choose(rng, RENEWAL_LOSS, np.zeros(r.size, np.int64)), -1)
        ro["competitor"] = np.where(ro["loss"] == COMPETITOR, rng.choice(len(COMPETITORS), r.size, p=COMP_SHARE), -1)
        ro["kind"] = np.ones(r.size, dtype=np.int64)
        ro = finish(rng, ro, p.end[r])
        opp_of = np.full(k, -1)
        opp_of[r] = n_opps + np.arange(r.size)
        n_opps += r.size
        nr = np.flatnonzero(renew)
        rs = p.end[nr] + 1
        renewed = Contracts(
            p.account[nr],
            rs,
            _term_end(rng, rs, 0.85),
            value[nr],
            p.currency[nr],
            opp_of[nr],
            ids[nr],
            p.team[nr],
            p.product[nr],
        )
        # upsells, while the contract runs
        up_day = p.start + rng.integers(60, 300, k)
        u = np.flatnonzero((rng.random(k) < 0.2) & (up_day < np.minimum(p.end, cal.end - 1)))
        created = up_day[u] * DAY + tod(rng, u.size)
        owner = pick(rng, cal.month_of(up_day[u]), elig, reps.act, p.team[u], reps.team)
        product = np.where(rng.random(u.size) < 0.6, 3, 2)
        won_up = rng.random(u.size) < np.clip(0.5 * np.sqrt(reps.skill[owner]), 0.1, 0.9)
        last = np.where(won_up, 4, rng.choice([0, 2, 3, 4], u.size))
        reached = (np.arange(5)[None, :] <= last[:, None]) & (np.arange(5)[None, :] != 1)
        no_stuck = np.full(u.size, -1)
        uo = lifecycle(rng, cal, created, reached, 0.7 * reps.speed[owner], won_up, no_stuck, reps.active_to[owner])
        rate = fx[p.currency[u], np.clip(up_day[u] - cal.start, 0, fx.shape[1] - 1)]
        uo |= money(rng, cal, fx, p.value[u] * rate * rng.uniform(0.15, 0.5, u.size), p.currency[u], created, product)
        uo |= qualify(rng, reps.qual[owner])[0] | {"account": p.account[u], "owner": owner, "product": product}
        uo["kind"] = np.full(u.size, 2)
        uo["loss"] = np.where(uo["outcome"] == LOST, choose(rng, LOSS_BY_STAGE, uo["stage"]), -1)
        uo = finish(rng, uo, up_day[u] + rng.integers(20, 60, u.size))
        w = np.flatnonzero(uo["outcome"] == WON)
        us = uo["closed"][w] // DAY
        upsold = Contracts(
            p.account[u][w],
            us,
            us + 364,
            uo["amount"][w],
            p.currency[u][w],
            n_opps + w,
            np.full(w.size, -1),
            p.team[u][w],
            product[w],
        )
        n_opps += u.size
        opps += [ro, uo]
        pending = _contracts([renewed, upsold])
        ids = sum(c.n for c in done) + np.arange(pending.n)
        done.append(pending)
    return _concat(opps), _contracts(done)
