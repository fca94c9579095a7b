"""The CSAF provider's pure layout (file names, hashes, provider metadata, ROLIE feeds), the
OpenPGP signer (verified with gpg itself), and a provider without a key."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from sakimori.config import Settings
from sakimori.errors import ConfigurationError, InvalidInput
from sakimori.packages import csaf
from sakimori.packages import csaf_provider as layout
from sakimori.packages.model import Content
from sakimori.services import csaf_signing
from sakimori.services import packages as service
from tests.conftest import require_data
from tests.formats.vex.conftest import _format_checker
from tests.packages.conftest import Platform, content, errors

T0 = datetime(2025, 12, 30, 9, 0, tzinfo=UTC)


def provider_validator() -> Draft202012Validator:
    """The CSAF 2.0 provider-metadata schema; its ``publisher`` is the CSAF schema's."""
    root = require_data("csaf", "csaf_2.0", "json_schema")
    schema = json.loads((root / "provider_json_schema.json").read_text())
    document = json.loads((root / "csaf_json_schema.json").read_text())
    registry: Registry[Any] = Registry().with_resource(
        document["$id"], Resource.from_contents(document)
    )
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def verify(signature: str, data: bytes, public_key: str, scratch: Path) -> str:
    """``gpg --verify`` in a fresh GNUPGHOME holding only ``public_key``: the VALIDSIG line.
    (The GNUPGHOME is short-named under the temporary directory: gpg's sockets live in it, and
    a socket path may not be longer than 107 bytes.)"""
    (scratch / "key.asc").write_text(public_key)
    (scratch / "doc").write_bytes(data)
    (scratch / "doc.asc").write_text(signature)
    with tempfile.TemporaryDirectory(prefix="skm-") as home:
        gpg = ["gpg", "--homedir", home, "--batch", "--status-fd", "1"]
        try:
            subprocess.run(
                [*gpg, "--import", str(scratch / "key.asc")], check=True, capture_output=True
            )
            result = subprocess.run(
                [*gpg, "--verify", str(scratch / "doc.asc"), str(scratch / "doc")],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            csaf_signing.stop_agent(Path(home))
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if "VALIDSIG" in line)


def _document(tlp: str = "AMBER", package_id: int = 12) -> dict[str, Any]:
    releases = [csaf.Release(1, T0, ""), csaf.Release(2, T0 + timedelta(days=3), "More.")]
    return csaf.render(package_id, Content.from_dict(content(tlp=tlp)), releases)


# -- the pure layout ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tracking", "name"),
    [
        ("SAKIMORI-PKG-000012", "sakimori-pkg-000012.json"),
        ("BSI-2022_0001", "bsi-2022_0001.json"),
        ("RHSA-2019:1862", "rhsa-2019_1862.json"),
        ("a b/c+d", "a_b_c+d.json"),
    ],
)
def test_file_names_follow_csaf_requirement_2(tracking: str, name: str) -> None:
    assert layout.file_name(tracking) == name


def test_a_document_lives_under_its_label_and_first_release_year() -> None:
    amber = layout.Published.of(_document("AMBER+STRICT"))
    assert amber.label == "AMBER"
    assert amber.year == "2025"  # the initial release, not the current one (2026)
    assert amber.path == "/v1/csaf/amber/2025/sakimori-pkg-000012.json"
    white = layout.Published.of(_document("CLEAR", 7))
    assert white.path == "/.well-known/csaf/white/2025/sakimori-pkg-000007.json"
    assert json.loads(white.data) == white.document
    line = layout.sha512_file(white.data, white.name)
    assert line == f"{hashlib.sha512(white.data).hexdigest()}  sakimori-pkg-000007.json\n"


