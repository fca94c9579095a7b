"""Reading JSON members out of zip archives (OSV ``all.zip``, repository archives) safely.

Before anything is decompressed, every member's declared size and compression ratio, the member
count and the total declared size are checked against the limits; while reading, the actual
bytes are capped too, because the sizes in a zip header can lie. Only stored and deflated
members are read (zipfile decompresses bzip2 and LZMA without an output cap).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

from sakimori.errors import LimitExceeded, MalformedDocument
from sakimori.formats.limits import Limits

_CHUNK = 1024 * 1024


def json_members(data: bytes, limits: Limits) -> Iterator[tuple[str, bytes]]:
    """``(member name, bytes)`` of every ``.json`` member, in archive order.

    A corrupt archive, an encrypted member or one past the limits raises before or while it is
    read; the caller stores nothing from an archive that does not read completely.
    """
    if len(data) > limits.max_archive_bytes:
        raise LimitExceeded(
            f"archive is {len(data):,} bytes, more than the limit of {limits.max_archive_bytes:,}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise MalformedDocument(f"not a readable zip archive: {exc}") from None
    with archive:
        for info in _checked_members(archive.infolist(), limits):
            yield info.filename, _read_member(archive, info, limits)


def _checked_members(infos: list[zipfile.ZipInfo], limits: Limits) -> list[zipfile.ZipInfo]:
    if len(infos) > limits.max_archive_members:
        raise LimitExceeded(
            f"archive has {len(infos):,} members, more than the limit of "
            f"{limits.max_archive_members:,}"
        )
    members = [info for info in infos if not info.is_dir() and info.filename.endswith(".json")]
    declared = 0
    for info in members:
        if info.flag_bits & 0x1:
            raise MalformedDocument(f"archive member {info.filename} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2 and LZMA members are decompressed by zipfile without an output cap.
            raise MalformedDocument(
                f"archive member {info.filename} uses compression method {info.compress_type};"
                " only stored and deflated members are read"
            )
        if info.file_size > limits.max_bytes:
            raise LimitExceeded(
                f"archive member {info.filename} declares {info.file_size:,} bytes, more than "
                f"the limit of {limits.max_bytes:,}"
            )
        if info.file_size > limits.max_archive_ratio * max(info.compress_size, 1):
            raise LimitExceeded(
                f"archive member {info.filename} expands {info.compress_size:,} bytes to "
                f"{info.file_size:,}, more than {limits.max_archive_ratio}x (a zip bomb?)"
            )
        declared += info.file_size
    if declared > limits.max_archive_bytes:
        raise LimitExceeded(
            f"archive declares {declared:,} uncompressed bytes, more than the limit of "
            f"{limits.max_archive_bytes:,}"
        )
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bytes:
    # Each member is capped at its declared size, whose sum _checked_members has bounded, so
    # the archive's total is bounded too, whatever the compressed stream really holds.
    cap = min(info.file_size, limits.max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise LimitExceeded(
                        f"archive member {info.filename} holds more than the "
                        f"{cap:,} bytes allowed (its header declares {info.file_size:,})"
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as exc:
        raise MalformedDocument(f"archive member {info.filename} is corrupt: {exc}") from None
    return b"".join(chunks)
