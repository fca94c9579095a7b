"""OSV range semantics, compiled into intervals over version sort keys.

The OSV schema (section "Evaluation") defines whether a version ``v`` is affected by one
``ECOSYSTEM`` or ``SEMVER`` range with a small state machine over the range's events sorted by
version (``introduced: "0"`` first; ties keep the record's order)::

    affected = False
    for event in sorted(events):
        if introduced and v >= event: affected = True
        elif fixed and v >= event:    affected = False
        elif last_affected and v > event: affected = False
    return affected and (no limit events or v < some limit)

``is_affected_reference`` is that text, literally; the tests use it as the oracle. ``compile_range``
turns the same rules into a few ``Interval``s, computed by running the state machine once per
region between event versions (the answer can only change at an event's version), so compiled
and literal evaluation agree by construction, ties and odd event orders included. ``GIT`` ranges
name commits, not versions; they are skipped without stopping the ranges after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sakimori.model.advisory import Event, EventKind
from sakimori.versions import KeyFunction, SortKey

#: A position on the version line: ``(key, 0)`` is the version itself, ``(key, 1)`` is "just
#: above it". A version with key ``k`` is inside an interval when ``lo <= (k, 0) < hi``.
Point = tuple[SortKey, int]

EVALUATED_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})


@dataclass(frozen=True, slots=True)
class Interval:
    """``lo <= (key, 0) < hi``; ``None`` is unbounded. ``fixed`` names the fixing version."""

    lo: Point | None
    hi: Point | None
    fixed: str | None = None

    def contains(self, key: SortKey) -> bool:
        point = (key, 0)
        if self.lo is not None and point < self.lo:
            return False
        return self.hi is None or point < self.hi


def _sorted_events(events: Sequence[Event], key: KeyFunction) -> list[tuple[SortKey | None, Event]]:
    """Events with their keys (``None`` for ``introduced: "0"``), sorted stably, limits removed."""
    keyed: list[tuple[SortKey | None, Event]] = []
    for event in events:
        if event.kind is EventKind.LIMIT:
            continue
        if event.kind is EventKind.INTRODUCED and event.version == "0":
            keyed.append((None, event))
        else:
            keyed.append((key(event.version), event))
    keyed.sort(key=lambda item: (item[0] is not None, item[0] or ()))
    return keyed


def _limit_key(events: Sequence[Event], key: KeyFunction) -> SortKey | None:
    """The largest ``limit`` (a version is affected only below some limit), or None."""
    limits = [
        key(e.version) for e in events if e.kind is EventKind.LIMIT and e.version not in {"*", ""}
    ]
    return max(limits) if limits else None


def _state(keyed: Sequence[tuple[SortKey | None, Event]], at: Point | None) -> bool:
    """The state machine at a region: ``at`` is the region's point, ``None`` = below everything."""
    affected = False
    for event_key, event in keyed:
        if event_key is None:  # introduced: "0" applies to every version
            affected = True
            continue
        if at is None:
            break
        version_key, above = at
        if event.kind is EventKind.LAST_AFFECTED:
            applies = version_key > event_key or (version_key == event_key and above == 1)
        else:
            applies = version_key >= event_key
        if applies:
            affected = event.kind is EventKind.INTRODUCED
    return affected


def compile_range(events: Sequence[Event], key: KeyFunction) -> tuple[Interval, ...]:
    """Compile one ECOSYSTEM/SEMVER range. Raises ``InvalidVersion`` for an unusable version."""
    keyed = _sorted_events(events, key)
    boundaries = sorted({k for k, _ in keyed if k is not None})
    # Regions, in order: below all boundaries, then for each boundary b: "at b", "above b".
    regions: list[Point | None] = [None]
    for boundary in boundaries:
        regions.append((boundary, 0))
        regions.append((boundary, 1))
    fixed_at = {k: e.version for k, e in keyed if k is not None and e.kind is EventKind.FIXED}
    intervals: list[Interval] = []
    start: Point | None = None
    inside = False
    for region in regions:
        state = _state(keyed, region)
        if state and not inside:
            inside, start = True, region
        elif not state and inside:
            inside = False
            assert region is not None
            fixed = fixed_at.get(region[0]) if region[1] == 0 else None
            intervals.append(Interval(start, region, fixed))
    if inside:
        intervals.append(Interval(start, None))
    limit = _limit_key(events, key)
    if limit is not None:
        intervals = _clip(intervals, (limit, 0))
    return tuple(intervals)


def _clip(intervals: Sequence[Interval], limit: Point) -> list[Interval]:
    clipped = []
    for interval in intervals:
        if interval.lo is not None and interval.lo >= limit:
            continue
        if interval.hi is None or interval.hi > limit:
            clipped.append(Interval(interval.lo, limit, None))
        else:
            clipped.append(interval)
    return clipped


def is_affected_reference(version: str, events: Sequence[Event], key: KeyFunction) -> bool:
    """The OSV schema's evaluation pseudo-code, written literally (the tests' oracle)."""
    v = key(version)
    affected = False
    for event_key, event in _sorted_events(events, key):
        if event.kind is EventKind.INTRODUCED:
            if event_key is None or v >= event_key:
                affected = True
        elif event.kind is EventKind.FIXED:
            assert event_key is not None
            if v >= event_key:
                affected = False
        elif event.kind is EventKind.LAST_AFFECTED:
            assert event_key is not None
            if v > event_key:
                affected = False
    limit = _limit_key(events, key)
    return affected and (limit is None or v < limit)
