"""The demo company's activities, generated block by block so that memory stays bounded.

Every block is a dict of arrays: rep, type, time, lead, opp, account (-1 for none)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from salespilot.demo.company import (
    AM,
    DAY,
    MANAGER,
    OUTBOUND,
    SDR,
    Accounts,
    Arr,
    Calendar,
    Leads,
    Reps,
    Rng,
    pick,
    snap,
)
from salespilot.demo.pipeline import BIG, WON, Contracts, Opps

ACTIVITY_TYPES = ("call", "email", "message", "meeting", "demo", "proposal", "signature", "other")
CALL, EMAIL, MESSAGE, MEETING, DEMO, PROPOSAL, SIGNATURE, OTHER = range(8)
LEAD_MIX = np.array([0.25, 0.5, 0.2, 0.05, 0, 0, 0, 0])
OPP_MIX = np.array([0.25, 0.45, 0.15, 0.1, 0, 0, 0, 0.05])
ACCOUNT_MIX = np.array([0.45, 0.25, 0.0, 0.3, 0, 0, 0, 0])
MILESTONE = np.array([MEETING, MEETING, DEMO, PROPOSAL, MEETING])
Block = dict[str, Arr]
BLOCK_ROWS = 400_000


def spread(rng: Rng, cal: Calendar, lo: Arr, hi: Arr) -> Arr:
    """Random times in [lo, hi) (cut at today), in office hours when possible."""
    hi = np.maximum(np.minimum(hi, cal.cutoff), lo + 1)
    t = lo + (rng.random(lo.size) * (hi - lo)).astype(np.int64)
    return np.minimum(snap(rng, t, lo, hi), cal.cutoff - 1)


def _block(rep: Arr, kind: Arr, time: Arr, lead: Arr | int = -1, opp: Arr | int = -1, account: Arr | int = -1) -> Block:
    n = rep.size
    return {
        "rep": rep,
        "type": kind,
        "time": time,
        **{k: np.broadcast_to(v, (n,)) for k, v in (("lead", lead), ("opp", opp), ("account", account))},
    }


def _lead_work(rng: Rng, cal: Calendar, reps: Reps, leads: Leads, size: int) -> Iterator[Block]:
    """The call that made each outbound lead, then the SDR's follow-ups until conversion."""
    for a in range(0, leads.created.size, size):
        sl = slice(a, a + size)
        created, owner, account = leads.created[sl], leads.owner[sl], leads.account[sl]
        lead = np.arange(a, a + created.size)
        ob = np.flatnonzero(leads.channel[sl] == OUTBOUND)
        yield _block(
            owner[ob], np.full(ob.size, CALL), created[ob] - rng.integers(60, 900, ob.size), lead[ob], -1, account[ob]
        )
        k = rng.poisson(2.6 * reps.act[owner])
        i = np.repeat(np.arange(created.size), k)
        opp_at = leads.opp_at[sl][i]
        hi = np.where(opp_at >= 0, opp_at, created[i] + 21 * DAY)
        t = spread(rng, cal, created[i] + 600, hi)
        yield _block(owner[i], rng.choice(8, i.size, p=LEAD_MIX), t, lead[i], -1, account[i])


