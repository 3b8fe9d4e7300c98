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


def newcombe_difference(
    successes1: float, trials1: float, successes2: float, trials2: float, z: float = Z95
) -> tuple[float, float] | tuple[None, None]:
    """The hybrid score interval of a difference of two proportions p1 - p2 (Newcombe 1998, method 10).

    With p1 = s1/n1, p2 = s2/n2 and (l1, u1), (l2, u2) their Wilson intervals, D = p1 - p2:

        lower = D - sqrt((p1 - l1)^2 + (u2 - p2)^2)
        upper = D + sqrt((u1 - p1)^2 + (p2 - l2)^2)

    Newcombe R.G. (1998), "Interval estimation for the difference between independent
    proportions: comparison of eleven methods", Statistics in Medicine 17, 873-890: for 56/70
    vs 48/80 the difference is 0.2000 and the 95% interval 0.0524 to 0.3339.
    (None, None) when either side has no trials.
    """
    l1, u1 = wilson(successes1, trials1, z)
    l2, u2 = wilson(successes2, trials2, z)
    if l1 is None or u1 is None or l2 is None or u2 is None:
        return None, None
    p1, p2 = successes1 / trials1, successes2 / trials2
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
