"""The demo company: a B2B SaaS seller with three years of history, as canonical Arrow tables.

``generate(size, seed, today)`` yields ``(table name, Arrow table)`` in ``model.IMPORT_ORDER``;
big tables come in chunks of at most ``CHUNK_ROWS`` rows so memory stays bounded. The same size,
seed and today give the same rows. The numbers are made in ``company`` (reps, accounts, leads),
``pipeline`` (opportunities, stages, contracts), ``activity`` and ``market`` (the small tables);
this module validates the parameters and turns codes into Arrow columns.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salespilot import model
from salespilot.demo import activity, company, market, pipeline
from salespilot.demo.company import DAY, IDS, Arr
from salespilot.errors import InternalError, ParameterError, did_you_mean

DEFAULT_TODAY = dt.date(2026, 6, 30)  # fixed, so that the default demo is reproducible
CHUNK_ROWS = 500_000


@dataclass(frozen=True)
class SizeConfig:
    reps: int
    teams: int
    leads: int  # over the three years; about a third become opportunities, ten activities per lead


SIZES: dict[str, SizeConfig] = {
    "small": SizeConfig(reps=25, teams=4, leads=5_000),
    "medium": SizeConfig(reps=250, teams=20, leads=1_000_000),
    "large": SizeConfig(reps=1200, teams=80, leads=5_000_000),
}

ARROW_TYPES: dict[model.ColumnType, pa.DataType] = {
    model.ColumnType.STRING: pa.string(),
    model.ColumnType.TIMESTAMP: pa.timestamp("us"),
    model.ColumnType.DATE: pa.date32(),
    model.ColumnType.FLOAT: pa.float64(),
    model.ColumnType.INTEGER: pa.int64(),
    model.ColumnType.PERIOD: pa.string(),
}


def schema(name: str) -> pa.Schema:
    """The Arrow schema of a canonical table, as the generator writes it."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in model.TABLES[name].columns])


def generate(size: str = "small", seed: int = 42, today: dt.date | None = None) -> Iterator[tuple[str, pa.Table]]:
    """The demo company's tables as ``(canonical table name, Arrow table chunk)`` pairs.

    Data spans the three years before ``today`` (default ``DEFAULT_TODAY``) and stops at its
    midnight. Raises ``ParameterError`` for an unknown size, a negative seed or a bad date."""
    if size not in SIZES:
        raise ParameterError(f'Unknown demo size "{size}".{did_you_mean(size, SIZES)} Sizes: {", ".join(SIZES)}.')
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"The demo seed must be a whole number >= 0, not {seed!r}.")
    if today is None:
        today = DEFAULT_TODAY
    elif isinstance(today, dt.datetime):
        today = today.date()
    elif not isinstance(today, dt.date):
        raise ParameterError(f"The demo's today must be a date, not {today!r}.")
    if not dt.date(1975, 1, 1) <= today <= dt.date(9000, 1, 1):
        raise ParameterError(f"The demo's today must be a date after 1975, not {today}.")
    return _generate(SIZES[size], int(seed), today)


