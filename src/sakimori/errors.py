"""Sakimori's exception tree.

Every error a user can cause or meet is one of these, split by cause, so that the CLI and the API
each translate them to a message / problem response in exactly one place::

    SakimoriError                     base; carries a one-line, user-facing explanation
    ├── InvalidInput                  the input is wrong; fixing the input fixes it
    │   ├── UnsupportedFormat         we recognise no format we read in this content
    │   ├── MalformedDocument         a known format, but broken (syntax, missing fields)
    │   ├── LimitExceeded             too large, too deep, too many entries, a zip bomb
    │   └── InvalidVersion            no comparator of the ecosystem accepts this version
    ├── SourceUnavailable             an upstream feed or mirror cannot be reached or read
    ├── PermissionDenied              the caller may not do this
    ├── NotFound                      the named thing does not exist
    ├── Conflict                      the request conflicts with the current state
    └── ConfigurationError            the settings are wrong (bad URL, bad path, bad number)

``diagnostics()`` returns the text shown to a person: what is wrong, where, and what to do.
"""

from __future__ import annotations


class SakimoriError(Exception):
    """Base of every error Sakimori raises on purpose."""

    #: Process exit code used by the CLI for this kind of error.
    exit_code: int = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def diagnostics(self) -> str:
        """One line for a person: ``where: what is wrong; what to do``."""
        text = self.message
        if self.where:
            text = f"{self.where}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def located(self, where: str) -> SakimoriError:
        """Set the location (a file name, a URL) if none is set yet; returns self."""
        if self.where is None:
            self.where = where
        return self


class InvalidInput(SakimoriError):
    """The input is wrong; fixing the input fixes the problem."""


class UnsupportedFormat(InvalidInput):
    """The content is not in any format we read."""


class MalformedDocument(InvalidInput):
    """The content is in a format we know, but broken or missing required parts."""


class LimitExceeded(InvalidInput):
    """The input is larger, deeper or more numerous than the configured limits allow."""


class InvalidVersion(InvalidInput):
    """A version string that the ecosystem's comparator does not accept."""

    def __init__(self, version: str, ecosystem: str, reason: str = "") -> None:
        detail = f"{ecosystem} version {version!r} is not valid"
        if reason:
            detail = f"{detail}: {reason}"
        super().__init__(detail)
        self.version = version
        self.ecosystem = ecosystem


class SourceUnavailable(SakimoriError):
    """An upstream feed or mirror could not be reached, or answered with an error."""


class PermissionDenied(SakimoriError):
    """The caller is not allowed to do this."""


class NotFound(SakimoriError):
    """The requested object does not exist."""


class Conflict(SakimoriError):
    """The request conflicts with the current state."""


class ConfigurationError(SakimoriError):
    """A setting is missing or wrong."""
