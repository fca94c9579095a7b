"""Alpine's native security database (``secdb``): one file per release and repository.

A document (YAML in the archived ``alpinelinux/alpine-secdb`` repository, JSON at
``secdb.alpinelinux.org``: the same keys) names its release (``distroversion: v3.11``) and
repository (``reponame: main``) and lists ``packages[].pkg``: the *origin* package ``name`` and
``secfixes``, a map from the package version that fixed something to the ids it fixed::

    - pkg:
        name: openssl
        secfixes:
          1.1.1g-r0:
            - CVE-2020-1967

Each id becomes an advisory in OSV terms, ecosystem ``Alpine:v3.11``, with one affected entry
per package that fixed it: ``introduced 0``, ``fixed <version>`` (an ``ECOSYSTEM`` range, ordered
by apk's rules), so it is matched exactly like OSV's own Alpine records. The advisory id is
``ALPINE-SECDB-<release>-<repository>-<id>`` (one id may be fixed in both ``main`` and
``community``, in files loaded separately), with the CVE id as its alias: records sharing it
are one vulnerability. Alpine's conventions: the version ``0`` means "this package was never
affected" (no entry is made); an item may carry more than one id (``CVE-2017-12122
TALOS-2017-0488``, ``CVE-2018-14470 (BABEL)``): each CVE id is an advisory, a TALOS or XSA id
its alias; items that name no id (``CVE-????-?????``, 14 in the real files) are not loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from typing import Final

import orjson

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_yaml
from sakimori.formats.lockfiles._common import head_text, mapping, scalar, sequence, string
from sakimori.model.advisory import Advisory, AffectedPackage, Event, EventKind, Range

FORMAT: Final = "alpine-secdb"

_MARKERS = (
    re.compile(r"""^["']?distroversion["']?\s*:""", re.MULTILINE),
    re.compile(r"""^["']?reponame["']?\s*:""", re.MULTILINE),
    re.compile(r"""^["']?packages["']?\s*:""", re.MULTILINE),
)
_JSON_MARKERS = (b'"distroversion"', b'"reponame"', b'"packages"')
_RELEASE = re.compile(r"v\d+\.\d+|edge")
_CVE = re.compile(r"CVE[-_ ](\d{4})-(\d{4,})")
_OTHER_ID = re.compile(r"(?:TALOS|XSA|GHSA|OSV|ALPINE)-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def sniff(data: bytes) -> bool:
    head = data[:8192]
    if head.lstrip().startswith(b"{"):
        return all(marker in head for marker in _JSON_MARKERS)
    text = head_text(data)
    return all(marker.search(text) for marker in _MARKERS)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[Advisory]:
    """Every advisory of one secdb document; ``MalformedDocument`` if any part is wrong."""
    document = mapping(load_yaml(data, limits), "the secdb document")
    release = string(document.get("distroversion"), "distroversion").strip()
    if not _RELEASE.fullmatch(release):
        raise MalformedDocument(f"distroversion {release!r:.40} is not vX.Y or edge")
    repository = string(document.get("reponame"), "reponame").strip()
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", repository):
        raise MalformedDocument(f"reponame {repository!r:.40} is not a repository name")
    ecosystem = f"Alpine:{release}"
    # id -> (aliases, {package: [fixed versions]})
    fixes: dict[str, tuple[set[str], dict[str, list[str]]]] = {}
    for position, item in enumerate(sequence(document.get("packages") or [], "packages")):
        where = f"packages[{position}]"
        package = mapping(mapping(item, where).get("pkg"), f"{where}.pkg")
        name = string(package.get("name"), f"{where}.pkg.name").strip()
        if not name or any(c.isspace() for c in name):
            raise MalformedDocument(f"{where}.pkg.name {name!r:.80} is not a package name")
        secfixes = package.get("secfixes") or {}
        for version_value, ids_value in mapping(secfixes, f"{name} secfixes").items():
            version = scalar(version_value, f"{name} secfixes key").strip()
            ids = sequence(ids_value or [], f"{name} secfixes {version}")
            if version == "0":
                continue  # Alpine's marker for "never affected"
            if not version or any(c.isspace() for c in version):
                raise MalformedDocument(f"{name}: fixed version {version!r:.80} is not valid")
            for entry in ids:
                for primary, aliases in _ids(scalar(entry, f"{name} {version} id")):
                    known = fixes.setdefault(primary, (set(), defaultdict(list)))
                    known[0].update(aliases)
                    known[1][name].append(version)
    return [
        _advisory(primary, aliases, packages, ecosystem, release, repository)
        for primary, (aliases, packages) in sorted(fixes.items())
    ]


def _ids(text: str) -> list[tuple[str, set[str]]]:
    """``(id, aliases)`` per vulnerability an item names. Items are free text that start with
    the ids (``CVE-2017-12122 TALOS-2017-0488``, ``CVE-2018-14470 (BABEL)``, and typos such as
    ``CVE_2019-2426``); each CVE id is its own vulnerability, another id (TALOS, XSA) is its
    alias when the item names one CVE; an item naming no id (``CVE-????-?????``) gives none."""
    cves = list(dict.fromkeys(f"CVE-{y}-{n}" for y, n in _CVE.findall(text)))
    others = [token for token in text.split() if _OTHER_ID.fullmatch(token)]
    if len(cves) == 1:
        return [(cves[0], set(others))]
    if cves:
        return [(cve, set()) for cve in cves]
    return [(others[0], set(others[1:]))] if others else []


def _advisory(
    primary: str,
    aliases: set[str],
    packages: dict[str, list[str]],
    ecosystem: str,
    release: str,
    repository: str,
) -> Advisory:
    affected = tuple(
        AffectedPackage(
            ecosystem=ecosystem,
            name=name,
            ranges=tuple(
                Range(
                    type="ECOSYSTEM",
                    events=(Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, version)),
                )
                for version in dict.fromkeys(versions)
            ),
        )
        for name, versions in sorted(packages.items())
    )
    ids = sorted(aliases | ({primary} if primary.startswith("CVE-") else set()))
    identifier = f"ALPINE-SECDB-{release}-{repository}-{primary}"
    canonical = {
        "id": identifier,
        "aliases": ids,
        "affected": {name: sorted(set(v)) for name, v in packages.items()},
    }
    content_hash = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Advisory(
        id=identifier,
        modified="",
        content_hash=content_hash,
        aliases=tuple(ids),
        summary=f"{primary} fixed in Alpine {release} ({repository})",
        affected=affected,
        database_specific={"source": "alpine-secdb", "release": release, "repository": repository},
    )
