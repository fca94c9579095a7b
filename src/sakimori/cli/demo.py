"""``sakimori demo``: a realistic demo world, built through the services, idempotently.

A national coordination office, a financial regulator, three banks and two insurers, a power
company, a telecom operator, a ministry and two vendors. Each operator and agency has assets
whose inventories are real SBOMs and lockfiles from the project's public data sets
(``../shared/data``: ``sbom/`` and ``lockfiles/``), chosen so that every one of them has real
findings against the loaded intelligence. Users with roles share one demo password, and one
counter-measure package — drafted by the analyst, approved by the coordinator's administrator —
covers a Django flaw all three banks run.

Administrators (coordinator and member admins) need a second factor to sign in: the demo gives
every one of them the same published TOTP key (:data:`DEMO_TOTP_SECRET`, printed with the
logins, like the password), so one entry in an authenticator app, or one command, gives the
codes for all of them.

Running it again changes nothing that exists (organisations, assets with an inventory, users,
the package); it resets the demo users' password and the administrators' TOTP key.
**Demo only**: never on a real instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from sakimori.cli.context import open_db, settings

if TYPE_CHECKING:
    from sakimori.config import Settings
    from sakimori.store.db import Database

#: The one password of every demo user. Printed by `make run`; for a demo on loopback only.
DEMO_PASSWORD: Final = "sakimori-demo-only"  # noqa: S105 - a published demo password
#: The TOTP key of every demo administrator (base32, 160 bits): published, like the password.
DEMO_TOTP_SECRET: Final = "SAKIMORIDEMOONLYSAKIMORIDEMOONLY"  # noqa: S105 - published, demo only

_OSV = "lockfiles/osv-scanner-5058d47/pkg/lockfile/fixtures"
_SCAN = "lockfiles/osv-scanner-add393a/cmd/osv-scanner"


@dataclass(frozen=True, slots=True)
class DemoAsset:
    slug: str
    name: str
    criticality: str
    internet_facing: bool
    environment: str
    #: Below the data directory (../shared/data).
    inventory: str


@dataclass(frozen=True, slots=True)
class DemoUser:
    name: str
    role: str
    display_name: str


@dataclass(frozen=True, slots=True)
class DemoOrganisation:
    slug: str
    name: str
    kind: str
    sectors: tuple[str, ...] = ()
    assets: tuple[DemoAsset, ...] = ()
    users: tuple[DemoUser, ...] = ()


def _asset(
    slug: str, name: str, criticality: str, inventory: str, *, internet: bool = True
) -> DemoAsset:
    return DemoAsset(slug, name, criticality, internet, "production", inventory)


COORDINATOR: Final = "coordination"
BANKS: Final = ("sakura-bank", "minato-bank", "hokuriku-bank")

WORLD: Final[tuple[DemoOrganisation, ...]] = (
    DemoOrganisation(
        COORDINATOR,
        "National Cyber Coordination Office",
        "coordinator",
        users=(
            DemoUser("kanri", "coordinator_admin", "Kanri Haruka (administrator)"),
            DemoUser("bunseki", "analyst", "Bunseki Ren (analyst)"),
        ),
    ),
    DemoOrganisation(
        "fsa",
        "Financial Supervisory Agency",
        "agency",
        ("finance",),
        assets=(
            _asset(
                "supervisory-portal",
                "Supervisory reporting portal",
                "high",
                f"{_OSV}/bundler/rails.lock",
            ),
        ),
        users=(DemoUser("fsa-admin", "member_admin", "FSA security office"),),
    ),
    DemoOrganisation(
        "sakura-bank",
        "Sakura Bank",
        "operator",
        ("finance",),
        assets=(
            _asset(
                "online-banking",
                "Online banking",
                "critical",
                f"{_SCAN}/scan/source/testdata/locks-requirements/requirements.prod.txt",
            ),
            _asset(
                "mobile-backend",
                "Mobile app back end",
                "high",
                "sbom/cyclonedx/juice-shop/v11.1.2/bom.json",
            ),
        ),
        users=(
            DemoUser("sakura-admin", "member_admin", "Sakura Bank CSIRT lead"),
            DemoUser("sakura-user", "member_user", "Sakura Bank engineer"),
        ),
    ),
    DemoOrganisation(
        "minato-bank",
        "Minato Bank",
        "operator",
        ("finance",),
        assets=(
            _asset(
                "internet-banking",
                "Internet banking",
                "critical",
                f"{_OSV}/pip/multiple-packages-constrained.txt",
            ),
            _asset(
                "payments-gateway",
                "Payments gateway",
                "critical",
                "sbom/cyclonedx/dropwizard-1.3.15/bom.json",
                internet=False,
            ),
        ),
        users=(DemoUser("minato-admin", "member_admin", "Minato Bank CSIRT lead"),),
    ),
    DemoOrganisation(
        "hokuriku-bank",
        "Hokuriku Regional Bank",
        "operator",
        ("finance",),
        assets=(
            _asset(
                "branch-portal",
                "Branch staff portal",
                "high",
                f"{_OSV}/pip/one-package-constrained.txt",
            ),
            _asset(
                "loan-origination",
                "Loan origination",
                "medium",
                f"{_SCAN}/scan/image/testdata/python-fixture/requirements.txt",
                internet=False,
            ),
            _asset(
                "core-gateway",
                "Core banking gateway",
                "critical",
                f"{_SCAN}/scan/source/testdata/call-analysis-go-project/go.mod",
                internet=False,
            ),
        ),
        users=(DemoUser("hokuriku-admin", "member_admin", "Hokuriku Bank IT security"),),
    ),
    DemoOrganisation(
        "tokai-insurance",
        "Tokai Fire & Marine Insurance",
        "operator",
        ("finance",),
        assets=(
            _asset(
                "claims-portal",
                "Claims portal",
                "high",
                f"{_SCAN}/fix/testdata/in-place-npm/package-lock.json",
            ),
            _asset(
                "agent-workbench",
                "Agent workbench",
                "medium",
                "sbom/cyclonedx/cern-lhc-vdm-editor-e564943/bom.json",
            ),
        ),
        users=(DemoUser("tokai-admin", "member_admin", "Tokai Insurance security"),),
    ),
    DemoOrganisation(
        "hikari-life",
        "Hikari Life Insurance",
        "operator",
        ("finance",),
        assets=(
            _asset(
                "policy-admin",
                "Policy administration",
                "high",
                f"{_SCAN}/fix/testdata/override-maven/pom.xml",
                internet=False,
            ),
            _asset(
                "customer-portal",
                "Customer portal",
                "high",
                "sbom/spdx/spdx-examples/software/example11/spdx2.3/sbom.spdx.json",
            ),
        ),
        users=(DemoUser("hikari-admin", "member_admin", "Hikari Life IT risk"),),
    ),
    DemoOrganisation(
        "kanto-power",
        "Kanto Electric Power",
        "operator",
        ("electric_power",),
        assets=(
            _asset(
                "grid-telemetry",
                "Grid telemetry bridge",
                "critical",
                "sbom/cyclonedx/proton-bridge/proton-bridge-v1.8.0.bom.json",
                internet=False,
            ),
            _asset(
                "metering-service",
                "Smart-meter service",
                "high",
                f"{_SCAN}/scan/source/testdata/exp-plugins-pkgdeprecate/deprecated-vuln/Cargo.lock",
            ),
            _asset(
                "remote-access", "Remote access for field engineers", "critical", "products:kanto"
            ),
        ),
        users=(DemoUser("kanto-admin", "member_admin", "Kanto Electric OT security"),),
    ),
    DemoOrganisation(
        "nihon-telecom",
        "Nihon Telecom",
        "operator",
        ("information_communications",),
        assets=(
            _asset(
                "subscriber-portal",
                "Subscriber portal",
                "high",
                "sbom/cyclonedx/juice-shop/via_npm/flat/bom.1.4.json",
            ),
            _asset(
                "network-automation",
                "Network automation",
                "critical",
                f"{_OSV}/pip/non-normalized-names.txt",
                internet=False,
            ),
            _asset("edge-network", "Edge network and data centre", "critical", "products:nihon"),
        ),
        users=(DemoUser("nihon-admin", "member_admin", "Nihon Telecom SOC"),),
    ),
    DemoOrganisation(
        "digital-ministry",
        "Ministry of Digital Affairs",
        "agency",
        ("government",),
        assets=(
            _asset(
                "e-gov-portal",
                "e-Government portal",
                "critical",
                f"{_OSV}/pip/file-format-example.txt",
            ),
            _asset(
                "records-system",
                "Records management",
                "medium",
                f"{_OSV}/go/indirect-packages.mod",
                internet=False,
            ),
        ),
        users=(DemoUser("ministry-admin", "member_admin", "Ministry CSIRT"),),
    ),
    DemoOrganisation(
        "kumo-software",
        "Kumo Software",
        "vendor",
        users=(DemoUser("kumo-psirt", "vendor", "Kumo Software PSIRT"),),
    ),
    DemoOrganisation(
        "tsubasa-systems",
        "Tsubasa Systems",
        "vendor",
        users=(DemoUser("tsubasa-psirt", "vendor", "Tsubasa Systems PSIRT"),),
    ),
)

#: The published package: a Django SQL-injection flaw every demo bank's inventories hold.
PACKAGE_TITLE: Final = "Django SQL injection in QuerySet.annotate(), aggregate() and extra()"
PACKAGE_VULNERABILITY: Final = "CVE-2022-28346"
PACKAGE_DRAFTED_BY: Final = "bunseki"
PACKAGE_APPROVED_BY: Final = "kanri"


@dataclass
class DemoReport:
    organisations: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    users: list[tuple[str, str, str]] = field(default_factory=list)  # name, org, role
    #: The users given the demo TOTP key (administrators: they need a second factor).
    second_factor: list[str] = field(default_factory=list)
    package_id: int | None = None


def package_content() -> dict[str, object]:
    return {
        "title": PACKAGE_TITLE,
        "summary": (
            "Django 2.2 before 2.2.28, 3.2 before 3.2.13 and 4.0 before 4.0.4 let crafted "
            "dictionary keys passed to QuerySet.annotate(), aggregate() or extra() inject SQL "
            "(CVSS 9.8). The fix diff is public, which makes an n-day exploit cheap for an "
            "AI-assisted attacker; the banks' online services run Django 2.2.24."
        ),
        "tlp": "AMBER",
        "audience": {"sectors": ["finance"], "affected": True},
        "vulnerabilities": [PACKAGE_VULNERABILITY],
        "products": [{"purl": "pkg:pypi/django@2.2.24"}],
        "guidance": (
            "1. Upgrade Django to 2.2.28, 3.2.13 or 4.0.4 or later.\n"
            "2. Until then, never expand user-controlled dictionaries into `annotate()`, "
            "`aggregate()` or `extra()` (`**kwargs`); allow-list the names.\n"
            "3. Watch web logs for SQL in query parameters (`sakimori watch`)."
        ),
        "mitigations": [
            {"category": "vendor_fix", "details": "Upgrade Django to 2.2.28 or later."},
            {
                "category": "workaround",
                "details": "Allow-list the keys of dictionaries expanded into QuerySet calls.",
            },
        ],
        "deadlines": [
            {
                "due": (date.today() + timedelta(days=3)).isoformat(),
                "vulnerability": PACKAGE_VULNERABILITY,
            }
        ],
        # The banks acknowledge within two days and report whether they were attacked: an
        # early warning, then the notification (their clocks count down on the package page).
        "acknowledge_within_hours": 48,
        "reports": ["early_warning", "notification"],
        "references": [
            {
                "url": "https://www.djangoproject.com/weblog/2022/apr/11/security-releases/",
                "summary": "Django security releases",
            }
        ],
    }


#: Appliances and platforms (product lists, format products-csv) at versions that NVD's records
#: in ../shared/data/nvd give as vulnerable to KEV-listed flaws; written into the demo's home.
_PRODUCT_LISTS: Final = {
    "kanto": (
        "name,cpe\n"
        "SSL-VPN gateway,cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*\n"
        "Engineering VPN,cpe:2.3:a:ivanti:connect_secure:22.7:r2.3:*:*:*:*:*:*\n"
        "Substation router firmware,cpe:2.3:o:cisco:rv320_firmware:1.4.2.15:*:*:*:*:*:*:*\n"
        "Substation router,cpe:2.3:h:cisco:rv320:-:*:*:*:*:*:*:*\n"
    ),
    "nihon": (
        "name,cpe\n"
        "Data centre firewall,cpe:2.3:o:paloaltonetworks:pan-os:10.2.3:h1:*:*:*:*:*:*\n"
        "Load balancer,cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-49.13"
        ":*:*:*:-:*:*:*\n"
        "Core switch,cpe:2.3:o:cisco:ios_xe:17.9.3:*:*:*:*:*:*:*\n"
        "Virtualisation management,cpe:2.3:a:vmware:vcenter_server:8.0:update1c:*:*:*:*:*:*\n"
    ),
}


def _inventory_path(inventory: str, data: Path, home: Path) -> Path:
    """A data set file below ``data``, or (``products:NAME``) a product list written to home."""
    if not inventory.startswith("products:"):
        return data / inventory
    name = inventory.removeprefix("products:")
    path = home / "demo" / f"{name}-products.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PRODUCT_LISTS[name], encoding="utf-8")
    return path


def build_world(db: Database, config: Settings, data: Path) -> DemoReport:
    """Create whatever of the demo world is missing; uploads read ``data`` (../shared/data)."""
    from sakimori.packages.model import Content
    from sakimori.services import identity, organisations, second_factor, tracking
    from sakimori.services import packages as package_service
    from sakimori.services.assessment import policy_set

    report = DemoReport()
    policies = policy_set(config.policy)
    existing = {o.slug for o in organisations.list_organisations(db)}
    users = {u.name for u in identity.list_users(db)}
    key = identity.TokenKey.load(config.token_key_path)  # seals the administrators' TOTP key
    for org in WORLD:
        if org.slug not in existing:
            organisations.create_organisation(db, org.slug, org.name, org.kind, org.sectors)
        report.organisations.append(org.slug)
        assets = {a.slug: a for a in organisations.list_assets(db, org.slug)}
        for spec in org.assets:
            ref = f"{org.slug}/{spec.slug}"
            if spec.slug not in assets:
                organisations.create_asset(
                    db, ref, spec.name, spec.criticality, spec.internet_facing, spec.environment
                )
            elif assets[spec.slug].inventory_version is not None:
                continue
            path = _inventory_path(spec.inventory, data, config.home)
            if not path.is_file():
                report.missing.append(str(path))
                continue
            tracking.upload_inventory(db, ref, path, "demo", config.limits, policies=policies)
            report.uploads.append(ref)
        for user in org.users:
            if user.name in users:
                identity.set_password(db, user.name, DEMO_PASSWORD)
            else:
                identity.create_user(
                    db,
                    user.name,
                    organisation=org.slug,
                    role=user.role,
                    display_name=user.display_name,
                    password=DEMO_PASSWORD,
                )
            report.users.append((user.name, org.slug, user.role))
            if second_factor.required(user.role):
                second_factor.provision(db, key, user.name, DEMO_TOTP_SECRET)
                report.second_factor.append(user.name)
    found = [p for p in package_service.list_all(db) if p.content.title == PACKAGE_TITLE]
    if found:
        report.package_id = found[0].id
    else:
        view = package_service.create_draft(
            db, Content.from_dict(package_content()), PACKAGE_DRAFTED_BY
        )
        package_service.submit(db, view.id, PACKAGE_DRAFTED_BY)
        package_service.approve(db, view.id, PACKAGE_APPROVED_BY)
        report.package_id = view.id
    return report


def default_data() -> Path:
    """``../shared/data`` beside the checkout (or ``$SAKIMORI_TEST_DATA``)."""
    import os

    here = Path(__file__).resolve()
    checkout = here.parents[3]
    return Path(os.environ.get("SAKIMORI_TEST_DATA", checkout.parent / "shared" / "data"))


def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            help="The public data sets (default: ../shared/data beside the checkout).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Build (or complete) the demo world: organisations, assets with real inventories, users
    with the demo password, a published package. Demo only: never on a real instance."""
    config = settings()
    db = open_db(config, require_intel=True)
    try:
        report = build_world(db, config, data or default_data())
    finally:
        db.dispose()
    typer.echo(
        f"demo world: {len(report.organisations)} organisations, "
        f"{len(report.uploads)} inventories uploaded now, package {report.package_id}"
    )
    for path in report.missing:
        typer.echo(f"  missing (asset left without an inventory): {path}", err=True)
    typer.echo(f"\ndemo logins — DEMO ONLY, every user's password is {DEMO_PASSWORD!r}:")
    for name, organisation, role in report.users:
        code = "  + TOTP code" if name in report.second_factor else ""
        typer.echo(f"  {name:<16} {role:<18} {organisation}{code}")
    if report.second_factor:
        import shlex
        import sys

        from sakimori.totp import provisioning_uri

        python = shlex.quote(sys.executable)
        typer.echo(
            f"\n+ administrators also give a code (second factor). DEMO ONLY, their TOTP key is "
            f"{DEMO_TOTP_SECRET}: add it to an authenticator app\n  "
            f"({provisioning_uri(DEMO_TOTP_SECRET, 'demo-admins')}), or print the current code "
            f"with\n  {python} -c \"import pyotp; print(pyotp.TOTP('{DEMO_TOTP_SECRET}').now())\""
        )
