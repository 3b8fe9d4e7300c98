"""An independent reference for the KPI tests: plain Python over the raw rows the tests wrote.

Nothing here touches salespilot's query layer (no SQL, no Ibis, no salespilot import at all): the
KPI definitions are written again from the contract (KPIS.md, docs/kpis.md, docs/data-model.md),
periods are computed with ``zoneinfo`` and ``datetime``, intervals with the textbook Wilson
formula, quantiles with numpy's default (linear) percentile. The tests compare the product's
rows with what this module computes from the same CSV files the product imported.

Readings of the contract written down here (and tested):

- a timestamp without an offset in a file is a local time of the workspace time zone;
- a row belongs to the period of its anchor's local date; ``start``/``end`` are inclusive local days;
- money is converted with the last rate known on or before the anchor's local date; a base
  currency (or no currency) amount has rate 1; an amount without a rate is left out and flagged;
- rep and team come from the reps table as it is now (a rep's current team);
- an opportunity's channel is its own, else its lead's; its campaign is its lead's;
- a customer is acquired at its first won opportunity (ties: the smaller opportunity id); its
  channel is the channel of the account's first lead, else that first win's (its own, else its lead's);
- growth: ``previous`` is the KPI's value in the period before, ``year_ago`` in the same period a
  year before (the same calendar date for days, the same ISO week number for weeks), for every
  count, sum, rate, duration and ratio; both are ``None`` before the KPI's first period with data
  (a ratio's: either part's), and the growth is ``None`` when the earlier value is 0 or None;
- a sales cycle is measured on local wall-clock time (1 March to 1 April is 31 days in Paris);
- cohort ages count from the cohort period's last day to the local date of the data's last
  timestamp (leads created, opportunities created or closed, activities).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

Z95 = statistics.NormalDist().inv_cdf(0.975)  # 1.95996...
MATURITY_DAYS = 90
GRAINS = ("day", "week", "month", "quarter", "year", "all")

Row = dict[str, Any]
Key = tuple[Any, ...]  # (period label, *dimension values)


# -- files -------------------------------------------------------------------------------------


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV with Python's csv module (None is an empty cell)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- statistics --------------------------------------------------------------------------------


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval, textbook form (Wilson 1927; Newcombe 1998, method 3):

    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1].
    """
    if trials == 0:
        return None, None
    n = trials
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def percentile(values: Sequence[float], q: float) -> float:
    """numpy's default (linear interpolation) percentile, ``q`` in 0..100."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


# -- time and periods --------------------------------------------------------------------------


def parse_timestamp(text: str, timezone: str = "UTC") -> dt.datetime | None:
    """A file's timestamp as a naive UTC datetime; without an offset it is local to ``timezone``."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def to_local(utc: dt.datetime, timezone: str) -> dt.datetime:
    """A naive UTC datetime as naive local wall-clock time."""
    return utc.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date | None  # None for grain "all"
    label: str


