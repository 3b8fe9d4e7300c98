"""Sources: the canonical tables joined to what their KPIs are split by.

Every join is many-to-one (a rep, an account, a lead per row; the opportunities of a lead are
aggregated to one row per lead before they are joined), so no row is ever counted twice.
The dimension columns carry the dimension's name: ``rep``, ``team``, ``channel``...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from salespilot.metrics import periods


@dataclass(frozen=True)
class Context:
    """What a source needs besides the tables: the store's Ibis backend and the workspace."""

    con: ibis.BaseBackend
    base_currency: str
    default_margin_rate: float
    fx: ir.Table | None  # currency, date, rate: one row per currency and day, forward-filled
    active_window_months: int = 12  # settings used by the customer KPIs (metrics/customers.py)
    renewal_grace_days: int = 30
    timezone: str = "UTC"  # the workspace's: days are local days
    years: tuple[int, int] = (2000, 2030)  # the data's years, for local time
    stage_order: tuple[str, ...] = ()  # the stage_order setting: stages in funnel order

    def local(self, ts: ir.TimestampValue) -> ir.TimestampValue:
        """A UTC timestamp as the workspace's wall-clock time."""
        return periods.to_local(ts, self.timezone, *self.years)


@dataclass(frozen=True)
class Source:
    name: str
    anchors: tuple[str, ...]
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    columns: tuple[str, ...]  # filterable columns
    build: Callable[[Context, str, frozenset[str]], ir.Table]  # (context, anchor, dimensions needed)


def _reps(ctx: Context) -> ir.Table:
    r = ctx.con.table("reps")
    return r.select(rep_key=r.rep_id, team=r.team)


def _accounts(ctx: Context) -> ir.Table:
    a = ctx.con.table("accounts")
    return a.select(account_key=a.account_id, segment=a.segment, industry=a.industry, country=a.country)


ACCOUNT_DIMS = frozenset({"segment", "industry", "country"})


def _join_dims(ctx: Context, t: ir.Table, rep: str, account: str, needed: frozenset[str]) -> ir.Table:
    """Add team (the rep's) and segment, industry, country (the account's), joined only when asked:
    a join nobody reads still costs a scan."""
    if "team" in needed:
        reps = _reps(ctx)
        t = t.left_join(reps, t[rep] == reps.rep_key).drop("rep_key")
    else:
        t = t.mutate(team=ibis.null("string"))
    if needed & ACCOUNT_DIMS:
        accounts = _accounts(ctx)
        t = t.left_join(accounts, t[account] == accounts.account_key).drop("account_key")
    else:
        t = t.mutate(**{d: ibis.null("string") for d in sorted(ACCOUNT_DIMS)})
    return t


def _convert(ctx: Context, t: ir.Table, amount: str, currency: str, day: ir.DateValue) -> ir.Table:
    """Add ``_rate`` (to the base currency, on ``day``), ``{amount}_base`` and ``fx_missing``.

    A row in the base currency (or with none) has rate 1; another currency takes the rate of
    ``day`` from the forward-filled daily table; with no rate known yet the amount is missing.
    """
    same = t[currency].isnull() | (t[currency].upper() == ibis.literal(ctx.base_currency))
    if ctx.fx is None:
        t = t.mutate(_rate=ibis.ifelse(same, ibis.literal(1.0, type="float64"), ibis.null("float64")))
    else:
        fx = ctx.fx
        t = t.mutate(_fx_day=day, _fx_cur=t[currency].upper())
        t = t.left_join(fx, [t._fx_cur == fx.fx_currency, t._fx_day == fx.fx_date])
        t = t.mutate(_rate=ibis.ifelse(same, ibis.literal(1.0, type="float64"), t.fx_rate))
        t = t.drop("_fx_day", "_fx_cur", "fx_currency", "fx_date", "fx_rate")
    return t.mutate(**{f"{amount}_base": t[amount] * t._rate, "fx_missing": t._rate.isnull() & t[amount].notnull()})


