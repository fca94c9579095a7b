"""Dependency exposure of a source tree: its lockfiles and manifests through the core matcher.

Every file of the tree (not in ``.git``, virtualenvs, ``node_modules``…; not source code or
media by extension) is offered to the inventory readers, which recognise a format by content
(:mod:`sakimori.formats.detect`); the inventories found are matched by
:func:`sakimori.services.scan.scan_inventories` against the intelligence loaded in the configured
database, exactly as ``sakimori scan`` does. Each finding is placed on the line of the lockfile
that pins the package (line 1 when that cannot be told).

Nothing is created when the intelligence is missing: with no database file (SQLite) or no
advisory loaded, the report says so in a note and lists no dependency finding.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from sakimori.config import Settings
from sakimori.errors import SakimoriError, UnsupportedFormat
from sakimori.model.inventory import Inventory
from sakimori.probe.findings import DependencyFinding, ProbeReport
from sakimori.probe.scan import SKIP_DIRS

logger = logging.getLogger(__name__)

#: Extensions of files that are never an inventory (code, documents, media, archives).
_NOT_INVENTORIES = frozenset(
    {".py", ".pyi", ".pyc", ".pyw", ".md", ".rst", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx",
     ".css", ".scss", ".html", ".htm", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp",
     ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".whl", ".so", ".dll", ".exe", ".o", ".a",
     ".c", ".h", ".cc", ".cpp", ".hpp", ".go", ".rs", ".java", ".kt", ".rb", ".php", ".cs",
     ".swift", ".sql", ".sh", ".bat", ".ps1", ".ipynb", ".csv", ".tsv", ".log", ".ttf", ".woff",
     ".woff2", ".mp3", ".mp4", ".wav", ".db", ".sqlite"}
)  # fmt: skip
#: Most inventory files read from one tree.
MAX_INVENTORIES = 2_000
#: Larger files are not offered to the readers while walking a tree (lockfiles are smaller).
MAX_CANDIDATE_BYTES = 64 * 1024 * 1024


def inventory_files(root: Path) -> list[Path]:
    """Candidate inventory files below ``root`` (or ``root`` itself), in a stable order."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for directory, subdirs, names in os.walk(root, followlinks=False):
        subdirs[:] = sorted(
            d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(names):
            path = Path(directory) / name
            if path.suffix.lower() in _NOT_INVENTORIES or path.is_symlink():
                continue
            found.append(path)
    return found


def read_inventories(root: Path, report: ProbeReport, settings: Settings) -> list[Inventory]:
    from sakimori.services.scan import read_inventory

    inventories: list[Inventory] = []
    base = root if root.is_dir() else root.parent
    for path in inventory_files(root):
        if len(inventories) >= MAX_INVENTORIES:
            report.notes.append(
                f"dependency exposure: more than {MAX_INVENTORIES} inventories; the rest not read"
            )
            break
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if size == 0 or size > min(settings.limits.max_bytes, MAX_CANDIDATE_BYTES):
            continue
        try:
            found = read_inventory(path, settings.limits)
        except UnsupportedFormat:
            continue
        except SakimoriError as exc:
            relative = path.relative_to(base).as_posix()
            report.notes.append(f"dependency exposure: {relative} not read: {exc.message}")
            continue
        inventories.extend(i for i in found if _inside(Path(i.source), base))
    return inventories


def _inside(path: Path, base: Path) -> bool:
    return path.resolve().is_relative_to(base.resolve())


def dependency_exposure(root: Path, report: ProbeReport, settings: Settings) -> None:
    """Add the tree's vulnerable dependencies to ``report`` (or a note saying why not)."""
    inventories = read_inventories(root, report, settings)
    if not inventories:
        return
    names = ", ".join(sorted({_relative(i.source, root) for i in inventories})[:5])
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        report.notes.append(
            f"dependency exposure: {len(inventories)} inventory file(s) found ({names}) but no "
            f"vulnerability intelligence is loaded in {settings.home}; run `sakimori intel "
            "sync` (or `sakimori intel load PATH`) first"
        )
        return
    from sakimori.services.assessment import policy_set
    from sakimori.services.scan import scan_inventories
    from sakimori.store import models
    from sakimori.store.db import open_database

    db = open_database(settings.database_url)
    try:
        with db.transaction() as session:
            loaded = session.execute(select(models.Advisory.id).limit(1)).first()
        if loaded is None:
            report.notes.append(
                f"dependency exposure: {len(inventories)} inventory file(s) found ({names}) "
                "but no vulnerability intelligence is loaded; run `sakimori intel sync` first"
            )
            return
        result = scan_inventories(db, inventories, policy_set(settings.policy))
    finally:
        db.dispose()
    report.tools.append("sakimori-deps")
    lines: dict[str, list[str]] = {}
    for found in result.findings:
        path = _relative(found.inventory, root)
        if path not in lines:
            lines[path] = _lines(Path(found.inventory))
        report.dependencies.append(
            DependencyFinding(
                vulnerability=found.vulnerability,
                aliases=found.aliases,
                ecosystem=found.ecosystem,
                package=found.package,
                version=found.version,
                fixed=found.fixed,
                score=found.score,
                rating=found.rating.label,
                kev=found.kev,
                summary=found.summary,
                path=path,
                line=_pin_line(lines[path], found.package, found.version),
                decision=found.decision,
            )
        )
    if result.not_evaluated:
        report.notes.append(
            f"dependency exposure: {len(result.not_evaluated)} component(s) could not be "
            "evaluated (see `sakimori scan` on the lockfiles for the reasons)"
        )


def _relative(source: str, root: Path) -> str:
    base = root if root.is_dir() else root.parent
    try:
        return Path(source).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return source


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _pin_line(lines: list[str], package: str, version: str) -> int:
    """The first line naming both the package and its version; else the package; else 1."""
    name = package.lower()
    variants = {name, name.replace("-", "_"), name.replace("_", "-")}
    by_name = 0
    for number, text in enumerate(lines, start=1):
        lowered = text.lower()
        if any(v in lowered for v in variants):
            if version and version.lower() in lowered:
                return number
            by_name = by_name or number
    return by_name or 1
