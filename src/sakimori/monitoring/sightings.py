"""Sightings: what an operator's monitoring tells the coordinator, made from alerts (no I/O).

A :class:`Sighting` says: this client — shown as the operator's privacy setting allows —,
seen by this detector or rule (its id and version, and where the rule came from: ``builtin``,
``local`` or ``package:<id>``), attempting these vulnerabilities when the rule names them,
first and last seen (log time), how many requests. It never holds a log line, a path, a query,
a user agent or a user name: alerts' examples and reasons stay on the operator's machine.

:func:`sightings` makes them from ``watch``'s alerts: a ``sigma`` alert gives one sighting per
rule it matched (with that rule's own count and window), any other alert one sighting of its
detector; sightings with the same client, detector, rule, version, source and vulnerabilities
are summed into one.

Privacy (:class:`Privacy`, the operator's choice, ``watch --client-privacy``):

- ``full``: the address as logged;
- ``truncate`` (the default): the network — ``/24`` for IPv4, ``/48`` for IPv6 — so the
  coordinator can block or correlate ranges without learning the host;
- ``hash``: ``hmac-sha256:<32 hex digits>``, an HMAC-SHA256 of the address under the operator's
  own key: the same address always gives the same value for that operator (its sightings can
  be correlated over time), and nobody without the key can test a guessed address.

A client that is not an IP address is withheld (``""``) under ``truncate`` and, like any
other, hashed under ``hash``.

At the coordinator, :func:`stix_objects` renders stored sightings as STIX 2.1: one ``sighting``
per sighting and vulnerability (``sighting_of_ref`` the ``vulnerability``), or of the rule's
``indicator`` when no vulnerability is named; ``where_sighted_refs`` the reporting
organisation's ``identity``; the client, when it is an address or a network, as an
``observed-data`` of an ``ipv4-addr``/``ipv6-addr``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sakimori import __version__
from sakimori.errors import InvalidInput
from sakimori.monitoring.detectors.interface import Alert
from sakimori.packages.model import VULNERABILITY_ID, Tlp

FULL: Final = "full"
TRUNCATE: Final = "truncate"
HASH: Final = "hash"
PRIVACY_MODES: Final = (FULL, TRUNCATE, HASH)
#: Where the detection came from: a built-in detector, the operator's own Sigma rules, or the
#: rules of a counter-measure package (``package:<id>``).
BUILTIN: Final = "builtin"
LOCAL: Final = "local"
PACKAGE: Final = "package:"
#: The shortest key a keyed hash accepts (bytes).
MIN_KEY: Final = 16
_HASHED: Final = "hmac-sha256:"
#: What the platform takes (``services.sightings``): longer texts are cut, control characters
#: and, in a client, spaces dropped.
MAX_CLIENT: Final = 100
MAX_RULE: Final = 200
MAX_VERSION: Final = 60
MAX_TITLE: Final = 300
MAX_VULNERABILITIES: Final = 50
MAX_COUNT: Final = 1_000_000_000
#: How far in the future (a sensor's clock skew) a sighting's times may be.
SKEW: Final = timedelta(days=1)
_PLAIN: Final = re.compile(r"[^\s\x00-\x1f\x7f]+")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")
_DETECTOR: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
_SOURCE: Final = re.compile(r"(builtin|local|package:[0-9]{1,10})")
_HASH_FORM: Final = re.compile(r"hmac-sha256:[0-9a-f]{32}")
_PRINTABLE: Final = re.compile(r"[^\x00-\x1f\x7f]*")
_STIX_COUNT: Final = 999_999_999


def vulnerability_id(text: str) -> str:
    """A vulnerability id as stored: CVE ids upper-cased, others as given; ``InvalidInput``
    when it is not one (``CVE-…``, ``GHSA-…``, ``PYSEC-…``)."""
    value = text.strip()
    if not VULNERABILITY_ID.fullmatch(value):
        raise InvalidInput(f"{text!r} is not a vulnerability id (CVE-…, GHSA-…, PYSEC-…)")
    return value.upper() if value[:4].upper() == "CVE-" else value


@dataclass(frozen=True, slots=True)
class Privacy:
    """How client addresses leave the operator (see the module docstring)."""

    mode: str = TRUNCATE
    key: bytes = b""

    def __post_init__(self) -> None:
        if self.mode not in PRIVACY_MODES:
            raise InvalidInput(
                f"client privacy {self.mode!r} is not one of {', '.join(PRIVACY_MODES)}"
            )
        if self.mode == HASH and len(self.key) < MIN_KEY:
            raise InvalidInput(
                f"hashing client addresses needs a key of at least {MIN_KEY} bytes",
                hint="e.g. head -c 32 /dev/urandom > sightings.key; --client-key sightings.key",
            )

    def client(self, address: str) -> str:
        """``address`` as this setting shows it."""
        try:
            parsed: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                address.strip()
            )
        except ValueError:
            parsed = None
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        if self.mode == FULL:
            if parsed is not None:
                return str(parsed)
            text = address.strip()
            return text if len(text) <= MAX_CLIENT and _PLAIN.fullmatch(text) else ""
        if self.mode == HASH:
            text = address.strip() if parsed is None else str(parsed)
            digest = hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()
            return _HASHED + digest[:32]
        if parsed is None:
            return ""
        prefix = 24 if parsed.version == 4 else 48
        return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class Sighting:
    """One thing seen from one client, by one detector or rule (module docstring)."""

    client: str
    detector: str
    rule: str  # the rule id ("" for a built-in detector)
    version: str  # the rule's version, or Sakimori's for a built-in detector
    title: str
    source: str  # builtin | local | package:<id>
    vulnerabilities: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "detector": self.detector,
            "rule": self.rule,
            "version": self.version,
            "title": self.title,
            "source": self.source,
            "vulnerabilities": list(self.vulnerabilities),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
        }


# -- what the platform takes -----------------------------------------------------------------------


def _field(value: str, what: str, limit: int, *, required: bool = False) -> str:
    if len(value) > limit or not _PRINTABLE.fullmatch(value):
        raise InvalidInput(f"a sighting's {what} must be printable text of at most {limit}")
    if required and not value.strip():
        raise InvalidInput(f"a sighting's {what} is required")
    return value


def _client_fits(privacy: str, client: str) -> bool:
    """The client is shaped as the privacy setting says (an address, a network, a hash)."""
    if privacy == HASH:
        return bool(_HASH_FORM.fullmatch(client))
    if privacy == TRUNCATE:
        if client == "":
            return True
        try:
            network = ipaddress.ip_network(client, strict=True)
        except ValueError:
            return False
        return network.prefixlen == (24 if network.version == 4 else 48)
    return len(client) <= MAX_CLIENT and (client == "" or not any(c.isspace() for c in client))


def checked(item: Sighting, privacy: str, now: datetime) -> Sighting:
    """``item`` as the platform stores it (ids normalised, times in UTC), or ``InvalidInput``
    saying why not: what ``POST /v1/sightings`` takes."""
    if privacy not in PRIVACY_MODES:
        raise InvalidInput(f"privacy {privacy!r} is not one of {', '.join(PRIVACY_MODES)}")
    if not _client_fits(privacy, _field(item.client, "client", MAX_CLIENT)):
        raise InvalidInput(
            f"client {item.client!r} is not what privacy {privacy!r} sends",
            hint="full: the address; truncate: a /24 or /48 network; hash: hmac-sha256:<hex>",
        )
    if not _DETECTOR.fullmatch(item.detector):
        raise InvalidInput(f"detector {item.detector!r} is not a detector name")
    if not _SOURCE.fullmatch(item.source):
        raise InvalidInput(f"source {item.source!r} is not builtin, local or package:<id>")
    if len(item.vulnerabilities) > MAX_VULNERABILITIES:
        raise InvalidInput(f"a sighting names at most {MAX_VULNERABILITIES} vulnerabilities")
    first, last = _utc(item.first_seen), _utc(item.last_seen)
    if last < first:
        raise InvalidInput("a sighting's last_seen is before its first_seen")
    if last > now + SKEW:
        raise InvalidInput(f"a sighting's last_seen ({last.isoformat()}) is in the future")
    if not 1 <= item.count <= MAX_COUNT:
        raise InvalidInput(f"a sighting's count must be between 1 and {MAX_COUNT:,}")
    return Sighting(
        item.client,
        item.detector,
        _field(item.rule, "rule", MAX_RULE),
        _field(item.version, "version", MAX_VERSION),
        _field(item.title, "title", MAX_TITLE, required=True),
        item.source,
        tuple(dict.fromkeys(vulnerability_id(v) for v in item.vulnerabilities)),
        first,
        last,
        item.count,
    )


def _source(origin: str) -> str:
    return origin if origin.startswith(PACKAGE) else LOCAL


def _clean(value: str, limit: int) -> str:
    return _CONTROL.sub(" ", value).strip()[:limit]


def _utc(moment: datetime) -> datetime:
    """In UTC (a naive time, as some logs give, is taken as UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _made(alert: Alert, client: str) -> Iterable[Sighting]:
    if not alert.rules:
        yield Sighting(
            client,
            alert.detector,
            "",
            __version__,
            alert.detector,
            BUILTIN,
            (),
            _utc(alert.first_seen),
            _utc(alert.last_seen),
            alert.count,
        )
        return
    for rule in alert.rules:
        yield Sighting(
            client,
            alert.detector,
            _clean(rule.id, MAX_RULE),
            _clean(rule.version, MAX_VERSION),
            _clean(rule.title, MAX_TITLE) or _clean(rule.id, MAX_TITLE) or alert.detector,
            _source(rule.origin),
            tuple(dict.fromkeys(vulnerability_id(v) for v in rule.vulnerabilities)),
            _utc(rule.first_seen),
            _utc(rule.last_seen),
            rule.count,
        )


def sightings(alerts: Iterable[Alert], privacy: Privacy) -> list[Sighting]:
    """The sightings of ``alerts``, summed per client, detector, rule, version, source and
    vulnerabilities; ordered by first seen."""
    merged: dict[tuple[Any, ...], Sighting] = {}
    for alert in alerts:
        client = privacy.client(alert.client)
        for made in _made(alert, client):
            key = (
                made.client,
                made.detector,
                made.rule,
                made.version,
                made.source,
                made.vulnerabilities,
            )
            known = merged.get(key)
            if known is not None:
                made = Sighting(
                    *key[:3],
                    known.version,
                    known.title,
                    known.source,
                    known.vulnerabilities,
                    min(known.first_seen, made.first_seen),
                    max(known.last_seen, made.last_seen),
                    known.count + made.count,
                )
            merged[key] = made
    return sorted(
        merged.values(), key=lambda s: (s.first_seen, s.client, s.detector, s.rule, s.source)
    )


def document(items: Sequence[Sighting], privacy: Privacy) -> dict[str, Any]:
    """What ``watch --sightings FILE`` writes and ``POST /v1/sightings`` takes."""
    return {"privacy": privacy.mode, "sightings": [s.to_json() for s in items]}


# -- STIX 2.1, at the coordinator ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reported:
    """A sighting as the coordinator stored it: who reported it, when."""

    id: int
    sighting: Sighting
    organisation: str  # slug
    organisation_name: str
    reported_at: datetime


_NAMESPACE: Final = uuid.UUID("0d6c3f8e-6a0c-4a57-9f0b-1f5e2b7c9a41")
_EPOCH: Final = "2026-01-01T00:00:00.000Z"


def _id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(_NAMESPACE, name)}"


