"""The funnel for the faces: the volumes and conversions from the KPI layer, handed to
``analytics.funnel`` (which holds no database code)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from salespilot.analytics.funnel import COHORT_KPIS, VOLUME_KPIS, FunnelPeriod, build, parse_steps
from salespilot.errors import ParameterError
from salespilot.metrics.catalogue import load_catalogue
from salespilot.settings import parse_funnel_steps, parse_reference_rates

if TYPE_CHECKING:
    from salespilot.engine.workspace import Workspace

__all__ = ["FunnelPeriod", "funnel"]


def funnel(
    ws: Workspace,
    *,
    grain: str = "month",
    by: tuple[str, ...] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    steps: str | Sequence[str] | None = None,
    stages: bool | None = None,
    references: dict[str, float] | None = None,
) -> list[FunnelPeriod]:
    """The funnel; ``steps``, ``stages`` and ``references`` default to the workspace settings
    ``funnel_steps``, ``funnel_stages`` and ``reference_rates``."""
    settings = ws.settings()
    chosen = parse_steps(steps) if steps is not None else parse_funnel_steps(settings["funnel_steps"])
    if stages is None:
        stages = settings["funnel_stages"] == "on"
    if references is None:
        references = parse_reference_rates(settings["reference_rates"])
    if len(by) > 1:
        raise ParameterError("--by takes one dimension for the funnel.")
    catalogue = load_catalogue()
    for dim in by:
        if "call" in chosen and dim not in catalogue.get("activities").dimensions:
            allowed = ", ".join(catalogue.get("activities").dimensions)
            raise ParameterError(
                f'Calls cannot be split by "{dim}" (activities are split by {allowed}): '
                "start the funnel at the lead with --steps lead,opportunity,signature."
            )
    names = [VOLUME_KPIS[s] for s in chosen if s != "call"]
    names += [
        COHORT_KPIS[t] for t in ("lead_to_opportunity", "opportunity_to_signature") if t.split("_to_")[0] in chosen[:-1]
    ]
    if stages and "opportunity" in chosen[:-1]:
        names.append("stage_conversion")
    rows = ws.kpi(names, grain=grain, by=by, start=start, end=end, output="rows")
    if "call" in chosen:
        rows += ws.kpi(
            ["activities"], grain=grain, by=by, filters={"type": "call"}, start=start, end=end, output="rows"
        )
    return build(rows, by, chosen, references)
