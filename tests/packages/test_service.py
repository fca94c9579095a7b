"""The package service on SQLite and PostgreSQL: two-person publishing, revisions with
re-targeting, exposure by purl from real lockfiles and SBOMs, the new-exposure hook, reads and
acknowledgements."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.errors import Conflict, InvalidInput, PermissionDenied
from sakimori.formats.limits import Limits
from sakimori.packages.model import Content
from sakimori.services import packages
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from tests.conftest import require_data
from tests.packages.conftest import LOCKS_PROD, Platform, content


def _org_id(platform: Platform, slug: str) -> int:
    with platform.db.transaction() as session:
        found = session.scalar(
            select(models.Organisation.id).where(models.Organisation.slug == slug)
        )
    assert found is not None
    return found


def publish(platform: Platform, value: dict[str, Any]) -> packages.PackageView:
    view = packages.create_draft(platform.db, Content.from_dict(value), "bunseki")
    packages.submit(platform.db, view.id, "bunseki")
    return packages.approve(platform.db, view.id, "kanri")


def reached(platform: Platform, package_id: int) -> dict[str, str]:
    return {
        r.organisation: r.reason for r in packages.recipients(platform.db, package_id) if r.active
    }


def test_publishing_needs_a_second_person(platform: Platform) -> None:
    view = packages.create_draft(platform.db, Content.from_dict(content()), "bunseki")
    assert (view.state, view.revision) == ("draft", 0)
    with pytest.raises(Conflict):
        packages.approve(platform.db, view.id, "kanri")  # not submitted
    packages.submit(platform.db, view.id, "bunseki")
    with pytest.raises(Conflict):
        packages.edit_draft(platform.db, view.id, Content.from_dict(content()), "bunseki")
    with pytest.raises(PermissionDenied, match="second person"):
        packages.approve(platform.db, view.id, "bunseki")
    assert packages.get(platform.db, view.id).state == "review"
    assert packages.recipients(platform.db, view.id) == []
    published = packages.approve(platform.db, view.id, "kanri")
    assert (published.state, published.revision) == ("published", 1)
    assert published.history[0].approver == "kanri"
    assert published.history[0].author == "bunseki"


def test_an_incomplete_draft_cannot_be_submitted(platform: Platform) -> None:
    view = packages.create_draft(platform.db, Content.from_dict(content(products=[])), "bunseki")
    with pytest.raises(InvalidInput, match="product"):
        packages.submit(platform.db, view.id, "bunseki")
    assert packages.get(platform.db, view.id).state == "draft"


def test_exposure_by_purl_from_real_inventories(platform: Platform) -> None:
    # city-bank holds django 1.11.29 (a real requirements.txt); river-power holds lodash 2.4.2
    # (juice-shop's CycloneDX SBOM); water-works holds nothing yet.
    django = publish(platform, content())
    assert reached(platform, django.id) == {"city-bank": "exposure"}
    lodash = publish(
        platform,
        content(
            products=[{"purl": "pkg:npm/lodash@2.4.2"}],
            vulnerabilities=["CVE-2019-10744"],
            deadlines=[],
        ),
    )
    assert reached(platform, lodash.id) == {"river-power": "exposure"}
    none = publish(platform, content(products=[{"purl": "pkg:pypi/django@9.9.9"}]))
    assert reached(platform, none.id) == {}


def test_audience_and_exposure_together(platform: Platform) -> None:
    view = publish(platform, content(audience={"affected": True, "sectors": ["electric_power"]}))
    assert reached(platform, view.id) == {"city-bank": "exposure", "river-power": "audience"}


def test_a_revision_is_retargeted_and_keeps_its_history(platform: Platform) -> None:
    view = publish(platform, content(tlp="GREEN", audience={"everyone": True}))
    assert set(reached(platform, view.id)) == {
        "city-bank",
        "river-power",
        "water-works",
        "vendor-co",
        "allied-cert",
    }
    narrowed = content(tlp="AMBER", audience={"organisations": ["river-power"]})
    packages.revise(platform.db, view.id, Content.from_dict(narrowed), "kanri", "Narrowed.")
    with pytest.raises(Conflict, match="pending"):
        packages.revise(platform.db, view.id, Content.from_dict(narrowed), "kanri", "Again.")
    # the published revision is still what recipients get
    assert packages.get(platform.db, view.id, latest=False).tlp.value == "GREEN"
    packages.submit(platform.db, view.id, "kanri")
    with pytest.raises(PermissionDenied):
        packages.approve(platform.db, view.id, "kanri")
    updated = packages.approve(platform.db, view.id, "bunseki")
    assert (updated.state, updated.revision) == ("updated", 2)
    assert [(r.number, r.change) for r in updated.history] == [(1, ""), (2, "Narrowed.")]
    assert reached(platform, view.id) == {"river-power": "audience"}
    withdrawn = packages.withdraw(platform.db, view.id, "kanri")
    assert withdrawn.state == "withdrawn"
    with pytest.raises(Conflict):
        packages.withdraw(platform.db, view.id, "kanri")


def test_red_reaches_named_people_only(platform: Platform) -> None:
    view = publish(platform, content(tlp="RED", audience={"people": ["bank-user"]}))
    (recipient,) = packages.recipients(platform.db, view.id)
    assert (recipient.organisation, recipient.named_users) == ("city-bank", ("bank-user",))
    bank = _org_id(platform, "city-bank")
    seen = {
        v.id
        for v in packages.visible(platform.db, staff=False, organisation_id=bank, user="bank-user")
    }
    assert view.id in seen
    seen = {
        v.id
        for v in packages.visible(platform.db, staff=False, organisation_id=bank, user="bank-admin")
    }
    assert view.id not in seen


def test_reads_and_acknowledgements_are_recorded_once(platform: Platform) -> None:
    view = publish(platform, content(audience={"organisations": ["city-bank"]}))
    bank = _org_id(platform, "city-bank")
    packages.mark(platform.db, view.id, bank, "bank-user", ack=False)
    packages.mark(platform.db, view.id, bank, "bank-admin", ack=True)
    packages.mark(platform.db, view.id, bank, "bank-user", ack=True)
    (recipient,) = packages.recipients(platform.db, view.id)
    assert (recipient.read_by, recipient.acknowledged_by) == ("bank-user", "bank-admin")
    assert recipient.read_at is not None
    assert recipient.acknowledged_at is not None
    assert recipient.read_at <= recipient.acknowledged_at


def test_new_exposure_adds_the_organisation(platform: Platform) -> None:
    # Any Django version: city-bank now; water-works once it uploads django 2.2.24.
    any_django = content(products=[{"purl": "pkg:pypi/Django"}])
    view = publish(platform, any_django)
    red = publish(
        platform,
        content(
            tlp="RED", audience={"people": ["bank-user"]}, products=[{"purl": "pkg:pypi/django"}]
        ),
    )
    named = publish(
        platform,
        content(
            audience={"organisations": ["river-power"]}, products=[{"purl": "pkg:pypi/django"}]
        ),
    )
    assert reached(platform, view.id) == {"city-bank": "exposure"}
    assert packages.on_new_exposure(platform.db, "water-works") == []
    # The upload itself adds the organisation (and says so); the hook is then idempotent.
    report = upload_inventory(
        platform.db, "water-works/billing", require_data(*LOCKS_PROD), "setup", Limits()
    )
    assert view.id in report.new_packages
    assert red.id not in report.new_packages
    assert named.id not in report.new_packages
    assert reached(platform, view.id) == {"city-bank": "exposure", "water-works": "exposure"}
    assert set(reached(platform, red.id)) == {"city-bank"}
    # idempotent
    assert packages.Exposure(view.id, "water-works") not in packages.on_new_exposure(
        platform.db, "water-works"
    )
    with platform.db.transaction() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(models.PackageRecipientRow)
            .where(models.PackageRecipientRow.package_id == view.id)
        )
    assert rows == 2


def test_renderings_need_a_published_revision(platform: Platform) -> None:
    view = packages.create_draft(platform.db, Content.from_dict(content()), "bunseki")
    with pytest.raises(InvalidInput):
        packages.csaf_document(packages.get(platform.db, view.id, latest=False))
    with pytest.raises(InvalidInput):
        packages.stix_objects(packages.get(platform.db, view.id, latest=False))
