"""Compensation plans (docs/team.md): a plan read from YAML and checked, then replayed on the
measured numbers of each rep and period.

Pure: the engine hands in the reps, the won deals (value in the base currency, period, and the
period the customer churned in when it did), the quotas and the KPI values the bonuses read.

Per rep and period (the plan's ``period``):

* **base**: paid for every period the rep is active in (at any point of it);
* **commission**: on the period's revenue (won deals closed in it), marginal by attainment tier
  like tax brackets: the revenue between ``from x quota`` and the next tier's ``from x quota``
  earns ``commission_rate x multiplier`` of that tier. Revenue exactly at a tier's boundary
  starts the tier (the tier covers [from, next from)). Without a quota (``quota: targets`` and no
  revenue target for the rep and period), the commission is at the rate, multiplier 1, flagged
  ``no_quota``;
* **bonuses**: a fixed amount when a KPI of the rep's period is at least a bar (``at_least``) or
  its attainment of the target is at least a bar (``attainment_at_least``);
* **cap**: the most variable pay (commission + bonuses) of one period; the excess is ``capped``;
* **clawback**: ``share`` of the commission a deal earned is taken back in the period its
  customer churned in, when that is within ``months`` of the deal's close. A deal's commission is
  the period's commission (before the cap) in proportion to the deal's value. A churn in a period
  the rep has no pay line in (the rep left, or the period is after the replayed window) is listed
  in ``clawback_outside``, not charged.

payout = base + commission + bonuses - capped - clawback.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import yaml

from salespilot.errors import PlanError, did_you_mean

PERIODS = ("month", "quarter", "year")
ROLES = ("sdr", "ae", "am", "manager")
TOP_KEYS = ("name", "roles", "period", "base", "commission_rate", "quota", "tiers", "bonuses", "cap", "clawback")
TIER_KEYS = ("from", "multiplier")
BONUS_KEYS = ("name", "kpi", "at_least", "attainment_at_least", "amount")
CLAWBACK_KEYS = ("months", "share")
# The measures against which "what the plan rewards" is read (Spearman correlation with the pay).
REWARD_MEASURES = ("revenue", "signatures", "average_deal_value", "win_rate", "activities", "lead_to_opportunity_rate")


@dataclass(frozen=True)
class Tier:
    start: float  # attainment where the tier starts (0 = the first euro)
    multiplier: float


@dataclass(frozen=True)
class Bonus:
    name: str
    kpi: str
    amount: float
    at_least: float | None = None
    attainment_at_least: float | None = None


@dataclass(frozen=True)
class Clawback:
    months: int
    share: float = 1.0


@dataclass(frozen=True)
class Plan:
    name: str
    roles: tuple[str, ...] = ("ae", "am")
    period: str = "month"
    base: float = 0.0
    commission_rate: float = 0.0
    quota: float | None = None  # None: no quota, or the rep's revenue target (quota_from_targets)
    quota_from_targets: bool = False
    tiers: tuple[Tier, ...] = (Tier(0.0, 1.0),)
    bonuses: tuple[Bonus, ...] = ()
    cap: float | None = None
    clawback: Clawback | None = None
    origin: str = ""

    def kpis(self) -> list[str]:
        """The KPIs the bonuses read."""
        return list(dict.fromkeys(b.kpi for b in self.bonuses))


# -- reading a plan ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, expected: str, got: Any = None) -> PlanError:
        shown = "" if got is None else f" (got {got:g})" if isinstance(got, float) else f" (got {got!r})"
        return PlanError(f"{self.origin}: {where}: expected {expected}{shown}.")

    def keys(self, data: Any, where: str, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, f"a mapping with keys among {', '.join(allowed)}", data)
        for key in data:
            if key not in allowed:
                hint = did_you_mean(str(key), list(allowed))
                raise PlanError(f"{self.origin}: {where}: unknown key {key!r}.{hint} Keys: {', '.join(allowed)}.")
        return data

    def number(self, value: Any, where: str, low: float = 0.0, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            bounds = f"a number of {low:g} or more" if high == math.inf else f"a number from {low:g} to {high:g}"
            raise self.fail(where, bounds, value)
        return float(value)


def parse_plan(text: str, origin: str = "plan") -> Plan:
    """A plan from its YAML text; every mistake names the key and what was expected."""
    r = _Reader(origin)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        raise PlanError(f"{origin}: {where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None
    top = r.keys(data, "the plan", TOP_KEYS)
    name = top.get("name", origin)
    roles_value = top.get("roles", ["ae", "am"])
    roles = [roles_value] if isinstance(roles_value, str) else roles_value
    if not isinstance(roles, list) or not roles or any(x not in ROLES for x in roles):
        raise r.fail("roles", f"a list of roles among {', '.join(ROLES)}", roles_value)
    period = top.get("period", "month")
    if period not in PERIODS:
        raise r.fail("period", f"one of {', '.join(PERIODS)}", period)
    quota_value = top.get("quota")
    from_targets = quota_value == "targets"
    if quota_value is None or from_targets:
        quota = None
    elif isinstance(quota_value, int | float) and not isinstance(quota_value, bool) and quota_value > 0:
        quota = float(quota_value)
    else:
        raise r.fail("quota", 'a number above 0, or "targets" (the rep\'s revenue target of the period)', quota_value)
    tiers = _tiers(r, top.get("tiers"))
    if quota_value is None and top.get("tiers") is not None:
        raise r.fail("quota", 'a quota for the tiers to apply to: a number, or "targets"')
    bonuses = tuple(_bonus(r, b, f"bonuses[{i}]") for i, b in enumerate(_list(r, top.get("bonuses"), "bonuses")))
    clawback = None
    if top.get("clawback") is not None:
        c = r.keys(top["clawback"], "clawback", CLAWBACK_KEYS)
        months = r.number(c.get("months"), "clawback.months", low=1, high=120)
        if months != int(months):
            raise r.fail("clawback.months", "a whole number of months", c.get("months"))
        clawback = Clawback(int(months), r.number(c.get("share", 1.0), "clawback.share", high=1.0))
    return Plan(
        name=str(name),
        roles=tuple(roles),
        period=period,
        base=r.number(top.get("base", 0), "base"),
        commission_rate=r.number(top.get("commission_rate", 0), "commission_rate", high=1.0),
        quota=quota,
        quota_from_targets=from_targets,
        tiers=tiers,
        bonuses=bonuses,
        cap=None if top.get("cap") is None else r.number(top["cap"], "cap"),
        clawback=clawback,
        origin=origin,
    )


def _list(r: _Reader, value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise r.fail(where, "a list", value)
    return value


def _tiers(r: _Reader, value: Any) -> tuple[Tier, ...]:
    if value is None:
        return (Tier(0.0, 1.0),)
    items = _list(r, value, "tiers")
    tiers = []
    for i, item in enumerate(items):
        t = r.keys(item, f"tiers[{i}]", TIER_KEYS)
        for key in TIER_KEYS:
            if key not in t:
                raise r.fail(f"tiers[{i}]", f"both from (an attainment, 1.0 = 100%) and multiplier; {key} is missing")
        tiers.append(Tier(r.number(t["from"], f"tiers[{i}].from"), r.number(t["multiplier"], f"tiers[{i}].multiplier")))
    if not tiers or tiers[0].start != 0:
        raise r.fail("tiers[0].from", "0: the first tier starts at the first euro", tiers[0].start if tiers else None)
    for i in range(1, len(tiers)):
        if tiers[i].start <= tiers[i - 1].start:
            raise r.fail(f"tiers[{i}].from", f"above the tier before ({tiers[i - 1].start:g})", tiers[i].start)
    return tuple(tiers)


def _bonus(r: _Reader, value: Any, where: str) -> Bonus:
    b = r.keys(value, where, BONUS_KEYS)
    if not isinstance(b.get("kpi"), str):
        raise r.fail(f"{where}.kpi", "a KPI name (salespilot kpi --list)", b.get("kpi"))
    bars = [k for k in ("at_least", "attainment_at_least") if b.get(k) is not None]
    if len(bars) != 1:
        raise r.fail(where, "one bar: at_least (the KPI's value) or attainment_at_least (of its target)")
    bar = r.number(b[bars[0]], f"{where}.{bars[0]}", low=-math.inf)
    return Bonus(
        name=str(b.get("name", b["kpi"])),
        kpi=b["kpi"],
        amount=r.number(b.get("amount"), f"{where}.amount"),
        **{bars[0]: bar},
    )


# -- replaying a plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Deal:
    opportunity_id: str
    rep: str
    period: str  # of the close
    value: float  # base currency
    churn_period: str | None = None  # the period the customer churned in, when within the clawback window


@dataclass
class Line:
    """One rep's pay for one period."""

    rep: str
    period: str
    revenue: float
    quota: float | None
    attainment: float | None
    base: float
    commission: float
    bonuses: float
    capped: float
    clawback: float
    payout: float
    bonuses_won: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def commission(revenue: float, quota: float | None, rate: float, tiers: Sequence[Tier]) -> float:
    """Marginal commission: each tier's band of revenue at rate x the tier's multiplier."""
    if quota is None:
        return revenue * rate
    total = 0.0
    for i, tier in enumerate(tiers):
        low = tier.start * quota
        high = tiers[i + 1].start * quota if i + 1 < len(tiers) else math.inf
        if revenue > low:
            total += (min(revenue, high) - low) * rate * tier.multiplier
    return total


