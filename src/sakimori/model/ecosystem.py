"""OSV ecosystems: their names, package-name normalisation, and the purl type mapping.

OSV ecosystem strings may carry a suffix after a colon (``Debian:12``, ``Alpine:v3.18``,
``Ubuntu:22.04:LTS``); the part before the first colon is the *base* ecosystem, which picks the
version comparator and the name rules. Package URLs follow https://github.com/package-url/purl-spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from packageurl import PackageURL

from sakimori.errors import InvalidInput

#: Base ecosystem -> comparator family (see ``sakimori.versions``).
COMPARATOR_FAMILY: Final[dict[str, str]] = {
    "PyPI": "pypi",
    "npm": "semver",
    "crates.io": "semver",
    "Go": "go",
    "Hex": "semver",
    "SwiftURL": "semver",
    "Bitnami": "semver",
    "GitHub Actions": "semver",
    "Maven": "maven",
    "NuGet": "nuget",
    "Packagist": "packagist",
    "RubyGems": "rubygems",
    "Debian": "debian",
    "Ubuntu": "debian",
    "Red Hat": "rpm",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "SUSE": "rpm",
    "openSUSE": "rpm",
    "Mageia": "rpm",
    "Photon OS": "rpm",
    "Alpine": "alpine",
    "Wolfi": "alpine",
    "Chainguard": "alpine",
    "CRAN": "cran",
    "Hackage": "hackage",
    "GHC": "hackage",
    "Pub": "pub",
}

_LOWER_CASE: Final = frozenset({"NuGet", "Packagist"})
_PEP503 = re.compile(r"[-_.]+")

# purl type -> base ecosystem, for types whose namespace does not choose the ecosystem.
_PURL_TYPES: Final[dict[str, str]] = {
    "pypi": "PyPI",
    "npm": "npm",
    "maven": "Maven",
    "golang": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "hex": "Hex",
    "pub": "Pub",
    "cran": "CRAN",
    "hackage": "Hackage",
    "swift": "SwiftURL",
    "githubactions": "GitHub Actions",
    "bitnami": "Bitnami",
}
# purl types whose namespace names the distribution.
_DISTRO_NAMESPACES: Final[dict[str, dict[str, str]]] = {
    "deb": {"debian": "Debian", "ubuntu": "Ubuntu"},
    "apk": {"alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard"},
    "rpm": {
        "redhat": "Red Hat",
        "rhel": "Red Hat",
        "rocky": "Rocky Linux",
        "rocky-linux": "Rocky Linux",
        "almalinux": "AlmaLinux",
        "suse": "SUSE",
        "sles": "SUSE",
        "opensuse": "openSUSE",
        "mageia": "Mageia",
        "photon": "Photon OS",
    },
}
_ECOSYSTEM_TO_PURL: Final[dict[str, tuple[str, str | None]]] = {
    **{eco: (ptype, None) for ptype, eco in _PURL_TYPES.items()},
    **{
        eco: (ptype, namespace)
        for ptype, namespaces in _DISTRO_NAMESPACES.items()
        for namespace, eco in namespaces.items()
    },
}


def base_ecosystem(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``PyPI`` -> ``PyPI``."""
    return ecosystem.split(":", 1)[0]


def release_of(ecosystem: str) -> str | None:
    """``Debian:12`` -> ``12``; ``Alpine:v3.18`` -> ``3.18``; ``Ubuntu:22.04:LTS`` ->
    ``22.04``; ``PyPI`` -> ``None``."""
    if ":" not in ecosystem:
        return None
    base, release = ecosystem.split(":", 1)
    return normalize_release(base, release)


#: Ecosystems whose advisories name the *source* package (Debian and Ubuntu source packages,
#: Alpine origin packages): a binary package is affected through its source package.
SOURCE_KEYED: Final = frozenset({"Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard"})

_DEBIAN_CODENAMES: Final[dict[str, str]] = {
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}
_NUMERIC_RELEASE = re.compile(r"v?(\d+)(?:\.(\d+))?")


