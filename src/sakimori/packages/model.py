"""A counter-measure package's content, TLP 2.0 labels and the rule of who may receive what.

A package revision is a :class:`Content`: title, summary, TLP label, audience, the
vulnerabilities it covers, the affected products (purl, CPE or vendor + product), mitigations
and guidance (Markdown), Sigma detection rules, deadlines and references. ``Content.from_dict``
validates everything (bad input is ``InvalidInput``, nothing partial) and ``to_dict`` writes the
form stored in the database and accepted by the API.

Follow-up (``sakimori.packages.followup``): ``acknowledge_within_hours`` is how long a recipient
has to acknowledge the package (absent: the instance's default, ``SAKIMORI_PACKAGE_ACK_HOURS``);
``reports`` names the reports each recipient operator must file (``early_warning``,
``notification``, ``final``), each with its clock. Content stored before these fields existed
loads with neither.

TLP 2.0 (https://www.first.org/tlp/) as enforced here:

- ``CLEAR`` and ``GREEN``: any audience.
- ``AMBER`` and ``AMBER+STRICT``: never "everyone" — named organisations, sectors or the
  organisations affected (exposure).
- ``RED``: named people only (``audience.people``); never sectors, organisations or "everyone
  affected", so nobody receives it implicitly.

Reading (:func:`may_read`): coordinator staff read every package; anyone else only a package
their organisation is an active recipient of, and for ``RED`` only the people named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final

import yaml

from sakimori.errors import InvalidInput
from sakimori.model.ecosystem import parse_purl

MAX_TEXT: Final = 100_000
MAX_ITEMS: Final = 500
VULNERABILITY_ID: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,120}")
SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


class Tlp(StrEnum):
    """TLP 2.0 labels, least to most restricted."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @classmethod
    def parse(cls, value: str) -> Tlp:
        label = value.strip().upper().removeprefix("TLP:")
        try:
            return cls(label)
        except ValueError:
            raise InvalidInput(
                f"TLP label {value!r} is not one of {', '.join(t.value for t in cls)}"
            ) from None


#: Labels that restrict a package to its recipients' organisations or people.
RESTRICTED: Final = frozenset({Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED})

#: The reports a package may require from its recipients, in the order their clocks run out.
REPORT_KINDS: Final = ("early_warning", "notification", "final")
#: The longest acknowledgement window a package may set (one year).
MAX_ACK_HOURS: Final = 24 * 366

