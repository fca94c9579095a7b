"""S/MIME-signed e-mail: a throwaway CA, intermediate and signer made here, a real SMTP server on
127.0.0.1, and the real ``openssl smime -verify`` checking what arrived — a single notification
and a digest — against the root alone (the intermediate travels with each signature); a
changed byte fails. A key that cannot be used is a configuration error with where and what,
and stops ``sakimori worker`` with a message."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sakimori.errors import ConfigurationError
from sakimori.jobs.handlers import NOTIFY_DIGEST
from sakimori.jobs.interface import enqueue
from sakimori.notify import signing
from sakimori.services import notifications as service
from tests.cli.conftest import Cli
from tests.notify.conftest import FAST, deliveries, drain, principal, publish
from tests.notify.servers import smtp_server
from tests.packages.conftest import Platform, build_platform

NOW = datetime.now(UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
) -> x509.Certificate:
    by_name, by_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(by_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(minutes=5))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("alerts@sakimori.test")]), critical=False
        ).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    return builder.sign(by_key, hashes.SHA256())


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _key_pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root.pem (the trust anchor only), signer.pem (signer + intermediate), signer.key."""
    where = tmp_path_factory.mktemp("pki")
    root_key, middle_key, signer_key = (ec.generate_private_key(ec.SECP256R1()) for _ in "abc")
    root = _issue("Sakimori test root", root_key, None, ca=True)
    middle = _issue("Sakimori test mail CA", middle_key, (root.subject, root_key), ca=True)
    signer = _issue("sakimori notifications", signer_key, (middle.subject, middle_key), ca=False)
    (where / "root.pem").write_bytes(_pem(root))
    (where / "signer.pem").write_bytes(_pem(signer, middle))
    (where / "signer.key").write_bytes(_key_pem(signer_key))
    (where / "other.key").write_bytes(_key_pem(ec.generate_private_key(ec.SECP256R1())))
    (where / "ed25519.key").write_bytes(_key_pem(ed25519.Ed25519PrivateKey.generate()))
    return where


def _verify(raw: bytes, pki: Path, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    mail = tmp_path / "mail.eml"
    mail.write_bytes(raw)
    return subprocess.run(
        ["openssl", "smime", "-verify", "-in", str(mail), "-CAfile", str(pki / "root.pem")],
        capture_output=True,
        check=False,
        timeout=30,
    )


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    with build_platform("sqlite", tmp_path) as built:
        yield built


def test_every_email_is_signed_and_openssl_verifies_it(
    platform: Platform, pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKIMORI_NOTIFY_SMIME_CERT", str(pki / "signer.pem"))
    monkeypatch.setenv("SAKIMORI_NOTIFY_SMIME_KEY", str(pki / "signer.key"))
    with smtp_server() as mailbox:
        monkeypatch.setenv("SAKIMORI_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SAKIMORI_SMTP_PORT", str(mailbox.port))
        monkeypatch.setenv("SAKIMORI_SMTP_FROM", "alerts@sakimori.test")
        staff = principal(platform, "kanri")
        for org, address, language in (
            ("city-bank", "soc@bank.test", "en"),  # runs Django: gets it at once
            ("water-works", "it@water.test", "ja"),  # does not: in the digest
        ):
            service.create_endpoint(
                platform.db,
                staff,
                platform.key.secret,
                service.EndpointSpec(org, "email", address, language=language, digest=True),
            )
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        drain(platform)
        with platform.db.transaction() as session:
            enqueue(session, NOTIFY_DIGEST, {}, "digest-now")
        drain(platform)
    assert {r.state for r in deliveries(platform, package_id)} == {"delivered"}
    assert len(mailbox.raw) == 2
    for raw in mailbox.raw:
        mail = message_from_bytes(raw, policy=policy.default)
        assert mail.get_content_type() == "multipart/signed"
        assert mail.get_param("micalg") == "sha-256"
        assert mail["Subject"].startswith("[TLP:GREEN] ")
        checked = _verify(raw, pki, tmp_path)
        assert checked.returncode == 0, checked.stderr.decode()
        assert b"Verification successful" in checked.stderr
        body = message_from_bytes(checked.stdout, policy=policy.default)
        text = body.get_content()  # type: ignore[attr-defined]
        assert text.startswith("TLP:GREEN")
        assert f"https://sakimori.test/v1/packages/{package_id}" in text
        # one changed character of the signed text, and the signature no longer holds
        assert base64.b64encode(b"TLP:GR") in raw  # the signed text's start
        forged = raw.replace(base64.b64encode(b"TLP:GR"), base64.b64encode(b"TLP:RE"), 1)
        assert _verify(forged, pki, tmp_path).returncode != 0
    single, gathered = (m for m in mailbox.messages)
    assert single["To"] == "soc@bank.test"
    assert gathered["To"] == "it@water.test"
    assert "対策パッケージのまとめ（1件）" in gathered["Subject"]
    assert gathered["Content-Language"] == "ja"


def test_a_key_that_cannot_be_used_is_a_configuration_error(pki: Path, tmp_path: Path) -> None:
    assert signing.load(None, None) is None
    made = signing.load(pki / "signer.pem", pki / "signer.key")
    assert made is not None
    assert len(made.chain) == 1  # the intermediate
    cases = [
        (pki / "signer.pem", None, "needs both"),
        (pki / "signer.pem", tmp_path / "absent.key", "cannot read the S/MIME private key"),
        (pki / "signer.key", pki / "signer.key", "no PEM certificate"),
        (pki / "signer.pem", pki / "signer.pem", "not an unencrypted PEM private key"),
        (pki / "signer.pem", pki / "other.key", "does not belong to the certificate"),
        (pki / "signer.pem", pki / "ed25519.key", "must be RSA or EC"),
    ]
    for cert, key, said in cases:
        with pytest.raises(ConfigurationError, match=said) as caught:
            signing.load(cert, key)
        if key is not None:
            assert caught.value.where is not None


def test_the_worker_stops_with_a_message_when_the_key_is_bad(
    tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(tmp_path, capsys)
    ran = cli(
        "worker",
        "--once",
        env={
            "SAKIMORI_NOTIFY_SMIME_CERT": str(pki / "signer.pem"),
            "SAKIMORI_NOTIFY_SMIME_KEY": str(tmp_path / "missing.key"),
        },
    )
    assert ran.code == 2
    assert ran.err.startswith("sakimori: error: ")
    assert "missing.key: cannot read the S/MIME private key" in ran.err
    assert "Traceback" not in ran.err
