"""Every line of the ecosystem ordering vectors in ../shared/data/version-ordering.

Format (see its SOURCES.md): ``A OP B`` with OP one of ``<``, ``=``, ``>``; blank lines and lines
starting with ``#`` or ``//`` are comments. Each file is one test; a failure lists every line
that failed, not just the first.

Four lines cannot be satisfied by any sort key, because the comparators that produced them are
not transitive there; they are listed in ``INCONSISTENT`` with the cycle that proves it, and a
test checks that the rest of each cycle holds, so that the list can only shrink.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sakimori.errors import InvalidVersion
from sakimori.versions import family_key
from tests.conftest import require_data

#: vector file -> comparator family
FILES: dict[str, str] = {
    "alpine-versions.txt": "alpine",
    "alpine-versions-generated.txt": "alpine",
    "cran-versions.txt": "cran",
    "cran-versions-generated.txt": "cran",
    "debian-versions.txt": "debian",
    "debian-versions-generated.txt": "debian",
    "hackage-versions.txt": "hackage",
    "maven-versions.txt": "maven",
    "maven-versions-generated.txt": "maven",
    "nuget-versions.txt": "nuget",
    "packagist-versions.txt": "packagist",
    "packagist-versions-generated.txt": "packagist",
    "pub-versions.txt": "pub",
    "pypi-versions.txt": "pypi",
    "pypi-versions-generated.txt": "pypi",
    "redhat-versions.txt": "rpm",
    "rubygems-versions.txt": "rubygems",
    "rubygems-versions-generated.txt": "rubygems",
    "semver-versions.txt": "semver",
}

#: (file, line) -> (why no total order satisfies it, the other lines of the cycle in that file)
INCONSISTENT: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("packagist-versions.txt", "1.2.3.# = 1.2.3.1"): (
        "PHP's version_compare makes '#' equal to any number, so 1.2.3.# is equal both to "
        "1.2.3 (line '1.2.3.# = 1.2.3' of the same file) and to 1.2.3.1; equality of keys is "
        "transitive, and version_compare('1.2.3', '1.2.3.1') is -1 (a trailing number makes a "
        "version larger, as '1.0.0 > 1.0' in the same file says)",
        ["1.2.3.# = 1.2.3", "1.0.0 > 1.0"],
    ),
    ("maven-versions-generated.txt", "2.9.0-1 < 2.9.0.RC1"): (
        "Maven 3.8.6 ComparableVersion is intransitive here and Java's sort left an "
        "inconsistent chain: the file says 2.9.0.RC3 < 2.9.0 < 2.9.0-1 < 2.9.0.RC1 < 2.9.0.RC2 "
        "< 2.9.0.RC4, while ComparableVersion itself says 2.9.0.RC1 < 2.9.0.RC3 (same "
        "prefix, 1 < 3) and 2.9.0.RC1 < 2.9.0 (padding: .0 is null, rc is below release)",
        ["2.9.0.RC3 < 2.9.0", "2.9.0 < 2.9.0-1", "2.9.0.RC1 < 2.9.0.RC2"],
    ),
    ("maven-versions-generated.txt", "1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3"): (
        "the chain 1.0.0 < 1.0.0-gradle-rework-beta1 < ...beta2 < ...beta3 < 1.0.0.RC7-3 in "
        "the file puts 1.0.0.RC7-3 above 1.0.0, but ComparableVersion compares 1.0.0.RC7-3 "
        "with 1.0.0 by padding (.0 .0 null, rc below release) and says it is below",
        [
            "1.0.0 < 1.0.0-gradle-rework-beta1",
            "1.0.0-gradle-rework-beta1 < 1.0.0-gradle-rework-beta2",
            "1.0.0-gradle-rework-beta2 < 1.0.0-gradle-rework-beta3",
        ],
    ),
    ("maven-versions-generated.txt", "1.1.0-01-glassfish < 1.1.0.Beta1"): (
        "ComparableVersion says 1.1.0.Beta1 < 1.1.0 (padding: .0 null, beta below release) "
        "and 1.1.0 < 1.1.0-01-glassfish (padding: -1 above release), so this line, which it "
        "also produces (.0 beats a hyphen), closes a cycle",
        [],
    ),
}


def parse_vectors(path: Path) -> list[tuple[int, str, str, str]]:
    """``(line number, left, op, right)`` for every comparison line of a vector file."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "//")):
            continue
        left, op, right = line.split(" ")
        assert op in {"<", "=", ">"}, f"{path.name}:{number}: bad operator in {line!r}"
        rows.append((number, left, op, right))
    return rows


def relation(key: Callable[[str], Any], left: str, right: str) -> str:
    try:
        a, b = key(left), key(right)
    except InvalidVersion as exc:
        return f"InvalidVersion({exc.diagnostics()})"
    return "<" if a < b else ">" if a > b else "="


def test_every_vector_file_is_covered() -> None:
    directory = require_data("version-ordering")
    assert sorted(p.name for p in directory.glob("*.txt")) == sorted(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_vector_file(name: str) -> None:
    path = require_data("version-ordering", name)
    key = family_key(FILES[name])
    rows = parse_vectors(path)
    assert rows, f"{name} has no comparison lines"
    failures = []
    expected_failures = {line for (file, line) in INCONSISTENT if file == name}
    for number, left, op, right in rows:
        text = f"{left} {op} {right}"
        got = relation(key, left, right)
        if got != op and text not in expected_failures:
            failures.append(f"{name}:{number}: {text}  (got {got})")
        if got == op and text in expected_failures:
            failures.append(f"{name}:{number}: {text} now passes; remove it from INCONSISTENT")
    passed = len(rows) - len(failures) - len(expected_failures)
    assert not failures, (
        f"{len(failures)} of {len(rows)} lines failed ({passed} passed):\n" + "\n".join(failures)
    )


@pytest.mark.parametrize(("name", "line"), sorted(INCONSISTENT))
def test_inconsistent_line_closes_a_cycle(name: str, line: str) -> None:
    """The rest of each cycle is in the file and holds, so the listed line is the odd one."""
    path = require_data("version-ordering", name)
    lines = {f"{left} {op} {right}" for _, left, op, right in parse_vectors(path)}
    assert line in lines
    key = family_key(FILES[name])
    _, others = INCONSISTENT[(name, line)]
    for other in others:
        assert other in lines, other
        left, op, right = other.split(" ")
        assert relation(key, left, right) == op, other


def test_vector_line_counts() -> None:
    """The size of the evidence: about 72,000 lines in 19 files (SOURCES.md)."""
    total = sum(
        len(parse_vectors(require_data("version-ordering", name))) for name in sorted(FILES)
    )
    assert total > 70_000


def test_go_agrees_with_semver_vectors_where_they_apply() -> None:
    """Go orders like SemVer; every vector line valid in Go, with and without ``v``, holds."""
    path = require_data("version-ordering", "semver-versions.txt")
    go = family_key("go")
    applied, failures = 0, []
    for number, left, op, right in parse_vectors(path):
        for left_v in ("", "v"):
            for right_v in ("", "v"):
                a = left_v + left.removeprefix("v")
                b = right_v + right.removeprefix("v")
                got = relation(go, a, b)
                if got.startswith("InvalidVersion"):
                    continue
                applied += 1
                if got != op:
                    failures.append(f"semver-versions.txt:{number}: {a} {op} {b} (got {got})")
    assert not failures, "\n".join(failures)
    assert applied >= 4 * 80
