"""Small statistics shared by every KPI: Wilson intervals and sample flags."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson(successes: float, trials: float, z: float = Z95) -> tuple[float, float] | tuple[None, None]:
    """The Wilson score interval of a proportion (Wilson 1927).

    (None, None) without trials, or when ``successes`` is not a part of ``trials`` (a ratio
    such as leads per website contact can exceed 1: it is no proportion).
    """
    if trials <= 0 or not 0 <= successes <= trials:
        return None, None
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