def simulate(
    plan: Plan,
    reps: Mapping[str, Mapping[str, Any]],
    periods: Mapping[str, Sequence[str]],
    deals: Sequence[Deal],
    quotas: Mapping[tuple[str, str], float],
    kpis: Mapping[tuple[str, str, str], tuple[float | None, float | None]],
    measures: Mapping[str, Mapping[str, float | None]] | None = None,
) -> dict[str, Any]:
    """Replay ``plan``. ``reps``: id -> {name, role}; ``periods``: per rep the periods it is active
    in; ``quotas``: (rep, period) -> revenue target; ``kpis``: (rep, period, kpi) -> (value,
    attainment); ``measures``: per rep its window measures, to read what the plan rewards."""
    by_rep_period: dict[tuple[str, str], list[Deal]] = defaultdict(list)
    for deal in deals:
        by_rep_period[(deal.rep, deal.period)].append(deal)
    clawbacks: dict[tuple[str, str], float] = defaultdict(float)
    lines: list[Line] = []
    for rep in sorted(reps):
        if reps[rep]["role"] not in plan.roles:
            continue
        for period in sorted(periods.get(rep, ())):
            won = by_rep_period.get((rep, period), [])
            revenue = sum(d.value for d in won)
            quota = quotas.get((rep, period)) if plan.quota_from_targets else plan.quota
            flags = ["no_quota"] if plan.quota_from_targets and quota is None else []
            earned = commission(revenue, quota, plan.commission_rate, plan.tiers)
            if plan.clawback is not None and revenue > 0:
                for d in won:
                    if d.churn_period is not None:
                        clawbacks[(rep, d.churn_period)] += plan.clawback.share * earned * d.value / revenue
            bonus_names = [b.name for b in plan.bonuses if _met(b, kpis.get((rep, period, b.kpi)))]
            bonus = sum(b.amount for b in plan.bonuses if b.name in bonus_names)
            variable = earned + bonus
            capped = max(0.0, variable - plan.cap) if plan.cap is not None else 0.0
            lines.append(
                Line(
                    rep=rep,
                    period=period,
                    revenue=revenue,
                    quota=quota,
                    attainment=revenue / quota if quota else None,
                    base=plan.base,
                    commission=earned,
                    bonuses=bonus,
                    capped=capped,
                    clawback=0.0,
                    payout=0.0,
                    bonuses_won=bonus_names,
                    flags=flags,
                )
            )
    index = {(line.rep, line.period): line for line in lines}
    outside = []  # churns in a period the rep has no pay line in (left, or after the window)
    for (rep, period), amount in sorted(clawbacks.items()):
        if (rep, period) in index:
            index[(rep, period)].clawback += amount
        else:
            outside.append({"rep": rep, "period": period, "clawback": amount})
    for line in lines:
        line.payout = line.base + line.commission + line.bonuses - line.capped - line.clawback
    result = _summary(plan, reps, lines, measures or {})
    result["clawback_outside"] = outside
    return result


