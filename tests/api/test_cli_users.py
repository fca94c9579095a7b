"""``sakimori user …`` and ``sakimori token …`` through the real entry point, in process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sakimori.config import Settings
from sakimori.services import identity
from sakimori.store.db import open_database
from tests.cli.conftest import Cli


def test_users_and_tokens_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(tmp_path, capsys)
    assert cli("org", "create", "city-bank", "--kind", "operator").code == 0
    made = cli("user", "create", "aiko", "--org", "city-bank", "--role", "member_admin")
    assert made.code == 0, made.err
    assert "member_admin of city-bank" in made.out
    wrong = cli("user", "create", "ken", "--org", "city-bank", "--role", "analyst")
    assert wrong.code == 2
    assert "coordinator" in wrong.err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    with_password = cli(
        "user", "create", "ken", "--org", "city-bank", "--role", "member_user", "--password-stdin"
    )
    assert with_password.code == 0, with_password.err

    token = cli("token", "create", "aiko", "--name", "ci", "--scope", "read", "--scope", "write")
    assert token.code == 0, token.err
    secret = token.out.strip()
    assert secret.startswith("skm_")
    assert "shown only now" in token.err
    listed = cli("token", "list")
    assert "aiko" in listed.out
    assert secret not in listed.out

    settings = Settings.load({"SAKIMORI_HOME": str(tmp_path)})
    db = open_database(settings.database_url)
    try:
        key = identity.TokenKey.load(settings.token_key_path)
        principal = identity.authenticate(db, key, secret)
        assert (principal.name, principal.organisation) == ("aiko", "city-bank")
        assert identity.verify_password(db, "ken", "a long enough passphrase")
        token_id = secret.split("_")[1]
        assert cli("token", "revoke", token_id).code == 0
        with pytest.raises(identity.Unauthenticated):
            identity.authenticate(db, key, secret)
        second = cli("token", "create", "aiko", "--name", "again").out.strip()
        assert identity.authenticate(db, key, second).scopes == {identity.Scope.READ}
        gone = cli("user", "deactivate", "aiko")
        assert gone.code == 0
        assert "1 tokens revoked" in gone.out
        with pytest.raises(identity.Unauthenticated):
            identity.authenticate(db, key, second)
        assert "no" in cli("user", "list").out
    finally:
        db.dispose()
    assert (tmp_path / "token.key").stat().st_mode & 0o077 == 0, (
        "the key file is readable by others"
    )
