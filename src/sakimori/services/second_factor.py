"""The second factor: TOTP enrolment and checking, recovery codes, and resets.

An administrator (``access.SECOND_FACTOR_ROLES``: coordinator admin, member admin) gets no
session without a second factor; anyone else may enrol and, once enrolled, always gives a code
at sign-in. The web interface's sign-in (``sakimori.web.second_factor``) asks
:func:`sign_in_step` what comes after the password:

- ``SESSION``: nothing (a user without a second factor who does not need one);
- ``CODE``: a code from the authenticator app, or a recovery code (:func:`check`);
- ``ENROL``: an administrator who has none yet enrols first (:func:`begin_enrolment`, then
  :func:`confirm_enrolment` with the first code), and gets the recovery codes, shown once.

The TOTP secret is sealed at rest with a key derived from the server key
(``sakimori.totp.SecretBox``); a code is accepted once (the step of the last accepted code is
kept and only later steps are accepted, with a conditional ``UPDATE`` so two requests racing
with one code cannot both win). Recovery codes are stored as keyed hashes and are single-use
(also a conditional ``UPDATE``). Confirming an enrolment, using a recovery code, making new
recovery codes and resetting are written to the audit log; the secret never is, and is shown
only while the enrolment waits for its first code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from sakimori import totp
from sakimori.errors import Conflict, NotFound, PermissionDenied
from sakimori.services import audit
from sakimori.services.access import SECOND_FACTOR_ROLES, Action, Principal, Role, require
from sakimori.services.identity import SESSION_SCOPE, TokenKey, changed_on_commit
from sakimori.store import models
from sakimori.store.db import Database, aware

log = logging.getLogger(__name__)

#: Who the audit log names when the server's operator resets from the command line.
OPERATOR: Final = "sakimori-cli"


class Step(StrEnum):
    """What the sign-in asks for after the password."""

    SESSION = "session"
    CODE = "code"
    ENROL = "enrol"


@dataclass(frozen=True, slots=True)
class Status:
    user: str
    role: str
    #: The role cannot sign in without a second factor.
    required: bool
    enrolled: bool
    confirmed_at: datetime | None
    recovery_codes_left: int


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new secret waiting for its first code: shown to the user now, and never again."""

    secret: str
    uri: str
    qr_svg: str


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _box(key: TokenKey) -> totp.SecretBox:
    return totp.SecretBox.from_server_key(key.secret)


def _secret(key: TokenKey, row: models.UserTotp, user: str) -> str | None:
    """The row's secret; ``None`` (logged) if it does not open: the key file was replaced."""
    try:
        return _box(key).open(row.secret, row.user_id)
    except totp.SealError:
        log.error(
            "the TOTP secret of user %s does not open with the server key (was the key file "
            "replaced?); reset it with `sakimori user totp reset %s`",
            user,
            user,
        )
        return None


def _hasher(key: TokenKey) -> totp.RecoveryHasher:
    return totp.RecoveryHasher.from_server_key(key.secret)


def _user(session: Session, name: str) -> tuple[models.User, Role]:
    found = session.execute(
        select(models.User, models.Membership.role)
        .join(models.Membership, models.Membership.user_id == models.User.id)
        .where(models.User.name == name.strip().lower())
    ).first()
    if found is None:
        raise NotFound(f"no user {name!r}", hint="see `sakimori user list`")
    return found[0], Role(found[1])


def _confirmed(session: Session, user_id: int) -> models.UserTotp | None:
    row = session.get(models.UserTotp, user_id)
    return row if row is not None and row.confirmed_at is not None else None


def _entry(
    user: models.User, role: Role, action: str, detail: dict[str, object] | None = None
) -> audit.Entry:
    """An entry for what a user did to their own second factor (no principal yet at sign-in)."""
    return audit.Entry(
        actor=user.name,
        action=action,
        actor_id=user.id,
        role=role.value,
        object_kind="user",
        object_id=user.name,
        detail=dict(detail or {}),
    )


def _store_recovery_codes(
    session: Session, key: TokenKey, user_id: int, now: datetime
) -> list[str]:
    session.execute(delete(models.RecoveryCode).where(models.RecoveryCode.user_id == user_id))
    codes = totp.new_recovery_codes()
    hasher = _hasher(key)
    for code in codes:
        session.add(
            models.RecoveryCode(user_id=user_id, code_hash=hasher.digest(code), created_at=now)
        )
    return codes


# -- reading ---------------------------------------------------------------------------------------


def required(role: Role | str) -> bool:
    """Whether the role cannot sign in without a second factor."""
    return role in SECOND_FACTOR_ROLES