def _met(bonus: Bonus, found: tuple[float | None, float | None] | None) -> bool:
    if found is None:
        return False
    value, attainment = found
    if bonus.at_least is not None:
        return value is not None and value >= bonus.at_least
    assert bonus.attainment_at_least is not None
    return attainment is not None and attainment >= bonus.attainment_at_least


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None with fewer than 3 pairs or no spread."""
    if len(x) < 3:
        return None
    rx, ry = _average_ranks(x), _average_ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _average_ranks(values: Sequence[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    array = np.asarray(values, dtype=np.float64)
    order = np.argsort(array, kind="stable")
    ranks = np.empty(len(array), dtype=np.float64)
    ranks[order] = np.arange(1, len(array) + 1)
    for value in np.unique(array):
        tied = array == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _summary(
    plan: Plan, reps: Mapping[str, Mapping[str, Any]], lines: list[Line], measures: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    totals: dict[str, dict[str, Any]] = {}
    for line in lines:
        t = totals.setdefault(
            line.rep,
            {"rep": line.rep, "name": reps[line.rep].get("name"), "role": reps[line.rep]["role"], "periods": 0}
            | dict.fromkeys(("revenue", "base", "commission", "bonuses", "capped", "clawback", "payout"), 0.0),
        )
        t["periods"] += 1
        for key in ("revenue", "base", "commission", "bonuses", "capped", "clawback", "payout"):
            t[key] += getattr(line, key)
    for t in totals.values():
        t["variable"] = t["payout"] - t["base"]
        t["cost_of_sales"] = t["payout"] / t["revenue"] if t["revenue"] else None
    revenue = sum(t["revenue"] for t in totals.values())
    payout = sum(t["payout"] for t in totals.values())
    rewards = []
    ids = [rep for rep in totals if rep in measures]
    for measure in REWARD_MEASURES:
        pairs = [(float(totals[r]["variable"]), float(m)) for r in ids if (m := measures[r].get(measure)) is not None]
        rho = spearman([p for p, _ in pairs], [m for _, m in pairs])
        rewards.append({"measure": measure, "spearman": rho, "reps": len(pairs)})
    return {
        "plan": plan.name,
        "period": plan.period,
        "lines": [asdict(line) for line in lines],
        "reps": sorted(totals.values(), key=lambda t: -t["payout"]),
        "total": {
            "revenue": revenue,
            "payout": payout,
            "cost_of_sales": payout / revenue if revenue else None,
            "capped": sum(t["capped"] for t in totals.values()),
            "clawback": sum(t["clawback"] for t in totals.values()),
        },
        "rewards": rewards,
    }
