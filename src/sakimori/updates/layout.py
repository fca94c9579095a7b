"""Where a vendor repository keeps its files, and the names and periods of its roles.

::

    REPO/
      public/                   what is served to operators (the platform hosts this)
        metadata/               N.root.json (every version), N.targets.json, N.<line>.json,
                                N.snapshot.json, timestamp.json, and unversioned copies
                                (root.json, targets.json, <line>.json, snapshot.json) of the
                                current versions, which the repository tools read
        targets/<line>/<sha256>.<file>   artefacts, named for consistent snapshots
      staged/                   the vendor's pending upload: <role>.json, signed offline,
        targets/<line>/<file>   and the artefacts it adds

The top-level roles (root, targets, snapshot, timestamp) and one delegated targets role per
product line, each delegated the paths ``<line>/*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tuf.api.metadata import Root, Snapshot, Targets, Timestamp

from sakimori.errors import InvalidInput

TOP_LEVEL = (Root.type, Targets.type, Snapshot.type, Timestamp.type)
ONLINE = (Snapshot.type, Timestamp.type)
_LINE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


@dataclass(frozen=True)
class Expiry:
    """How long each role's metadata stays valid after it is signed."""

    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=90)
    delegated: timedelta = timedelta(days=90)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)

    def of(self, role: str) -> timedelta:
        period: timedelta = getattr(self, role) if role in TOP_LEVEL else self.delegated
        return period


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def public(self) -> Path:
        return self.root / "public"

    @property
    def metadata(self) -> Path:
        return self.public / "metadata"

    @property
    def targets(self) -> Path:
        return self.public / "targets"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def staged_targets(self) -> Path:
        return self.staged / "targets"

    def current(self, role: str) -> Path:
        return self.metadata / f"{role}.json"

    def versioned(self, role: str, version: int) -> Path:
        return self.metadata / f"{version}.{role}.json"

    def staged_role(self, role: str) -> Path:
        return self.staged / f"{role}.json"


def check_line(name: str) -> str:
    """A product line name: lower-case letters, digits and dashes; not a top-level role."""
    if not _LINE.match(name) or name in TOP_LEVEL:
        raise InvalidInput(
            f"{name!r} is not a usable product line name",
            hint="lower-case letters, digits and dashes, e.g. gateway or hsm-firmware",
        )
    return name


def check_file_name(name: str) -> str:
    if not _FILE.match(name) or ".." in name:
        raise InvalidInput(
            f"{name!r} is not a usable artefact file name",
            hint="letters, digits, dots, dashes, underscores and plus signs",
        )
    return name