def period_of(day: dt.date, grain: str, fiscal_start: int = 1) -> Period:
    """The period holding ``day``; ``fiscal_start`` > 1 makes quarters and years fiscal.

    A fiscal year is named after the calendar year it ends in: with April as first month,
    April 2024 to March 2025 is FY2025 and April-June 2024 is FY2025-Q1.
    """
    y, m = day.year, day.month
    if grain == "day":
        return Period(day, day.isoformat())
    if grain == "week":
        monday = day - dt.timedelta(days=day.weekday())
        iso_year, iso_week, _ = monday.isocalendar()
        return Period(monday, f"{iso_year}-W{iso_week:02d}")
    if grain == "month":
        return Period(dt.date(y, m, 1), f"{y}-{m:02d}")
    if grain in ("quarter", "year") and fiscal_start == 1:
        if grain == "year":
            return Period(dt.date(y, 1, 1), str(y))
        q = (m - 1) // 3 + 1
        return Period(dt.date(y, 3 * q - 2, 1), f"{y}-Q{q}")
    if grain in ("quarter", "year"):
        ends_in = y + 1 if m >= fiscal_start else y
        if grain == "year":
            return Period(dt.date(ends_in - 1, fiscal_start, 1), f"FY{ends_in}")
        months_in = (m - fiscal_start) % 12
        q = months_in // 3 + 1
        first = fiscal_start + (q - 1) * 3  # may run past December
        start = dt.date(ends_in - 1 + (first - 1) // 12, (first - 1) % 12 + 1, 1)
        return Period(start, f"FY{ends_in}-Q{q}")
    if grain == "all":
        return Period(None, "all")
    raise ValueError(grain)


def period_end(period: Period, grain: str, fiscal_start: int = 1) -> dt.date:
    """The last day of ``period`` (walks day by day: simple and obviously right)."""
    assert period.start is not None
    day = period.start
    while period_of(day + dt.timedelta(days=1), grain, fiscal_start) == period:
        day += dt.timedelta(days=1)
    return day


def grid(first: dt.date, last: dt.date, grain: str, fiscal_start: int = 1) -> list[Period]:
    """Every period from the one holding ``first`` to the one holding ``last``."""
    if grain == "all":
        return [Period(None, "all")]
    out: list[Period] = []
    day = first
    while day <= last:
        p = period_of(day, grain, fiscal_start)
        if not out or out[-1] != p:
            out.append(p)
        day += dt.timedelta(days=1)
    return out


def previous_period(period: Period, grain: str, fiscal_start: int = 1) -> Period:
    assert period.start is not None
    return period_of(period.start - dt.timedelta(days=1), grain, fiscal_start)


def year_ago_period(period: Period, grain: str, fiscal_start: int = 1) -> Period:
    start = period.start
    assert start is not None
    if grain == "day":  # the same calendar date (29 February: the 28th)
        return period_of(start.replace(year=start.year - 1, day=min(start.day, 28 if start.month == 2 else 31)), grain)
    if grain == "week":
        iso_year, iso_week, _ = start.isocalendar()
        try:
            monday = dt.date.fromisocalendar(iso_year - 1, iso_week, 1)
        except ValueError:  # week 53 of a year whose previous year has 52
            monday = dt.date.fromisocalendar(iso_year - 1, 52, 1)
        return period_of(monday, grain)
    return period_of(start.replace(year=start.year - 1), grain, fiscal_start)


# -- the reference engine ----------------------------------------------------------------------

# The KPIs and the dimensions each may be split by, as the contract gives them.
LEAD_DIMS = ("rep", "team", "channel", "campaign", "segment", "industry", "country")
OPP_DIMS = (*LEAD_DIMS, "product", "type")
EXPECTED_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "leads": LEAD_DIMS,
    "lead_to_opportunity_rate": LEAD_DIMS,
    "lead_to_win_rate": LEAD_DIMS,
    "opportunities": (*LEAD_DIMS, "product", "stage", "type"),
    "signatures": OPP_DIMS,
    "win_rate": OPP_DIMS,
    "opportunity_to_signature_rate": OPP_DIMS,
    "sales_cycle_days": OPP_DIMS,
    "activities": ("rep", "team", "type", "segment", "industry", "country"),
    "revenue": OPP_DIMS,
    "gross_margin": OPP_DIMS,
    "costs": ("channel", "campaign"),
    "new_customers": ("rep", "team", "channel", "segment", "industry", "country"),
    "cac": ("channel",),
    "average_deal_value": OPP_DIMS,
    "cost_per_lead": ("channel", "campaign"),
    "cost_per_opportunity": ("channel", "campaign"),
    "web_visitors": ("channel",),
    "web_contacts": ("channel",),
    "web_conversion": ("channel",),
    "contact_to_lead_rate": ("channel",),
    "campaign_reach": ("campaign", "channel"),
    "campaign_engagements": ("campaign", "channel"),
    "campaign_engagement_rate": ("campaign", "channel"),
    "market_size": ("segment", "country"),
    "market_share": ("segment", "country"),
}
YEARLY_ONLY = {"market_size", "market_share"}  # market sizes are yearly
COUNTS = {"leads", "opportunities", "signatures", "activities", "new_customers"}
SUMS = {
    "revenue",
    "gross_margin",
    "costs",
    "web_visitors",
    "web_contacts",
    "campaign_reach",
    "campaign_engagements",
    "market_size",
}
RATES = {"lead_to_opportunity_rate", "lead_to_win_rate", "win_rate", "opportunity_to_signature_rate"}
COHORT_RATES = {"lead_to_opportunity_rate", "lead_to_win_rate", "opportunity_to_signature_rate"}
DURATIONS = {"sales_cycle_days"}
# ratio: (numerator KPI, denominator KPI, is a proportion of counts -> Wilson interval)
RATIOS: dict[str, tuple[str, str, bool]] = {
    "cac": ("costs", "new_customers", False),
    "average_deal_value": ("revenue", "signatures", False),
    "cost_per_lead": ("costs", "leads", False),
    "cost_per_opportunity": ("costs", "opportunities", False),
    "web_conversion": ("web_contacts", "web_visitors", True),
    "contact_to_lead_rate": ("leads", "web_contacts", True),
    "campaign_engagement_rate": ("campaign_engagements", "campaign_reach", True),
    "market_share": ("revenue", "market_size", False),
}