def _generate(cfg: SizeConfig, seed: int, today: dt.date) -> Iterator[tuple[str, pa.Table]]:
    def rng(part: int) -> np.random.Generator:  # one stream per part: a change in one leaves the others
        return np.random.default_rng([seed, part])

    cal = company.make_calendar(today)
    reps = company.make_reps(rng(1), cal, cfg.reps, cfg.teams)
    camps = company.make_campaigns(cal, cfg.leads)
    fx = company.make_fx(rng(2), cal)
    leads, accounts = company.make_leads(rng(3), cal, reps, camps, cfg.leads)
    new = pipeline.new_business(rng(4), cal, reps, camps, leads, accounts, fx)
    opps, contracts = pipeline.customers(rng(5), cal, reps, accounts, fx, new)
    del new
    tally = np.zeros((reps.n, cal.n_months))  # activities per (rep, month), for the targets

    def activities() -> Iterator[tuple[str, pa.Table]]:
        done = 0
        for block in activity.activities(rng(6), cal, reps, accounts, leads, opps, contracts):
            n = block["rep"].size
            np.add.at(tally, (block["rep"], cal.month_of(block["time"] // DAY)), 1.0)
            yield from _chunks("activities", n, functools.partial(_activity_columns, block, done))
            done += n

    producers: dict[str, Callable[[], Iterator[tuple[str, pa.Table]]]] = {
        "reps": lambda: _chunks("reps", reps.n, lambda sl: _rep_columns(reps)),
        "accounts": lambda: _chunks("accounts", accounts.created.size, lambda sl: _account_columns(accounts, sl)),
        "leads": lambda: _chunks("leads", leads.created.size, lambda sl: _lead_columns(leads, camps, sl)),
        "opportunities": lambda: _chunks("opportunities", opps["created"].size, lambda sl: _opp_columns(opps, sl)),
        "stage_changes": lambda: _stage_changes(opps),
        "activities": activities,  # before targets, which read the tally
        "contracts": lambda: _chunks("contracts", contracts.n, lambda sl: _contract_columns(contracts, sl)),
        "costs": lambda: _small("costs", market.costs(rng(7), cal, reps, camps, opps)),
        "web_traffic": lambda: _small("web_traffic", market.web_traffic(rng(8), cal, camps, leads)),
        "campaign_stats": lambda: _small("campaign_stats", market.campaign_stats(rng(9), cal, camps)),
        "market_size": lambda: _small("market_size", market.market_size(rng(10), cal, opps)),
        "targets": lambda: _small("targets", market.targets(cal, reps, leads, opps, tally)),
        "fx_rates": lambda: _small("fx_rates", market.fx_rates(cal, fx)),
    }
    missing = set(model.IMPORT_ORDER) - set(producers)
    if missing:
        raise InternalError(f"The demo generator does not write {sorted(missing)}.")
    for name in model.IMPORT_ORDER:
        yield from producers[name]()


# --- Arrow columns ---------------------------------------------------------------------------


def ids(kind: str, idx: Arr) -> pa.Array:
    """Ids like R0001 from 0-based indexes; null where the index is negative."""
    prefix, width = IDS[kind]
    numbers = pc.cast(pa.array(np.asarray(idx, dtype=np.int64) + 1, mask=np.asarray(idx) < 0), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width=width, padding="0"), "")


def cat(vocab: tuple[str | None, ...] | list[str | None] | list[str], codes: Arr) -> pa.Array:
    """Strings from codes into ``vocab``; null where the code is negative."""
    codes = np.asarray(codes, dtype=np.int64)
    return pc.take(pa.array(list(vocab), pa.string()), pa.array(codes, mask=codes < 0))


def _arrow(ctype: model.ColumnType, values: Any) -> pa.Array:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if isinstance(values, list):
        return pa.array(values, ARROW_TYPES[ctype])
    v = np.asarray(values)
    if ctype is model.ColumnType.TIMESTAMP:  # seconds, -1 for null
        return pa.array((v.astype(np.int64) * 1_000_000).astype("datetime64[us]"), mask=v < 0)
    if ctype is model.ColumnType.DATE:  # days, -1 for null
        return pa.array(v.astype(np.int32), mask=v < 0).cast(pa.date32())
    if ctype is model.ColumnType.FLOAT:
        return pa.array(v.astype(np.float64), mask=np.isnan(v))
    if ctype is model.ColumnType.INTEGER:
        return pa.array(v.astype(np.int64))
    raise InternalError(f"No numpy conversion for {ctype}.")


def _table(name: str, n: int, cols: dict[str, Any]) -> pa.Table:
    table = model.TABLES[name]
    unknown = set(cols) - set(table.column_names)
    if unknown:
        raise InternalError(f"The demo generator writes unknown columns {sorted(unknown)} into {name}.")
    arrays = [
        _arrow(c.type, cols[c.name]) if c.name in cols else pa.nulls(n, ARROW_TYPES[c.type]) for c in table.columns
    ]
    return pa.Table.from_arrays(arrays, schema=schema(name))


def _chunks(name: str, n: int, make: Callable[[slice], dict[str, Any]]) -> Iterator[tuple[str, pa.Table]]:
    """The table ``name`` of ``n`` rows in chunks; at least one chunk, maybe empty."""
    for a in range(0, max(n, 1), CHUNK_ROWS):
        sl = slice(a, min(a + CHUNK_ROWS, n))
        yield name, _table(name, sl.stop - sl.start, make(sl))


def _small(name: str, cols: market.Columns) -> Iterator[tuple[str, pa.Table]]:
    yield from _chunks(name, len(next(iter(cols.values()))), lambda sl: {k: v[sl] for k, v in cols.items()})


def _rep_columns(r: company.Reps) -> dict[str, Any]:
    return {
        "rep_id": ids("rep", np.arange(r.n)),
        "name": r.names,
        "email": r.emails,
        "team": cat(r.team_names, r.team),
        "manager_id": ids("rep", r.manager),
        "role": cat(company.ROLES, r.role),
        "active_from": r.active_from,
        "active_to": r.active_to,
    }


def _account_columns(a: company.Accounts, sl: slice) -> dict[str, Any]:
    word = pc.binary_join_element_wise(cat(company.NAME_HEAD, a.head[sl]), cat(company.NAME_TAIL, a.tail[sl]), "")
    name = pc.binary_join_element_wise(
        word, cat(company.INDUSTRY_WORD, a.industry[sl]), cat(company.LEGAL, a.country[sl]), " "
    )
    return {
        "account_id": ids("account", np.arange(sl.start, sl.stop)),
        "name": name,
        "segment": cat(company.SEGMENTS, a.segment[sl]),
        "industry": cat(company.INDUSTRIES, a.industry[sl]),
        "country": cat(company.COUNTRIES, a.country[sl]),
        "employees": a.employees[sl],
        "created_at": a.created[sl],
    }


def _lead_columns(ld: company.Leads, camps: company.Campaigns, sl: slice) -> dict[str, Any]:
    return {
        "lead_id": ids("lead", np.arange(sl.start, sl.stop)),
        "created_at": ld.created[sl],
        "channel": cat(company.CHANNELS, ld.channel[sl]),
        "campaign": cat(camps.names, ld.campaign[sl]),
        "account_id": ids("account", ld.account[sl]),
        "owner_id": ids("rep", ld.owner[sl]),
        "status": cat(company.LEAD_STATUS, ld.status[sl]),
        "disqualified_reason": cat(company.DQ_REASONS, ld.dq[sl]),
    }


def _opp_columns(o: pipeline.Opps, sl: slice) -> dict[str, Any]:
    ecd = o["ecd"][sl]
    cols: dict[str, Any] = {
        "opportunity_id": ids("opp", np.arange(sl.start, sl.stop)),
        "created_at": o["created"][sl],
        "lead_id": ids("lead", o["lead"][sl]),
        "account_id": ids("account", o["account"][sl]),
        "owner_id": ids("rep", o["owner"][sl]),
        "stage": cat(pipeline.STAGES, o["stage"][sl]),
        "amount": o["amount"][sl],
        "margin": o["margin"][sl],
        "currency": cat(company.CURRENCIES, o["currency"][sl]),
        "expected_close_date": ecd,
        "closed_at": o["closed"][sl],
        "outcome": cat(pipeline.OUTCOMES, o["outcome"][sl]),
        "loss_reason": cat(pipeline.LOSS_REASONS, o["loss"][sl]),
        "loss_reason_text": cat(pipeline.LOSS_TEXTS, o["loss_text"][sl]),
        "competitor": cat(pipeline.COMPETITORS, o["competitor"][sl]),
        "product": cat(pipeline.PRODUCTS, o["product"][sl]),
        "channel": cat(company.CHANNELS, o["channel"][sl]),
        "type": cat(pipeline.TYPES, o["kind"][sl]),
        "forecast_category": cat(pipeline.FORECAST, o["forecast"][sl]),
        "decision_date": pc.cast(_arrow(model.ColumnType.DATE, np.where(o["q5"][sl] < 0, -1, ecd)), pa.string()),
    }
    for field, vocab, key in zip(
        model.QUALIFICATION_FIELDS, pipeline.QUALIFICATION, ("q0", "q1", "q2", "q3", "q4"), strict=False
    ):
        cols[field] = cat(vocab, o[key][sl])
    return cols


def _stage_changes(o: pipeline.Opps) -> Iterator[tuple[str, pa.Table]]:
    """Each opportunity's stage entries, in order; amount and expected close date as they were then."""
    step = CHUNK_ROWS // len(pipeline.STAGES)
    for a in range(0, max(o["created"].size, 1), step):
        entries = o["entries"][a : a + step]
        r, s = np.nonzero(entries >= 0)
        opp = a + r
        entered = entries[r, s]
        amount = np.round(o["amount"][opp] * (1 + (o["drift"][opp] - 1) * (1 - s / 4)), -1)
        cols = {
            "opportunity_id": ids("opp", opp),
            "stage": cat(pipeline.STAGES, s),
            "entered_at": entered,
            "amount": amount,
            "expected_close_date": np.maximum(o["ecd"][opp], entered // DAY + 14 * (s > 0)),
        }
        yield "stage_changes", _table("stage_changes", opp.size, cols)


def _activity_columns(b: activity.Block, offset: int, sl: slice) -> dict[str, Any]:
    return {
        "activity_id": ids("activity", np.arange(offset + sl.start, offset + sl.stop)),
        "rep_id": ids("rep", b["rep"][sl]),
        "type": cat(activity.ACTIVITY_TYPES, b["type"][sl]),
        "occurred_at": b["time"][sl],
        "lead_id": ids("lead", b["lead"][sl]),
        "opportunity_id": ids("opp", b["opp"][sl]),
        "account_id": ids("account", b["account"][sl]),
    }


def _contract_columns(c: pipeline.Contracts, sl: slice) -> dict[str, Any]:
    return {
        "contract_id": ids("contract", np.arange(sl.start, sl.stop)),
        "account_id": ids("account", c.account[sl]),
        "start_date": c.start[sl],
        "end_date": c.end[sl],
        "value": c.value[sl],
        "currency": cat(company.CURRENCIES, c.currency[sl]),
        "opportunity_id": ids("opp", c.opp[sl]),
        "renews_contract_id": ids("contract", c.renews[sl]),
    }
