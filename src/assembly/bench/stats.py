"""Timing statistics of a bench run (floats are fine here: they measure, never decide)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share 0.99 -> p99); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def summary_ms(prefix: str, seconds: Sequence[float]) -> dict[str, float]:
    """{prefix_p50_ms, prefix_p99_ms, prefix_max_ms} of durations given in seconds."""
    return {
        f"{prefix}_p50_ms": ms(percentile(seconds, 0.50)),
        f"{prefix}_p99_ms": ms(percentile(seconds, 0.99)),
        f"{prefix}_max_ms": ms(max(seconds, default=0.0)),
    }
