"""The operator's journal: one JSON object per line, appended, in the state directory.

Every step of the update client and of a roll-out is one entry: ``{"at": ISO time, "event":
name, ...fields}``. Entries are appended with ``O_APPEND`` and flushed to disk before the step
goes on, so the journal says what happened even when the process is killed half-way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sakimori.errors import MalformedDocument


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "event": event, **fields}
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise MalformedDocument(
                        f"journal line {number} is not JSON: {exc.msg}", where=str(self.path)
                    ) from None
                if isinstance(entry, dict):
                    yield entry
