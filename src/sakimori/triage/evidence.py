"""What triage knows about one vulnerability (:class:`Evidence`) and about one asset
(:class:`AssetContext`): frozen inputs to :func:`sakimori.triage.decide.decide`.

Every fact carries where it came from (``source``), so a decision can name the evidence behind
each decision point. Builders turn the records Sakimori reads into evidence:
:func:`evidence_from_cve` (a CVE List V5 record), :func:`evidence_from_osv` (an OSV advisory),
and :func:`merge` joins the evidence of one vulnerability from several records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sakimori.errors import InvalidInput
from sakimori.model.advisory import Advisory, EventKind
from sakimori.model.cve import CisaSsvc, CveRecord
from sakimori.model.intel import EpssScore, KevEntry

Criticality = Literal["low", "medium", "high", "critical"]
CRITICALITIES: tuple[Criticality, ...] = ("low", "medium", "high", "critical")
Sighting = Literal["corroborated"]

_CWE = re.compile(r"(?:CWE-)?0*([0-9]{1,6})", re.IGNORECASE)
_CVSS_TYPES = {"CVSS_V2", "CVSS_V3", "CVSS_V4"}
#: Reference tags (CVE) and types (OSV) that say a fix is public.
FIX_TAGS = frozenset({"patch", "FIX"})


@dataclass(frozen=True, slots=True)
class Cvss:
    """A CVSS vector: type (``CVSS_V3``…, as OSV names them), vector string, and its source."""

    type: str
    vector: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Weakness:
    """A CWE id, normalised to ``CWE-<n>``, and its source."""

    cwe: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference URL with its CVE tags (``exploit``, ``patch``…) or OSV type (``FIX``…)."""

    url: str
    tags: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything known about one vulnerability.

    ``kev`` is listing in CISA's KEV catalog (``kev_due_date`` from the catalog when known);
    ``fix_available`` is true when a fixed version or a fix reference is public; ``open_source``
    when the vulnerability was read from a package ecosystem (OSV, or a CVE record naming a
    package collection or repository); ``sightings`` is ``"corroborated"`` once monitoring has
    confirmed exploitation attempts against participants.
    """

    id: str
    aliases: tuple[str, ...] = ()
    cvss: tuple[Cvss, ...] = ()
    cwes: tuple[Weakness, ...] = ()
    kev: bool = False
    kev_due_date: str | None = None
    epss: float | None = None
    epss_percentile: float | None = None
    cisa_ssvc: CisaSsvc | None = None
    references: tuple[Reference, ...] = ()
    fix_available: bool = False
    open_source: bool = False
    sightings: Sighting | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


@dataclass(frozen=True, slots=True)
class AssetContext:
    """What is known about the asset a finding is on. ``None`` means unknown.

    ``sectors`` are the owning organisation's sectors (keys of
    :data:`sakimori.model.organisation.SECTORS`); ``environment`` is free text (production,
    staging…) shown in explanations.
    """

    criticality: Criticality | None = None
    internet_facing: bool | None = None
    sectors: tuple[str, ...] = ()
    environment: str | None = None

    def __post_init__(self) -> None:
        if self.criticality is not None and self.criticality not in CRITICALITIES:
            raise InvalidInput(
                f"unknown asset criticality {self.criticality!r}",
                hint="one of: " + ", ".join(CRITICALITIES),
            )
        object.__setattr__(self, "sectors", tuple(self.sectors))  # a list would not hash

    @classmethod
    def unknown(cls) -> AssetContext:
        """The context of a bare file scan: nothing is known about the asset.

        :func:`~sakimori.triage.decide.decide` then treats exposure as open (internet-facing:
        the conservative default) and criticality as medium (the configured default), and its
        explanation says both were unknown.
        """
        return cls()

    @property
    def is_unknown(self) -> bool:
        return self == _UNKNOWN


_UNKNOWN = AssetContext()


def normalise_cwe(text: str) -> str | None:
    """``"CWE-079"``, ``"cwe-79"``, ``"79"`` -> ``"CWE-79"``; anything else -> None."""
    found = _CWE.fullmatch(text.strip())
    return f"CWE-{int(found.group(1))}" if found else None


def evidence_from_cve(
    record: CveRecord,
    *,
    kev: KevEntry | None = None,
    epss: EpssScore | None = None,
    with_cisa_ssvc: bool = True,
) -> Evidence:
    """Evidence from a CVE record, and optionally its KEV catalog entry and EPSS score.

    ``with_cisa_ssvc=False`` withholds CISA's SSVC block (the agreement report derives the
    points from everything else and compares).
    """
    fix = any(_is_fix(r.tags) for r in record.references)
    fix = fix or any(_has_fixed_version(item) for item in record.affected)
    return Evidence(
        id=record.id,
        cvss=tuple(
            Cvss("CVSS_V" + m.version[0], m.vector, f"{record.id} {m.source}") for m in record.cvss
        ),
        cwes=tuple(Weakness(w.cwe, f"{record.id} {w.source}") for w in record.weaknesses)
        + (
            tuple(Weakness(c, f"KEV {kev.cve_id}") for c in kev.cwes if c.startswith("CWE-"))
            if kev
            else ()
        ),
        kev=kev is not None or record.kev is not None,
        kev_due_date=kev.due_date if kev else None,
        epss=epss.epss if epss else None,
        epss_percentile=epss.percentile if epss else None,
        cisa_ssvc=record.ssvc if with_cisa_ssvc else None,
        references=tuple(
            Reference(r.url, r.tags, f"{record.id} {r.source}") for r in record.references
        ),
        fix_available=fix,
        open_source=any(_from_package_collection(item) for item in record.affected),
    )


def evidence_from_osv(advisory: Advisory, *, references: tuple[Reference, ...] = ()) -> Evidence:
    """Evidence from an OSV advisory (a package ecosystem, so ``open_source`` is true).

    CVSS vectors come from ``severity`` (record and package level), CWE ids from
    ``database_specific.cwe_ids`` (GitHub advisories). :class:`Advisory` keeps reference URLs
    without their types, so a caller that has the types passes them as ``references``.
    """
    severities = [*advisory.severity, *(s for a in advisory.affected for s in a.severity)]
    cwe_ids = advisory.database_specific.get("cwe_ids")
    cwes = (
        [normalise_cwe(c) for c in cwe_ids if isinstance(c, str)]
        if isinstance(cwe_ids, list)
        else []
    )
    refs = references or tuple(Reference(url, (), advisory.id) for url in advisory.references)
    fixed = any(
        event.kind is EventKind.FIXED
        for package in advisory.affected
        for item in package.ranges
        for event in item.events
    )
    return Evidence(
        id=advisory.id,
        aliases=advisory.aliases,
        cvss=tuple(
            dict.fromkeys(
                Cvss(s.type, s.score, advisory.id) for s in severities if s.type in _CVSS_TYPES
            )
        ),
        cwes=tuple(dict.fromkeys(Weakness(c, advisory.id) for c in cwes if c)),
        references=refs,
        fix_available=fixed or any(_is_fix(r.tags) for r in refs),
        open_source=True,
    )


def merge(first: Evidence, *others: Evidence) -> Evidence:
    """One vulnerability's evidence from several records (OSV, CVE, KEV…), under ``first.id``.

    Lists are joined without repeats; flags are true if any record says so; KEV due date,
    CISA's SSVC and sightings are the first known; EPSS is the highest score given.
    """
    parts = (first, *others)
    epss = [p for p in parts if p.epss is not None]
    best = max(epss, key=lambda p: p.epss or 0.0) if epss else None
    ids = dict.fromkeys(i for p in parts for i in p.ids)
    ids.pop(first.id, None)
    return Evidence(
        id=first.id,
        aliases=tuple(ids),
        cvss=tuple(dict.fromkeys(c for p in parts for c in p.cvss)),
        cwes=tuple(dict.fromkeys(c for p in parts for c in p.cwes)),
        kev=any(p.kev for p in parts),
        kev_due_date=next((p.kev_due_date for p in parts if p.kev_due_date), None),
        epss=best.epss if best else None,
        epss_percentile=best.epss_percentile if best else None,
        cisa_ssvc=next((p.cisa_ssvc for p in parts if p.cisa_ssvc), None),
        references=tuple(dict.fromkeys(r for p in parts for r in p.references)),
        fix_available=any(p.fix_available for p in parts),
        open_source=any(p.open_source for p in parts),
        sightings=next((p.sightings for p in parts if p.sightings), None),
    )


def _is_fix(tags: tuple[str, ...]) -> bool:
    return any(tag in FIX_TAGS for tag in tags)


def _has_fixed_version(item: dict[str, object]) -> bool:
    """A CVE ``affected`` entry with an ``unaffected`` version or a ``lessThan`` bound."""
    versions = item.get("versions")
    if not isinstance(versions, list):
        return False
    for version in versions:
        if not isinstance(version, dict):
            continue
        if version.get("status") == "unaffected":
            return True
        bound = version.get("lessThan")
        if (
            version.get("status") == "affected"
            and isinstance(bound, str)
            and bound not in ("*", "")
        ):
            return True
    return False


def _from_package_collection(item: dict[str, object]) -> bool:
    """A CVE ``affected`` entry naming a package collection (PyPI, npm…) or a source repository."""
    has_package = isinstance(item.get("packageName"), str) and isinstance(
        item.get("collectionURL"), str
    )
    return has_package or isinstance(item.get("repo"), str)
