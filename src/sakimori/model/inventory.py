"""Software inventories: what an SBOM, lockfile or package database says is installed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Component:
    """One software component of an inventory.

    ``ecosystem`` is the OSV ecosystem (``PyPI``, ``npm``, ``Maven``…) or ``None`` when the source
    does not say (a C binary in an SPDX document, a CycloneDX component without purl): such a
    component cannot be matched and is reported as not evaluated. ``name`` is as the source wrote
    it; matching normalises it per ecosystem. ``release`` qualifies OS ecosystems (``12`` for
    Debian 12) when the source states it.
    """

    name: str
    version: str | None
    ecosystem: str | None = None
    purl: str | None = None
    cpe: str | None = None
    bom_ref: str | None = None
    release: str | None = None
    scope: str | None = None
    #: Why a version could not be determined (``"git dependency"``, ``"range, not pinned"``).
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Inventory:
    """A parsed inventory: its format, its components, and a name for reports (the file)."""

    format: str
    components: tuple[Component, ...]
    source: str = ""
    #: Lines or entries the parser skipped on purpose, with the reason (never silent).
    skipped: tuple[str, ...] = ()
    #: Other files this one includes (``-r other.txt`` in requirements files), as written; the
    #: service layer reads them relative to this file.
    includes: tuple[str, ...] = ()