def status(db: Database, user: str) -> Status:
    with db.transaction() as session:
        found, role = _user(session, user)
        row = _confirmed(session, found.id)
        left = session.scalar(
            select(func.count())
            .select_from(models.RecoveryCode)
            .where(models.RecoveryCode.user_id == found.id, models.RecoveryCode.used_at.is_(None))
        )
        return Status(
            user=found.name,
            role=role.value,
            required=required(role),
            enrolled=row is not None,
            confirmed_at=None if row is None else aware(row.confirmed_at),
            recovery_codes_left=int(left or 0) if row is not None else 0,
        )


def sign_in_step(db: Database, user: str) -> Step:
    """What a user whose password was right must do before they get a session."""
    found = status(db, user)
    if found.enrolled:
        return Step.CODE
    return Step.ENROL if found.required else Step.SESSION


# -- enrolment -------------------------------------------------------------------------------------


def begin_enrolment(
    db: Database, key: TokenKey, user: str, now: datetime | None = None
) -> Enrolment:
    """A new secret for a user who has no confirmed second factor; replaces an unconfirmed one.

    Nothing changes at sign-in until :func:`confirm_enrolment` gets a code of this secret."""
    now = _now(now)
    secret = totp.new_secret()
    with db.transaction() as session:
        found, _ = _user(session, user)
        if not found.active:
            raise Conflict(f"user {found.name!r} is deactivated")
        row = session.get(models.UserTotp, found.id)
        if row is not None and row.confirmed_at is not None:
            raise Conflict(
                f"user {found.name!r} has a second factor already",
                hint="a coordinator admin can reset it (`sakimori user totp reset`)",
            )
        sealed = _box(key).seal(secret, found.id)
        if row is None:
            session.add(models.UserTotp(user_id=found.id, secret=sealed, created_at=now))
        else:
            row.secret, row.created_at, row.last_step = sealed, now, None
        uri = totp.provisioning_uri(secret, found.name)
    return Enrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))


def confirm_enrolment(
    db: Database, key: TokenKey, user: str, code: str, now: datetime | None = None
) -> list[str] | None:
    """Confirm the enrolment begun last with a code of its secret: the second factor takes
    effect, and the new recovery codes are returned (to show once). ``None`` if the code is
    wrong (and nothing changes)."""
    now = _now(now)
    with db.transaction() as session:
        found, role = _user(session, user)
        row = session.get(models.UserTotp, found.id)
        if row is None or row.confirmed_at is not None:
            raise Conflict(
                f"user {found.name!r} has no enrolment waiting for its first code",
                hint="start the enrolment again",
            )
        secret = _secret(key, row, found.name)
        step = None if secret is None else totp.matching_step(secret, code, now, row.last_step)
        if step is None:
            return None
        row.confirmed_at, row.last_step = now, step
        codes = _store_recovery_codes(session, key, found.id, now)
        audit.append(session, _entry(found, role, "second_factor.enrol"), now)
        return codes


# -- checking --------------------------------------------------------------------------------------