MITIGATION_CATEGORIES: Final = frozenset(
    {"vendor_fix", "workaround", "mitigation", "no_fix_planned", "none_available"}
)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a package is for. ``affected``: every organisation whose current inventories hold an
    affected product (resolved from exposure, on publication and afterwards)."""

    everyone: bool = False
    sectors: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    affected: bool = False
    people: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.everyone or self.sectors or self.organisations or self.affected or self.people
        )


@dataclass(frozen=True, slots=True)
class Product:
    purl: str | None = None
    cpe: str | None = None
    vendor: str | None = None
    product: str | None = None
    version: str | None = None

    @property
    def label(self) -> str:
        if self.vendor or self.product:
            return " ".join(p for p in (self.vendor, self.product, self.version) if p)
        return self.purl or self.cpe or "unnamed product"


@dataclass(frozen=True, slots=True)
class Mitigation:
    category: str
    details: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class DetectionRule:
    """A Sigma rule (YAML text); ``title`` is read from it."""

    title: str
    sigma: str


@dataclass(frozen=True, slots=True)
class Deadline:
    due: date
    vulnerability: str | None = None
    #: "explicit", or the deadline policy it came from ("policy:cisa-bod-26-04").
    source: str = "explicit"


@dataclass(frozen=True, slots=True)
class Reference:
    url: str
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Content:
    title: str
    summary: str
    tlp: Tlp
    audience: Audience
    vulnerabilities: tuple[str, ...] = ()
    products: tuple[Product, ...] = ()
    guidance: str = ""
    mitigations: tuple[Mitigation, ...] = ()
    detection_rules: tuple[DetectionRule, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    references: tuple[Reference, ...] = field(default=())
    #: Hours a recipient has to acknowledge (None: the instance's default).
    acknowledge_within_hours: int | None = None
    #: The reports each recipient operator must file (a subset of ``REPORT_KINDS``, in order).
    reports: tuple[str, ...] = ()

    def ready(self) -> None:
        """Refuse (``InvalidInput``) a content that cannot be submitted for review yet."""
        if not self.vulnerabilities:
            raise InvalidInput("a package needs at least one vulnerability before review")
        if not self.products:
            raise InvalidInput("a package needs at least one affected product before review")
        if self.audience.empty:
            raise InvalidInput("a package needs an audience before review")

    def to_dict(self) -> dict[str, Any]:
        a = self.audience
        return {
            "title": self.title,
            "summary": self.summary,
            "tlp": self.tlp.value,
            "audience": {
                "everyone": a.everyone,
                "sectors": list(a.sectors),
                "organisations": list(a.organisations),
                "affected": a.affected,
                "people": list(a.people),
            },
            "vulnerabilities": list(self.vulnerabilities),
            "products": [
                {k: v for k, v in _fields(p).items() if v is not None} for p in self.products
            ],
            "guidance": self.guidance,
            "mitigations": [
                {k: v for k, v in _fields(m).items() if v is not None} for m in self.mitigations
            ],
            "detection_rules": [{"sigma": r.sigma} for r in self.detection_rules],
            "deadlines": [
                {
                    "due": d.due.isoformat(),
                    "source": d.source,
                    **({"vulnerability": d.vulnerability} if d.vulnerability else {}),
                }
                for d in self.deadlines
            ],
            "references": [{"url": r.url, "summary": r.summary} for r in self.references],
            **(
                {"acknowledge_within_hours": self.acknowledge_within_hours}
                if self.acknowledge_within_hours is not None
                else {}
            ),
            "reports": list(self.reports),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Content:
        tlp = Tlp.parse(_text(value, "tlp", 20))
        audience = _audience(value.get("audience") or {})
        check_audience(tlp, audience)
        vulnerabilities = tuple(
            dict.fromkeys(_vulnerability(v) for v in _list(value, "vulnerabilities"))
        )
        return cls(
            title=_text(value, "title", 300, required=True),
            summary=_text(value, "summary", MAX_TEXT),
            tlp=tlp,
            audience=audience,
            vulnerabilities=vulnerabilities,
            products=tuple(_product(p) for p in _list(value, "products")),
            guidance=_text(value, "guidance", MAX_TEXT),
            mitigations=tuple(_mitigation(m) for m in _list(value, "mitigations")),
            detection_rules=tuple(_rule(r) for r in _list(value, "detection_rules")),
            deadlines=tuple(_deadline(d, vulnerabilities) for d in _list(value, "deadlines")),
            references=tuple(_reference(r) for r in _list(value, "references")),
            acknowledge_within_hours=_hours(value.get("acknowledge_within_hours")),
            reports=_reports(_list(value, "reports")),
        )


def check_audience(tlp: Tlp, audience: Audience) -> None:
    """Refuse an audience the label does not allow (the TLP rules in the module docstring)."""
    if tlp is Tlp.RED:
        if audience.everyone or audience.sectors or audience.organisations or audience.affected:
            raise InvalidInput(
                "TLP:RED goes to named people only: drop everyone, sectors, organisations "
                "and 'everyone affected' from the audience",
                hint="name the recipients in audience.people",
            )
    elif tlp in RESTRICTED and audience.everyone:
        raise InvalidInput(
            f"TLP:{tlp.value} may not go to everyone",
            hint="name organisations or sectors, or target the organisations affected",
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the service knows about one organisation's receipt of a package."""

    active: bool
    named_users: tuple[str, ...] = ()


def may_read(tlp: Tlp, *, staff: bool, receipt: Receipt | None, user: str) -> bool:
    """Whether a person may read a published package (the TLP rule, in one place)."""
    if staff:
        return True
    if receipt is None or not receipt.active:
        return False
    if tlp is Tlp.RED:
        return user in receipt.named_users
    return True


# -- parsing helpers ------------------------------------------------------------------------------


