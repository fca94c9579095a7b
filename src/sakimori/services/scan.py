"""The scan use case: read inventory files, match them against the local intel, build findings.

I/O lives here (files, database); parsing and matching are the pure core. Only the affected
entries of the packages present in the inventories are read from the database, so a scan costs
the same whether 8,000 or 500,000 advisories are loaded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sakimori.errors import InvalidInput, LimitExceeded, SakimoriError, UnsupportedFormat
from sakimori.formats import image
from sakimori.formats.detect import parse_inventory
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.matching import AdvisoryIndex, match_components, package_version_of
from sakimori.matching.findings import build_findings, sort_findings
from sakimori.matching.product_names import as_product_entry
from sakimori.model.finding import Finding, NotEvaluated
from sakimori.model.inventory import Inventory
from sakimori.services.product_findings import match_assets
from sakimori.store import intel as store
from sakimori.store.db import Database
from sakimori.store.jvn import jvn_ids_for, with_jvn_aliases
from sakimori.triage.policy import PolicySet

_MAX_INCLUDE_DEPTH = 10


@dataclass(frozen=True, slots=True)
class InventorySummary:
    source: str
    format: str
    components: int
    skipped: tuple[str, ...] = ()


@dataclass(slots=True)
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)
    inventories: list[InventorySummary] = field(default_factory=list)
    #: Unrecognised files met while walking a directory (path, reason): never silent.
    ignored_files: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: Why findings carry no decision, when triage could not run (e.g. no SSVC tables).
    triage_note: str | None = None


def read_bytes(path: Path, limits: Limits) -> bytes:
    """Read a file (``-`` is standard input), refusing one over the size limit before reading."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise LimitExceeded(
                f"standard input is larger than the limit of {limits.max_bytes:,} bytes"
            )
        return data
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise LimitExceeded(
                f"file is {size:,} bytes, more than the limit of {limits.max_bytes:,}",
                where=str(path),
                hint="raise SAKIMORI_MAX_INPUT_BYTES if the file is genuine",
            )
        return path.read_bytes()
    except IsADirectoryError:
        raise InvalidInput("is a directory", where=str(path)) from None
    except FileNotFoundError:
        raise InvalidInput("no such file", where=str(path)) from None
    except PermissionError:
        raise InvalidInput("permission denied", where=str(path)) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from None


def read_inventory(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[Inventory]:
    """Parse one inventory file, following ``-r`` includes of requirements files."""
    inventories: list[Inventory] = []
    seen: set[Path] = set()
    pending: list[tuple[Path, int]] = [(path, 0)]
    while pending:
        current, depth = pending.pop(0)
        resolved = current.resolve() if str(current) != "-" else current
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            inventory = parse_inventory(read_bytes(current, limits), limits)
        except SakimoriError as exc:
            raise exc.located(str(current)) from None
        inventory = Inventory(
            inventory.format,
            tuple(as_product_entry(c) for c in inventory.components),
            source=str(current),
            skipped=inventory.skipped,
            includes=inventory.includes,
        )
        inventories.append(inventory)
        if depth >= _MAX_INCLUDE_DEPTH:
            continue
        for include in inventory.includes:
            pending.append((current.parent / include, depth + 1))
    return inventories


def collect(paths: Sequence[Path], limits: Limits) -> tuple[list[Inventory], list[tuple[str, str]]]:
    """Parse the named files; a directory holding an OCI image layout (or an extracted ``docker
    save``) is one image; other directories are walked, keeping every file that is an inventory."""
    inventories: list[Inventory] = []
    ignored: list[tuple[str, str]] = []
    for path in paths:
        if path.is_dir() and image.is_layout_directory(path):
            inventories.append(image.parse_directory(path, limits))
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                try:
                    inventories.extend(read_inventory(child, limits))
                except UnsupportedFormat as exc:
                    ignored.append((str(child), exc.message))
        else:
            inventories.extend(read_inventory(path, limits))
    return inventories, ignored


def scan_paths(
    db: Database,
    paths: Sequence[Path],
    limits: Limits = DEFAULT_LIMITS,
    policies: PolicySet | None = None,
) -> ScanReport:
    started = time.perf_counter()
    inventories, ignored = collect(paths, limits)
    parsed = time.perf_counter()
    report = scan_inventories(db, inventories, policies)
    report.ignored_files = ignored
    report.timings["parse"] = parsed - started
    return report


def scan_inventories(
    db: Database, inventories: Sequence[Inventory], policies: PolicySet | None = None
) -> ScanReport:
    started = time.perf_counter()
    report = ScanReport()
    resolved = [[package_version_of(c) for c in inv.components] for inv in inventories]
    wanted = {(p.ecosystem, p.name) for ps in resolved for p in ps if not isinstance(p, str)}
    with db.transaction() as session:
        entries = store.affected_entries(session, wanted)
        loaded = time.perf_counter()
        index = AdvisoryIndex(entries)
        per_inventory = [
            (inv, match_components(inv.components, index, packages))
            for inv, packages in zip(inventories, resolved, strict=True)
        ]
        matched = time.perf_counter()
        records = {
            hit.entry.advisory_id
            for _, results in per_inventory
            for result in results
            for hit in result.result.hits
        }
        advisories = store.advisory_summaries(session, records)
        cves = {
            identifier
            for info in advisories.values()
            for identifier in info.ids
            if identifier.startswith("CVE-")
        }
        advisories = with_jvn_aliases(advisories, jvn_ids_for(session, cves))
        kev = store.kev_entries(session, cves)
        epss = store.epss_scores(session, cves)
        cvss = store.cve_severity(session, cves)
        for inventory, results in per_inventory:
            findings, not_evaluated = build_findings(
                inventory.source, results, advisories, kev, epss, cvss
            )
            products, reviews = match_assets(session, {0: inventory.components}, inventory.source)
            findings = sort_findings([*findings, *products[0]])
            not_evaluated.extend(
                NotEvaluated(
                    inventory.source,
                    r.component.name,
                    r.component.version,
                    r.component.ecosystem,
                    r.reason,
                    r.vulnerability or None,
                )
                for r in reviews
            )
            if policies is not None:
                from sakimori.services.assessment import triage_scan

                findings, report.triage_note = triage_scan(
                    session, findings, policies, datetime.now(UTC)
                )
            report.findings.extend(findings)
            report.not_evaluated.extend(not_evaluated)
            report.inventories.append(
                InventorySummary(
                    inventory.source, inventory.format, len(inventory.components), inventory.skipped
                )
            )
    report.findings = sort_findings(report.findings)
    finished = time.perf_counter()
    report.timings.update(
        {"query": loaded - started, "match": matched - loaded, "report": finished - matched}
    )
    return report
