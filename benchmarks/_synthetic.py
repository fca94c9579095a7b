"""A national-scale portfolio and advisory set, shaped like ../shared/data/osv, for bench_national.

``measure`` reads the real OSV records and keeps plain lists to sample with ``random.choice``:
every real package with the shapes of its affected entries (range types, event kinds in record
order, the ``introduced: 0`` sentinels as written, the length of the ``versions`` list); per
ecosystem, the real names and version strings; the affected entries per advisory; the text sizes
of each record. Each synthetic package is modelled on one real package, whose entries it copies
shape by shape, so the joint distributions hold (a package with 297 advisories, like Go's
stdlib, has stdlib-like ranges; a PyPI entry has a GIT range and a long ``versions`` list).

``Generator`` makes, with a fixed seed, a package plan (ecosystem, a real name with its letters and
digits replaced, entries, portfolio versions) and then, package by package, a release line of
``history`` x the versions held (versions shaped like a real one of the ecosystem, numbers
walking upwards), the entries (events on the release line in record order; ``versions`` lists as
consecutive releases from the first introduced one) and the versions the portfolio holds (recent
releases likelier, ``recency``). How many versions a package has in the portfolio is lognormal,
independent of its number of advisories (``popularity`` 0); with these defaults the hits per
looked-up package-version come out close to the real inventories' (printed by bench_national).
Entries are grouped into advisories in stream order with the real size distribution. Everything
is generated lazily; strings are not shared between the portfolio and the advisories, as they
would not be when read from a database.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sakimori.errors import InvalidVersion
from sakimori.matching.ranges import compile_range
from sakimori.model.advisory import Advisory, AffectedPackage, Event, EventKind, Range
from sakimori.model.ecosystem import base_ecosystem, normalize_name
from sakimori.versions import key_function

_DIGITS = re.compile(r"\d+")
_SENTINELS = {"0", "0.0.0-0"}
_LOREM = (
    "An attacker who can send crafted input to an affected version can cause excessive "
    "resource consumption, bypass an authorization check, or execute code in the context of "
    "the process. Upgrade to a fixed version or apply the vendor's mitigation. "
) * 40
MAX_PORTFOLIO_VERSIONS = 3_000


def measure(advisories: list[Advisory]) -> dict[str, Any]:
    """The sampling lists described in the module docstring (JSON-serialisable)."""
    packages: dict[tuple[str, str], list[int]] = {}
    names: dict[str, set[str]] = {}
    versions: dict[str, set[str]] = {}
    shapes: dict[str, list[Any]] = {}
    sizes: list[int] = []
    text: list[list[Any]] = []
    for advisory in advisories:
        if advisory.withdrawn or not advisory.affected:
            continue
        sizes.append(len(advisory.affected))
        prefix = advisory.id.split("-", 1)[0]
        text.append(
            [
                len(advisory.summary),
                len(advisory.details),
                len(advisory.aliases),
                len(advisory.references),
                prefix,
            ]
        )
        for affected in advisory.affected:
            eco = base_ecosystem(affected.ecosystem)
            key = (eco, normalize_name(eco, affected.name))
            packages.setdefault(key, []).append(len(shapes.get(eco, ())))
            names.setdefault(eco, set()).add(affected.name)
            seen = versions.setdefault(eco, set())
            seen.update(affected.versions)
            ranges = []
            for rng in affected.ranges:
                events = []
                for event in rng.events:
                    literal = event.version if event.version in _SENTINELS else None
                    events.append([event.kind.value, literal])
                    if rng.type != "GIT" and literal is None:
                        seen.add(event.version)
                ranges.append([rng.type, events])
            shapes.setdefault(eco, []).append([ranges, len(affected.versions)])
    return {
        "packages": [[eco, shape_ids] for (eco, _), shape_ids in sorted(packages.items())],
        "names": {eco: sorted(found) for eco, found in names.items()},
        "versions": {eco: sorted(found) for eco, found in versions.items()},
        "entry_shapes": shapes,
        "advisory_sizes": sizes,
        "text": text,
    }


@dataclass(slots=True)
class PackagePlan:
    ecosystem: str
    name: str
    entries: int
    portfolio: int
    shapes: list[int]  # the entry shapes of the real package this one is modelled on


class Generator:
    """Deterministic national-scale data; ``scale`` 1.0 = 500,000 advisories, 2,000,000
    unique package-versions, half of them in packages that have advisories (``overlap``)."""

    def __init__(
        self,
        dist: dict[str, Any],
        scale: float,
        seed: int,
        overlap: float = 0.5,
        recency: float = 4.0,
        history: int = 4,
        popularity: float = 0.0,
    ) -> None:
        self.recency, self.history, self.popularity = recency, history, popularity
        self.dist = dist
        self.rng = random.Random(seed)
        self.text_rng = random.Random(seed + 1)  # advisory text: the entries stay the same
        self.advisories = round(500_000 * scale)
        self.package_versions = round(2_000_000 * scale)
        self.sizes = [self.rng.choice(dist["advisory_sizes"]) for _ in range(self.advisories)]
        self.plan = self._plan(sum(self.sizes), overlap)
        self.versions_made = 0

    def _plan(self, total_entries: int, overlap: float) -> list[PackagePlan]:
        rng, plan, made, used = self.rng, [], 0, set()
        while made < total_entries:
            eco, shape_ids = rng.choice(self.dist["packages"])
            count = min(len(shape_ids), total_entries - made)
            plan.append(PackagePlan(eco, self._name(eco, used), count, 0, shape_ids[:count]))
            made += count
        with_advisories = len(plan)
        extra = round(with_advisories * (1 - overlap) / overlap)
        for _ in range(extra):
            eco, _ = rng.choice(self.dist["packages"])
            plan.append(PackagePlan(eco, self._name(eco, used), 0, 0, []))
        # Popular packages have more advisories and more versions held: weight by entries.
        weights = [max(p.entries, 1) ** self.popularity * math.exp(rng.gauss(0, 1.2)) for p in plan]
        self._allocate(plan[:with_advisories], weights[:with_advisories], overlap)
        self._allocate(plan[with_advisories:], weights[with_advisories:], 1 - overlap)
        rng.shuffle(plan)
        return plan

    def _allocate(self, plan: list[PackagePlan], weights: list[float], share: float) -> None:
        if not plan:
            return
        wanted = round(self.package_versions * share)
        total = sum(weights)
        for item, weight in zip(plan, weights, strict=True):
            item.portfolio = min(MAX_PORTFOLIO_VERSIONS, max(1, int(wanted * weight / total)))
        missing = wanted - sum(p.portfolio for p in plan)
        step = 1 if missing > 0 else -1
        index = 0
        while missing:  # settle the rounding one version at a time, keeping 1..MAX each
            item = plan[index % len(plan)]
            if 1 <= item.portfolio + step <= MAX_PORTFOLIO_VERSIONS:
                item.portfolio += step
                missing -= step
            index += 1

    def _name(self, eco: str, used: set[tuple[str, str]]) -> str:
        template = self.rng.choice(self.dist["names"][eco])
        for attempt in range(100):
            name = "".join(self._swap(c) for c in template)
            if attempt > 3:
                name += str(self.rng.randrange(10_000))
            if (eco, normalize_name(eco, name)) not in used:
                used.add((eco, normalize_name(eco, name)))
                return name
        raise RuntimeError("could not make a unique name")

    def _swap(self, char: str) -> str:
        if char.isdigit():
            return str(self.rng.randrange(10))
        if "a" <= char <= "z":
            return chr(97 + self.rng.randrange(26))
        if "A" <= char <= "Z":
            return chr(65 + self.rng.randrange(26))
        return char

    def release_line(self, eco: str, length: int) -> list[str]:
        """``length`` distinct versions shaped like a real version of ``eco``, ascending."""
        key = key_function(eco)
        for _ in range(20):
            template = self.rng.choice(self.dist["versions"][eco])
            parts = _DIGITS.split(template)
            runs = _DIGITS.findall(template)
            if not runs:
                continue
            line = self._walk(parts, runs, length)
            try:
                if key is not None:
                    key(line[0])
                    key(line[-1])
            except InvalidVersion:
                continue
            return line
        return [f"{i // 100}.{i // 10 % 10}.{i % 10}" for i in range(1, length + 1)]

    def _walk(self, parts: list[str], runs: list[str], length: int) -> list[str]:
        rng = self.rng
        short = [i for i, run in enumerate(runs) if len(run) < 5]
        numbers = [int(run) if len(run) < 5 else 0 for run in runs]
        line = []
        for step in range(length):
            if step and short:  # bump one component (mostly the last), reset those after it
                level = short[-1] if rng.random() < 0.7 else rng.choice(short)
                numbers[level] += 1
                for later in short:
                    if later > level:
                        numbers[later] = 0
            pieces = [parts[0]]
            for i, run in enumerate(runs):
                if len(run) < 5:
                    pieces.append(str(numbers[i]))
                else:  # timestamps, hashes: same length, new digits, as unique as a release
                    pieces.append(str(rng.randrange(10 ** (len(run) - 1), 10 ** len(run))))
                pieces.append(parts[i + 1])
            line.append("".join(pieces))
        if not short:
            line = list(dict.fromkeys(line))
        self.versions_made += len(line)
        return line

    def _entry(
        self, eco: str, shape: list[Any], line: list[str]
    ) -> tuple[tuple[Range, ...], tuple[str, ...]]:
        rng = self.rng
        ranges_shape, n_versions = shape
        ranges = []
        first: int | None = None
        for range_type, events in ranges_shape:
            if range_type == "GIT":
                made = tuple(Event(EventKind(k), f"{rng.getrandbits(160):040x}") for k, _ in events)
                ranges.append(Range("GIT", made, "https://example.org/repo.git"))
                continue
            placed = sum(1 for e in events if e[1] is None)
            spots = iter(sorted(rng.sample(range(len(line)), placed)))
            made_events = []
            for kind, literal in events:
                version = literal if literal is not None else next(spots)
                if not isinstance(version, str):
                    first = version if first is None else first
                    version = line[version]
                made_events.append(Event(EventKind(kind), version.encode().decode()))
            ranges.append(Range(range_type, tuple(made_events)))
        return tuple(ranges), self._listed(eco, ranges, line, n_versions, first)

    @staticmethod
    def _listed(
        eco: str, ranges: list[Range], line: list[str], n_versions: int, first: int | None
    ) -> tuple[str, ...]:
        """The enumerated ``versions``: releases the ranges cover, as upstream enumerations
        are (in the real data only 12 of 139,498 listed versions fall outside their ranges).
        The strings are the release line's own objects: the product's loader
        (``store.intel.affected_entries``) shares repeated version strings the same way."""
        key = key_function(eco)
        intervals = []
        if key is not None:
            for rng in ranges:
                if rng.type != "GIT":
                    try:
                        intervals.extend(compile_range(rng.events, key))
                    except InvalidVersion:
                        continue
        covered = []
        if intervals and key is not None:
            for version, k in zip(line, _line_keys(key, line), strict=True):
                if k is not None and any(i.contains(k) for i in intervals):
                    covered.append(version)
        if not covered:  # no evaluable range: a window of the line, as before
            start = max(0, min(first or 0, len(line) - n_versions))
            return tuple(line[start : start + n_versions])
        return tuple(covered[:n_versions])

    def packages(self) -> Iterator[tuple[PackagePlan, list[str], list[str], list[Any]]]:
        """Per package: its plan, portfolio versions, release line, and entries as
        ``(advisory id, ranges, versions)``; consecutive entries share an advisory id, in
        groups of the real affected-per-advisory sizes."""
        shapes_of = self.dist["entry_shapes"]
        sizes = iter(self.sizes)
        left, number = next(sizes), 1
        for item in self.plan:
            shapes = [shapes_of[item.ecosystem][i] for i in item.shapes]
            need = max(
                (n + sum(len(events) for _, events in ranges) for ranges, n in shapes), default=0
            )
            length = max(item.portfolio * self.history, 8, need + 1)
            line = self.release_line(item.ecosystem, length)
            entries = []
            for shape in shapes:
                entries.append((f"SYN-{number:07d}", *self._entry(item.ecosystem, shape, line)))
                left -= 1
                if not left:
                    left, number = next(sizes, 1), number + 1
            held = [line[i].encode().decode() for i in self._held(len(line), item.portfolio)]
            yield item, held, line, entries

    def _held(self, length: int, count: int) -> list[int]:
        """``count`` release positions held by the portfolio; with ``recency`` > 0 recent
        releases are likelier (weighted sampling without replacement, Efraimidis-Spirakis)."""
        if not self.recency:
            return self.rng.sample(range(length), count)
        rnd = self.rng.random
        power = [((i + 1) / length) ** -self.recency for i in range(length)]
        keys = sorted(range(length), key=lambda i: rnd() ** power[i])
        return keys[-count:]

    def advisory_groups(self) -> Iterator[tuple[str, list[tuple[PackagePlan, Any]]]]:
        """Entries grouped into advisories: ``(id, [(package plan, (ranges, versions))])``."""
        group: list[tuple[PackagePlan, Any]] = []
        current = ""
        for item, _, _, entries in self.packages():
            for advisory_id, ranges, versions in entries:
                if advisory_id != current and group:
                    yield current, group
                    group = []
                current = advisory_id
                group.append((item, (ranges, versions)))
        if group:
            yield current, group

    def advisory(self, advisory_id: str, group: list[tuple[PackagePlan, Any]]) -> Advisory:
        """A full record for the database load: text sized like a real record's."""
        rng = self.text_rng
        n_summary, n_details, n_aliases, n_refs, prefix = rng.choice(self.dist["text"])
        offset = rng.randrange(len(_LOREM) // 2)
        details = _LOREM[offset : offset + n_details]
        affected = tuple(
            AffectedPackage(item.ecosystem, item.name, ranges=ranges, versions=versions)
            for item, (ranges, versions) in group
        )
        return Advisory(
            id=f"{prefix}-{advisory_id}",
            modified="2026-01-01T00:00:00Z",
            content_hash=hashlib.sha256(f"{advisory_id}{details}".encode()).hexdigest(),
            published="2025-06-01T00:00:00Z",
            aliases=tuple(f"CVE-2025-{rng.randrange(10**6):06d}" for _ in range(n_aliases)),
            summary=_LOREM[offset : offset + n_summary],
            details=details,
            affected=affected,
            references=tuple(f"https://example.org/{advisory_id}/{i}" for i in range(n_refs)),
        )


_LINE_KEYS: list[Any] = [None, []]


def _line_keys(key: Any, line: list[str]) -> list[Any]:
    """Sort keys of a release line (``None`` where invalid), computed once per line: the
    entries of one package are generated one after another from the same line."""
    if _LINE_KEYS[0] is not line:
        keys = []
        for version in line:
            try:
                keys.append(key(version))
            except InvalidVersion:
                keys.append(None)
        _LINE_KEYS[:] = [line, keys]
    return _LINE_KEYS[1]  # type: ignore[no-any-return]


def moved_fix(ranges: tuple[Range, ...], line: list[str]) -> tuple[Range, ...]:
    """The same ranges with the last event of the first evaluated range moved to a later
    release (a typical advisory update: the fix landed later than first said)."""
    out, done = [], False
    for rng in ranges:
        if not done and rng.type != "GIT" and rng.events:
            last = rng.events[-1]
            position = line.index(last.version) if last.version in line else len(line) // 2
            later = line[min(position + 3, len(line) - 1)]
            kind = last.kind if last.kind is not EventKind.INTRODUCED else EventKind.FIXED
            events = (*rng.events[:-1], Event(kind, later))
            if last.kind is EventKind.INTRODUCED:
                events = (*rng.events, Event(kind, later))
            rng, done = Range(rng.type, events, rng.repo), True
        out.append(rng)
    return tuple(out)


class ShapeStats:
    """The shape figures compared between the real data and the synthetic set. Entries of one
    advisory must be added one after the other; ``unique_packages`` dedups package keys (the
    real data), otherwise each ``add`` with ``new_package`` counts one package."""

    def __init__(self, *, unique_packages: bool = False) -> None:
        self.ecosystems: Counter[str] = Counter()
        self.package_keys: set[tuple[str, str]] | None = set() if unique_packages else None
        self.package_count = self.advisories = 0
        self.last = ""
        self.ranges = self.events = self.event_ranges = self.versions = 0

    def add(self, advisory_id: str, package: tuple[str, str], ranges: Any, versions: Any) -> None:
        self.ecosystems[package[0]] += 1
        if self.package_keys is not None:
            self.package_keys.add(package)
        if advisory_id != self.last:
            self.advisories += 1
            self.last = advisory_id
        self.ranges += len(ranges)
        self.versions += len(versions)
        for rng in ranges:
            if rng.type != "GIT":
                self.event_ranges += 1
                self.events += len(rng.events)

    def figures(self) -> dict[str, Any]:
        entries = sum(self.ecosystems.values())
        packages = self.package_count or len(self.package_keys or ())
        return {
            "advisories": self.advisories,
            "affected entries": entries,
            "packages with advisories": packages,
            "entries per advisory": entries / self.advisories,
            "entries per package": entries / packages,
            "ranges per entry": self.ranges / entries,
            "events per range (not GIT)": self.events / max(self.event_ranges, 1),
            "versions listed per entry": self.versions / entries,
            "ecosystem mix %": {
                eco: round(100 * n / entries, 1) for eco, n in self.ecosystems.most_common()
            },
        }
