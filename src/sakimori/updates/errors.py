"""Errors of the update client and repository, on top of :mod:`sakimori.errors`.

``UpdateRefused`` is what every verification failure of ``tuf.ngclient`` becomes: the metadata
or artefact served by the repository (or by whoever sits between it and us) is not what the
vendor's keys vouch for. It is a ``SourceUnavailable``: the mirror answered, but with something
that cannot be trusted, and fixing it is on the repository side, not the operator's input.
Each carries ``attack``, a short name of what the failure looks like (``freeze``, ``rollback``,
``mix-and-match``, ``arbitrary-artefact``, ``endless-data``, ``slow-retrieval``, ``threshold``,
``untrusted-root``…), so callers and the journal can record it.
"""

from __future__ import annotations

from sakimori.errors import SakimoriError, SourceUnavailable

NOTHING_INSTALLED = "nothing was installed"


class UpdateRefused(SourceUnavailable):
    """The repository served metadata or an artefact that failed TUF verification."""

    def __init__(
        self, message: str, *, attack: str, where: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        self.attack = attack


class RolloutFailed(SakimoriError):
    """A roll-out stopped (install or health check failed) and was rolled back."""
