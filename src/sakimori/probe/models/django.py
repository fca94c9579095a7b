"""Django: the request argument of views, responses, redirects, raw SQL, safe strings."""

from __future__ import annotations

from sakimori.probe.models.base import Sink

#: Imports of these packages make the ``request`` parameter of a function a source.
REQUEST_PARAMETER_PACKAGES = ("django",)

SINKS = {
    "django.http.HttpResponse": Sink(79, (0,), ("content",), what="HTTP response body"),
    "django.http.response.HttpResponse": Sink(79, (0,), ("content",), what="HTTP response body"),
    "django.utils.safestring.mark_safe": Sink(79, (0,), what="string marked safe"),
    "django.utils.html.format_html": Sink(79, (0,), what="format string marked safe"),
    "django.http.HttpResponseRedirect": Sink(601, (0,), ("redirect_to",), what="redirect"),
    "django.http.HttpResponsePermanentRedirect": Sink(601, (0,), what="redirect target"),
    "django.shortcuts.redirect": Sink(601, (0,), ("to",), what="redirect target"),
    "django.db.models.expressions.RawSQL": Sink(89, (0,), ("sql",), what="raw SQL"),
    "django.db.models.RawSQL": Sink(89, (0,), ("sql",), what="raw SQL"),
}

METHOD_SINKS = {
    "raw": Sink(89, (0,), ("raw_query",), what="raw SQL"),
    "extra": Sink(89, (), ("where", "select", "tables", "order_by"), what="raw SQL fragment"),
}

SANITISERS = {
    "django.utils.html.escape": frozenset({79}),
    "django.utils.html.conditional_escape": frozenset({79}),
    "django.utils.http.url_has_allowed_host_and_scheme": frozenset({601}),
    "django.http.JsonResponse": frozenset({79}),
    "django.shortcuts.render": frozenset({79}),
}