def rule_key(sighting: Sighting) -> tuple[str, str, str, str]:
    """What names the detection a sighting comes from (its STIX indicator)."""
    return (sighting.source, sighting.detector, sighting.rule, sighting.version)


def stix_objects(
    reported: Sequence[Reported],
    tlp: Tlp,
    *,
    rule_texts: Mapping[tuple[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """STIX 2.1 objects for ``reported`` (without the marking definitions and the coordinator's
    identity, which ``packages.stix.bundle`` adds), every one marked ``tlp``.

    ``rule_texts``: the Sigma text of rules the coordinator has, by (source, rule id) — a
    package's rules — for indicators with ``pattern_type: sigma``; any other rule or detector
    is an indicator with the ``sakimori`` pattern type naming it (``sigma-rule:<id>@<version>``,
    ``detector:<name>``)."""
    import stix2  # type: ignore[import-untyped]

    from sakimori.packages.stix import TLP2_MARKING_IDS, _plain, identity

    texts = rule_texts or {}
    common: dict[str, Any] = {
        "created_by_ref": identity()["id"],
        "object_marking_refs": [TLP2_MARKING_IDS[tlp]],
    }
    made: dict[str, Any] = {}

    def add(item: Any) -> str:
        made.setdefault(item.id, item)
        return str(item.id)

    for item in reported:
        sighting = item.sighting
        org = add(
            stix2.v21.Identity(
                id=_id("identity", f"organisation/{item.organisation}"),
                created=_EPOCH,
                modified=_EPOCH,
                name=item.organisation_name or item.organisation,
                identity_class="organization",
                **common,
            )
        )
        indicator = add(_indicator(stix2, sighting, texts, common))
        observed = _observed(stix2, item, common)
        refs: dict[str, Any] = {}
        if observed is not None:
            add(observed[0])
            refs["observed_data_refs"] = [add(observed[1])]
        window = {
            "first_seen": sighting.first_seen,
            "last_seen": max(sighting.last_seen, sighting.first_seen),
            "count": min(sighting.count, _STIX_COUNT),
            "where_sighted_refs": [org],
            "created": item.reported_at,
            "modified": item.reported_at,
            "description": f"{sighting.title} ({sighting.detector}, {sighting.source})",
        }
        targets = [
            add(
                stix2.v21.Vulnerability(
                    id=_id("vulnerability", vid),
                    created=_EPOCH,
                    modified=_EPOCH,
                    name=vid,
                    external_references=[{"source_name": "cve", "external_id": vid}]
                    if vid.startswith("CVE-")
                    else None,
                    **common,
                )
            )
            for vid in sighting.vulnerabilities
        ] or [indicator]
        for target in targets:
            add(
                stix2.v21.Sighting(
                    id=_id("sighting", f"{item.id}/{target}"),
                    sighting_of_ref=target,
                    **refs,
                    **window,
                    **common,
                )
            )
    return [_plain(o) for o in made.values()]


def _indicator(
    stix2: Any, sighting: Sighting, texts: Mapping[tuple[str, str], str], common: dict[str, Any]
) -> Any:
    source, detector, rule, version = rule_key(sighting)
    text = texts.get((source, rule)) if rule else None
    if text is not None:
        kind, pattern = "sigma", text
    elif rule:
        kind, pattern = "sakimori", f"sigma-rule:{rule}@{version}"
    else:
        kind, pattern = "sakimori", f"detector:{detector}"
    references = [{"source_name": "sigma", "external_id": rule}] if rule else None
    return stix2.v21.Indicator(
        id=_id("indicator", "/".join(rule_key(sighting))),
        created=_EPOCH,
        modified=_EPOCH,
        name=sighting.title,
        description=f"Sakimori {detector} detection ({source}, version {version or 'unknown'})",
        indicator_types=["malicious-activity"],
        pattern_type=kind,
        pattern=pattern,
        valid_from=_EPOCH,
        external_references=references,
        **common,
    )


def _observed(stix2: Any, item: Reported, common: dict[str, Any]) -> tuple[Any, Any] | None:
    """The client as an address object and the observed data holding it, when the client is an
    address or a network (not a hash, not withheld)."""
    sighting = item.sighting
    try:
        network = ipaddress.ip_network(sighting.client, strict=False)
    except ValueError:
        return None
    value = str(network.network_address) if network.num_addresses == 1 else str(network)
    kind = stix2.v21.IPv4Address if network.version == 4 else stix2.v21.IPv6Address
    address = kind(value=value, object_marking_refs=common["object_marking_refs"])
    observed = stix2.v21.ObservedData(
        id=_id("observed-data", str(item.id)),
        created=item.reported_at,
        modified=item.reported_at,
        first_observed=sighting.first_seen,
        last_observed=max(sighting.last_seen, sighting.first_seen),
        number_observed=max(1, min(sighting.count, _STIX_COUNT)),
        object_refs=[address.id],
        **common,
    )
    return address, observed
