"""aiohttp: the request argument of handlers, responses and redirects."""

from __future__ import annotations

from sakimori.probe.models.base import Sink

REQUEST_PARAMETER_PACKAGES = ("aiohttp",)

SINKS = {
    "aiohttp.web.Response": Sink(79, (), ("body", "text"), what="HTTP response body"),
    "aiohttp.web.HTTPFound": Sink(601, (0,), ("location",), what="redirect target"),
    "aiohttp.web.HTTPSeeOther": Sink(601, (0,), ("location",), what="redirect target"),
    "aiohttp.web.HTTPTemporaryRedirect": Sink(601, (0,), ("location",), what="redirect target"),
    "aiohttp.web.HTTPMovedPermanently": Sink(601, (0,), ("location",), what="redirect target"),
    "aiohttp.web.FileResponse": Sink(22, (0,), ("path",), what="file path"),
}