def normalize_release(base: str, release: str | None) -> str | None:
    """A distribution release as advisories of ``base`` name it, whatever wrote it.

    Debian releases are the major number (``12.4``, ``debian-12`` and ``bookworm`` -> ``12``);
    Alpine-like releases are ``major.minor`` (``v3.18``, ``3.18.4`` -> ``3.18``); Ubuntu keeps
    ``YY.MM`` and drops the ``LTS`` / ``Pro`` labels OSV appends or prepends. Anything else, and
    anything these rules do not recognise, is returned as written (stripped).
    """
    if release is None:
        return None
    text = release.strip()
    if base == "Debian":
        text = _DEBIAN_CODENAMES.get(text.lower(), text)
        found = _NUMERIC_RELEASE.fullmatch(text.split(".", 1)[0])
        return found.group(1) if found else (text or None)
    if base in {"Alpine", "Wolfi", "Chainguard"}:
        numeric = re.match(r"v?(\d+)\.(\d+)", text)
        return (
            f"{numeric.group(1)}.{numeric.group(2)}"
            if numeric
            else (text.removeprefix("v") or None)
        )
    if base == "Ubuntu":
        parts = [p for p in text.split(":") if p and p not in {"LTS", "Pro"}]
        return parts[0] if parts else None
    return text or None


def is_known(ecosystem: str) -> bool:
    return base_ecosystem(ecosystem) in COMPARATOR_FAMILY


def normalize_name(ecosystem: str, name: str) -> str:
    """The package name as the matcher compares it.

    PyPI names follow PEP 503 (lower case, runs of ``-_.`` become ``-``); NuGet and Packagist
    names are case-insensitive; Maven names are ``group:artifact``; every other ecosystem
    (npm with its ``@scope/``, Go module paths, crates, gems) compares names exactly.
    """
    base = base_ecosystem(ecosystem)
    name = name.strip()
    if base == "PyPI":
        return _PEP503.sub("-", name).lower()
    if base in _LOWER_CASE:
        return name.lower()
    return name


@dataclass(frozen=True, slots=True)
class PackageRef:
    """What a purl says about a package, in OSV terms."""

    ecosystem: str | None
    name: str
    version: str | None
    release: str | None
    purl_type: str
    #: The source (``deb``) or origin (``apk``) package from the ``upstream`` qualifier
    #: (``upstream=glibc`` or ``upstream=glibc@2.36-8``), the name distro advisories use.
    source_name: str | None = None
    #: The source package's version when the qualifier states one that differs.
    source_version: str | None = None


def parse_purl(purl: str) -> PackageRef:
    """Parse a package URL into ecosystem, name and version.

    Raises ``InvalidInput`` for a string that is not a purl. A valid purl of a type without an
    OSV ecosystem (``generic``, ``docker``…) gives ``ecosystem=None``. Qualifiers are read for the
    distribution release (``distro=debian-12``); subpaths name a file inside the package and do not
    change what package it is.
    """
    fast = split_simple_purl(purl.strip())
    if fast is not None:
        ptype, namespace, name, version, qualifiers = fast
    else:
        try:
            parsed = PackageURL.from_string(purl.strip())
        except ValueError as exc:
            raise InvalidInput(f"package URL {purl!r} is not valid: {exc}") from None
        ptype, namespace, name = parsed.type, parsed.namespace or None, parsed.name
        version = parsed.version or None
        found = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
        qualifiers = {str(k).lower(): str(v) for k, v in found.items()}
    release = _release_from_qualifiers(qualifiers)
    source_name = source_version = None
    upstream = qualifiers.get("upstream")
    if upstream and ptype in {"deb", "apk"}:
        head, at, tail = upstream.partition("@")
        source_name, source_version = head.strip() or None, (tail.strip() if at else "") or None
    ecosystem: str | None
    if ptype in _DISTRO_NAMESPACES:
        ecosystem = _DISTRO_NAMESPACES[ptype].get((namespace or "").lower())
        full_name = name
    else:
        ecosystem = _PURL_TYPES.get(ptype)
        if ptype == "maven":
            full_name = f"{namespace}:{name}" if namespace else name
        elif namespace and ptype in {"npm", "golang", "composer", "swift", "githubactions"}:
            full_name = f"{namespace}/{name}"
        else:
            full_name = name
    return PackageRef(ecosystem, full_name, version, release, ptype, source_name, source_version)


