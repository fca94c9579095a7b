"""Ed25519 signing keys as files: ``NAME.key`` (private, PEM PKCS#8, mode 0600) and
``NAME.pub.json`` (public: the TUF key object with its key id).

Offline keys (root, targets, product-line roles) live on the vendor's machine and never leave it;
the platform keeps only the online snapshot and timestamp keys. The private key files are not
encrypted: keep offline key directories on an encrypted, removable volume (see docs/updates.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, SSlibKey

from sakimori.errors import ConfigurationError, Conflict, MalformedDocument, NotFound

PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub.json"


@dataclass(frozen=True)
class KeyFiles:
    """The two files of one key, and its TUF key id."""

    name: str
    keyid: str
    private: Path | None
    public: Path


def generate(directory: Path, name: str) -> tuple[CryptoSigner, KeyFiles]:
    """Create an Ed25519 key pair as ``directory/NAME.key`` (0600) and ``NAME.pub.json``.

    Refuses to overwrite an existing key: a lost key cannot be brought back, an overwritten one
    would silently split the repository's trust."""
    _check_name(name)
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{name}{PRIVATE_SUFFIX}"
    public_path = directory / f"{name}{PUBLIC_SUFFIX}"
    if private_path.exists() or public_path.exists():
        raise Conflict(f"key {name!r} already exists", where=str(directory))
    signer = CryptoSigner.generate_ed25519()
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(signer.private_bytes)
    write_public(public_path, signer.public_key)
    return signer, KeyFiles(name, signer.public_key.keyid, private_path, public_path)


def write_public(path: Path, key: SSlibKey) -> None:
    document = {"keyid": key.keyid, **key.to_dict()}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_public_keys(directory: Path, documents: Mapping[str, Mapping[str, Any]]) -> Path:
    """Save keys given as documents (``ROLE → {"keyid": …, "keytype": …}``, the form the
    platform lists its online keys in) as ``directory/ROLE.pub.json``; returns ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for role, document in documents.items():
        _check_name(role)
        fields = dict(document)
        try:
            key = SSlibKey.from_dict(fields.pop("keyid"), fields)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedDocument(f"not a public key: {exc}", where=role) from None
        write_public(directory / f"{role}{PUBLIC_SUFFIX}", key)
    return directory


def load_public(path: Path) -> SSlibKey:
    """The public key of ``NAME.pub.json`` (or of the ``.pub.json`` beside ``NAME.key``)."""
    path = public_path_of(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        keyid = document.pop("keyid")
        return SSlibKey.from_dict(keyid, document)
    except FileNotFoundError:
        raise NotFound("public key file does not exist", where=str(path)) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedDocument(f"not a public key file: {exc}", where=str(path)) from None


def load_signer(path: Path) -> CryptoSigner:
    """A signer from ``NAME.key`` and its ``NAME.pub.json``; refuses group/world-readable keys."""
    path = private_path_of(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("private key file does not exist", where=str(path)) from None
    if mode & 0o077:
        raise ConfigurationError(
            "private key file is readable by other users",
            where=str(path),
            hint=f"chmod 600 {path}",
        )
    public = load_public(path)
    try:
        private = load_pem_private_key(data, password=None)
        return CryptoSigner(private, public)
    except (ValueError, TypeError) as exc:
        raise MalformedDocument(f"not a usable private key: {exc}", where=str(path)) from None


def signers_in(directory: Path) -> list[CryptoSigner]:
    """Every private key of ``directory`` (sorted by file name)."""
    if not directory.is_dir():
        raise NotFound("key directory does not exist", where=str(directory))
    return [load_signer(path) for path in sorted(directory.glob(f"*{PRIVATE_SUFFIX}"))]


def public_keys_in(directory: Path) -> dict[str, SSlibKey]:
    """Every public key of ``directory``, by file name without suffix."""
    if not directory.is_dir():
        raise NotFound("key directory does not exist", where=str(directory))
    return {
        path.name.removesuffix(PUBLIC_SUFFIX): load_public(path)
        for path in sorted(directory.glob(f"*{PUBLIC_SUFFIX}"))
    }


def private_path_of(path: Path) -> Path:
    if path.name.endswith(PUBLIC_SUFFIX):
        return path.with_name(path.name.removesuffix(PUBLIC_SUFFIX) + PRIVATE_SUFFIX)
    return path


def public_path_of(path: Path) -> Path:
    if path.name.endswith(PRIVATE_SUFFIX):
        return path.with_name(path.name.removesuffix(PRIVATE_SUFFIX) + PUBLIC_SUFFIX)
    return path


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or len(name) > 100:
        raise ConfigurationError(f"{name!r} is not a usable key name")