def test_provider_metadata_is_valid_with_and_without_a_key() -> None:
    validator = provider_validator()
    key = layout.Key("A" * 40, "-----BEGIN PGP PUBLIC KEY BLOCK-----")
    signed = layout.provider_metadata(
        "https://cert.example/", publisher=csaf.Publisher(), key=key, last_updated=T0
    )
    assert errors(validator, signed) == []  # type: ignore[arg-type]
    assert signed["canonical_url"] == "https://cert.example/.well-known/csaf/provider-metadata.json"
    assert signed["role"] == "csaf_trusted_provider"
    assert signed["public_openpgp_keys"] == [
        {
            "fingerprint": "A" * 40,
            "url": f"https://cert.example/.well-known/csaf/openpgp/{'A' * 40}.asc",
        }
    ]
    feeds = {f["tlp_label"]: f["url"] for f in signed["distributions"][0]["rolie"]["feeds"]}
    assert feeds == {
        "WHITE": "https://cert.example/.well-known/csaf/feed-tlp-white.json",
        "GREEN": "https://cert.example/v1/csaf/feed-tlp-green.json",
        "AMBER": "https://cert.example/v1/csaf/feed-tlp-amber.json",
        "RED": "https://cert.example/v1/csaf/feed-tlp-red.json",
    }
    # The directory distribution: the public folder only (the others need a token).
    directories = [d["directory_url"] for d in signed["distributions"] if "directory_url" in d]
    assert directories == ["https://cert.example/.well-known/csaf/white/"]
    unsigned = layout.provider_metadata(
        "https://cert.example", publisher=csaf.Publisher(), key=None, last_updated=T0
    )
    assert errors(validator, unsigned) == []  # type: ignore[arg-type]
    assert unsigned["role"] == "csaf_provider"
    assert unsigned["public_openpgp_keys"] == []
    broken = dict(signed, role="csaf_aggregator")
    assert errors(validator, broken)  # type: ignore[arg-type]


def test_a_rolie_feed_lists_each_document_with_its_links() -> None:
    older = layout.Published.of(_document("AMBER", 3))
    newer_doc = _document("AMBER", 4)
    newer_doc["document"]["tracking"]["current_release_date"] = "2026-02-01T00:00:00Z"
    newer = layout.Published.of(newer_doc)
    feed = layout.rolie_feed(
        "https://cert.example", "AMBER", [older, newer], signed=True, updated=T0
    )
    body = feed["feed"]
    assert body["link"] == [
        {"rel": "self", "href": "https://cert.example/v1/csaf/feed-tlp-amber.json"}
    ]
    assert body["category"] == [{"scheme": layout.ROLIE_CATEGORY, "term": "csaf"}]
    assert [e["id"] for e in body["entry"]] == ["SAKIMORI-PKG-000004", "SAKIMORI-PKG-000003"]
    assert body["updated"] == "2026-02-01T00:00:00Z"
    entry = body["entry"][1]
    url = "https://cert.example/v1/csaf/amber/2025/sakimori-pkg-000003.json"
    assert entry["link"] == [
        {"rel": "self", "href": url},
        {"rel": "hash", "href": url + ".sha512"},
        {"rel": "signature", "href": url + ".asc"},
    ]
    assert entry["content"] == {"type": "application/json", "src": url}
    assert entry["format"] == {"schema": layout.CSAF_SCHEMA, "version": "2.0"}
    assert entry["published"] == "2025-12-30T09:00:00Z"
    unsigned = layout.rolie_feed("https://cert.example", "AMBER", [older], signed=False, updated=T0)
    assert [link["rel"] for link in unsigned["feed"]["entry"][0]["link"]] == ["self", "hash"]
    empty = layout.rolie_feed("https://cert.example", "RED", [], signed=True, updated=T0)
    assert empty["feed"]["entry"] == []
    assert empty["feed"]["updated"] == "2025-12-30T09:00:00Z"


# -- the signer -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def protected_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A passphrase-protected ed25519 key made by ``generate_key``: (key, passphrase file, fpr)."""
    where = tmp_path_factory.mktemp("key")
    (where / "passphrase").write_text("correct horse battery staple\n")
    made = csaf_signing.generate_key(
        where / "signing-key.asc",
        name="Test",
        email="t@example.test",
        algorithm="ed25519",
        passphrase="correct horse battery staple",
    )
    assert (where / "signing-key.asc").stat().st_mode & 0o777 == 0o600
    return made.path, where / "passphrase", made.fingerprint


