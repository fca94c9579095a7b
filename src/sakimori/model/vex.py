"""VEX statements: what a supplier or operator says about one vulnerability in some products.

One model for the three VEX formats Sakimori reads and writes (CycloneDX VEX, OpenVEX, CSAF VEX;
see ``sakimori.formats.vex`` and ``docs/vex.md``). Its vocabulary is the CISA minimum-requirements
one, which OpenVEX and CSAF share: four statuses and five justification labels. Where a source
document said more than that vocabulary can (CycloneDX's nine justifications, its
``resolved_with_pedigree`` and ``false_positive`` states, CSAF's ``first_fixed`` …), the
source's own word is kept in ``source_status`` / ``source_justification`` so that writing the
statement back in that format restores it.

Every type is frozen; invariants are checked on construction and broken ones raise
``ValueError`` (a programming error: parsers validate untrusted input before building these).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class VexStatus(StrEnum):
    """The four VEX statuses (CISA, "Minimum Requirements for VEX"; OpenVEX; CSAF)."""

    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"


class Justification(StrEnum):
    """Why a product is not affected: the five labels of CISA's "VEX Status Justifications"."""

    COMPONENT_NOT_PRESENT = "component_not_present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = "vulnerable_code_not_in_execute_path"
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = (
        "vulnerable_code_cannot_be_controlled_by_adversary"
    )
    INLINE_MITIGATIONS_ALREADY_EXIST = "inline_mitigations_already_exist"


class RemediationCategory(StrEnum):
    """What kind of action an action statement describes (CSAF 2.0 ``remediations[].category``)."""

    VENDOR_FIX = "vendor_fix"
    WORKAROUND = "workaround"
    MITIGATION = "mitigation"
    NO_FIX_PLANNED = "no_fix_planned"
    NONE_AVAILABLE = "none_available"


@dataclass(frozen=True, slots=True)
class VexProduct:
    """A product a statement is about, or (in ``subcomponents``) the part of it that carries the
    vulnerability.

    ``purl`` and ``cpe`` (CPE 2.3 formatted string, or a CPE 2.2 URI when that is all the document
    gives) are the identifiers findings are matched by; both are kept when both are given.
    ``name`` is the human-readable name the document gives (CSAF ``full_product_name.name``,
    CycloneDX component name and version); ``ref`` an identifier that is neither purl nor CPE
    (an OpenVEX ``@id`` IRI, a CycloneDX BOM-Link into another BOM). At least one is required.
    """

    purl: str | None = None
    cpe: str | None = None
    name: str | None = None
    ref: str | None = None
    subcomponents: tuple[VexProduct, ...] = ()

    def __post_init__(self) -> None:
        if not (self.purl or self.cpe or self.name or self.ref):
            raise ValueError("a VEX product needs a purl, a CPE, a name or a reference")
        if any(sub.subcomponents for sub in self.subcomponents):
            raise ValueError("a subcomponent cannot have subcomponents of its own")

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The machine identifiers (purl, then CPE) findings can be matched by."""
        return tuple(value for value in (self.purl, self.cpe) if value)

    @property
    def label(self) -> str:
        """The best single string to show a person."""
        return self.purl or self.cpe or self.name or self.ref or ""


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One assertion: ``status`` of ``vulnerability`` (also known as ``aliases``) in ``products``.

    ``justification`` and ``impact_statement`` say why a product is not affected;
    ``action_statement`` (with its ``remediation_category``) what to do about it.
    ``timestamp`` is when the statement was known to be true (inherited from the document when the
    statement has none of its own); ``author`` who made it (the document's author); ``supplier``
    the supplier of the product, when the document says.
    """

    vulnerability: str
    products: tuple[VexProduct, ...]
    status: VexStatus
    aliases: tuple[str, ...] = ()
    justification: Justification | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    remediation_category: RemediationCategory | None = None
    timestamp: datetime | None = None
    author: str | None = None
    supplier: str | None = None
    #: The source format's own status word when it said more than ``status`` does (CycloneDX
    #: ``resolved_with_pedigree`` or ``false_positive``; CSAF ``first_affected``, ``last_affected``
    #: or ``first_fixed``); ``None`` when ``status`` says everything the source said.
    source_status: str | None = None
    #: The source format's own justification when it said more than ``justification`` does (a
    #: CycloneDX value that is not the representative of its label; see ``docs/vex.md``).
    source_justification: str | None = None

    def __post_init__(self) -> None:
        if not self.vulnerability or not self.vulnerability.strip():
            raise ValueError("a VEX statement needs a vulnerability id")
        if not self.products:
            raise ValueError(f"the VEX statement for {self.vulnerability} names no product")
        if self.timestamp is not None and self.timestamp.tzinfo is None:
            raise ValueError("VEX timestamps must carry a time zone")
        if self.vulnerability in self.aliases:
            raise ValueError(f"{self.vulnerability} is listed as its own alias")

    @property
    def vulnerability_ids(self) -> tuple[str, ...]:
        """The vulnerability id followed by its aliases: every id it is matched by."""
        return (self.vulnerability, *self.aliases)

    def split(self) -> tuple[VexStatement, ...]:
        """One statement per product, otherwise identical (to apply or compare statements)."""
        if len(self.products) == 1:
            return (self,)
        return tuple(replace(self, products=(product,)) for product in self.products)


@dataclass(frozen=True, slots=True)
class VexDocument:
    """A VEX document: who issued it, when, which version, and its statements in order.

    ``timestamp`` is when the document was first issued, ``last_updated`` when this version was
    (``None`` when the format does not distinguish the two or the document does not say).
    """

    statements: tuple[VexStatement, ...]
    id: str | None = None
    author: str | None = None
    timestamp: datetime | None = None
    last_updated: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError("a VEX document version starts at 1")
        for moment in (self.timestamp, self.last_updated):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("VEX timestamps must carry a time zone")

    @property
    def issued(self) -> datetime | None:
        """When this version was issued: ``last_updated``, else ``timestamp``."""
        return self.last_updated or self.timestamp

    def split(self) -> tuple[VexStatement, ...]:
        """Every statement, one product each, in document order."""
        return tuple(single for statement in self.statements for single in statement.split())
