"""A user's scope: a lens (``store.lens``) that shows a manager or a rep only their records.

``ScopeLens(rep_ids, teams)``: ``rep_ids`` are the reps whose records are visible (a rep: their
own id; a manager: the reps of their team and those who report to them, and themselves),
``teams`` the teams whose targets are visible. ``salespilot.engine.access.scope_lens`` builds it
for a user; admins and viewers see everything and get no lens. What each table shows
(docs/access.md):

* opportunities and leads owned by a visible rep (``owner_id``); activities of a visible rep
  (``rep_id``); the stage changes of visible opportunities; the visible reps themselves;
* accounts that have a visible opportunity or a visible lead;
* contracts whose opportunity is visible or, for a contract with no opportunity (a renewal
  signed outside the pipeline), whose account is visible;
* targets of the company, of a visible rep, or of a visible team;
* costs: none. Company spend (marketing, salaries, tools) is not a rep's record, and it cannot
  be split by rep: cost KPIs (CAC, cost per lead...) are empty in a scope;
* fx_rates, web_traffic, campaign_stats and market_size: unchanged (they are about the market
  and the company's channels, not about anyone's deals).

An empty scope (a manager whose team has no reps) shows nothing, never everything. Values
reach the database as Ibis literals (``isin``) and sub-queries (semi-joins), never pasted SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import ibis
import ibis.expr.types as ir

# The tables a scope leaves as they are: nobody's records.
UNSCOPED = frozenset({"fx_rates", "web_traffic", "campaign_stats", "market_size"})


def _member(column: ir.Column, values: Iterable[str]) -> ir.BooleanValue:
    """``column`` in ``values``; false for no values (``IN ()`` is not SQL)."""
    chosen = sorted(values)
    if not chosen:
        return ibis.literal(False)
    return column.isin(chosen)


COSTS_HIDDEN = "costs are company spend, not a rep's or a team's records: not in this scope"


@dataclass(frozen=True)
class ScopeLens:
    """The records of the reps ``rep_ids`` (and the targets of the teams ``teams``)."""

    narrows_records: ClassVar[bool] = True  # lookups see past it (lens.beyond_scope)

    rep_ids: frozenset[str]
    teams: frozenset[str] = frozenset()

    def __post_init__(self) -> None:  # any iterable of ids will do; kept as frozensets
        object.__setattr__(self, "rep_ids", frozenset(self.rep_ids))
        object.__setattr__(self, "teams", frozenset(self.teams))

    # -- what is visible, as sub-queries on the store's own tables ------------------------------
    def _opportunities(self, con: ibis.BaseBackend) -> ir.Table:
        o = con.table("opportunities")
        return o.filter(_member(o.owner_id, self.rep_ids))

    def _leads(self, con: ibis.BaseBackend) -> ir.Table:
        leads = con.table("leads")
        return leads.filter(_member(leads.owner_id, self.rep_ids))

    def _account_visible(self, con: ibis.BaseBackend, account_id: ir.Column) -> ir.BooleanValue:
        if not self.rep_ids:
            return ibis.literal(False)
        opportunities = self._opportunities(con)
        leads = self._leads(con)
        return account_id.isin(opportunities.account_id) | account_id.isin(leads.account_id)

    def owner(self) -> tuple[str, str | None] | None:
        """Whose records these are, for targets: one rep's, else one team's, else nobody's."""
        if len(self.rep_ids) == 1 and not self.teams:
            return ("rep", next(iter(self.rep_ids)))
        if len(self.teams) == 1:
            return ("team", next(iter(self.teams)))
        return None

    def hides(self) -> dict[str, str]:
        return {"costs": COSTS_HIDDEN}

    def apply(self, con: ibis.BaseBackend, name: str, table: ir.Table) -> ir.Table:
        if name in UNSCOPED:
            return table
        if name in ("opportunities", "leads"):
            return table.filter(_member(table.owner_id, self.rep_ids))
        if name == "activities":
            return table.filter(_member(table.rep_id, self.rep_ids))
        if name == "reps":
            return table.filter(_member(table.rep_id, self.rep_ids))
        if name == "stage_changes":
            if not self.rep_ids:
                return table.filter(ibis.literal(False))
            return table.filter(table.opportunity_id.isin(self._opportunities(con).opportunity_id))
        if name == "accounts":
            return table.filter(self._account_visible(con, table.account_id))
        if name == "contracts":
            if not self.rep_ids:
                return table.filter(ibis.literal(False))
            by_deal = table.opportunity_id.isin(self._opportunities(con).opportunity_id)
            by_account = table.opportunity_id.isnull() & self._account_visible(con, table.account_id)
            return table.filter(by_deal | by_account)
        if name == "targets":
            company = table.scope.isnull() | (table.scope == "company")  # the importer's default scope
            rep = (table.scope == "rep") & _member(table.scope_id, self.rep_ids)
            team = (table.scope == "team") & _member(table.scope_id, self.teams)
            return table.filter(company | rep | team)
        if name == "costs":
            return table.filter(ibis.literal(False))
        return table
