"""The pandas baseline for kpi_bench.py: the catalogue's KPIs as an analyst would write them in pandas.

    .venv/bin/python benchmarks/kpi_pandas.py SPEC_JSON [OUT.parquet]

Reads the columns it needs from the store as Arrow (``.to_arrow_table().to_pandas()``: 5 to 8 times
faster than this DuckDB's ``.df()``), then merges and groupbys (months as ``to_period("M")``):
the same definitions as kpi_floor_sql.py (and SalesPilot), the same long result (kpi,
period_start, [rep,] value, numerator, denominator, n, median, mean, p90), non-empty cells only.

SPEC_JSON: {"db", "kpis", "by" ([] or ["rep"]), "timezone", "base_currency", "margin_rate"}.
Prints one JSON line: seconds (connect, read, compute), rows, peak_mb (this process's ru_maxrss).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import duckdb
import numpy as np
import pandas as pd
from kpi_floor_sql import COUNT, CROSS_SOURCE, DURATION, SAME_SOURCE

OUT_COLUMNS = ["kpi", "period_start", "rep", "value", "numerator", "denominator", "n", "median", "mean", "p90"]


class Kpis:
    def __init__(self, con: duckdb.DuckDBPyConnection, spec: dict) -> None:
        self.con = con
        self.kpis: list[str] = spec["kpis"]
        self.rep = bool(spec["by"])
        self.timezone: str = spec["timezone"]
        self.base: str = spec["base_currency"]
        self.margin_rate: float = spec["margin_rate"]
        self.keys = ["period_start", "rep"] if self.rep else ["period_start"]
        self._fx: pd.DataFrame | None = None
        self._tables: dict[str, pd.DataFrame] = {}

    # -- reading -------------------------------------------------------------------------------
    def read(self, sql: str) -> pd.DataFrame:
        return self.con.sql(sql).to_arrow_table().to_pandas(date_as_object=False)

    def month(self, s: pd.Series, local: bool = True) -> pd.Series:
        if local and self.timezone not in ("UTC", "Etc/UTC"):
            s = s.dt.tz_localize("UTC").dt.tz_convert(self.timezone).dt.tz_localize(None)
        return s.dt.to_period("M")

    def fx_rate(self, df: pd.DataFrame, currency: str, day: pd.Series) -> np.ndarray:
        """The rate of each row's currency on ``day`` (the last known one), 1 for the base currency."""
        if self._fx is None:
            fx = self.read("SELECT upper(currency) AS fx_currency, date AS fx_date, rate_to_base FROM fx_rates")
            fx["fx_date"] = pd.to_datetime(fx["fx_date"])
            self._fx = fx.sort_values("fx_date")
        left = pd.DataFrame({"_row": np.arange(len(df)), "fx_currency": df[currency].str.upper(), "fx_date": day})
        left["fx_date"] = pd.to_datetime(left["fx_date"]).astype(self._fx["fx_date"].dtype)
        merged = pd.merge_asof(left.sort_values("fx_date"), self._fx, on="fx_date", by="fx_currency")
        rate = merged.sort_values("_row")["rate_to_base"].to_numpy()
        same = (df[currency].isna() | (df[currency].str.upper() == self.base)).to_numpy()
        return np.where(same, 1.0, rate)

    def opportunities(self) -> pd.DataFrame:
        if "opps" not in self._tables:
            self._tables["opps"] = self.read(
                "SELECT opportunity_id, lead_id, account_id, owner_id, created_at, closed_at, outcome, amount, "
                "margin, currency FROM opportunities"
            )
        return self._tables["opps"]

    def grouped(self, df: pd.DataFrame, anchor: str, owner: str | None, local: bool = True):
        by = [self.month(df[anchor], local).rename("period_start")]
        if self.rep:
            by.append(df[owner].rename("rep"))
        return df.groupby(by, dropna=False, sort=False)

    # -- one frame per source and anchor -------------------------------------------------------
    def leads(self) -> pd.DataFrame:
        leads = self.read("SELECT lead_id, created_at, owner_id FROM leads")
        opps = self.opportunities()
        linked = opps[opps["lead_id"].notna()]
        won_any = linked["outcome"].eq("won").groupby(linked["lead_id"]).any().rename("won_any").reset_index()
        leads = leads.merge(won_any, on="lead_id", how="left")
        leads["converted"] = leads["won_any"].notna()
        leads["lead_won"] = leads["won_any"].eq(True)
        return self.grouped(leads, "created_at", "owner_id").agg(
            leads=("lead_id", "size"), converted=("converted", "sum"), lead_won=("lead_won", "sum")
        )

    def opp_created(self) -> pd.DataFrame:
        opps = self.opportunities()
        won = opps["outcome"].eq("won")
        return self.grouped(opps.assign(won=won), "created_at", "owner_id").agg(
            opportunities=("opportunity_id", "size"), created_won=("won", "sum")
        )

    def opp_closed(self) -> pd.DataFrame:
        opps = self.opportunities()
        closed = opps[opps["closed_at"].notna()].copy()
        won = closed["outcome"].eq("won")
        closed["won"] = won
        closed["closed"] = closed["outcome"].isin(["won", "lost"])
        rate = self.fx_rate(closed, "currency", closed["closed_at"].dt.normalize())
        amount_base = closed["amount"].to_numpy() * rate
        margin = closed["margin"].to_numpy()
        margin_base = np.where(closed["margin"].notna(), margin * rate, amount_base * self.margin_rate)
        closed["revenue"] = np.where(won, amount_base, np.nan)
        closed["gross_margin"] = np.where(won, margin_base, np.nan)
        out = self.grouped(closed, "closed_at", "owner_id").agg(
            signatures=("won", "sum"),
            closed=("closed", "sum"),
            revenue=("revenue", "sum"),
            gross_margin=("gross_margin", "sum"),
        )
        wins = closed[won]
        cycle = (wins["closed_at"] - wins["created_at"]).dt.total_seconds() / 86400.0
        g = self.grouped(wins.assign(cycle=cycle), "closed_at", "owner_id")["cycle"]
        stats = g.agg(["count", "median", "mean"]).rename(columns={"count": "n"})
        stats["p90"] = g.quantile(0.9)
        return out.join(stats)

    def activities(self) -> pd.DataFrame:
        acts = self.read("SELECT rep_id, occurred_at FROM activities")
        return self.grouped(acts, "occurred_at", "rep_id").size().rename("activities").to_frame()

    def customers(self) -> pd.DataFrame:
        opps = self.opportunities()
        won = opps[(opps["outcome"] == "won") & opps["account_id"].notna() & opps["closed_at"].notna()]
        first = won.sort_values(["closed_at", "opportunity_id"]).drop_duplicates("account_id")
        return self.grouped(first, "closed_at", "owner_id").size().rename("new_customers").to_frame()

    def costs(self) -> pd.DataFrame:
        costs = self.read("SELECT period_start, amount, currency FROM costs")
        costs["amount_base"] = costs["amount"].to_numpy() * self.fx_rate(costs, "currency", costs["period_start"])
        return self.grouped(costs, "period_start", None, local=False).agg(costs=("amount_base", "sum"))

    def web(self) -> pd.DataFrame:
        web = self.read("SELECT date, visitors, contacts FROM web_traffic")
        return self.grouped(web, "date", None, local=False)[["visitors", "contacts"]].sum()

    def campaigns(self) -> pd.DataFrame:
        stats = self.read("SELECT date, impressions, engagements FROM campaign_stats")
        return self.grouped(stats, "date", None, local=False)[["impressions", "engagements"]].sum()

    # -- the KPIs -------------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        frames = {
            "leads_c": self.leads,
            "opp_created": self.opp_created,
            "opp_closed": self.opp_closed,
            "activities_c": self.activities,
            "customers_c": self.customers,
            "costs_c": self.costs,
            "web_c": self.web,
            "campaign_c": self.campaigns,
        }
        cache: dict[str, pd.DataFrame] = {}

        def frame(name: str) -> pd.DataFrame:
            if name not in cache:
                cache[name] = frames[name]()
            return cache[name]

        out = []
        for kpi in self.kpis:
            if kpi in CROSS_SOURCE:
                (a, x), (b, y) = CROSS_SOURCE[kpi]
                both = frame(a)[[x]].join(frame(b)[[y]], how="outer").fillna(0)
                part = self.ratio(both[x], both[y])
            else:
                cte, kind, cols = SAME_SOURCE[kpi]
                f = frame(cte)
                if kind == COUNT:
                    part = pd.DataFrame({"value": f[cols["value"]].astype(float)})
                elif kind == DURATION:
                    stats = f[f["n"].fillna(0) > 0]
                    part = stats[["n", "median", "mean", "p90"]].assign(value=stats["median"])
                else:
                    part = self.ratio(f[cols["numerator"]], f[cols["denominator"]])
            out.append(part.reset_index().assign(kpi=kpi))
        result = pd.concat(out, ignore_index=True)
        result["period_start"] = result["period_start"].dt.start_time
        return result.reindex(columns=[c for c in OUT_COLUMNS if c != "rep" or self.rep])

    @staticmethod
    def ratio(num: pd.Series, den: pd.Series) -> pd.DataFrame:
        num, den = num.astype(float), den.astype(float)
        return pd.DataFrame({"value": num / den.where(den != 0), "numerator": num, "denominator": den})


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    spec = json.loads(sys.argv[1])
    t0, c0 = time.perf_counter(), cpu()
    con = duckdb.connect(spec["db"])
    result = Kpis(con, spec).run()
    con.close()
    elapsed, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if len(sys.argv) > 2:
        result.to_parquet(sys.argv[2])
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu_seconds, "rows": len(result), "peak_mb": peak}))


if __name__ == "__main__":
    main()