# The KPIs over leads, opportunities and activities (the tables whose dates make the data's span):
# without --to their periods run to the data's last day, an empty last month being a 0. The others
# (costs, web traffic, campaigns, the market: imported apart) end with their own last period.
CRM_KPIS = COUNTS | {"revenue", "gross_margin"} | RATES | DURATIONS | {"average_deal_value"}

# Ratios whose two parts count the same rows (both from opportunities, web traffic or campaign
# statistics): their "no value of the dimension" cell is meaningful. Across sources it is not.
SAME_SOURCE_RATIOS = {"average_deal_value", "web_conversion", "campaign_engagement_rate"}


@dataclass
class Event:
    """One row of a KPI's source: when it happened (local) and what it is split by."""

    at: dt.datetime | dt.date  # local time (timestamps) or a calendar date (date anchors)
    dims: dict[str, Any]
    num: bool = True  # rates: in the numerator
    den: bool = True  # rates: in the denominator
    measure: float | None = None  # sums, durations
    missing_fx: bool = False

    @property
    def day(self) -> dt.date:
        return self.at.date() if isinstance(self.at, dt.datetime) else self.at


def _blank(value: str | None) -> str | None:
    return value if value not in (None, "") else None


class Reference:
    """KPIs from raw CSV rows, written again from the contract. See the module docstring."""

    def __init__(
        self,
        tables: dict[str, list[dict[str, str]]],
        *,
        timezone: str = "UTC",
        base_currency: str = "EUR",
        fiscal_start: int = 1,
        small_sample: int = 30,
        margin_rate: float = 0.7,
    ) -> None:
        self.timezone = timezone
        self.base = base_currency.upper()
        self.fiscal_start = fiscal_start
        self.small_sample = small_sample
        self.margin_rate = margin_rate
        get = lambda name: tables.get(name, [])  # noqa: E731
        self.reps = _first_by(get("reps"), "rep_id")
        self.accounts = _first_by(get("accounts"), "account_id")
        self.leads = list(_first_by(get("leads"), "lead_id").values())
        self.leads_by_id = {r["lead_id"]: r for r in self.leads}
        self.opps = list(_first_by(get("opportunities"), "opportunity_id").values())
        self.activities = list(_first_by(get("activities"), "activity_id").values())
        self.costs = get("costs")
        self.web = get("web_traffic")
        self.campaigns = get("campaign_stats")
        self.market = get("market_size")
        self.targets = get("targets")
        self.fx: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
        for r in get("fx_rates"):
            self.fx[r["currency"].upper()].append((dt.date.fromisoformat(r["date"]), float(r["rate_to_base"])))
        for points in self.fx.values():
            points.sort()
        self._ts: dict[str, dt.datetime | None] = {}
        self._events: dict[str, list[Event]] = {}
        self._end: list[dt.date | None] = []

    # -- helpers ---------------------------------------------------------------------------
    def ts(self, text: str) -> dt.datetime | None:
        if text not in self._ts:
            self._ts[text] = parse_timestamp(text, self.timezone)
        return self._ts[text]

    def local(self, text: str) -> dt.datetime | None:
        utc = self.ts(text)
        return to_local(utc, self.timezone) if utc is not None else None

    def rate(self, currency: str | None, day: dt.date) -> float | None:
        """The rate to the base currency on ``day``: the last known on or before it."""
        if not currency or currency.upper() == self.base:
            return 1.0
        known = [r for d, r in self.fx.get(currency.upper(), []) if d <= day]
        return known[-1] if known else None

    def data_end(self) -> dt.date | None:
        if not self._end:
            self._end.append(self._data_end())
        return self._end[0]

    def _data_end(self) -> dt.date | None:
        stamps = [self.ts(r["created_at"]) for r in self.leads]
        stamps += [self.ts(r["created_at"]) for r in self.opps] + [self.ts(r["closed_at"]) for r in self.opps]
        stamps += [self.ts(r["occurred_at"]) for r in self.activities]
        known = [s for s in stamps if s is not None]
        return to_local(max(known), self.timezone).date() if known else None

    def _people(self, rep_id: str | None) -> dict[str, Any]:
        rep = self.reps.get(rep_id or "")
        return {"rep": _blank(rep_id), "team": _blank(rep["team"]) if rep else None}

    def _firm(self, account_id: str | None) -> dict[str, Any]:
        account = self.accounts.get(account_id or "") or {}
        return {k: _blank(account.get(k)) for k in ("segment", "industry", "country")}

    def _opp_dims(self, o: dict[str, str]) -> dict[str, Any]:
        lead = self.leads_by_id.get(o.get("lead_id") or "") or {}
        return {
            **self._people(o.get("owner_id")),
            "channel": _blank(o.get("channel")) or _blank(lead.get("channel")),
            "campaign": _blank(lead.get("campaign")),
            **self._firm(o.get("account_id")),
            "product": _blank(o.get("product")),
            "stage": _blank(o.get("stage")),
            "type": _blank(o.get("type")) or "new",
        }

    def _money(self, amount: float | None, currency: str | None, day: dt.date) -> tuple[float | None, bool]:
        if amount is None:
            return None, False
        rate = self.rate(currency, day)
        return (amount * rate, False) if rate is not None else (None, True)

    # -- the rows of each additive, rate or duration KPI ---------------------------------------
    def events(self, name: str) -> list[Event]:
        if name not in self._events:
            self._events[name] = self._make_events(name)
        return self._events[name]

    def _make_events(self, name: str) -> list[Event]:
        if name in ("leads", "lead_to_opportunity_rate", "lead_to_win_rate"):
            per_lead: dict[str, list[dict[str, str]]] = defaultdict(list)
            for o in self.opps:  # a lead's opportunities, however many: one row per lead
                per_lead[o.get("lead_id") or ""].append(o)
            out = []
            for lead in self.leads:
                theirs = per_lead.get(lead["lead_id"], [])
                dims = {
                    **self._people(lead.get("owner_id")),
                    "channel": _blank(lead.get("channel")),
                    "campaign": _blank(lead.get("campaign")),
                    **self._firm(lead.get("account_id")),
                }
                converted = bool(theirs)
                won = any(o["outcome"] == "won" for o in theirs)
                num = {"leads": True, "lead_to_opportunity_rate": converted, "lead_to_win_rate": won}[name]
                out.append(Event(self.local(lead["created_at"]), dims, num=num))  # type: ignore[arg-type]
            return out
        if name in ("opportunities", "opportunity_to_signature_rate"):
            return [
                Event(self.local(o["created_at"]), self._opp_dims(o), num=o["outcome"] == "won")  # type: ignore[arg-type]
                for o in self.opps
            ]
        if name in ("signatures", "win_rate", "sales_cycle_days", "revenue", "gross_margin"):
            out = []
            for o in self.opps:
                closed = self.local(o.get("closed_at", ""))
                if closed is None:
                    continue
                won = o["outcome"] == "won"
                if name != "win_rate" and not won:
                    continue
                event = Event(closed, self._opp_dims(o), num=won, den=o["outcome"] in ("won", "lost"))
                if name == "sales_cycle_days":
                    # local wall-clock time: a daylight-saving change adds or removes no hour
                    event.measure = (closed - self.local(o["created_at"])).total_seconds() / 86400  # type: ignore[operator]
                if name == "revenue":
                    event.measure, event.missing_fx = self._money(
                        _num(o.get("amount")), o.get("currency"), closed.date()
                    )
                if name == "gross_margin":
                    margin = _num(o.get("margin"))
                    if margin is not None:
                        event.measure, event.missing_fx = self._money(margin, o.get("currency"), closed.date())
                    else:
                        amount, event.missing_fx = self._money(_num(o.get("amount")), o.get("currency"), closed.date())
                        event.measure = amount * self.margin_rate if amount is not None else None
                out.append(event)
            return out
        if name == "activities":
            return [
                Event(
                    self.local(a["occurred_at"]),  # type: ignore[arg-type]
                    {**self._people(a.get("rep_id")), "type": _blank(a.get("type")), **self._firm(a.get("account_id"))},
                )
                for a in self.activities
            ]
        if name == "costs":
            out = []
            for c in self.costs:
                day = dt.date.fromisoformat(c["period_start"])
                dims = {"channel": _blank(c.get("channel")), "campaign": _blank(c.get("campaign"))}
                value, missing = self._money(float(c["amount"]), c.get("currency"), day)
                out.append(Event(day, dims, measure=value, missing_fx=missing))
            return out
        if name in ("web_visitors", "web_contacts"):
            column = name.removeprefix("web_")
            return [
                Event(dt.date.fromisoformat(w["date"]), {"channel": _blank(w.get("channel"))}, measure=float(w[column]))
                for w in self.web
            ]
        if name in ("campaign_reach", "campaign_engagements"):
            column = "impressions" if name == "campaign_reach" else "engagements"
            return [
                Event(
                    dt.date.fromisoformat(c["date"]),
                    {"campaign": _blank(c.get("campaign")), "channel": _blank(c.get("channel"))},
                    measure=float(c[column]),
                )
                for c in self.campaigns
            ]
        if name == "market_size":
            return [
                Event(
                    dt.date.fromisoformat(m["period_start"]),
                    {"segment": _blank(m.get("segment")), "country": _blank(m.get("country"))},
                    measure=float(m["value"]),
                )
                for m in self.market
            ]
        if name == "new_customers":
            return [Event(at, dims) for _, at, dims in self.customers()]
        raise KeyError(name)

    def customers(self) -> list[tuple[str, dt.datetime, dict[str, Any]]]:
        """(account, acquired at (local), dimensions) for each account with a won opportunity."""
        first_win: dict[str, dict[str, str]] = {}
        for o in self.opps:
            if o["outcome"] != "won" or not o.get("account_id") or not o.get("closed_at"):
                continue
            key = (self.ts(o["closed_at"]), o["opportunity_id"])
            best = first_win.get(o["account_id"])
            if best is None or key < (self.ts(best["closed_at"]), best["opportunity_id"]):
                first_win[o["account_id"]] = o
        out = []
        for account, o in first_win.items():
            leads = sorted(
                (r for r in self.leads if r.get("account_id") == account),
                key=lambda r: (self.ts(r["created_at"]), r["lead_id"]),
            )
            first_channel = _blank(leads[0].get("channel")) if leads else None
            dims = {
                **self._people(o.get("owner_id")),
                "channel": first_channel or self._opp_dims(o)["channel"],
                **self._firm(account),
            }
            out.append((account, self.local(o["closed_at"]), dims))  # type: ignore[arg-type]
        return out

    # -- aggregation -----------------------------------------------------------------------
    def _cells(
        self,
        name: str,
        grain: str,
        by: Sequence[str],
        filters: dict[str, str],
        start: dt.date | None,
        end: dt.date | None,
        fiscal: bool,
    ) -> dict[Key, list[Event]]:
        fs = self.fiscal_start if fiscal else 1
        cells: dict[Key, list[Event]] = defaultdict(list)
        for e in self.events(name):
            if start is not None and e.day < start:
                continue
            if end is not None and e.day > end:
                continue
            if any(e.dims.get(d) != v for d, v in filters.items()):
                continue
            cells[(period_of(e.day, grain, fs), *(e.dims[d] for d in by))].append(e)
        return cells

    def kpi(
        self,
        name: str,
        grain: str = "month",
        by: Sequence[str] = (),
        filters: dict[str, str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        fiscal: bool = False,
    ) -> dict[Key, Row]:
        """The expected rows, by (period label, *dimension values)."""
        filters = filters or {}
        by = tuple(by)
        fs = self.fiscal_start if fiscal else 1
        if name in RATIOS:
            return self._ratio(name, grain, by, filters, start, end, fiscal)
        cells = self._cells(name, grain, by, filters, start, end, fiscal)
        periods = self._grid(cells, grain, fs, start, end, name)
        combos = sorted({k[1:] for k in cells}, key=_sort_key) if by else [()]
        history = None
        if grain != "all":
            # growth reaches before --from: the same cells without the start bound
            history = self._cells(name, grain, by, filters, None, end, fiscal)
        out: dict[Key, Row] = {}
        for p in periods:
            for combo in combos:
                events = cells.get((p, *combo), [])
                row: Row = {"period": p.label, "period_start": p.start.isoformat() if p.start else None}
                row.update(dict(zip(by, combo, strict=True)))
                row.update(self._values(name, events, p, grain, fs))
                if history is not None:
                    row.update(self._growth(name, history, p, combo, grain, fs, row["value"]))
                row.update(self._target(name, row, by, filters))
                out[(p.label, *combo)] = row
        return out

    def _grid(
        self, cells: dict[Key, Any], grain: str, fs: int, start: dt.date | None, end: dt.date | None, name: str
    ) -> list[Period]:
        starts = [k[0].start for k in cells]
        if grain == "all":
            return [Period(None, "all")] if (cells or start is not None) else []
        first = start or (min(starts) if starts else None)
        last = end or (max(starts) if starts else first)
        if first is None or last is None:
            return []
        data_end = self.data_end()
        if end is None and name in CRM_KPIS and data_end is not None:
            last = max(last, data_end)
        return grid(first, last, grain, fs)

    def _values(self, name: str, events: list[Event], p: Period, grain: str, fs: int) -> Row:
        flags: list[str] = []
        row: Row = {"flags": flags, "reason": None}
        if name in COUNTS:
            row["value"] = len(events)
        elif name in SUMS:
            row["value"] = float(sum(e.measure for e in events if e.measure is not None))
            missing = sum(1 for e in events if e.missing_fx)
            if missing:
                flags.append("missing_fx_rate")
                row["fx_missing_rows"] = missing
        elif name in RATES:
            den = sum(1 for e in events if e.den)
            num = sum(1 for e in events if e.den and e.num)
            low, high = wilson(num, den)
            row.update(numerator=num, denominator=den, ci_low=low, ci_high=high, value=num / den if den else None)
            if not den:
                row["reason"] = "nothing to divide by"
            elif den < self.small_sample:
                flags.append("small_sample")
            if name in COHORT_RATES and grain != "all":
                data_end = self.data_end()
                assert data_end is not None
                age = (data_end - period_end(p, grain, fs)).days
                row["cohort_age_days"] = age
                if age < MATURITY_DAYS:
                    flags.append("immature_cohort")
        elif name in DURATIONS:
            values = [e.measure for e in events if e.measure is not None]
            row["n"] = len(values)
            if values:
                row.update(
                    median=percentile(values, 50),
                    mean=statistics.fmean(values),
                    p90=percentile(values, 90),
                )
                row["value"] = row["median"]
                if len(values) < self.small_sample:
                    flags.append("small_sample")
            else:
                row.update(median=None, mean=None, p90=None, value=None, reason="nothing closed")
        else:
            raise KeyError(name)
        return row

    def _growth(
        self,
        name: str,
        history: dict[Key, list[Event]],
        p: Period,
        combo: Key,
        grain: str,
        fs: int,
        value: float | None,
    ) -> Row:
        first = min((k[0] for k in history), default=None)

        def total(q: Period) -> float | None:
            if first is None or q < first:
                return None  # before the data
            events = history.get((q, *combo), [])
            return self._values(name, events, q, grain, fs)["value"]

        previous = total(previous_period(p, grain, fs))
        year_ago = total(year_ago_period(p, grain, fs))
        return {
            "previous": previous,
            "growth": value / previous - 1 if previous and value is not None else None,
            "year_ago": year_ago,
            "growth_yoy": value / year_ago - 1 if year_ago and value is not None else None,
        }

    def _ratio(
        self,
        name: str,
        grain: str,
        by: tuple[str, ...],
        filters: dict[str, str],
        start: dt.date | None,
        end: dt.date | None,
        fiscal: bool,
    ) -> dict[Key, Row]:
        top, bottom, proportion = RATIOS[name]
        num = self.kpi(top, grain, by, filters, start, end, fiscal)
        den = self.kpi(bottom, grain, by, filters, start, end, fiscal)
        fs = self.fiscal_start if fiscal else 1
        # The ratio's own grid: every period and dimension value where either part has data.
        cells = {
            **self._cells(top, grain, by, filters, start, end, fiscal),
            **self._cells(bottom, grain, by, filters, start, end, fiscal),
        }
        combos = sorted({k[1:] for k in cells}, key=_sort_key) if by else [()]
        history: dict[Key, float | None] = {}
        first: Period | None = None
        if grain != "all":  # the previous periods reach before --from: both parts without the start bound
            num_h = self.kpi(top, grain, by, filters, None, end, fiscal)
            den_h = self.kpi(bottom, grain, by, filters, None, end, fiscal)
            seen = [
                k[0]
                for part in (top, bottom)
                for k, events in self._cells(part, grain, by, filters, None, end, fiscal).items()
                if events
            ]
            first = min(seen, default=None)
            for key in set(num_h) | set(den_h):
                b = den_h[key]["value"] if key in den_h else 0
                history[key] = (num_h[key]["value"] if key in num_h else 0) / b if b else None
        out: dict[Key, Row] = {}
        for p in self._grid(cells, grain, fs, start, end, name):
            for combo in combos:
                key = (p.label, *combo)
                a = num[key]["value"] if key in num else 0
                b = den[key]["value"] if key in den else 0
                row: Row = {"period": p.label, "period_start": p.start.isoformat() if p.start else None}
                row.update(dict(zip(by, combo, strict=True)))
                row.update(numerator=a, denominator=b, flags=[], reason=None, value=a / b if b else None)
                if grain != "all":
                    value = row["value"]
                    for field, growth, q in (
                        ("previous", "growth", previous_period(p, grain, fs)),
                        ("year_ago", "growth_yoy", year_ago_period(p, grain, fs)),
                    ):
                        before = None if first is None or q < first else history.get((q.label, *combo))
                        row[field] = before
                        row[growth] = value / before - 1 if before and value is not None else None
                if None in combo and name not in SAME_SOURCE_RATIOS:
                    # e.g. costs without a channel (salaries) over leads without one: no meaning
                    row.update(value=None, reason="not attributable", previous=None, growth=None)
                    row.update(year_ago=None, growth_yoy=None)
                elif not b:
                    row["reason"] = "nothing to divide by"
                elif proportion:
                    # a ratio of counts above 1 (more leads than contacts) is no proportion: no interval
                    row["ci_low"], row["ci_high"] = wilson(int(a), int(b)) if a <= b else (None, None)
                    if b < self.small_sample:
                        row["flags"].append("small_sample")
                row.update(self._target(name, row, by, filters))
                out[key] = row
        return out

    def _target(self, name: str, row: Row, by: Sequence[str], filters: dict[str, str]) -> Row:
        # Whose figures these are: a filter on anything but the rep or the team makes them nobody's.
        if set(filters) - {"rep", "team"}:
            return {}
        if not by:
            if "rep" in filters:
                scope, scope_id = "rep", filters["rep"]
            elif "team" in filters:
                scope, scope_id = "team", filters["team"]
            else:
                scope, scope_id = "company", None
        elif tuple(by) == ("rep",) or (tuple(by) == ("team",) and "rep" not in filters):
            scope, scope_id = by[0], row[by[0]]
        else:
            return {}
        for t in self.targets:
            if (t["metric"], t["period"], t.get("scope") or "company") != (name, row["period"], scope):
                continue
            if scope != "company" and (scope_id is None or t.get("scope_id") != scope_id):
                continue
            target = float(t["value"])
            value = row.get("value")
            return {"target": target, "attainment": value / target if value is not None and target else None}
        return {}


def _num(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def _first_by(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    """Rows by id; the first of duplicated ids wins (as the importer rejects the later ones)."""
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        out.setdefault(r[key], r)
    return out


def _sort_key(key: Key) -> tuple[Any, ...]:
    return tuple((1, "") if v is None else (0, str(v)) if not isinstance(v, Period) else (0, v.label) for v in key)


# -- comparing the product's rows with the reference -------------------------------------------

COMPARED = (
    "period_start",
    "value",
    "numerator",
    "denominator",
    "ci_low",
    "ci_high",
    "n",
    "median",
    "mean",
    "p90",
    "previous",
    "growth",
    "year_ago",
    "growth_yoy",
    "cohort_age_days",
    "fx_missing_rows",
    "target",
    "attainment",
)


def same(a: Any, b: Any, rel: float = 1e-9, abs_: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)
    return bool(a == b)


def by_key(rows: list[Row], by: Sequence[str] = ()) -> dict[Key, Row]:
    out: dict[Key, Row] = {}
    for r in rows:
        key = (r["period"], *(r[d] for d in by))
        assert key not in out, f"two rows for {r['kpi']} {key}"
        out[key] = r
    return out


def mismatches(
    kpi: str, got_rows: list[Row], expected: dict[Key, Row], by: Sequence[str] = (), skip: Any = None
) -> list[str]:
    """Every difference between the product's rows of ``kpi`` and the reference, as text."""
    got = by_key([r for r in got_rows if r["kpi"] == kpi], by)
    problems: list[str] = []
    keys = set(got) | set(expected)
    if skip is not None:
        keys = {k for k in keys if not skip(k)}
    for key in sorted(keys, key=_sort_key):
        if key not in got:
            problems.append(f"{kpi} {key}: missing from the product (expected {expected[key]})")
            continue
        if key not in expected:
            problems.append(f"{kpi} {key}: not expected (product gave value {got[key].get('value')})")
            continue
        g, e = got[key], expected[key]
        for f in COMPARED:
            if (f in e or f in g) and not same(g.get(f), e.get(f)):
                problems.append(f"{kpi} {key} {f}: product {g.get(f)!r}, reference {e.get(f)!r}")
        if sorted(g.get("flags") or []) != sorted(e["flags"]):
            problems.append(f"{kpi} {key} flags: product {g.get('flags')}, reference {e['flags']}")
        if (g.get("reason") is None) != (e["reason"] is None):
            problems.append(f"{kpi} {key} reason: product {g.get('reason')!r}, reference {e['reason']!r}")
    return problems


# -- small helpers for the hand-made tests -----------------------------------------------------


def load(ws: Any, folder: Path, table: str, header: Sequence[str], rows: Iterable[Sequence[Any]], tag: str = "") -> Any:
    """Write ``rows`` as a CSV and import it into ``table`` through the public API."""
    path = write_csv(folder / f"{table}{tag}.csv", header, rows)
    return ws.import_file(path, table=table)


def one(rows: list[Row], kpi: str, period: str, **dims: Any) -> Row:
    """The single row of ``kpi`` for ``period`` (and the given dimension values)."""
    found = [
        r for r in rows if r["kpi"] == kpi and r["period"] == period and all(r.get(d) == v for d, v in dims.items())
    ]
    assert len(found) == 1, (
        f"{len(found)} rows for {kpi} {period} {dims}: {[r['period'] for r in rows if r['kpi'] == kpi]}"
    )
    return found[0]


def series(rows: list[Row], kpi: str, field: str = "value", **dims: Any) -> dict[str, Any]:
    """{period: field} for ``kpi`` (rows with the given dimension values)."""
    return {r["period"]: r.get(field) for r in rows if r["kpi"] == kpi and all(r.get(d) == v for d, v in dims.items())}
