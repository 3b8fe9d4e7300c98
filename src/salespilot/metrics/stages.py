"""``stage_conversion``: stage-to-stage conversion of the opportunities (docs/funnel.md).

The stages are ordered by their median position in deals' histories (0 = the first stage a deal
entered; each stage taken at its first entry; ties by name). A deal **entered** stage ``s`` when at
some point it was in ``s`` or in a later stage: a deal that skips a stage passes through it, one
that comes back to an earlier stage counts once. It entered ``s`` on the first day it was in ``s``
or beyond, which puts it in that period's cohort; it **passed** ``s`` when it entered ``s + 1``
(at any time) or was won. The rate of stage ``s`` is passed / entered, one row per stage and period.

Everything runs on the engine with portable Ibis operations: the order (a median per stage), then
the entries (stage changes joined to a small table of the stages' ranks), then counts per stage,
period and dimension.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa

from salespilot.metrics import periods
from salespilot.metrics.catalogue import KPI
from salespilot.metrics.compile import Query
from salespilot.metrics.customers import builder
from salespilot.metrics.runner import MATURITY_DAYS, Key, Row, Runner
from salespilot.metrics.sources import SOURCES

PK = "pk"


def stage_order(runner: Runner) -> list[str]:
    """The stages in funnel order: those of the ``stage_order`` setting found in the data first (in
    its order), then the others by the median position of their first entry in deals' histories,
    ties by name."""
    s = runner.ctx.con.table("stage_changes")
    s = s.filter(s.source.isnull() | (s.source != "snapshot"))  # states recorded by imports, not entries
    first = s.group_by(["opportunity_id", "stage"]).aggregate(entered_at=s.entered_at.min())
    ranked = first.mutate(
        position=ibis.row_number().over(group_by=first.opportunity_id, order_by=[first.entered_at, first.stage])
    )
    medians, _ = runner.execute(ranked.group_by("stage").aggregate(position=ranked.position.cast("float64").median()))
    found = [r["stage"] for r in sorted(medians, key=lambda r: (float(r["position"]), str(r["stage"])))]
    head = [stage for stage in runner.ctx.stage_order if stage in found]
    return head + [stage for stage in found if stage not in head]


@builder("stage_conversion")
def stage_conversion(runner: Runner, kpi: KPI, query: Query) -> tuple[dict[Key, Row], str]:
    order = stage_order(runner)
    if not order:
        return {}, "series"
    con = runner.ctx.con
    ranks = ibis.memtable(
        pa.table({"rank_stage": pa.array(order, pa.string()), "rank": pa.array(range(len(order)), pa.int64())})
    )
    s = con.table("stage_changes")
    s = s.filter(s.source.isnull() | (s.source != "snapshot"))
    changes = s.join(ranks, s.stage == ranks.rank_stage).select("opportunity_id", "entered_at", "rank")
    reached = changes.group_by("opportunity_id").aggregate(top=changes["rank"].max())
    # Entered stage r: first time in r or beyond (a change to rank >= r).
    targets = ranks.select(target=ranks["rank"], target_stage=ranks.rank_stage)
    entries = changes.join(targets, changes["rank"] >= targets.target)
    entries = entries.group_by(["opportunity_id", "target", "target_stage"]).aggregate(
        entered_at=entries.entered_at.min()
    )
    needed = frozenset(query.by) | {dim for dim, _ in query.filters}
    opps = SOURCES["opportunities"].build(runner.ctx, "created_at", needed)
    opps = opps.select("outcome", *sorted(needed), opp_key=opps.opportunity_id)
    t = entries.join(reached, "opportunity_id").join(opps, entries.opportunity_id == opps.opp_key)
    passed = (t.top > t.target) | (t.outcome == "won").fill_null(False)
    local = periods.to_local(t.entered_at, query.timezone, *query.years)
    t = t.mutate(_local=local, _passed=passed)
    if query.start is not None:
        t = t.filter(t._local >= ibis.literal(dt.datetime.combine(query.start, dt.time()), type="timestamp"))
    if query.end is not None:
        after = dt.datetime.combine(query.end + dt.timedelta(days=1), dt.time())
        t = t.filter(t._local < ibis.literal(after, type="timestamp"))
    for dim, value in query.filters:
        t = t.filter(t[dim] == value)
    t = t.mutate(**{PK: periods.period_start(t._local, query.calendar)})
    counted = t.group_by([PK, "target", *query.by]).aggregate(entered=t.count(), passed=t.count(where=t._passed))
    aggregates, _ = runner.execute(counted)
    found: dict[Key, dict[int, Row]] = {}
    for r in aggregates:
        key = (_day(r[PK]), *(r[d] for d in query.by))
        found.setdefault(key, {})[int(r["target"])] = r
    out: dict[Key, Row] = {}
    for key, per_stage in found.items():
        age = _age(runner, query, key[0])
        series = []
        for rank, stage in enumerate(order):
            counts = per_stage.get(rank)
            num = int(counts["passed"]) if counts else 0
            den = int(counts["entered"]) if counts else 0
            flags = ["immature_cohort"] if age is not None and age < MATURITY_DAYS else []
            series.append(
                {
                    "stage": stage,
                    "stage_order": rank,
                    "next_stage": order[rank + 1] if rank + 1 < len(order) else "won",
                    "value": num / den if den else None,
                    "reason": None if den else f"no opportunity entered {stage} in the period",
                    "flags": flags,
                    "numerator": num,
                    "denominator": den,
                    **({"cohort_age_days": age} if age is not None else {}),
                }
            )
        out[key] = {"series": series}
    return out, "series"


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _age(runner: Runner, query: Query, start: dt.date) -> int | None:
    cal = query.calendar
    if cal.grain is periods.Grain.ALL or runner.data_end is None:
        return None
    return (runner.data_end - (cal.next_start(start) - dt.timedelta(days=1))).days