def verify_code(
    db: Database, key: TokenKey, user: str, code: str, now: datetime | None = None
) -> bool:
    """A TOTP code of the user's confirmed secret, for a step later than the last accepted."""
    now = _now(now)
    with db.transaction() as session:
        found, _ = _user(session, user)
        row = _confirmed(session, found.id)
        if row is None or not found.active:
            return False
        secret = _secret(key, row, found.name)
        step = None if secret is None else totp.matching_step(secret, code, now, row.last_step)
        if step is None:
            return False
        # Only if no other request took this step (or a later one) meanwhile.
        result = session.execute(
            update(models.UserTotp)
            .where(
                models.UserTotp.user_id == found.id,
                (models.UserTotp.last_step.is_(None)) | (models.UserTotp.last_step < step),
            )
            .values(last_step=step)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1


def use_recovery_code(
    db: Database, key: TokenKey, user: str, code: str, now: datetime | None = None
) -> bool:
    """One of the user's unused recovery codes: it is used up now (and the use audited)."""
    now = _now(now)
    digest = _hasher(key).digest(code)
    with db.transaction() as session:
        found, role = _user(session, user)
        if _confirmed(session, found.id) is None or not found.active:
            return False
        result = session.execute(
            update(models.RecoveryCode)
            .where(
                models.RecoveryCode.user_id == found.id,
                models.RecoveryCode.code_hash == digest,
                models.RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return False
        left = session.scalar(
            select(func.count())
            .select_from(models.RecoveryCode)
            .where(models.RecoveryCode.user_id == found.id, models.RecoveryCode.used_at.is_(None))
        )
        entry = _entry(found, role, "second_factor.recovery_code_used", {"left": int(left or 0)})
        audit.append(session, entry, now)
        return True


def check(
    db: Database, key: TokenKey, user: str, code: str, now: datetime | None = None
) -> str | None:
    """The sign-in's second step: ``"totp"`` or ``"recovery code"`` for what was accepted,
    ``None`` if neither (six digits are a TOTP code; anything else a recovery code)."""
    if not code.strip() or len(code) > 100:
        return None
    if totp.looks_like_totp(code):
        return "totp" if verify_code(db, key, user, code, now) else None
    return "recovery code" if use_recovery_code(db, key, user, code, now) else None


def new_recovery_codes(
    db: Database, key: TokenKey, principal: Principal, now: datetime | None = None
) -> list[str]:
    """Replace the principal's recovery codes (from a session that passed the second factor)."""
    now = _now(now)
    if not principal.second_factor:
        raise PermissionDenied(
            "new recovery codes are made from a session that passed the second factor",
            hint="sign out and sign in again with a code",
        )
    with db.transaction() as session:
        found, _ = _user(session, principal.name)
        if _confirmed(session, found.id) is None:
            raise Conflict(f"user {found.name!r} has no second factor")
        codes = _store_recovery_codes(session, key, found.id, now)
        entry = audit.entry_for(principal, "second_factor.recovery_codes", "user", found.name)
        audit.append(session, entry, now)
        return codes


# -- reset (a coordinator admin, or the server's operator) -----------------------------------------


def _reset(session: Session, user: str, now: datetime) -> tuple[models.User, int]:
    found, _ = _user(session, user)
    if session.get(models.UserTotp, found.id) is None:
        raise Conflict(f"user {found.name!r} has no second factor to reset")
    session.execute(delete(models.RecoveryCode).where(models.RecoveryCode.user_id == found.id))
    session.execute(delete(models.UserTotp).where(models.UserTotp.user_id == found.id))
    revoked = 0
    sessions = session.scalars(
        select(models.ApiToken).where(
            models.ApiToken.user_id == found.id, models.ApiToken.revoked_at.is_(None)
        )
    ).all()
    for token in sessions:
        if SESSION_SCOPE in token.scopes:
            token.revoked_at = now
            revoked += 1
    changed_on_commit(session)
    return found, revoked


def reset(db: Database, principal: Principal, user: str, now: datetime | None = None) -> int:
    """Remove a user's second factor and recovery codes and end their browser sessions (they
    enrol again at their next sign-in if they need one). Returns the sessions ended."""
    require(principal, Action.SECOND_FACTOR_RESET)
    if user.strip().lower() == principal.name:
        raise Conflict(
            "you may not reset your own second factor",
            hint="ask another coordinator admin, or the server's operator "
            "(`sakimori user totp reset`)",
        )
    now = _now(now)
    with db.transaction() as session:
        found, revoked = _reset(session, user, now)
        detail = {"sessions_ended": revoked}
        entry = audit.entry_for(
            principal, Action.SECOND_FACTOR_RESET.value, "user", found.name, None, detail
        )
        audit.append(session, entry, now)
        return revoked


def reset_by_operator(db: Database, user: str, now: datetime | None = None) -> int:
    """:func:`reset` from the server's command line (whoever can read the database and the key
    file), recorded in the audit log as done by :data:`OPERATOR`."""
    now = _now(now)
    with db.transaction() as session:
        found, revoked = _reset(session, user, now)
        entry = audit.Entry(
            actor=OPERATOR,
            action=Action.SECOND_FACTOR_RESET.value,
            object_kind="user",
            object_id=found.name,
            source="cli",
            detail={"sessions_ended": revoked},
        )
        audit.append(session, entry, now)
        return revoked


def provision(
    db: Database, key: TokenKey, user: str, secret: str, now: datetime | None = None
) -> None:
    """Set a user's second factor to a given, already known secret, confirmed at once and
    without recovery codes. **For the demo world only** (``sakimori demo``, whose published
    secret is printed like its published password); people enrol through the sign-in."""
    now = _now(now)
    with db.transaction() as session:
        found, _ = _user(session, user)
        sealed = _box(key).seal(secret, found.id)
        row = session.get(models.UserTotp, found.id)
        if row is None:
            session.add(
                models.UserTotp(user_id=found.id, secret=sealed, created_at=now, confirmed_at=now)
            )
        else:
            row.secret, row.confirmed_at = sealed, row.confirmed_at or now
