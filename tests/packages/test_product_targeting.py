"""Packages about appliances reach the organisations that run them: exposure by CPE and by
vendor/product, on publication and when a product list is uploaded later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sakimori.formats.limits import Limits
from sakimori.services import packages
from sakimori.services.organisations import create_asset
from sakimori.services.tracking import upload_inventory
from tests.packages.conftest import Platform, build_platform, content

FORTIOS = "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"
PAN_OS = "cpe:2.3:o:paloaltonetworks:pan-os:10.2.3:*:*:*:*:*:*:*"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with build_platform(request.param, tmp_path) as built:
        create_asset(built.db, "water-works/vpn", "Remote access", "high")
        create_asset(built.db, "city-bank/edge", "Edge", "high")
        products(built, tmp_path, "water-works/vpn", FORTIOS)
        products(built, tmp_path, "city-bank/edge", PAN_OS)
        yield built


def products(platform: Platform, tmp_path: Path, asset: str, *cpes: str) -> None:
    path = tmp_path / f"{asset.replace('/', '-')}.csv"
    path.write_text("cpe\n" + "".join(f"{c}\n" for c in cpes))
    upload_inventory(platform.db, asset, path, "ops", Limits())


def publish(platform: Platform, **changes: Any) -> int:
    view = packages.create_draft(platform.db, content_of(**changes), "bunseki")
    packages.submit(platform.db, view.id, "bunseki")
    packages.approve(platform.db, view.id, "kanri")
    return view.id


def content_of(**changes: Any) -> Any:
    from sakimori.packages.model import Content

    return Content.from_dict(content(vulnerabilities=["CVE-2024-21762"], deadlines=[], **changes))


def reached(platform: Platform, package_id: int) -> dict[str, str]:
    return {
        r.organisation: r.reason for r in packages.recipients(platform.db, package_id) if r.active
    }


@pytest.mark.parametrize(
    "product",
    [
        {"cpe": "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*"},
        {"cpe": FORTIOS},
        {"vendor": "Fortinet", "product": "FortiOS"},
        {"vendor": "Fortinet", "product": "FortiOS", "version": "7.0.1"},
    ],
)
def test_an_appliance_package_reaches_who_runs_it(
    platform: Platform, product: dict[str, str]
) -> None:
    package_id = publish(platform, products=[product])
    assert reached(platform, package_id) == {"water-works": "exposure"}


@pytest.mark.parametrize(
    "product",
    [
        {"cpe": "cpe:2.3:o:fortinet:fortios:7.0.2:*:*:*:*:*:*:*"},  # another version
        {"cpe": "cpe:2.3:a:fortinet:fortios:*:*:*:*:*:*:*:*"},  # another part
        {"vendor": "Fortinet", "product": "FortiOS", "version": "7.6.3"},
        {"vendor": "Fortinet", "product": "FortiGate"},
    ],
)
def test_nobody_else(platform: Platform, product: dict[str, str]) -> None:
    package_id = publish(platform, products=[product])
    assert reached(platform, package_id) == {}


def test_an_appliance_uploaded_later_joins_the_package(platform: Platform, tmp_path: Path) -> None:
    package_id = publish(
        platform, products=[{"cpe": "cpe:2.3:o:paloaltonetworks:pan-os:*:*:*:*:*:*:*:*"}]
    )
    assert reached(platform, package_id) == {"city-bank": "exposure"}
    create_asset(platform.db, "river-power/firewall", "Firewall", "high")
    products(platform, tmp_path, "river-power/firewall", PAN_OS)
    assert reached(platform, package_id) == {"city-bank": "exposure", "river-power": "exposure"}