def test_signatures_verify_and_are_made_once_per_document(
    protected_key: tuple[Path, Path, str], tmp_path: Path
) -> None:
    key, passphrase, fingerprint = protected_key
    signer = csaf_signing.GnupgSigner(key, tmp_path / "csaf", passphrase)
    try:
        assert signer.fingerprint == fingerprint
        data = layout.Published.of(_document()).data
        signature = signer.signature(data)
        line = verify(signature, data, signer.public_key, tmp_path)
        assert fingerprint in line
        assert line.split()[9] == "10", "the digest is SHA-512"  # hash algorithm id
        cached = list((tmp_path / "csaf" / "signatures" / fingerprint).glob("*.asc"))
        assert [p.name for p in cached] == [hashlib.sha512(data).hexdigest() + ".asc"]
        # Served from the cache: the file is what is answered, not a new signature.
        cached[0].write_text(signature + "\n")
        assert signer.signature(data) == signature + "\n"
        other = signer.signature(data + b" ")
        assert other != signature
        assert len(list(cached[0].parent.glob("*.asc"))) == 2
    finally:
        signer.close()
    again = csaf_signing.GnupgSigner(key, tmp_path / "csaf", passphrase)  # a restart
    again.close()
    assert again.fingerprint == fingerprint


def test_a_wrong_passphrase_or_no_secret_key_is_a_configuration_error(
    protected_key: tuple[Path, Path, str], tmp_path: Path
) -> None:
    key, _, _ = protected_key
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    with pytest.raises(ConfigurationError, match="could not sign"):
        csaf_signing.GnupgSigner(key, tmp_path / "a", wrong)  # found when loaded
    with pytest.raises(ConfigurationError, match="could not sign"):
        csaf_signing.GnupgSigner(key, tmp_path / "a2")  # no passphrase at all
    public_only = tmp_path / "public.asc"
    good = csaf_signing.GnupgSigner(key, tmp_path / "b", protected_key[1])
    public_only.write_text(good.public_key)
    good.close()
    with pytest.raises(ConfigurationError, match="no OpenPGP secret key"):
        csaf_signing.GnupgSigner(public_only, tmp_path / "c").close()
    with pytest.raises(InvalidInput, match="not overwriting"):
        csaf_signing.generate_key(key, name="x", email="x@example.test", algorithm="ed25519")
    with pytest.raises(InvalidInput, match="not a key algorithm"):
        csaf_signing.generate_key(tmp_path / "k", name="x", email="x@x.test", algorithm="dsa")


# -- a provider without a key ---------------------------------------------------------------------


