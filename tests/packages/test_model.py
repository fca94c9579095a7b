"""The package model, the TLP rules, the lifecycle and targeting: pure."""

from __future__ import annotations

from typing import Any

import pytest

from sakimori.errors import Conflict, InvalidInput, PermissionDenied
from sakimori.packages import lifecycle as lc
from sakimori.packages import targeting
from sakimori.packages.model import Audience, Content, Receipt, Tlp, may_read
from tests.packages.conftest import content


def test_a_content_round_trips_through_its_dict() -> None:
    parsed = Content.from_dict(content())
    assert Content.from_dict(parsed.to_dict()) == parsed
    assert parsed.detection_rules[0].title.startswith("Path traversal")
    assert parsed.tlp is Tlp.AMBER
    parsed.ready()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tlp": "YELLOW"}, "TLP label"),
        ({"title": "  "}, "'title' is required"),
        ({"vulnerabilities": ["not an id"]}, "not a vulnerability id"),
        ({"products": [{"purl": "pkg:nonsense"}]}, "package URL"),
        ({"products": [{"cpe": "cpe:/a:x:y"}]}, "CPE 2.3"),
        ({"products": [{}]}, "needs a purl"),
        ({"mitigations": [{"category": "pray", "details": "x"}]}, "mitigation category"),
        ({"detection_rules": [{"sigma": "title: no logsource"}]}, "Sigma"),
        ({"detection_rules": [{"sigma": "[1, 2"}]}, "Sigma"),
        ({"deadlines": [{"due": "tomorrow"}]}, "not a date"),
        ({"deadlines": [{"due": "2026-01-01", "vulnerability": "CVE-2000-0001"}]}, "not cover"),
        ({"references": [{"url": "javascript:alert(1)"}]}, "http(s) URL"),
        ({"summary": "a\x00b"}, "NUL"),
        ({"audience": {"everybody": True}}, "unknown fields"),
    ],
)
def test_bad_content_is_refused_with_a_reason(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        Content.from_dict(content(**changes))


def test_a_content_without_vulnerabilities_or_products_is_not_ready() -> None:
    with pytest.raises(InvalidInput, match="vulnerability"):
        Content.from_dict(content(vulnerabilities=[], deadlines=[])).ready()
    with pytest.raises(InvalidInput, match="product"):
        Content.from_dict(content(products=[])).ready()
    with pytest.raises(InvalidInput, match="audience"):
        Content.from_dict(content(audience={})).ready()


@pytest.mark.parametrize("tlp", ["AMBER", "AMBER+STRICT", "RED"])
def test_restricted_labels_never_go_to_everyone(tlp: str) -> None:
    with pytest.raises(InvalidInput, match="everyone"):
        Content.from_dict(content(tlp=tlp, audience={"everyone": True}))


@pytest.mark.parametrize(
    "audience",
    [{"affected": True}, {"sectors": ["finance"]}, {"organisations": ["city-bank"]}],
)
def test_red_goes_to_named_people_only(audience: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="named people"):
        Content.from_dict(content(tlp="RED", audience=audience))
    assert Content.from_dict(content(tlp="RED", audience={"people": ["bank-user"]}))


def test_may_read_follows_the_label() -> None:
    named = Receipt(active=True, named_users=("bank-user",))
    assert may_read(Tlp.RED, staff=False, receipt=named, user="bank-user")
    assert not may_read(Tlp.RED, staff=False, receipt=named, user="bank-admin")
    assert may_read(Tlp.AMBER, staff=False, receipt=Receipt(True), user="anyone")
    assert not may_read(Tlp.AMBER, staff=False, receipt=Receipt(False), user="anyone")
    assert not may_read(Tlp.CLEAR, staff=False, receipt=None, user="anyone")
    assert may_read(Tlp.RED, staff=True, receipt=None, user="kanri")


# -- lifecycle ------------------------------------------------------------------------------------

S, R = lc.State, lc.RevisionStatus


def test_the_happy_path() -> None:
    assert lc.submit(S.DRAFT, R.DRAFT) == (S.REVIEW, R.REVIEW)
    assert lc.approve(S.REVIEW, R.REVIEW, author="a", approver="b", number=1) == (
        S.PUBLISHED,
        R.PUBLISHED,
    )
    lc.revise(S.PUBLISHED, None)
    assert lc.submit(S.PUBLISHED, R.DRAFT) == (S.PUBLISHED, R.REVIEW)
    assert lc.approve(S.PUBLISHED, R.REVIEW, author="a", approver="b", number=2) == (
        S.UPDATED,
        R.PUBLISHED,
    )
    assert lc.withdraw(S.UPDATED) is S.WITHDRAWN
    assert lc.send_back(S.REVIEW, R.REVIEW) == (S.DRAFT, R.DRAFT)


def test_the_author_may_not_approve() -> None:
    with pytest.raises(PermissionDenied, match="second person"):
        lc.approve(S.REVIEW, R.REVIEW, author="a", approver="a", number=1)


@pytest.mark.parametrize(
    ("move", "args"),
    [
        (lc.approve, (S.DRAFT, R.DRAFT)),  # not reviewed
        (lc.submit, (S.REVIEW, R.REVIEW)),  # twice
        (lc.submit, (S.PUBLISHED, None)),  # nothing pending
        (lc.send_back, (S.DRAFT, R.DRAFT)),
        (lc.revise, (S.DRAFT, R.DRAFT)),  # not published
        (lc.revise, (S.PUBLISHED, R.DRAFT)),  # already pending
        (lc.check_edit, (S.REVIEW, R.REVIEW)),
        (lc.check_edit, (S.WITHDRAWN, R.DRAFT)),
    ],
)
def test_illegal_moves_are_conflicts(move: Any, args: tuple[Any, ...]) -> None:
    kwargs = {"author": "a", "approver": "b", "number": 1} if move is lc.approve else {}
    with pytest.raises(Conflict):
        move(*args, **kwargs)


@pytest.mark.parametrize("state", [S.DRAFT, S.REVIEW, S.WITHDRAWN])
def test_only_a_live_package_is_withdrawn(state: lc.State) -> None:
    with pytest.raises(Conflict):
        lc.withdraw(state)


# -- targeting ------------------------------------------------------------------------------------

ORGS = [
    targeting.Organisation(1, "coordination", "coordinator"),
    targeting.Organisation(2, "city-bank", "operator", ("finance",)),
    targeting.Organisation(3, "river-power", "operator", ("electric_power",)),
    targeting.Organisation(4, "vendor-co", "vendor"),
]
PEOPLE = {"bank-user": 2, "power-user": 3}


def _resolve(tlp: Tlp, exposed: tuple[int, ...] = (), **audience: Any) -> dict[int, Any]:
    return targeting.resolve(tlp, Audience(**audience), ORGS, people=PEOPLE, exposed=exposed)


def test_audience_kinds() -> None:
    assert set(_resolve(Tlp.CLEAR, everyone=True)) == {2, 3, 4}
    assert set(_resolve(Tlp.GREEN, sectors=("finance",))) == {2}
    assert set(_resolve(Tlp.AMBER, organisations=("river-power",))) == {3}
    exposed = _resolve(Tlp.AMBER, exposed=(3,), affected=True, organisations=("city-bank",))
    assert {k: v.reason for k, v in exposed.items()} == {2: "audience", 3: "exposure"}
    red = _resolve(Tlp.RED, exposed=(2, 3), people=("bank-user",))
    assert set(red) == {2}
    assert red[2].named_users == ("bank-user",)


def test_exposure_is_ignored_unless_the_audience_asks_for_it() -> None:
    assert _resolve(Tlp.AMBER, exposed=(3,), organisations=("city-bank",)).keys() == {2}


def test_unknown_names_are_refused() -> None:
    with pytest.raises(InvalidInput, match="organisation"):
        _resolve(Tlp.GREEN, organisations=("nobody",))
    with pytest.raises(InvalidInput, match="not a user"):
        _resolve(Tlp.RED, people=("nobody",))