def _fields(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def checked_text(value: Mapping[str, Any], key: str, limit: int, what: str) -> str:
    """Field ``key`` of a ``what`` (a package, a report) as text: absent or null is empty;
    anything else than text, a NUL character or more than ``limit`` characters is refused."""
    found = value.get(key, "")
    if found is None:
        found = ""
    if not isinstance(found, str):
        raise InvalidInput(f"{what} field {key!r} must be text")
    if "\x00" in found:
        raise InvalidInput(f"{what} field {key!r} contains a NUL character")
    if len(found) > limit:
        raise InvalidInput(f"{what} field {key!r} is longer than {limit:,} characters")
    return found


def _text(value: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    found = checked_text(value, key, limit, "package")
    if required and not found.strip():
        raise InvalidInput(f"package field {key!r} is required")
    return found.strip() if limit <= 300 else found


def _list(value: Mapping[str, Any], key: str) -> Sequence[Any]:
    found = value.get(key) or []
    if not isinstance(found, list):
        raise InvalidInput(f"package field {key!r} must be a list")
    if len(found) > MAX_ITEMS:
        raise InvalidInput(f"package field {key!r} has more than {MAX_ITEMS} items")
    return found


def _object(item: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"each {what} must be an object")
    return item


def _optional(item: Mapping[str, Any], key: str, limit: int = 2000) -> str | None:
    return _text(item, key, limit).strip() or None


def _strings(item: Mapping[str, Any], key: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    out = []
    for entry in _list(item, key):
        if not isinstance(entry, str) or not pattern.fullmatch(entry.strip().lower()):
            raise InvalidInput(f"audience.{key}: {entry!r} is not a valid name")
        out.append(entry.strip().lower())
    return tuple(dict.fromkeys(out))


def _audience(item: Any) -> Audience:
    value = _object(item, "audience")
    unknown = set(value) - {"everyone", "sectors", "organisations", "affected", "people"}
    if unknown:
        raise InvalidInput(f"audience has unknown fields: {', '.join(sorted(unknown))}")
    return Audience(
        everyone=bool(value.get("everyone", False)),
        sectors=_strings(value, "sectors", re.compile(r"[a-z0-9_]{1,60}")),
        organisations=_strings(value, "organisations", SLUG),
        affected=bool(value.get("affected", False)),
        people=_strings(value, "people", re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")),
    )


def _vulnerability(item: Any) -> str:
    if not isinstance(item, str) or not VULNERABILITY_ID.fullmatch(item.strip()):
        raise InvalidInput(f"{item!r} is not a vulnerability id (CVE-…, GHSA-…, PYSEC-…)")
    return item.strip()


def _product(item: Any) -> Product:
    value = _object(item, "product")
    product = Product(
        purl=_optional(value, "purl"),
        cpe=_optional(value, "cpe"),
        vendor=_optional(value, "vendor", 300),
        product=_optional(value, "product", 300),
        version=_optional(value, "version", 200),
    )
    if product.purl:
        ref = parse_purl(product.purl)
        if ref.ecosystem is None:
            raise InvalidInput(f"package URL {product.purl!r} names no known ecosystem")
    if product.cpe and not product.cpe.startswith("cpe:2.3:"):
        raise InvalidInput(f"{product.cpe!r} is not a CPE 2.3 name")
    if not (product.purl or product.cpe or product.product):
        raise InvalidInput("a product needs a purl, a CPE, or a vendor and product name")
    return product


def _mitigation(item: Any) -> Mitigation:
    value = _object(item, "mitigation")
    category = _text(value, "category", 40) or "mitigation"
    if category not in MITIGATION_CATEGORIES:
        raise InvalidInput(
            f"mitigation category {category!r} is not one of "
            f"{', '.join(sorted(MITIGATION_CATEGORIES))}"
        )
    return Mitigation(category, _text(value, "details", MAX_TEXT, required=True), _url(value))


def _url(value: Mapping[str, Any]) -> str | None:
    url = _optional(value, "url")
    if url is not None and not re.fullmatch(r"https?://[^\s]+", url):
        raise InvalidInput(f"{url!r} is not an http(s) URL")
    return url


def _rule(item: Any) -> DetectionRule:
    from sigma.exceptions import SigmaError
    from sigma.rule import SigmaRule

    text = _text(_object(item, "detection rule"), "sigma", MAX_TEXT, required=True)
    try:
        parsed = yaml.safe_load(text)
        rule = SigmaRule.from_yaml(text)
    except (yaml.YAMLError, SigmaError, ValueError, TypeError) as exc:
        raise InvalidInput(f"a detection rule is not a valid Sigma rule: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("a detection rule is not a valid Sigma rule")
    return DetectionRule(rule.title, text)


def _deadline(item: Any, vulnerabilities: tuple[str, ...]) -> Deadline:
    value = _object(item, "deadline")
    try:
        due = date.fromisoformat(_text(value, "due", 20, required=True))
    except ValueError:
        raise InvalidInput(f"deadline {value.get('due')!r} is not a date (YYYY-MM-DD)") from None
    vulnerability = _optional(value, "vulnerability", 140)
    if vulnerability is not None and vulnerability not in vulnerabilities:
        raise InvalidInput(f"deadline for {vulnerability}, which the package does not cover")
    source = _text(value, "source", 100) or "explicit"
    if source != "explicit" and not source.startswith("policy:"):
        raise InvalidInput(f"deadline source {source!r} is neither 'explicit' nor 'policy:NAME'")
    return Deadline(due, vulnerability, source)


def _reference(item: Any) -> Reference:
    value = _object(item, "reference")
    url = _url(value)
    if url is None:
        raise InvalidInput("a reference needs a url")
    return Reference(url, _text(value, "summary", 1000))


def _hours(item: Any) -> int | None:
    if item is None:
        return None
    if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ACK_HOURS:
        raise InvalidInput(
            f"acknowledge_within_hours {item!r} is not a whole number of hours "
            f"from 1 to {MAX_ACK_HOURS}",
            hint="leave it out to use the instance's default",
        )
    return item


def _reports(items: Sequence[Any]) -> tuple[str, ...]:
    for item in items:
        if item not in REPORT_KINDS:
            raise InvalidInput(
                f"report {item!r} is not one of {', '.join(REPORT_KINDS)}",
                hint="list the reports the recipients must file, e.g. [early_warning, final]",
            )
    return tuple(kind for kind in REPORT_KINDS if kind in items)