def test_without_a_key_documents_and_hashes_are_served_unsigned(
    client: Any,
    platform: Platform,
    csaf_validator: Draft202012Validator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    view = service.create_draft(
        platform.db,
        Content.from_dict(content(tlp="CLEAR", audience={"organisations": ["city-bank"]})),
        "bunseki",
    )
    service.submit(platform.db, view.id, "bunseki")
    service.approve(platform.db, view.id, "kanri")
    with caplog.at_level(logging.WARNING, logger="sakimori.api.routes.csaf_provider"):
        metadata = client.get("/.well-known/csaf/provider-metadata.json")
        feed = client.get("/.well-known/csaf/feed-tlp-white.json")
    assert metadata.status_code == feed.status_code == 200
    assert metadata.json()["role"] == "csaf_provider"
    assert metadata.json()["public_openpgp_keys"] == []
    assert errors(provider_validator(), metadata.json()) == []
    warned = [r for r in caplog.records if "no CSAF signing key" in r.getMessage()]
    assert len(warned) == 1, "said once, not per request"
    entry = next(e for e in feed.json()["feed"]["entry"] if e["id"] == csaf.tracking_id(view.id))
    assert [link["rel"] for link in entry["link"]] == ["self", "hash"]
    url = entry["content"]["src"].removeprefix("http://testserver")
    document = client.get(url)
    assert document.headers["content-type"] == "application/json"
    assert errors(csaf_validator, document.json()) == []
    digest = client.get(url + ".sha512").text
    assert digest == f"{hashlib.sha512(document.content).hexdigest()}  {url.rsplit('/', 1)[1]}\n"
    missing = client.get(url + ".asc")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


# -- the command and the settings -----------------------------------------------------------------


def test_keygen_makes_a_key_the_server_signs_with(tmp_path: Path) -> None:
    import os
    import sys

    env = {**os.environ, "SAKIMORI_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "sakimori", "csaf", "keygen", "--algorithm", "ed25519"]
    made = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    fingerprint = made.stdout.split()[1]
    key = tmp_path / "csaf" / "signing-key.asc"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    signer = csaf_signing.load_signer(Settings.load(env))
    assert signer is not None
    signer.close()
    assert signer.fingerprint == fingerprint
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 2
    assert "not overwriting" in again.stderr
    assert key.read_text().startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")


def test_the_settings_of_the_provider(tmp_path: Path) -> None:
    home = {"SAKIMORI_HOME": str(tmp_path)}
    assert Settings.load(home).csaf_key_path == tmp_path / "csaf" / "signing-key.asc"
    assert csaf_signing.load_signer(Settings.load(home)) is None  # no key: unsigned
    named = Settings.load(home | {"SAKIMORI_CSAF_KEY_FILE": str(tmp_path / "missing.asc")})
    with pytest.raises(ConfigurationError, match="does not exist"):
        csaf_signing.load_signer(named)  # a key asked for but absent is an error, not unsigned
    base = Settings.load(home | {"SAKIMORI_BASE_URL": "https://cert.example/"})
    assert base.base_url == "https://cert.example"
    with pytest.raises(ConfigurationError, match="not an http"):
        Settings.load(home | {"SAKIMORI_BASE_URL": "cert.example"})


# -- the directory distribution -------------------------------------------------------------------


def _released(package_id: int, first: str, current: str, tlp: str = "CLEAR") -> layout.Published:
    document = _document(tlp, package_id)
    tracking = document["document"]["tracking"]
    tracking["initial_release_date"], tracking["current_release_date"] = first, current
    return layout.Published.of(document)


def test_index_txt_and_changes_csv_follow_requirements_11_to_13() -> None:
    old = _released(3, "2024-05-01T00:00:00Z", "2026-01-02T00:00:00Z")  # changed last
    new = _released(12, "2025-12-30T09:00:00Z", "2025-12-31T09:00:00Z")
    tie = _released(7, "2025-03-01T00:00:00Z", "2025-12-31T09:00:00Z")
    assert old.path == "/.well-known/csaf/white/2024/sakimori-pkg-000003.json"  # first release
    assert layout.folder_path("WHITE") == "/.well-known/csaf/white"
    assert layout.folder_path("AMBER") == "/v1/csaf/amber"
    assert layout.index_txt("WHITE", [new, old, tie]) == (
        "2024/sakimori-pkg-000003.json\n"
        "2025/sakimori-pkg-000007.json\n"
        "2025/sakimori-pkg-000012.json\n"
    )
    # Newest change first, no heading, every field quoted; equal times in path order.
    assert layout.changes_csv("WHITE", [new, tie, old]) == (
        '"2024/sakimori-pkg-000003.json","2026-01-02T00:00:00Z"\n'
        '"2025/sakimori-pkg-000007.json","2025-12-31T09:00:00Z"\n'
        '"2025/sakimori-pkg-000012.json","2025-12-31T09:00:00Z"\n'
    )
    assert layout.index_txt("RED", []) == layout.changes_csv("RED", []) == ""
    # A document of another folder is never listed: the caller's mistake is refused.
    amber = _released(9, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "AMBER")
    for render in (layout.index_txt, layout.changes_csv):
        with pytest.raises(ValueError, match="sakimori-pkg-000009"):
            render("WHITE", [new, amber])


def test_the_folder_pages_link_what_the_folder_holds() -> None:
    old = _released(3, "2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z")
    new = _released(12, "2025-12-30T09:00:00Z", "2025-12-31T09:00:00Z")
    top = layout.folder_page("WHITE", [new, old], signed=True)
    assert top is not None
    links = re.findall(r'<a href="([^"]+)">', top)
    assert links == ["index.txt", "changes.csv", "2024/", "2025/"]
    year = layout.folder_page("WHITE", [new, old], "2025", signed=True)
    assert year is not None
    assert re.findall(r'<a href="([^"]+)">', year) == [
        "../",
        "sakimori-pkg-000012.json",
        "sakimori-pkg-000012.json.sha512",
        "sakimori-pkg-000012.json.asc",
    ]
    unsigned = layout.folder_page("WHITE", [new], "2025", signed=False)
    assert unsigned is not None
    assert ".asc" not in unsigned
    assert layout.folder_page("WHITE", [new], "2023", signed=True) is None
