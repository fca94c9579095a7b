"""The second factor's service on SQLite and PostgreSQL: enrolment, codes, replay, recovery
codes, resets (audited), admin sessions and tokens; the clock is passed in, never slept on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from sakimori import totp
from sakimori.errors import Conflict, PermissionDenied
from sakimori.services import audit, identity
from sakimori.services import second_factor as service
from sakimori.services.access import Principal, Role
from sakimori.services.organisations import create_organisation
from sakimori.store import models
from sakimori.store.db import Database, open_database

PASSWORD = "correct horse battery staple"
#: A moment well inside a 30-second step (steps start at multiples of 30 s since 1970).
T0 = datetime(2026, 11, 30, 6, 0, 10, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    create_organisation(database, "coordination", "National Coordination Office", "coordinator")
    create_organisation(database, "city-bank", "City Bank", "operator", ["finance"])
    for name, org, role in (
        ("kanri", "coordination", "coordinator_admin"),
        ("kanri-2", "coordination", "coordinator_admin"),
        ("bank-admin", "city-bank", "member_admin"),
        ("bank-user", "city-bank", "member_user"),
    ):
        identity.create_user(database, name, organisation=org, role=role, password=PASSWORD)
    yield database
    database.dispose()


@pytest.fixture
def key(tmp_path: Path) -> identity.TokenKey:
    return identity.TokenKey.load(tmp_path / "token.key")


def _code(secret: str, moment: datetime, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(moment, counter_offset=steps)


def _wrong(secret: str, moment: datetime) -> str:
    """Six digits that are no code of ``secret`` within the window around ``moment``."""
    valid = {_code(secret, moment, steps) for steps in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _enrolled(db: Database, key: identity.TokenKey, user: str) -> tuple[str, list[str]]:
    """Enrol ``user`` at T0; returns the secret and the recovery codes."""
    enrolment = service.begin_enrolment(db, key, user, now=T0)
    codes = service.confirm_enrolment(db, key, user, _code(enrolment.secret, T0), now=T0)
    assert codes is not None
    return enrolment.secret, codes


def _principal(db: Database, key: identity.TokenKey, user: str, *, second: bool) -> Principal:
    if second:
        _, token = identity.create_session(db, key, user, second_factor=True)
    else:
        _, token = identity.create_token(db, key, user, "t", ["read", "write"])
    return identity.authenticate(db, key, token, browser=second)


def test_enrolment_takes_effect_only_with_a_right_code(
    db: Database, key: identity.TokenKey
) -> None:
    assert service.sign_in_step(db, "bank-admin") is service.Step.ENROL
    assert service.sign_in_step(db, "bank-user") is service.Step.SESSION
    enrolment = service.begin_enrolment(db, key, "bank-admin", now=T0)
    assert enrolment.uri.startswith("otpauth://totp/Sakimori:bank-admin?secret=")
    assert enrolment.secret in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg")
    assert "<script" not in enrolment.qr_svg
    wrong = _wrong(enrolment.secret, T0)
    assert service.confirm_enrolment(db, key, "bank-admin", wrong, now=T0) is None
    assert service.sign_in_step(db, "bank-admin") is service.Step.ENROL  # nothing changed
    codes = service.confirm_enrolment(db, key, "bank-admin", _code(enrolment.secret, T0), now=T0)
    assert codes is not None
    assert len(codes) == totp.RECOVERY_CODE_COUNT == len(set(codes))
    assert service.sign_in_step(db, "bank-admin") is service.Step.CODE
    found = service.status(db, "bank-admin")
    assert (found.enrolled, found.required, found.recovery_codes_left) == (True, True, 10)
    with pytest.raises(Conflict):  # a confirmed factor is replaced only by a reset
        service.begin_enrolment(db, key, "bank-admin", now=T0)


def test_the_secret_is_stored_sealed_bound_to_its_user(
    db: Database, key: identity.TokenKey
) -> None:
    secret, codes = _enrolled(db, key, "kanri")
    other, _ = _enrolled(db, key, "kanri-2")
    with db.transaction() as session:
        rows = {r.user_id: r for r in session.scalars(select(models.UserTotp))}
        stored = [r.secret for r in rows.values()]
        hashes = list(session.scalars(select(models.RecoveryCode.code_hash)))
        ids = dict(session.execute(select(models.User.name, models.User.id)).all())
    assert all(secret not in s and other not in s for s in stored)
    assert not any(c in h or totp.normalise_recovery_code(c) in h for c in codes for h in hashes)
    box = totp.SecretBox.from_server_key(key.secret)
    assert box.open(rows[ids["kanri"]].secret, ids["kanri"]) == secret
    # Copied onto another user's row, it does not open (the user id is bound in).
    with pytest.raises(totp.SealError):
        box.open(rows[ids["kanri"]].secret, ids["kanri-2"])
    # Another server key does not open it either, and the code is then simply refused.
    wrong_key = identity.TokenKey(bytes(32))
    assert not service.verify_code(db, wrong_key, "kanri", _code(secret, T0, 1), now=T0)


def test_right_code_accepted_wrong_expired_and_replayed_refused(
    db: Database, key: identity.TokenKey
) -> None:
    secret, _ = _enrolled(db, key, "kanri")  # used the code of T0's step
    later = T0 + timedelta(minutes=10)
    assert not service.verify_code(db, key, "kanri", _code(secret, T0), now=T0)  # replayed
    assert not service.verify_code(db, key, "kanri", "12345", now=later)  # not six digits
    assert not service.verify_code(db, key, "kanri", _code(secret, later, -2), now=later)  # old
    assert not service.verify_code(db, key, "kanri", _code(secret, later, 2), now=later)  # early
    assert service.verify_code(db, key, "kanri", _code(secret, later, -1), now=later)  # drift
    assert service.verify_code(db, key, "kanri", _code(secret, later), now=later)
    assert not service.verify_code(db, key, "kanri", _code(secret, later), now=later)  # replay
    # An older step is refused once a newer one was accepted.
    assert service.verify_code(db, key, "kanri", _code(secret, later, 1), now=later)
    assert not service.verify_code(db, key, "kanri", _code(secret, later), now=later)
    # The same code, typed with a space, is the same code.
    again = later + timedelta(minutes=1)
    typed = _code(secret, again)
    assert service.check(db, key, "kanri", f"{typed[:3]} {typed[3:]}", now=again) == "totp"
    # A code of someone else's secret is wrong.
    other, _ = _enrolled(db, key, "kanri-2")
    then = again + timedelta(minutes=5)
    assert not service.verify_code(db, key, "kanri", _code(other, then), now=then)


def test_a_code_that_was_right_is_refused_after_a_reset(
    db: Database, key: identity.TokenKey
) -> None:
    secret, _ = _enrolled(db, key, "bank-admin")
    admin = _principal(db, key, "kanri", second=False)  # an API token with the write scope
    service.reset(db, admin, "bank-admin", now=T0)
    later = T0 + timedelta(minutes=1)
    assert not service.verify_code(db, key, "bank-admin", _code(secret, later), now=later)
    assert service.sign_in_step(db, "bank-admin") is service.Step.ENROL


def test_recovery_codes_work_once_each(db: Database, key: identity.TokenKey) -> None:
    _, codes = _enrolled(db, key, "bank-user")  # optional for a member user, and possible
    assert service.sign_in_step(db, "bank-user") is service.Step.CODE
    first = codes[0]
    assert service.check(db, key, "bank-user", first.upper(), now=T0) == "recovery code"
    assert service.check(db, key, "bank-user", first, now=T0) is None  # used up
    assert service.check(db, key, "bank-user", "aaaaa-aaaaa", now=T0) is None
    assert not service.use_recovery_code(db, key, "kanri", codes[1], now=T0)  # not kanri's
    assert service.status(db, "bank-user").recovery_codes_left == 9
    entries = [e for e in audit.page(db) if e["action"] == "second_factor.recovery_code_used"]
    assert [(e["actor"], e["detail"]) for e in entries] == [("bank-user", {"left": 9})]


def test_new_recovery_codes_replace_the_old_and_need_the_second_factor(
    db: Database, key: identity.TokenKey
) -> None:
    _, old = _enrolled(db, key, "bank-admin")
    with pytest.raises(PermissionDenied):
        service.new_recovery_codes(db, key, _principal(db, key, "bank-admin", second=False))
    fresh = service.new_recovery_codes(db, key, _principal(db, key, "bank-admin", second=True))
    assert set(fresh).isdisjoint(old)
    assert not service.use_recovery_code(db, key, "bank-admin", old[0])
    assert service.use_recovery_code(db, key, "bank-admin", fresh[0])


def test_a_reset_is_for_a_coordinator_admin_ends_sessions_and_is_audited(
    db: Database, key: identity.TokenKey
) -> None:
    _enrolled(db, key, "bank-admin")
    _, session_token = identity.create_session(db, key, "bank-admin", second_factor=True)
    member_admin = _principal(db, key, "bank-admin", second=True)
    with pytest.raises(PermissionDenied):
        service.reset(db, member_admin, "kanri")
    coordinator = _principal(db, key, "kanri-2", second=True)
    with pytest.raises(Conflict):
        service.reset(db, coordinator, "kanri-2")  # not one's own
    with pytest.raises(Conflict):
        service.reset(db, coordinator, "bank-user")  # nothing to reset
    ended = service.reset(db, coordinator, "bank-admin")
    assert ended == 2  # the two sessions made above
    with pytest.raises(identity.Unauthenticated):
        identity.authenticate(db, key, session_token, browser=True)
    assert not service.status(db, "bank-admin").enrolled
    with db.transaction() as session:
        assert session.scalars(select(models.RecoveryCode)).all() == []
    resets = [e for e in audit.page(db) if e["action"] == "second_factor.reset"]
    assert [(e["actor"], e["object_id"], e["detail"]) for e in resets] == [
        ("kanri-2", "bank-admin", {"sessions_ended": 2})
    ]
    _enrolled(db, key, "bank-admin")
    assert service.reset_by_operator(db, "bank-admin") == 0
    last = [e for e in audit.page(db) if e["action"] == "second_factor.reset"][-1]
    assert (last["actor"], last["source"]) == (service.OPERATOR, "cli")
    assert audit.verify(db).ok


def test_enrolment_is_audited_without_the_secret(
    db: Database, key: identity.TokenKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, codes = _enrolled(db, key, "kanri")
    service.check(db, key, "kanri", codes[0], now=T0)
    service.check(db, key, "kanri", _code(secret, T0, 1), now=T0)
    entries = audit.page(db)
    assert [e["action"] for e in entries if e["actor"] == "kanri"][:1] == ["second_factor.enrol"]
    text = repr(entries) + caplog.text
    assert secret not in text
    assert not any(c in text for c in codes)


def test_an_admin_gets_no_session_without_the_second_factor(
    db: Database, key: identity.TokenKey
) -> None:
    for admin in ("kanri", "bank-admin"):
        with pytest.raises(PermissionDenied):
            identity.create_session(db, key, admin)
    # A pending session (the second step) has no scope and is no session for the pages.
    _, pending = identity.create_pending_session(db, key, "kanri", now=T0)
    with pytest.raises(identity.Unauthenticated):
        identity.authenticate(db, key, pending, T0, browser=True)
    with pytest.raises(identity.Unauthenticated):
        identity.authenticate(db, key, pending, T0)  # nor an API token
    waiting = identity.authenticate(db, key, pending, T0, browser=True, pending=True)
    assert (waiting.scopes, waiting.second_factor) == (frozenset(), False)
    with pytest.raises(identity.Unauthenticated):  # five minutes, then gone
        identity.authenticate(
            db, key, pending, T0 + identity.PENDING_LIFETIME, browser=True, pending=True
        )
    # A full session is no pending one either.
    _, full = identity.create_session(db, key, "kanri", second_factor=True)
    with pytest.raises(identity.Unauthenticated):
        identity.authenticate(db, key, full, browser=True, pending=True)
    # A session row of an admin without the mark (made before this check) is refused.
    _, member = identity.create_session(db, key, "bank-user")
    with db.transaction() as session:
        row = session.get(models.ApiToken, member.split("_")[1])
        assert row is not None
        row.user_id = session.scalar(select(models.User.id).where(models.User.name == "kanri"))
    with pytest.raises(identity.Unauthenticated):
        identity.authenticate(db, key, member, browser=True)


@pytest.mark.parametrize("admin", ["kanri", "bank-admin"])
def test_an_admin_makes_api_tokens_only_from_a_second_factor_session(
    db: Database, key: identity.TokenKey, admin: str
) -> None:
    by_token = _principal(db, key, admin, second=False)
    with pytest.raises(PermissionDenied, match="second factor"):
        identity.create_own_token(db, key, by_token, "more", ["read"])
    by_session = _principal(db, key, admin, second=True)
    view, secret = identity.create_own_token(db, key, by_session, "ci", ["read"])
    assert secret.startswith("skm_")
    made = identity.authenticate(db, key, secret)
    assert made.role in {Role.COORDINATOR_ADMIN, Role.MEMBER_ADMIN}
    assert not made.second_factor  # an API token never counts as a second factor
    # A member user needs no second factor for either.
    user = _principal(db, key, "bank-user", second=False)
    assert identity.create_own_token(db, key, user, "ci", ["read"])[0].user == "bank-user"
    assert view.user == admin
