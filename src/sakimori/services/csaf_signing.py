"""OpenPGP signatures of CSAF documents, with Debian's ``gpg`` through ``python-gnupg``.

The signing key is an ASCII-armoured secret key file (``SAKIMORI_CSAF_KEY_FILE``, default
``$SAKIMORI_HOME/csaf/signing-key.asc``, made by ``sakimori csaf keygen``) with an optional
passphrase file (``SAKIMORI_CSAF_PASSPHRASE_FILE``). It is imported into a private GNUPGHOME
under the instance home (``$SAKIMORI_HOME/csaf/gnupg``, mode 0700), never into the user's.

Signatures are detached and armoured (``.asc``), computed once per document revision: they are
cached in files named by the key's fingerprint and the SHA-512 of the bytes signed
(``$SAKIMORI_HOME/csaf/signatures/<FPR>/<sha512>.asc``), so a request never signs twice and a
new revision (new bytes) or a new key gets a new signature. No database table is needed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import gnupg  # type: ignore[import-untyped]

from sakimori.config import Settings
from sakimori.errors import ConfigurationError, InvalidInput

log = logging.getLogger(__name__)

ALGORITHMS: Final[dict[str, dict[str, Any]]] = {
    "ed25519": {"key_type": "EDDSA", "key_curve": "ed25519"},
    "rsa3072": {"key_type": "RSA", "key_length": 3072},
    "rsa4096": {"key_type": "RSA", "key_length": 4096},
}


def _gpg(home: Path) -> Any:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    try:
        # Never a pinentry prompt on a terminal: a passphrase comes from its file or not at all.
        return gnupg.GPG(gnupghome=str(home), options=["--pinentry-mode", "loopback"])
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot run gpg: {exc}", hint="install Debian's gnupg package"
        ) from None


def stop_agent(home: Path) -> None:
    """End the gpg-agent that gpg started for ``home`` (if any)."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None or not home.is_dir():
        return
    subprocess.run(  # noqa: S603 - our own GNUPGHOME, fixed arguments
        [gpgconf, "--homedir", str(home), "--kill", "gpg-agent"],
        capture_output=True,
        check=False,
        timeout=30,
    )


def read_passphrase(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the CSAF key passphrase: {exc.strerror}") from None
    return text.rstrip("\r\n") or None


class GnupgSigner:
    """Signs with one secret key imported into a private GNUPGHOME."""

    def __init__(self, key_file: Path, home: Path, passphrase_file: Path | None = None) -> None:
        self.home = home
        self._passphrase = read_passphrase(passphrase_file)
        self._lock = threading.Lock()
        self._gpg = _gpg(home / "gnupg")
        try:
            self.fingerprint, self.public_key = self._import(key_file)
            self._sign(b"")  # a wrong passphrase shows now, not on the first document
        except BaseException:
            self.close()  # the agent the import started
            raise
        self._cache = home / "signatures" / self.fingerprint

    def _import(self, key_file: Path) -> tuple[str, str]:
        try:
            armoured = key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the CSAF signing key {key_file}: {exc}"
            ) from None
        result = self._gpg.import_keys(armoured, passphrase=self._passphrase)
        imported = [f for f in (result.fingerprints or []) if f]
        secret = {k["fingerprint"] for k in self._gpg.list_keys(secret=True)}
        chosen = [f for f in dict.fromkeys(imported) if f in secret]
        if not chosen:
            raise ConfigurationError(
                f"{key_file} holds no OpenPGP secret key",
                hint="make one with `sakimori csaf keygen`",
            )
        fingerprint = str(chosen[0]).upper()
        public = self._gpg.export_keys(fingerprint, armor=True)
        if not public:
            raise ConfigurationError(f"cannot export the public key of {fingerprint}")
        return fingerprint, str(public)

    def signature(self, data: bytes) -> str:
        """The detached, armoured signature of ``data``: from the cache, or made once."""
        digest = hashlib.sha512(data).hexdigest()
        cached = self._cache / f"{digest}.asc"
        if cached.is_file():
            return str(cached.read_text(encoding="ascii"))
        with self._lock:
            if cached.is_file():
                return str(cached.read_text(encoding="ascii"))
            text = self._sign(data)
            self._cache.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(text, encoding="ascii")
            partial.replace(cached)
            return text

    def _sign(self, data: bytes) -> str:
        result = self._gpg.sign(
            data,
            keyid=self.fingerprint,
            detach=True,
            passphrase=self._passphrase,
            extra_args=["--digest-algo", "SHA512"],
        )
        text = str(result)
        if not result.fingerprint or "BEGIN PGP SIGNATURE" not in text:
            log.error("gpg could not sign: %s", getattr(result, "stderr", "")[-500:])
            raise ConfigurationError(
                "gpg could not sign with the CSAF key",
                hint="check SAKIMORI_CSAF_PASSPHRASE_FILE",
            )
        return text

    def close(self) -> None:
        stop_agent(self.home / "gnupg")


def load_signer(settings: Settings) -> GnupgSigner | None:
    """The signer of the configured key, or ``None`` when there is no key file."""
    path = settings.csaf_key_path
    if not path.is_file():
        if settings.csaf_key_file is not None:
            raise ConfigurationError(f"SAKIMORI_CSAF_KEY_FILE={path} does not exist")
        return None
    return GnupgSigner(path, settings.home / "csaf", settings.csaf_passphrase_file)


@dataclass(frozen=True, slots=True)
class NewKey:
    fingerprint: str
    path: Path


def generate_key(
    path: Path,
    *,
    name: str,
    email: str,
    algorithm: str = "rsa3072",
    passphrase: str | None = None,
) -> NewKey:
    """Make a signing key and write its armoured secret key to ``path`` (mode 0600), made in a
    throw-away GNUPGHOME whose agent is ended afterwards."""
    if algorithm not in ALGORITHMS:
        raise InvalidInput(
            f"{algorithm!r} is not a key algorithm", hint="use " + ", ".join(ALGORITHMS)
        )
    if path.exists():
        raise InvalidInput(f"{path} exists; not overwriting a key", hint="pass another --out")
    with tempfile.TemporaryDirectory(prefix="skm-gpg-") as scratch:
        home = Path(scratch)
        gpg = _gpg(home)
        try:
            spec = gpg.gen_key_input(
                name_real=name,
                name_email=email,
                key_usage="sign",
                expire_date=0,
                passphrase=passphrase or "",
                no_protection=not passphrase,
                **ALGORITHMS[algorithm],
            )
            made = gpg.gen_key(spec)
            fingerprint = str(made.fingerprint or "").upper()
            if not fingerprint:
                raise ConfigurationError(f"gpg could not make a key: {made.stderr[-500:]}")
            secret = gpg.export_keys(
                fingerprint,
                secret=True,
                armor=True,
                passphrase=passphrase or "",
                expect_passphrase=bool(passphrase),
            )
        finally:
            stop_agent(home)
    if not secret:
        raise ConfigurationError("gpg could not export the new secret key")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(str(secret))
    return NewKey(fingerprint, path)