def _cold_calls(rng: Rng, cal: Calendar, reps: Reps, leads: Leads, account_created: Arr, size: int) -> Iterator[Block]:
    """Calls that made no lead: about nine per outbound lead, fewer for the better SDRs; each to an
    account already in the CRM (accounts are sorted by creation)."""
    m_count = cal.n_months
    ob = (leads.channel == OUTBOUND) & (reps.role[leads.owner] == SDR)
    month = cal.month_of(leads.created[ob] // DAY)
    made = np.bincount(leads.owner[ob] * m_count + month, minlength=reps.n * m_count).reshape(reps.n, m_count)
    p_lead = np.clip(0.1 * np.sqrt(reps.skill), 0.04, 0.2)
    calls = rng.poisson(made * (1 / p_lead - 1)[:, None])
    parts: list[Block] = []
    for m in range(m_count):
        rep = np.repeat(np.arange(reps.n), calls[:, m])
        lo = np.full(rep.size, cal.months[m] * DAY)
        hi = np.full(rep.size, min(cal.months[m + 1], cal.end) * DAY)
        t = spread(rng, cal, lo, hi)
        known = np.maximum(np.searchsorted(account_created, t, side="right"), 1)
        parts.append(_block(rep, np.full(rep.size, CALL), t, -1, -1, (rng.random(rep.size) * known).astype(np.int64)))
        if sum(p["rep"].size for p in parts) >= size or m == m_count - 1:
            yield {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            parts = []


def _opp_work(rng: Rng, cal: Calendar, reps: Reps, accounts: Accounts, o: Opps, size: int) -> Iterator[Block]:
    """Per deal: a milestone per stage (meeting, demo, proposal...), follow-ups while the deal moves
    (none once it is stuck), the signature, and the manager on enterprise proposals."""
    for a in range(0, o["created"].size, size):
        sl = slice(a, a + size)
        created, closed, entries, owner = o["created"][sl], o["closed"][sl], o["entries"][sl], o["owner"][sl]
        account, opp = o["account"][sl], np.arange(a, a + created.size)
        end = np.where(closed >= 0, closed, cal.cutoff)
        r, s = np.nonzero(entries >= 0)
        t = spread(rng, cal, np.minimum(entries[r, s] + 1800, end[r] - 1), np.minimum(entries[r, s] + 2 * DAY, end[r]))
        yield _block(owner[r], MILESTONE[s], t, -1, opp[r], account[r])
        busy = np.maximum(np.minimum(end, o["quiet"][sl]) - created, 0) / DAY
        i = np.repeat(np.arange(created.size), np.minimum(rng.poisson(0.16 * reps.act[owner] * busy), 60))
        t = spread(rng, cal, created[i], np.minimum(end[i], o["quiet"][sl][i]))
        yield _block(owner[i], rng.choice(8, i.size, p=OPP_MIX), t, -1, opp[i], account[i])
        w = np.flatnonzero(o["outcome"][sl] == WON)
        yield _block(
            owner[w], np.full(w.size, SIGNATURE), closed[w] - rng.integers(0, 7200, w.size), -1, opp[w], account[w]
        )
        big = np.flatnonzero((accounts.segment[account] == 2) & (entries[:, 3] >= 0) & (reps.manager[owner] >= 0))
        lo = np.minimum(entries[big, 3] + DAY, end[big] - 1)
        t = spread(rng, cal, lo, np.minimum(entries[big, 3] + 5 * DAY, end[big]))
        yield _block(reps.manager[owner[big]], np.full(big.size, MEETING), t, -1, opp[big], account[big])


def _account_work(rng: Rng, cal: Calendar, reps: Reps, c: Contracts, size: int) -> Iterator[Block]:
    """Account managers' check-ins with customers while a contract runs."""
    elig = reps.eligible(cal, AM, 0, 90)
    for a in range(0, c.n, size):
        sl = slice(a, a + size)
        start, account = c.start[sl], c.account[sl]
        am = pick(rng, cal.month_of(start), elig, reps.act, c.team[sl], reps.team)
        left = np.where(reps.active_to[am] >= 0, reps.active_to[am] + 1, BIG // DAY)
        stop = np.minimum(np.minimum(c.end[sl] + 1, cal.end), left)
        k = rng.poisson(np.maximum(stop - start, 0) / 75 * reps.act[am])
        i = np.repeat(np.arange(start.size), k)
        t = spread(rng, cal, start[i] * DAY, stop[i] * DAY)
        yield _block(am[i], rng.choice(8, i.size, p=ACCOUNT_MIX), t, -1, -1, account[i])


def _internal(rng: Rng, cal: Calendar, reps: Reps) -> Iterator[Block]:
    """Internal work (training, pipeline reviews, coaching): type other, no record attached."""
    ms, me = cal.months[:-1][None, :], np.minimum(cal.months[1:], cal.end)[None, :]
    lo = np.maximum(ms, reps.active_from[:, None])
    hi = np.minimum(me, np.where(reps.active_to >= 0, reps.active_to + 1, BIG // DAY)[:, None])
    rate = np.where(reps.role == MANAGER, 10.0, 4.0) * reps.act
    k = rng.poisson(rate[:, None] * np.clip((hi - lo) / 30.0, 0.0, None))
    rep, month = np.divmod(np.repeat(np.arange(k.size), k.ravel()), cal.n_months)
    t = spread(rng, cal, lo[rep, month] * DAY, hi[rep, month] * DAY)
    yield _block(rep, np.full(rep.size, OTHER), t)


def activities(
    rng: Rng, cal: Calendar, reps: Reps, accounts: Accounts, leads: Leads, opps: Opps, c: Contracts
) -> Iterator[Block]:
    """All activity blocks, of about ``BLOCK_ROWS`` rows or less (independent of the output chunks)."""
    size = BLOCK_ROWS
    yield from _lead_work(rng, cal, reps, leads, size // 4)
    yield from _cold_calls(rng, cal, reps, leads, accounts.created, size)
    yield from _opp_work(rng, cal, reps, accounts, opps, size // 16)
    yield from _account_work(rng, cal, reps, c, size // 4)
    yield from _internal(rng, cal, reps)
