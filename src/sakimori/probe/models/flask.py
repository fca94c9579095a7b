"""Flask and Werkzeug: request data, responses, redirects, the session."""

from __future__ import annotations

from sakimori.probe.models.base import Sink

#: Everything read from these objects is attacker-controlled.
SOURCES = {
    "flask.request": ("Flask request", "remote"),
    "flask.globals.request": ("Flask request", "remote"),
}

#: Decorators (by qualified name of the decorator's callee, suffix after the app object) that make a
#: function a request handler: its parameters are URL variables, its return value is the response.
ROUTE_APPS = ("flask.Flask()", "flask.Blueprint()")
ROUTE_METHODS = ("route", "get", "post", "put", "patch", "delete")

SINKS = {
    "flask.Response": Sink(79, (0,), ("response",), what="HTTP response body"),
    "flask.make_response": Sink(79, (0,), what="HTTP response body"),
    "flask.Flask().response_class": Sink(79, (0,), ("response",), what="HTTP response body"),
    "werkzeug.wrappers.Response": Sink(79, (0,), ("response",), what="HTTP response body"),
    "flask.render_template_string": Sink(94, (0,), ("source",), what="template source"),
    "flask.redirect": Sink(601, (0,), ("location",), what="redirect target"),
    "werkzeug.utils.redirect": Sink(601, (0,), ("location",), what="redirect target"),
    "flask.send_file": Sink(22, (0,), ("path_or_file",), what="file path"),
    "markupsafe.Markup": Sink(79, (0,), what="markup marked safe"),
    "flask.Markup": Sink(79, (0,), what="markup marked safe"),
}

#: Method sinks on response objects (any receiver named like a response is not required).
METHOD_SINKS = {
    "set_data": Sink(79, (0,), what="HTTP response body"),
}

#: Attribute stores that are sinks: ``response.data = tainted``.
ATTRIBUTE_SINKS = {
    "data": Sink(79, what="HTTP response body"),
}

#: Stores into these mappings cross a trust boundary.
TRUST_BOUNDARY = ("flask.session",)

SANITISERS = {
    "flask.escape": frozenset({79}),
    "markupsafe.escape": frozenset({79}),
    "flask.jsonify": frozenset({79}),
    "flask.json.dumps": frozenset({79}),
    "flask.render_template": frozenset({79}),
    "flask.url_for": frozenset({79, 601, 22}),
    "werkzeug.utils.secure_filename": frozenset({22, 78}),
}