# For these types a plain purl is split here, ten times faster than packageurl-python (the
# juice-shop SBOM's 1,115 purls: 11 ms -> 1 ms); tests/model/test_purl.py checks every split
# against the library on real SBOMs and generated purls. Anything unusual goes to the library.
# One deliberate difference: packageurl-python lowercases npm names, but npm names are
# case-sensitive in the registry and in OSV ("JSONStream"), so the case written is kept.
_SIMPLE_TYPES = frozenset(
    {"npm", "maven", "golang", "cargo", "gem", "nuget", "deb", "rpm", "pub", "cran"}
)
_SIMPLE_CHARS = re.compile(r"[A-Za-z0-9._~%@:/+!*'(),=-]+")
_QUALIFIER_KEY = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")


def split_simple_purl(
    purl: str,
) -> tuple[str, str | None, str, str | None, dict[str, str]] | None:
    """``(type, namespace, name, version, qualifiers)`` of a plain purl, or ``None`` when the
    library must decide."""
    if not purl.startswith("pkg:"):
        return None
    body = purl[4:].split("#", 1)[0]
    body, question, query = body.partition("?")
    if not _SIMPLE_CHARS.fullmatch(body) or body.startswith("/"):
        return None
    ptype, slash, rest = body.partition("/")
    if not slash or ptype not in _SIMPLE_TYPES:
        return None
    path, at, version = rest.rpartition("@")
    if not at:
        path, version = rest, ""
    if "/" in version or ":" in path or "@" in path:
        return None
    segments = path.split("/")
    if not all(segments):
        return None
    decoded = [unquote(s) for s in segments]
    version = unquote(version)
    if any(_untidy(part) for part in (*decoded, version)):
        return None  # percent-encoded slashes or spaces: the library normalises those
    name = decoded[-1]
    namespace = "/".join(decoded[:-1]) or None
    qualifiers: dict[str, str] = {}
    if question:
        for pair in query.split("&"):
            key, equals, value = pair.partition("=")
            if not equals or not _QUALIFIER_KEY.fullmatch(key) or not value:
                return None
            if not _SIMPLE_CHARS.fullmatch(value) or key.lower() in qualifiers:
                return None
            qualifiers[key.lower()] = unquote(value)
    return ptype, namespace, name, version or None, qualifiers


def _untidy(text: str) -> bool:
    return "/" in text or text != text.strip() or not text.isprintable()


def _release_from_qualifiers(qualifiers: dict[str, str]) -> str | None:
    distro = qualifiers.get("distro")
    if not distro:
        return None
    # "debian-12", "alpine-3.18", "3.18", "bookworm": keep what follows the last dash if any digit.
    head, _, tail = distro.rpartition("-")
    return tail if head and any(c.isdigit() for c in tail) else distro


def to_purl(ecosystem: str, name: str, version: str | None) -> str | None:
    """Build the canonical purl of an OSV package, or ``None`` for ecosystems without a type."""
    mapping = _ECOSYSTEM_TO_PURL.get(base_ecosystem(ecosystem))
    if mapping is None:
        return None
    ptype, namespace = mapping
    pname = name
    if ptype == "maven" and ":" in name:
        namespace, pname = name.split(":", 1)
    elif ptype in {"npm", "golang", "composer", "swift", "githubactions"} and "/" in name:
        namespace, pname = name.rsplit("/", 1)
    elif ptype == "pypi":
        pname = normalize_name("PyPI", name)
    try:
        return str(PackageURL(type=ptype, namespace=namespace, name=pname, version=version))
    except (ValueError, TypeError):  # a name the purl spec cannot express, e.g. "/"
        return None
