"""``sakimori user totp status|reset`` through the real entry point: exit codes, the audit
entry, and no secret printed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sakimori import totp
from sakimori.config import Settings
from sakimori.services import audit, identity
from sakimori.services import second_factor as service
from sakimori.store.db import open_database
from tests.cli.conftest import Cli


def test_status_and_reset_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(tmp_path, capsys)
    assert cli("org", "create", "city-bank", "--kind", "operator").code == 0
    made = cli("user", "create", "aiko", "--org", "city-bank", "--role", "member_admin")
    assert made.code == 0, made.err

    off = cli("user", "totp", "status", "aiko")
    assert off.code == 1
    assert off.out.strip() == "user aiko: no second factor (required for member_admin)"

    settings = Settings.load({"SAKIMORI_HOME": str(tmp_path)})
    db = open_database(settings.database_url)
    try:
        key = identity.TokenKey.load(settings.token_key_path)
        now = datetime.now(UTC)
        enrolment = service.begin_enrolment(db, key, "aiko", now)
        code = totp.code_at(enrolment.secret, totp.step_of(now))
        assert service.confirm_enrolment(db, key, "aiko", code, now) is not None
        _, session_token = identity.create_session(db, key, "aiko", second_factor=True)

        on = cli("user", "totp", "status", "aiko")
        assert on.code == 0, on.err
        assert "second factor on since" in on.out
        assert "10 recovery codes left" in on.out
        assert enrolment.secret not in on.out + on.err

        reset = cli("user", "totp", "reset", "aiko")
        assert reset.code == 0, reset.err
        assert reset.out.strip() == "user aiko: second factor reset; 1 browser sessions ended"
        with pytest.raises(identity.Unauthenticated):
            identity.authenticate(db, key, session_token, browser=True)
        assert cli("user", "totp", "status", "aiko").code == 1
        entries = [e for e in audit.page(db) if e["action"] == "second_factor.reset"]
        assert [(e["actor"], e["object_id"]) for e in entries] == [(service.OPERATOR, "aiko")]
    finally:
        db.dispose()

    again = cli("user", "totp", "reset", "aiko")
    assert again.code == 2
    assert "no second factor to reset" in again.err
    missing = cli("user", "totp", "status", "nobody")
    assert missing.code == 2
    assert "no user 'nobody'" in missing.err
