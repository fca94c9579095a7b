"""S/MIME signatures of notification e-mails (RFC 8551, ``multipart/signed``; pure but for
reading the certificate and key files in :func:`load`).

When ``SAKIMORI_NOTIFY_SMIME_CERT`` and ``SAKIMORI_NOTIFY_SMIME_KEY`` name a PEM certificate
(the signer's first, then any intermediates, which travel with each signature) and its PEM
private key, every e-mail is signed: the message's body part, in canonical form (CRLF, base64,
so no relay can alter it), is signed with ``cryptography``'s PKCS#7 builder (SHA-256,
detached) and sent as ``multipart/signed`` with ``application/pkcs7-signature``; the outer
headers (From, To, Subject, Message-ID …) are set on the envelope. Receivers check it with any
S/MIME mail reader, or ``openssl smime -verify``. The key is read once, when a worker starts
sending; a key that cannot be read or does not belong to the certificate is a configuration
error (where, what, what to do), never a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from sakimori.errors import ConfigurationError

#: Headers that describe the body: they stay on the signed part, the rest go on the envelope.
_BODY_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_MAX_FILE = 1 << 20


@dataclass(frozen=True, slots=True)
class SmimeSigner:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    def sign(self, message: EmailMessage) -> EmailMessage:
        """The same message, signed: ``multipart/signed`` over its body part."""
        body = EmailMessage(policy=policy.SMTP)
        body.set_content(message.get_content(), charset="utf-8", cte="base64", disposition=None)
        del body["MIME-Version"]
        builder = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(body.as_bytes(policy=policy.SMTP))
            .add_signer(self.certificate, self.key, hashes.SHA256())
        )
        for extra in self.chain:
            builder = builder.add_certificate(extra)
        signed = builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
        out = message_from_bytes(signed, policy=policy.default)
        assert isinstance(out, EmailMessage)
        for name, value in message.items():
            if name.lower() not in _BODY_HEADERS:
                out[name] = value
        return out


def load(cert_path: Path | None, key_path: Path | None) -> SmimeSigner | None:
    """The signer the settings name, or None when none is configured."""
    if cert_path is None and key_path is None:
        return None
    if cert_path is None or key_path is None:
        raise ConfigurationError(
            "S/MIME signing needs both SAKIMORI_NOTIFY_SMIME_CERT and SAKIMORI_NOTIFY_SMIME_KEY",
            hint="set both, or neither to send unsigned e-mail",
        )
    try:
        certificates = x509.load_pem_x509_certificates(_read(cert_path, "certificate"))
    except ValueError:
        raise ConfigurationError(
            "no PEM certificate in this file",
            where=str(cert_path),
            hint="SAKIMORI_NOTIFY_SMIME_CERT names the signer's certificate, in PEM",
        ) from None
    try:
        key = serialization.load_pem_private_key(_read(key_path, "private key"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(
            "not an unencrypted PEM private key",
            where=str(key_path),
            hint="SAKIMORI_NOTIFY_SMIME_KEY names the signer's key (PKCS#8 or traditional PEM, "
            "no passphrase; protect it with the file's permissions)",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError(
            f"an S/MIME key must be RSA or EC, not {type(key).__name__}", where=str(key_path)
        )
    signer, *chain = certificates
    if signer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ConfigurationError(
            "the S/MIME key does not belong to the certificate (the first one in the file)",
            where=str(key_path),
            hint=f"check SAKIMORI_NOTIFY_SMIME_CERT={cert_path}",
        )
    return SmimeSigner(signer, key, tuple(chain))


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the S/MIME {what}: {exc.strerror or exc}", where=str(path)
        ) from None
    if len(data) > _MAX_FILE:
        raise ConfigurationError(f"the S/MIME {what} file is larger than 1 MiB", where=str(path))
    return data
