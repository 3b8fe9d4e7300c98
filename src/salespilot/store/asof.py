"""The store as it stood at an instant: a lens (``store.lens``) that hides what happened after it.

``AsOfLens(cutoff, day)``: ``cutoff`` is the instant in UTC (naive), the end of ``day`` in the
workspace's time zone; ``day`` is that local date, for the tables dated by day. What each table
shows (docs/asof.md):

* rows created after the cutoff are not there yet: leads, opportunities, activities, stage
  changes, accounts (by ``created_at``), contracts (by ``start_date``), costs, market sizes
  (``period_start``), web traffic, campaign statistics and exchange rates (``date``);
* an opportunity closed after the cutoff is open, with no close date and no loss reason; an
  opportunity open at the cutoff (closed later, or still open) has as its stage the last one it
  entered by the cutoff, and as its amount and expected close date those recorded with that
  stage change (the stage history carries them), else its current ones; an opportunity closed by
  the cutoff keeps what it closed with;
* a rep who left after the day has not left yet;
* targets are plans, not events: all of them are shown.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

# The column that dates each table's rows (a timestamp, or a date for the second group).
TIMESTAMPED = {"leads": "created_at", "activities": "occurred_at", "stage_changes": "entered_at"}
DATED = {
    "contracts": "start_date",
    "costs": "period_start",
    "market_size": "period_start",
    "web_traffic": "date",
    "campaign_stats": "date",
    "fx_rates": "date",
}


class AsOfLens:
    """The tables as they stood at ``cutoff`` (UTC) / on ``day`` (local)."""

    def __init__(self, cutoff: dt.datetime, day: dt.date) -> None:
        self.cutoff = cutoff
        self.day = day

    def _at(self) -> ir.TimestampScalar:
        return ibis.literal(self.cutoff, type="timestamp")

    def apply(self, con: ibis.BaseBackend, name: str, table: ir.Table) -> ir.Table:
        if name in TIMESTAMPED:
            return table.filter(table[TIMESTAMPED[name]] <= self._at())
        if name in DATED:
            return table.filter(table[DATED[name]] <= ibis.literal(self.day, type="date"))
        if name == "accounts":
            return table.filter(table.created_at.isnull() | (table.created_at <= self._at()))
        if name == "reps":
            left_later = table.active_to.notnull() & (table.active_to > ibis.literal(self.day, type="date"))
            return table.mutate(active_to=ibis.ifelse(left_later, ibis.null("date"), table.active_to))
        if name == "opportunities":
            return self._opportunities(con, table)
        return table

    def _opportunities(self, con: ibis.BaseBackend, table: ir.Table) -> ir.Table:
        columns = table.columns
        at = self._at()
        t = table.filter(table.created_at <= at)
        s = con.table("stage_changes")
        s = s.filter(s.entered_at <= at)
        ranked = s.mutate(
            _n=ibis.row_number().over(group_by=s.opportunity_id, order_by=[ibis.desc(s.entered_at), ibis.desc(s.stage)])
        )
        last = ranked.filter(ranked._n == 0).select(
            _opp=ranked.opportunity_id,
            _stage=ranked.stage,
            _amount=ranked.amount,
            _close=ranked.expected_close_date,
        )
        t = t.left_join(last, t.opportunity_id == last._opp)
        later = t.closed_at.notnull() & (t.closed_at > at)
        open_then = later | t.closed_at.isnull()  # deals closed by the cutoff keep what they closed with
        changed = {
            "outcome": ibis.ifelse(later, ibis.literal("open"), t.outcome),
            "closed_at": ibis.ifelse(later, ibis.null("timestamp"), t.closed_at),
            "stage": ibis.ifelse(open_then, t._stage.fill_null(t.stage), t.stage),
            "amount": ibis.ifelse(open_then, t._amount.fill_null(t.amount), t.amount),
            "expected_close_date": ibis.ifelse(
                open_then, t._close.fill_null(t.expected_close_date), t.expected_close_date
            ),
        }
        for column in ("loss_reason", "loss_reason_text"):
            if column in columns:
                changed[column] = ibis.ifelse(later, ibis.null("string"), t[column])
        t = t.mutate(**{k: v.cast(table[k].type()) for k, v in changed.items() if k in columns})
        return t.select(*columns)


def as_of(source: object) -> AsOfLens | None:
    """The as-of lens a store or a backend is seen through (the last one), if any: readers
    that need "today" (cohort ages, days in stage) take its instant instead of the data's last."""
    lenses = getattr(source, "lenses", None) or getattr(source, "_lenses", None) or ()
    found = [lens for lens in lenses if isinstance(lens, AsOfLens)]
    return found[-1] if found else None