def beyond_scope(con: ibis.BaseBackend) -> ibis.BaseBackend:
    """``con`` past a user's scope or the filter bar's slice, for the lookups that give a visible
    record its attributes (store.lens.beyond_scope says why); ``con`` itself when nothing narrows it."""
    widen = getattr(con, "beyond_scope", None)
    return widen() if callable(widen) else con


def _leads(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    leads = ctx.con.table("leads")
    opps = beyond_scope(ctx.con).table("opportunities")  # converted: into anyone's opportunity
    per_lead = (
        opps.filter(opps.lead_id.notnull())
        .group_by(lead_key=opps.lead_id)
        .aggregate(
            first_opportunity_at=opps.created_at.min(),
            won_any=(opps.outcome == "won").any(),
        )
    )
    t = leads.left_join(per_lead, leads.lead_id == per_lead.lead_key)
    t = _join_dims(ctx, t, "owner_id", "account_id", needed)
    return t.select(
        "lead_id",
        "created_at",
        "status",
        rep=t.owner_id,
        team=t.team,
        channel=t.channel,
        campaign=t.campaign,
        segment=t.segment,
        industry=t.industry,
        country=t.country,
        converted=t.first_opportunity_at.notnull(),
        won=t.won_any.fill_null(False),
    )


def _opportunities(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    o = ctx.con.table("opportunities")
    leads = beyond_scope(ctx.con).table("leads")  # a deal's channel is its lead's, whoever owns the lead
    if needed & {"channel", "campaign"}:
        lead_cols = leads.select(lead_key=leads.lead_id, lead_channel=leads.channel, lead_campaign=leads.campaign)
        t = o.left_join(lead_cols, o.lead_id == lead_cols.lead_key)
    else:
        t = o.mutate(lead_channel=ibis.null("string"), lead_campaign=ibis.null("string"))
    t = _join_dims(ctx, t, "owner_id", "account_id", needed)
    t = t.select(
        "opportunity_id",
        "created_at",
        "closed_at",
        "outcome",
        "amount",
        "margin",
        "currency",
        "loss_reason",
        "forecast_category",
        rep=t.owner_id,
        team=t.team,
        channel=t.channel.fill_null(t.lead_channel),
        campaign=t.lead_campaign,
        segment=t.segment,
        industry=t.industry,
        country=t.country,
        product=t.product,
        stage=t.stage,
        type=t.type,
    )
    # Converted at the rate of the anchor's local day, the day the KPI puts the deal in.
    t = _convert(ctx, t, "amount", "currency", ctx.local(t[anchor]).cast("date"))
    margin_rate = ibis.literal(ctx.default_margin_rate, type="float64")
    # Days on the local calendar: a daylight-saving change does not make a month 30.96 days long.
    # (Ibis types epoch_seconds as int32, which ends in 2038: take the difference in seconds.)
    seconds = ctx.local(t.closed_at).delta(ctx.local(t.created_at), unit="second").cast("float64")
    return t.mutate(
        margin_base=ibis.ifelse(t.margin.notnull(), t.margin * t._rate, t.amount_base * margin_rate),
        cycle_days=seconds / ibis.literal(86400.0, type="float64"),
    ).drop("_rate")


def _activities(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    a = ctx.con.table("activities")
    t = _join_dims(ctx, a, "rep_id", "account_id", needed)
    return t.select(
        "activity_id",
        "occurred_at",
        rep=t.rep_id,
        team=t.team,
        type=t.type,
        segment=t.segment,
        industry=t.industry,
        country=t.country,
    )


def _costs(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    c = ctx.con.table("costs")
    t = c.select("period_start", "amount", "currency", "category", channel=c.channel, campaign=c.campaign)
    return _convert(ctx, t, "amount", "currency", t.period_start).drop("_rate")


def _web(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    w = ctx.con.table("web_traffic")
    return w.select("date", "visitors", "contacts", channel=w.channel)


def _campaigns(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    c = ctx.con.table("campaign_stats")
    return c.select("date", "impressions", "clicks", "engagements", campaign=c.campaign, channel=c.channel)


def _customers(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    """One row per customer: an account with a won opportunity, acquired at its first win.

    The first win and the first lead are found among everyone's records (``beyond_scope``); a
    scope or a slice then keeps the customers whose first win it shows."""
    everyone = beyond_scope(ctx.con)
    o = everyone.table("opportunities")
    won = o.filter((o.outcome == "won") & o.account_id.notnull() & o.closed_at.notnull())
    ranked = won.mutate(
        _rank=ibis.row_number().over(group_by=won.account_id, order_by=[won.closed_at, won.opportunity_id])
    )
    first = ranked.filter(ranked._rank == 0)
    if everyone is not ctx.con:
        first = first.filter(first.opportunity_id.isin(ctx.con.table("opportunities").opportunity_id))
    if "channel" in needed:  # a customer's channel is its first lead's
        leads = everyone.table("leads")
        first_lead = leads.filter(leads.account_id.notnull()).mutate(
            _rank=ibis.row_number().over(group_by=leads.account_id, order_by=[leads.created_at, leads.lead_id])
        )
        first_lead = first_lead.filter(first_lead._rank == 0).select(
            lead_account=first_lead.account_id, first_channel=first_lead.channel
        )
        t = first.left_join(first_lead, first.account_id == first_lead.lead_account)
        # Without a lead of its own, the account takes its first deal's channel (the deal's own,
        # else the deal's lead's), as the deal's other KPIs do.
        deal_leads = leads.select(deal_lead=leads.lead_id, deal_lead_channel=leads.channel)
        t = t.left_join(deal_leads, t.lead_id == deal_leads.deal_lead)
        t = t.mutate(first_channel=t.first_channel.fill_null(t.channel).fill_null(t.deal_lead_channel))
    else:
        t = first.mutate(first_channel=ibis.null("string"))
    t = _join_dims(ctx, t, "owner_id", "account_id", needed)
    return t.select(
        "account_id",
        acquired_at=t.closed_at,
        rep=t.owner_id,
        team=t.team,
        channel=t.first_channel,
        segment=t.segment,
        industry=t.industry,
        country=t.country,
    )


def _market(ctx: Context, anchor: str, needed: frozenset[str]) -> ir.Table:
    m = ctx.con.table("market_size")
    return m.select("period_start", "value", segment=m.segment, country=m.country)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "leads",
            anchors=("created_at",),
            dimensions=("rep", "team", "channel", "campaign", "segment", "industry", "country"),
            measures=(),
            columns=("status", "converted", "won"),
            build=_leads,
        ),
        Source(
            "opportunities",
            anchors=("created_at", "closed_at"),
            dimensions=(
                "rep",
                "team",
                "channel",
                "campaign",
                "segment",
                "industry",
                "country",
                "product",
                "stage",
                "type",
            ),
            measures=("amount_base", "margin_base", "cycle_days"),
            columns=("outcome", "type", "stage", "loss_reason", "forecast_category", "product"),
            build=_opportunities,
        ),
        Source(
            "activities",
            anchors=("occurred_at",),
            dimensions=("rep", "team", "type", "segment", "industry", "country"),
            measures=(),
            columns=("type",),
            build=_activities,
        ),
        Source(
            "costs",
            anchors=("period_start",),
            dimensions=("channel", "campaign"),
            measures=("amount_base",),
            columns=("category",),
            build=_costs,
        ),
        Source(
            "web_traffic",
            anchors=("date",),
            dimensions=("channel",),
            measures=("visitors", "contacts"),
            columns=(),
            build=_web,
        ),
        Source(
            "campaign_stats",
            anchors=("date",),
            dimensions=("campaign", "channel"),
            measures=("impressions", "clicks", "engagements"),
            columns=(),
            build=_campaigns,
        ),
        Source(
            "customers",
            anchors=("acquired_at",),
            dimensions=("rep", "team", "channel", "segment", "industry", "country"),
            measures=(),
            columns=(),
            build=_customers,
        ),
        Source(
            "market_size",
            anchors=("period_start",),
            dimensions=("segment", "country"),
            measures=("value",),
            columns=(),
            build=_market,
        ),
    )
}

DATE_ANCHORS = {
    ("costs", "period_start"),
    ("web_traffic", "date"),
    ("campaign_stats", "date"),
    ("market_size", "period_start"),
}
