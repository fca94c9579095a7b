"""The compiled index agrees with direct evaluation of every entry, for any package shape."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.matching import AdvisoryIndex, AffectedEntry, Portfolio, match_components
from sakimori.matching.matcher import PackageVersion
from sakimori.matching.ranges import is_affected_reference
from sakimori.model.advisory import Event, EventKind, Range
from sakimori.model.inventory import Component
from sakimori.versions import family_key

pypi = family_key("pypi")
versions = st.builds(
    lambda major, minor, extra: f"{major}.{minor}{extra}",
    st.integers(0, 4),
    st.integers(0, 4),
    st.sampled_from(["", ".0", "rc1", ".post1", "a1"]),
)
event = st.builds(
    lambda kind, version: Event(EventKind(kind), version),
    st.sampled_from(["introduced", "fixed", "last_affected", "limit"]),
    versions,
)
ranges = st.lists(
    st.builds(
        lambda kind, evts: Range(kind, tuple(evts)),
        st.sampled_from(["ECOSYSTEM", "ECOSYSTEM", "GIT"]),
        st.lists(st.one_of(event, st.just(Event(EventKind.INTRODUCED, "0"))), max_size=6),
    ),
    max_size=3,
)
entries = st.lists(
    st.builds(
        lambda i, rngs, listed, release: AffectedEntry(
            f"ADV-{i}", "PyPI", "pkg", release, tuple(rngs), tuple(listed)
        ),
        st.integers(0, 10_000),
        ranges,
        st.lists(st.one_of(versions, st.just("not a version")), max_size=4),
        st.just(None),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda e: e.advisory_id,
)


def span(introduced: str, fixed: str) -> Range:
    return Range(
        "ECOSYSTEM", (Event(EventKind.INTRODUCED, introduced), Event(EventKind.FIXED, fixed))
    )


def expected(entry: AffectedEntry, version: str) -> bool:
    key = pypi(version)
    if any(v == version or (v != "not a version" and pypi(v) == key) for v in entry.versions):
        return True
    return any(
        is_affected_reference(version, r.events, pypi) for r in entry.ranges if r.type != "GIT"
    )


@settings(max_examples=400, deadline=None)
@given(package=entries, probe=st.lists(versions, min_size=1, max_size=8))
def test_lookup_agrees_with_evaluating_each_entry(
    package: list[AffectedEntry], probe: list[str]
) -> None:
    index = AdvisoryIndex(package)
    for version in probe:
        result = index.lookup("PyPI", "pkg", version)
        got = {hit.entry.advisory_id for hit in result.hits}
        want = {e.advisory_id for e in package if expected(e, version)}
        assert got == want, version
        for hit in result.hits:  # the fixed versions named are above the looked-up version
            assert all(pypi(f) > pypi(version) for f in hit.fixed)


def test_unparseable_component_version_is_unevaluated_but_string_matches_still_hit() -> None:
    entry = AffectedEntry("A", "PyPI", "pkg", None, (), ("weird build",))
    ranged = AffectedEntry(
        "B", "PyPI", "pkg", None,
        (Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"),)),), (),
    )  # fmt: skip
    result = AdvisoryIndex([entry, ranged]).lookup("PyPI", "pkg", "weird build")
    assert [h.entry.advisory_id for h in result.hits] == ["A"]
    assert [u.entry.advisory_id for u in result.unevaluated] == ["B"]
    assert "not valid" in result.unevaluated[0].reason


def test_release_specific_records_match_their_release_or_an_unknown_one() -> None:
    debian12 = AffectedEntry(
        "DSA-1", "Debian", "openssl", "12",
        (span("0", "3.0.11-1"),),
    )  # fmt: skip
    index = AdvisoryIndex([debian12])
    assert index.lookup("Debian", "openssl", "3.0.9-1", "12").hits
    assert not index.lookup("Debian", "openssl", "3.0.9-1", "11").hits
    assert index.lookup("Debian", "openssl", "3.0.9-1", None).hits


def test_semver_ranges_in_a_pypi_record_use_semver() -> None:
    entry = AffectedEntry(
        "S", "PyPI", "pkg", None,
        (Range("SEMVER", (Event(EventKind.INTRODUCED, "1.0.0"), Event(EventKind.FIXED, "1.2.0"))),),
    )  # fmt: skip
    index = AdvisoryIndex([entry])
    assert index.lookup("PyPI", "pkg", "1.1.5").hits
    assert not index.lookup("PyPI", "pkg", "1.2.0").hits


def test_components_are_reduced_and_unevaluable_ones_reported() -> None:
    entry = AffectedEntry(
        "A", "npm", "left-pad", None,
        (Range("SEMVER", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.3.0"))),),
    )  # fmt: skip
    components = [
        Component("left-pad", "1.1.0", "npm"),
        Component("left-pad", "1.1.0", "npm", purl="pkg:npm/left-pad@1.1.0"),
        Component("left-pad", "1.3.0", "npm"),
        Component("libc-thing", "1.0", None),
        Component("left-pad", None, "npm"),
    ]
    results = match_components(components, AdvisoryIndex([entry]))
    assert [(r.index, bool(r.result.hits), r.not_evaluated is None) for r in results] == [
        (0, True, True), (1, True, True), (3, False, False), (4, False, False),
    ]  # fmt: skip


def test_portfolio_rematches_one_new_advisory() -> None:
    held = [PackageVersion("PyPI", "django", v) for v in ("2.2.24", "3.2.5", "4.2.1")]
    held.append(PackageVersion("PyPI", "flask", "0.12.2"))
    portfolio = Portfolio(held)
    new = AffectedEntry(
        "NEW-1", "PyPI", "django", None,
        (span("3.0", "4.2.2"),),
    )  # fmt: skip
    found = portfolio.match_entries([new])
    assert {p.version for p in found} == {"3.2.5", "4.2.1"}
