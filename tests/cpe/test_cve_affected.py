"""CVE List V5 ``affected`` evaluation: the schema document's examples, needs-review rules, and
every orderable range of the real records in ../shared/data/cve."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sakimori.cpe.cve_affected import (
    ProductQuery,
    evaluate_record,
    item_status,
    version_status,
)
from sakimori.cpe.version import generic_key
from sakimori.model.cve import CveRecord
from sakimori.versions import family_key

SEMVER_2X = [
    {
        "version": "2.0.0",
        "versionType": "semver",
        "lessThan": "2.*",
        "status": "affected",
        "changes": [
            {"at": "2.5.2", "status": "unaffected"},
            {"at": "2.6.0", "status": "affected"},
            {"at": "2.6.3", "status": "unaffected"},
        ],
    }
]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.9.9", "unknown"),
        ("2.0.0", "affected"),
        ("2.5.1", "affected"),
        ("2.5.2", "unaffected"),
        ("2.6.0", "affected"),
        ("2.6.2", "affected"),
        ("2.6.3", "unaffected"),
        ("2.99.0", "unaffected"),
        ("3.0.0", "unknown"),
    ],
)
def test_schema_example_with_changes(version: str, expected: str) -> None:
    # cve-schema docs/versions.md, "Version Status Changes"
    assert version_status({"versions": SEMVER_2X}, version).status == expected


def test_default_status_and_single_versions() -> None:
    entry: dict[str, Any] = {
        "versions": [
            {"version": "2.4", "status": "affected"},
            {"version": "2.5", "status": "affected"},
        ],
        "defaultStatus": "unaffected",
    }
    assert version_status(entry, "2.4").status == "affected"
    assert version_status(entry, "2.6").status == "unaffected"
    entry.pop("defaultStatus")
    assert version_status(entry, "2.6").status == "unknown"
    assert version_status({"defaultStatus": "affected"}, "9").status == "affected"


def test_first_matching_item_decides() -> None:
    entry = {
        "versions": [
            {
                "version": "2.0.0",
                "versionType": "semver",
                "lessThan": "2.5.2",
                "status": "affected",
            },
            {
                "version": "2.5.2",
                "versionType": "semver",
                "lessThan": "2.*",
                "status": "unaffected",
            },
        ]
    }
    assert version_status(entry, "2.5.1").status == "affected"
    assert version_status(entry, "2.5.2").status == "unaffected"
    assert version_status(entry, "3.0.0").status == "unknown"


@pytest.mark.parametrize(
    ("item", "version", "reason"),
    [
        (
            {"version": "0", "versionType": "git", "lessThan": "*", "status": "affected"},
            "3f2a9c1",
            "commit graph",
        ),
        ({"version": "1.0", "lessThan": "2.0", "status": "affected"}, "1.5", "without versionType"),
        (
            {"version": "2.0", "versionType": "semver", "lessThan": "1.0", "status": "affected"},
            "1.5.0",
            "contradictory range",
        ),
        (
            {
                "version": "1.0",
                "versionType": "custom",
                "lessThan": "2.0",
                "lessThanOrEqual": "2.0",
                "status": "affected",
            },
            "1.5",
            "both lessThan",
        ),
        (
            {"version": "1.0", "versionType": "semver", "lessThan": "2.0", "status": "broken"},
            "1.5",
            "status",
        ),
        (
            {
                "version": "1.0.0",
                "versionType": "semver",
                "lessThan": "2.0.0",
                "status": "affected",
            },
            "not-a-version",
            "cannot be ordered",
        ),
    ],
)
def test_needs_review_with_reason(item: dict[str, Any], version: str, reason: str) -> None:
    answer = version_status({"versions": [item], "defaultStatus": "unaffected"}, version)
    assert answer.status == "needs-review"
    assert reason in answer.reason


def test_git_ranges_do_not_match_release_versions() -> None:
    entry = {
        "versions": [
            {"version": "0", "versionType": "git", "lessThan": "*", "status": "affected"},
            {
                "version": "5.10",
                "versionType": "semver",
                "lessThan": "5.10.9",
                "status": "affected",
            },
        ],
        "defaultStatus": "unaffected",
    }
    assert version_status(entry, "5.10.3").status == "affected"
    assert version_status(entry, "6.1.0").status == "unaffected"


def test_placeholder_versions_need_review_unless_default_decides() -> None:
    entry: dict[str, Any] = {"versions": [{"version": "n/a", "status": "affected"}]}
    assert version_status(entry, "1.0").status == "needs-review"
    entry["defaultStatus"] = "affected"
    assert version_status(entry, "1.0").status == "affected"
    assert version_status(
        {"versions": [{"version": "1.0", "status": "affected"}]}, None
    ).status == ("needs-review")


def test_custom_versions_order_generically_and_say_so() -> None:
    item = {"version": "7.0", "versionType": "custom", "lessThan": "7.0 U3s", "status": "affected"}
    inside = item_status(item, "7.0 U3o")
    assert inside is not None
    assert not isinstance(inside, str)
    assert inside.status == "affected"
    assert "ordered generically" in inside.reason
    assert item_status(item, "7.0 U3s") is None


def test_identity_by_cpe_and_by_folded_name(cve_records: list[CveRecord]) -> None:
    rec = next(r for r in cve_records if r.id == "CVE-2024-47575")
    by_cpe = evaluate_record(
        rec, ProductQuery.from_cpe("cpe:2.3:o:fortinet:fortimanager:7.4.3:*:*:*:*:*:*:*")
    )
    assert by_cpe is not None
    assert by_cpe.status == "affected"
    # Folding keeps letters and digits only, so the CPE dictionary's words meet the CNA's.
    spaced = evaluate_record(rec, ProductQuery("FORTINET", "Forti-Manager", "7.4.3"))
    assert spaced is not None
    assert spaced.status == "affected"
    assert evaluate_record(rec, ProductQuery("FORTINET", "FortiManagers", "7.4.3")) is None
    by_name = evaluate_record(rec, ProductQuery("Fortinet ", "fortimanager", "7.4.5"))
    assert by_name is not None
    assert by_name.status == "unaffected"
    assert "defaultStatus" in by_name.reason
    other = ProductQuery.from_cpe("cpe:2.3:a:nothing:matches:9.1:*:*:*:*:*:*:*")
    assert evaluate_record(rec, other) is None


def test_real_mislabelled_and_prose_versions_need_review(cve_records: list[CveRecord]) -> None:
    ics = next(r for r in cve_records if r.id == "CVE-2024-21893")
    answer = evaluate_record(ics, ProductQuery("Ivanti", "ICS", "9.1R18"))
    assert answer is not None
    assert answer.status == "needs-review"
    assert "cannot be ordered as semver" in answer.reason  # "9.1R18" is not SemVer
    fortios = next(r for r in cve_records if r.id == "CVE-2018-13379")
    answer = evaluate_record(
        fortios, ProductQuery("Fortinet", "Fortinet FortiOS, FortiProxy", "6.0.1")
    )
    assert answer is not None
    assert answer.status == "needs-review"
    assert "FortiOS 6.0.0 to 6.0.4" in answer.reason


# -- generated from the real records ---------------------------------------------------------

_KEYS = {"semver": "semver", "maven": "maven", "rpm": "rpm"}


def key_of(kind: str) -> Any:
    return family_key(_KEYS[kind]) if kind in _KEYS else generic_key


def below(kind: str, version: str) -> str | None:
    """A version below ``version``: generic arithmetic for generically ordered types, and the
    numeric release decremented for semver; None when there is no simple one."""
    parts = version.split(".")
    if kind == "semver" or kind == "maven" or kind == "rpm":
        if not all(p.isdigit() for p in parts) or len(parts) < 2:
            return None
        for i in range(len(parts) - 1, -1, -1):
            if int(parts[i]) > 0:
                return ".".join(
                    [*parts[:i], str(int(parts[i]) - 1), *(["999"] * (len(parts) - i - 1))]
                )
        return None
    key = list(generic_key(version))
    if not key:
        return None
    if key[-1][0] == 1:
        key = key[:-1]
    else:
        last = key[-1][1]
        assert isinstance(last, int)
        key = [*key[:-1], (0, last - 1), (0, 99999)]
    return ".".join(str(v) for _, v in key) if key else None


def test_real_ranges_inside_and_outside(cve_records: list[CveRecord]) -> None:
    counts: Counter[str] = Counter()
    for rec in cve_records:
        for entry in rec.affected:
            for item in entry.get("versions", []):
                kind = str(item.get("versionType", "")).lower()
                upper = item.get("lessThan", item.get("lessThanOrEqual"))
                if not kind or kind == "git" or not isinstance(upper, str):
                    continue
                if "lessThan" in item and "lessThanOrEqual" in item:
                    continue
                key = key_of(kind)
                start = item["version"]
                statuses = {item["status"]} | {c["status"] for c in item.get("changes", [])}
                try:
                    for change in item.get("changes", []):
                        key_of(kind)(change["at"])
                except Exception:
                    statuses = {"needs-review"}  # a change point the type cannot order
                    counts["unorderable change"] += 1
                try:
                    low = None if start in {"0", "*", "unspecified", "n/a"} else key(start)
                    high = None if "*" in upper else key(upper)
                except Exception:
                    counts["unorderable bound"] += 1
                    answer = item_status(item, start if start not in {"0", "*"} else upper)
                    assert answer is not None
                    assert not isinstance(answer, str)
                    assert answer.status == "needs-review", (rec.id, item)
                    continue
                inclusive = "lessThanOrEqual" in item
                if (
                    low is not None
                    and high is not None
                    and (low > high or (low == high and not inclusive))
                ):
                    answer = item_status(item, start)
                    assert answer is not None
                    assert not isinstance(answer, str)
                    assert answer.status == "needs-review"
                    assert "contradictory" in answer.reason
                    counts["contradictory"] += 1
                    continue
                inside = [] if low is None else [start]
                if inclusive and high is not None:
                    inside.append(upper)
                outside = [upper] if not inclusive and high is not None else []
                lower = below(kind, start) if low is not None else None
                if lower is not None and key(lower) < low:
                    outside.append(lower)
                for version in inside:
                    answer = item_status(item, version)
                    assert answer is not None, (rec.id, item, version)
                    assert not isinstance(answer, str), (rec.id, item, version)
                    assert answer.status in statuses, (rec.id, item, version, answer)
                    counts["inside"] += 1
                for version in outside:
                    assert item_status(item, version) is None, (rec.id, item, version)
                    counts["outside"] += 1
    assert counts["inside"] > 1000
    assert counts["outside"] > 1000


def test_real_records_needs_review_are_explained(cve_records: list[CveRecord]) -> None:
    """Every entry of every record asked about its own first listed version: each answer is one
    of the four, and every needs-review answer carries a reason."""
    statuses: Counter[str] = Counter()
    for rec in cve_records:
        for index, entry in enumerate(rec.affected):
            items = entry.get("versions") or [{"version": "1.0"}]
            first = items[0].get("version") if isinstance(items[0], dict) else None
            version = first if isinstance(first, str) and first not in {"0", "n/a"} else "1.0"
            answer = version_status(entry, version, where=f"affected[{index}]")
            statuses[answer.status] += 1
            if answer.status == "needs-review":
                assert answer.reason
    assert set(statuses) <= {"affected", "unaffected", "unknown", "needs-review"}
    assert statuses["affected"] > 0
    assert statuses["needs-review"] > 0
