"""The filters of every page and API call, read from the query string and validated.

The URL keeps them (``?grain=quarter&from=2026-01-01&segment=smb``), so a view can be shared. A
wrong value raises a ParameterError that names the parameter and what was expected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from salespilot.errors import ParameterError
from salespilot.metrics.catalogue import Catalogue
from salespilot.metrics.periods import add_months

GRAINS = ("month", "quarter", "year")
FILTER_DIMS = ("rep", "team", "channel", "segment")
MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Filters:
    grain: str = "month"
    start: dt.date | None = None
    end: dt.date | None = None
    dims: dict[str, str] = field(default_factory=dict)
    query: str = ""

    def __getitem__(self, key: str) -> Any:  # f["grain"], as the first pages read them
        return getattr(self, key)


def parse(request: Request) -> Filters:
    """The filters of ``request`` (a ParameterError names a wrong parameter)."""
    q = request.query_params
    grain = q.get("grain", "month")
    if grain not in GRAINS:
        raise ParameterError(f"Parameter grain: expected one of {', '.join(GRAINS)} (got {grain!r}).")
    dates: dict[str, dt.date | None] = {}
    for name in ("from", "to"):
        raw = q.get(name) or None
        try:
            dates[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ParameterError(f"Parameter {name}: expected a date YYYY-MM-DD (got {raw!r}).") from None
    if dates["from"] and dates["to"] and dates["to"] < dates["from"]:
        raise ParameterError(f"Parameter to ({dates['to']}) is before from ({dates['from']}).")
    dims = {d: q[d] for d in FILTER_DIMS if q.get(d)}
    return Filters(grain, dates["from"], dates["to"], dims, request.url.query)


def kpi_dims(catalogue: Catalogue, name: str, dims: dict[str, str]) -> dict[str, str]:
    """``dims`` checked against the dimensions of the KPI ``name``."""
    kpi = catalogue.kpis.get(name)
    if kpi is None:
        raise ParameterError(f"Unknown KPI {name!r} (see /api/v1/kpis).")
    wrong = [d for d in dims if d not in kpi.dimensions]
    if wrong:
        raise ParameterError(f"Parameter {wrong[0]}: {name} cannot be filtered by {wrong[0]}.")
    return dims


def period_range(period_start: str | None, grain: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the period of ``grain`` starting ``period_start``."""
    if not period_start:
        return None
    start = dt.date.fromisoformat(period_start)
    return start, add_months(start, MONTHS[grain]) - dt.timedelta(days=1)


QUERY_DOCS = {
    "grain": "month, quarter or year (default: month)",
    "from": "first day of the range, YYYY-MM-DD",
    "to": "last day of the range, YYYY-MM-DD",
    "rep": "a rep's id: narrows the user's scope, never widens it",
    "team": "a team's name",
    "channel": "a channel (web, events, referral...)",
    "segment": "an account segment (smb, mid_market, enterprise...)",
}


def openapi_query(names: Sequence[str], docs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``openapi_extra`` declaring the query parameters ``names`` (read from the request, so
    FastAPI cannot see them) with their meaning from ``docs`` or ``QUERY_DOCS``."""
    known = {**QUERY_DOCS, **(docs or {})}
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": known.get(name, ""),
            }
            for name in names
        ]
    }


PERIOD_QUERY = ("grain", "from", "to")
