"""Oracle test on real data: OSV range evaluation against PyPA's enumerated `versions`, both ways.

PyPA records list every affected release in ``versions`` *and* give ECOSYSTEM ranges. For each
affected entry with both, the matcher, given the ranges alone, must say:

- "affected" for every listed version (positive direction), and
- "not affected" for every other known final release of the package that is not newer than the
  newest listed version (negative direction). "Known" releases are those listed in any record of
  the package; pre-releases are left out because upstream enumerations omit many of them.

Every disagreement must be listed, with its reason, in ``oracle_exceptions.toml`` beside this
file; an unlisted disagreement fails, and so does a listed one that no longer occurs.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from sakimori.formats import osv
from sakimori.matching import AdvisoryIndex, AffectedEntry
from sakimori.model.advisory import Advisory
from sakimori.versions import family_key
from tests.conftest import require_data

EXCEPTIONS = Path(__file__).with_name("oracle_exceptions.toml")

pypi_key = family_key("pypi")


def _is_final(version: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return not (parsed.is_prerelease or parsed.is_devrelease)


def load_pypa() -> list[Advisory]:
    root = require_data("osv", "pypi")
    records: list[Advisory] = []
    for path in sorted(root.rglob("*.yaml")):
        records.extend(osv.parse(path.read_bytes()))
    return records


@pytest.fixture(scope="module")
def disagreements() -> tuple[dict[tuple[str, str, str], str], int]:
    """``{(record id, version, direction): package}`` for every disagreement, and check count."""
    advisories = [a for a in load_pypa() if not a.withdrawn]
    known: dict[str, set[str]] = defaultdict(set)
    cases: list[tuple[Advisory, AffectedEntry]] = []
    for advisory in advisories:
        for affected in advisory.affected:
            entry = AffectedEntry.from_affected(advisory.id, affected)
            known[entry.name].update(affected.versions)
            has_ranges = any(r.type == "ECOSYSTEM" for r in affected.ranges)
            if affected.versions and has_ranges:
                cases.append((advisory, entry))
    found: dict[tuple[str, str, str], str] = {}
    checks = 0
    for advisory, entry in cases:
        ranges_only = AffectedEntry(
            advisory.id, entry.ecosystem, entry.name, entry.release, entry.ranges, ()
        )
        index = AdvisoryIndex([ranges_only])
        listed = set(entry.versions)

        def affected(
            version: str, entry: AffectedEntry = entry, index: AdvisoryIndex = index
        ) -> bool:
            return bool(index.lookup(entry.ecosystem, entry.name, version).hits)

        for version in listed:
            checks += 1
            if not affected(version):
                found[(advisory.id, version, "listed but not affected")] = entry.name
        newest = max((pypi_key(v) for v in listed), default=None)
        for version in known[entry.name] - listed:
            if not _is_final(version) or newest is None or pypi_key(version) > newest:
                continue
            if any(pypi_key(version) == pypi_key(v) for v in listed):
                continue  # "1.0" and "1.0.0" are the same release
            checks += 1
            if affected(version):
                found[(advisory.id, version, "affected but not listed")] = entry.name
    return found, checks


def expected_exceptions() -> dict[tuple[str, str, str], str]:
    document = tomllib.loads(EXCEPTIONS.read_text(encoding="utf-8"))
    return {
        (item["record"], item["version"], item["direction"]): item["reason"]
        for item in document["disagreement"]
    }


@pytest.mark.slow
def test_ranges_agree_with_enumerated_versions(
    disagreements: tuple[dict[tuple[str, str, str], str], int],
) -> None:
    found, checks = disagreements
    assert checks > 150_000, f"only {checks} checks: the data set looks incomplete"
    expected = expected_exceptions()
    unexplained = sorted(set(found) - set(expected))
    stale = sorted(set(expected) - set(found))
    assert not unexplained, f"{len(unexplained)} unexplained of {checks} checks: {unexplained[:40]}"
    assert not stale, f"listed exceptions that no longer occur: {stale}"


def test_every_listed_exception_has_a_reason() -> None:
    for key, reason in expected_exceptions().items():
        assert len(reason) > 20, f"{key} needs a real explanation"
