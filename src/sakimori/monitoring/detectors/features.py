"""Per-request features several detectors share (static asset or page)."""

from __future__ import annotations

from functools import lru_cache

#: Extensions of sub-resources a browser fetches for a page: styles, scripts, images, fonts,
#: media, source maps, web manifests.
STATIC_EXTENSIONS = frozenset(
    [
        "css",
        "js",
        "mjs",
        "map",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "ico",
        "webp",
        "avif",
        "bmp",
        "tif",
        "tiff",
        "woff",
        "woff2",
        "ttf",
        "otf",
        "eot",
        "mp4",
        "webm",
        "ogg",
        "mp3",
        "wav",
        "m4a",
        "m4v",
        "webmanifest",
    ]
)


@lru_cache(maxsize=65536)
def is_static(path: str) -> bool:
    """Whether the raw path names a sub-resource (by the extension of its last segment)."""
    dot = path.rfind(".")
    if dot < 0 or dot < path.rfind("/"):
        return False
    return path[dot + 1 :].lower() in STATIC_EXTENSIONS
