"""The retry schedule of a delivery: exponential backoff with jitter, bounded (pure).

Attempt *n* (1 for the first retry) waits a random time in ``[e/2, e]`` where
``e = min(cap, base · 2^(n−1))`` ("equal jitter"): never less than half the exponential step,
so retries do not bunch up at zero, and never more than ``cap``.
"""

from __future__ import annotations

import random
from typing import Protocol


class Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def delay(retry: int, base: float, cap: float, rng: Uniform | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, …)."""
    if retry < 1:
        raise ValueError("retries are numbered from 1")
    if base <= 0 or cap < base:
        raise ValueError("need 0 < base <= cap")
    step = min(cap, base * 2.0 ** min(retry - 1, 60))
    chooser = rng if rng is not None else random.SystemRandom()
    return step / 2 + chooser.uniform(0.0, step / 2)
