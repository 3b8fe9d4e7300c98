"""The dashboard's filters as a lens (``store.lens``): every reader sees only the slice asked for.

The KPI engine filters by a dimension itself; the funnel, the pipeline, losses, the team's
scorecards and the forecast read whole tables. ``SliceLens(rep, team, channel, segment)``
narrows those tables where they are read, so that every page obeys the filter bar. The
dimensions mean what they mean in the KPI engine (``metrics.sources``):

* rep: the owner of a lead or an opportunity (``owner_id``), the rep of an activity (``rep_id``);
* team: the owner's team (``reps.team``);
* segment: the account's segment (``accounts.segment`` through ``account_id``);
* channel: a lead's ``channel``; an opportunity's own channel, else its lead's.

Several filters combine with AND. Per table:

* opportunities and leads: those matching every filter; stage changes: of visible opportunities;
* activities: rep and team by ``rep_id``, segment by the account; with a channel, the activities
  of a visible lead or opportunity;
* accounts: of the segment; with a rep, team or channel, those with a visible opportunity or lead;
* contracts: whose opportunity is visible or, with no opportunity, whose account is visible;
* reps: the rep, or the team's reps (channel and segment leave the reps as they are);
* costs: a channel keeps that channel's costs; a rep, team or segment shows none (company spend
  cannot be split by rep or segment, the stance of ``ScopeLens``); campaign_stats and
  web_traffic: narrowed by a channel; fx_rates, market_size and targets: unchanged.

With no filter every table is unchanged. Values reach the database as Ibis literals and
semi-joins, never pasted SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import ibis
import ibis.expr.types as ir

SLICE_DIMS = ("rep", "team", "channel", "segment")


@dataclass(frozen=True)
class SliceLens:
    narrows_records: ClassVar[bool] = True  # lookups see past it (lens.beyond_scope)

    rep: str | None = None
    team: str | None = None
    channel: str | None = None
    segment: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.rep or self.team or self.channel or self.segment)

    def owner(self) -> tuple[str, str | None] | None:
        """Whose records the slice shows, for targets: a rep's, a team's, the company's; nobody's
        with a channel or a segment (there are no targets per channel)."""
        if self.channel or self.segment:
            return None
        if self.rep:
            return ("rep", self.rep)
        if self.team:
            return ("team", self.team)
        return ("company", None)

    # -- the conditions, on the store's own tables ----------------------------------------------
    def _owner(self, con: ibis.BaseBackend, column: ir.StringColumn) -> ir.BooleanValue:
        condition: ir.BooleanValue = ibis.literal(True)
        if self.rep:
            condition = condition & (column == self.rep)
        if self.team:
            reps = con.table("reps")
            condition = condition & column.isin(reps.filter(reps.team == self.team).rep_id)
        return condition

    def _segment(self, con: ibis.BaseBackend, account_id: ir.StringColumn) -> ir.BooleanValue:
        if not self.segment:
            return ibis.literal(True)
        accounts = con.table("accounts")
        return account_id.isin(accounts.filter(accounts.segment == self.segment).account_id)

    def _leads(self, con: ibis.BaseBackend, leads: ir.Table) -> ir.Table:
        kept = leads.filter(self._owner(con, leads.owner_id), self._segment(con, leads.account_id))
        return kept.filter(kept.channel == self.channel) if self.channel else kept

    def _opportunities(self, con: ibis.BaseBackend, o: ir.Table) -> ir.Table:
        kept = o.filter(self._owner(con, o.owner_id), self._segment(con, o.account_id))
        if not self.channel:
            return kept
        leads = con.table("leads")
        of_channel = leads.filter(leads.channel == self.channel).lead_id
        return kept.filter((kept.channel == self.channel) | (kept.channel.isnull() & kept.lead_id.isin(of_channel)))

    def _account_visible(self, con: ibis.BaseBackend, account_id: ir.StringColumn) -> ir.BooleanValue:
        condition = self._segment(con, account_id)
        if self.rep or self.team or self.channel:
            opportunities = self._opportunities(con, con.table("opportunities"))
            leads = self._leads(con, con.table("leads"))
            condition = condition & (account_id.isin(opportunities.account_id) | account_id.isin(leads.account_id))
        return condition

    def hides(self) -> dict[str, str]:
        if self.rep or self.team or self.segment:
            return {"costs": "costs cannot be split by rep, team or segment: not in this slice"}
        return {}

    def apply(self, con: ibis.BaseBackend, name: str, table: ir.Table) -> ir.Table:
        if self.empty:
            return table
        if name == "opportunities":
            return self._opportunities(con, table)
        if name == "leads":
            return self._leads(con, table)
        if name == "stage_changes":
            visible = self._opportunities(con, con.table("opportunities")).opportunity_id
            return table.filter(table.opportunity_id.isin(visible))
        if name == "activities":
            kept = table.filter(self._owner(con, table.rep_id), self._segment(con, table.account_id))
            if self.channel:
                opportunities = self._opportunities(con, con.table("opportunities")).opportunity_id
                leads = self._leads(con, con.table("leads")).lead_id
                kept = kept.filter(kept.opportunity_id.isin(opportunities) | kept.lead_id.isin(leads))
            return kept
        if name == "accounts":
            return table.filter(self._account_visible(con, table.account_id))
        if name == "contracts":
            visible = self._opportunities(con, con.table("opportunities")).opportunity_id
            by_deal = table.opportunity_id.isin(visible)
            by_account = table.opportunity_id.isnull() & self._account_visible(con, table.account_id)
            return table.filter(by_deal | by_account)
        if name == "reps":
            return table.filter(self._owner(con, table.rep_id)) if self.rep or self.team else table
        if name == "costs":
            if self.rep or self.team or self.segment:
                return table.filter(ibis.literal(False))
            return table.filter(table.channel == self.channel)
        if name in ("campaign_stats", "web_traffic") and self.channel:
            return table.filter(table.channel == self.channel)
        return table
