"""Organisations and their assets: create, list, resolve ``org/asset`` references."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sakimori.errors import Conflict, InvalidInput, NotFound
from sakimori.model.organisation import (
    CRITICALITIES,
    KINDS,
    check_choice,
    check_sector,
    check_slug,
)
from sakimori.store import models
from sakimori.store.db import Database


@dataclass(frozen=True, slots=True)
class OrganisationView:
    slug: str
    name: str
    kind: str
    sectors: tuple[str, ...]
    assets: int


@dataclass(frozen=True, slots=True)
class AssetView:
    organisation: str
    slug: str
    name: str
    criticality: str
    internet_facing: bool | None
    environment: str | None
    inventory_version: int | None

    @property
    def ref(self) -> str:
        return f"{self.organisation}/{self.slug}"


def create_organisation(
    db: Database, slug: str, name: str, kind: str, sectors: Sequence[str] = ()
) -> OrganisationView:
    slug = check_slug(slug, "organisation")
    kind = check_choice(kind, KINDS, "organisation kind")
    chosen = tuple(dict.fromkeys(check_sector(s) for s in sectors))
    with db.transaction() as session:
        if session.scalar(select(models.Organisation.id).where(models.Organisation.slug == slug)):
            raise Conflict(f"organisation {slug!r} exists already")
        session.add(
            models.Organisation(
                slug=slug,
                name=name.strip() or slug,
                kind=kind,
                sectors=list(chosen),
                created_at=datetime.now(UTC),
            )
        )
    return OrganisationView(slug, name.strip() or slug, kind, chosen, 0)


def list_organisations(db: Database) -> list[OrganisationView]:
    with db.transaction() as session:
        # Not dict(result): a Result has keys() (its columns), so dict() would misread it.
        counts: dict[int, int] = {  # noqa: C416
            org_id: count
            for org_id, count in session.execute(
                select(models.Asset.organisation_id, func.count()).group_by(
                    models.Asset.organisation_id
                )
            )
        }
        return [
            OrganisationView(o.slug, o.name, o.kind, tuple(o.sectors), counts.get(o.id, 0))
            for o in session.scalars(select(models.Organisation).order_by(models.Organisation.slug))
        ]


def organisation(session: Session, slug: str) -> models.Organisation:
    found = session.scalar(
        select(models.Organisation).where(models.Organisation.slug == slug.strip().lower())
    )
    if found is None:
        raise NotFound(f"no organisation {slug!r}", hint="see `sakimori org list`")
    return found


def split_ref(ref: str) -> tuple[str, str]:
    org, slash, asset = ref.strip().partition("/")
    if not slash or not org or not asset:
        raise InvalidInput(
            f"asset reference {ref!r} is not ORGANISATION/ASSET", hint="e.g. city-bank/web-portal"
        )
    return org.lower(), asset.lower()


def asset(session: Session, ref: str) -> models.Asset:
    org_slug, asset_slug = split_ref(ref)
    owner = organisation(session, org_slug)
    found = session.scalar(
        select(models.Asset).where(
            models.Asset.organisation_id == owner.id, models.Asset.slug == asset_slug
        )
    )
    if found is None:
        raise NotFound(f"no asset {ref!r}", hint=f"see `sakimori asset list {org_slug}`")
    return found


def create_asset(
    db: Database,
    ref: str,
    name: str,
    criticality: str = "medium",
    internet_facing: bool | None = None,
    environment: str | None = None,
) -> AssetView:
    org_slug, asset_slug = split_ref(ref)
    asset_slug = check_slug(asset_slug, "asset")
    level = check_choice(criticality, CRITICALITIES, "criticality")
    with db.transaction() as session:
        owner = organisation(session, org_slug)
        exists = session.scalar(
            select(models.Asset.id).where(
                models.Asset.organisation_id == owner.id, models.Asset.slug == asset_slug
            )
        )
        if exists:
            raise Conflict(f"asset {org_slug}/{asset_slug} exists already")
        session.add(
            models.Asset(
                organisation_id=owner.id,
                slug=asset_slug,
                name=name.strip() or asset_slug,
                criticality=level,
                internet_facing=internet_facing,
                environment=(environment or "").strip() or None,
                created_at=datetime.now(UTC),
            )
        )
    return AssetView(
        org_slug,
        asset_slug,
        name.strip() or asset_slug,
        level,
        internet_facing,
        environment,
        None,
    )


def list_assets(db: Database, org_slug: str | None = None) -> list[AssetView]:
    with db.transaction() as session:
        query = (
            select(models.Asset, models.Organisation.slug)
            .join(models.Organisation)
            .order_by(models.Organisation.slug, models.Asset.slug)
        )
        if org_slug:
            query = query.where(models.Organisation.id == organisation(session, org_slug).id)
        versions: dict[int, int] = {  # noqa: C416 - see list_organisations
            asset_id: version
            for asset_id, version in session.execute(
                select(models.Inventory.asset_id, func.max(models.Inventory.version)).group_by(
                    models.Inventory.asset_id
                )
            )
        }
        return [
            AssetView(
                org,
                a.slug,
                a.name,
                a.criticality,
                a.internet_facing,
                a.environment,
                versions.get(a.id),
            )
            for a, org in session.execute(query)
        ]
