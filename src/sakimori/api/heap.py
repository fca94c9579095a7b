"""The garbage collector in a long-running API process.

CPython's full collection walks every object it tracks. An API process holds a few hundred
thousand that live as long as it does (modules, the ORM's mappers, compiled statements and
templates), and under load a full collection paused a process for 200–400 ms: the slowest
answers ``benchmarks/bench_service_load.py`` saw came from those pauses. ``gc.freeze()`` moves
the objects alive at that moment out of the collector's sight, so later collections walk only
what requests made since. It is done twice: when the process starts serving, and once more
after its first :data:`WARM_REQUESTS` requests, when the caches that fill on first use
(compiled SQL, templates, the token caches' first entries) exist. Frozen objects are never
collected, so each freeze collects what is garbage first; the second one pauses that one
request's process once, for about the time of one full collection.
"""

from __future__ import annotations

import gc
import logging
from typing import Final

log = logging.getLogger(__name__)

#: Requests after which the process's caches are warm and its heap is frozen again.
WARM_REQUESTS: Final = 500


def freeze() -> int:
    """Collect the garbage, then take every object alive out of future collections; how many
    objects are frozen in all."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("heap frozen: %d objects", frozen)
    return frozen


class Warmup:
    """Counts requests and freezes the heap once, after the ``after``-th."""

    def __init__(self, after: int = WARM_REQUESTS) -> None:
        self.after = after
        self.seen = 0

    def tick(self) -> None:
        self.seen += 1
        if self.seen == self.after:
            freeze()
