"""What routes receive: the runtime (settings, database, token key) and the principal.

The database is opened (and migrated) on first use, not when the app is built, so building the
app for its OpenAPI document touches nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sakimori.config import Settings
from sakimori.services.access import Principal
from sakimori.services.identity import TokenKey, Unauthenticated, authenticate
from sakimori.store.db import Database, open_database
from sakimori.triage.policy import PolicySet


@dataclass
class Runtime:
    settings: Settings
    _database: Database | None = None
    _key: TokenKey | None = None
    _policies: PolicySet | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def database(self) -> Database:
        with self._lock:
            if self._database is None:
                from sakimori.services.metrics_snapshot import watch

                self._database = open_database(self.settings.database_url)
                watch(self._database)  # writes ask for a refresh of the dashboard's figures
            return self._database

    @property
    def key(self) -> TokenKey:
        with self._lock:
            if self._key is None:
                self._key = TokenKey.load(self.settings.token_key_path)
            return self._key

    @property
    def policies(self) -> PolicySet:
        from sakimori.services.assessment import policy_set

        with self._lock:
            if self._policies is None:
                self._policies = policy_set(self.settings.policy)
            return self._policies

    def close(self) -> None:
        with self._lock:
            if self._database is not None:
                self._database.dispose()
                self._database = None


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="skm_<id>_<secret>",
    description="An API token made with `sakimori token create` or POST /v1/tokens.",
)


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated()
    rt = runtime(request)
    found = with_origin(authenticate(rt.database, rt.key, credentials.credentials), request)
    request.state.user = found.name
    return found


def with_origin(found: Principal, request: Request) -> Principal:
    """The principal with the client address and request id the audit log records."""
    return replace(
        found,
        source=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
    )


RuntimeDep = Annotated[Runtime, Depends(runtime)]
PrincipalDep = Annotated[Principal, Depends(principal)]
