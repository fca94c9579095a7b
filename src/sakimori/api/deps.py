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
from starlette.concurrency import run_in_threadpool

from sakimori.config import Settings
from sakimori.services.access import Principal
from sakimori.services.identity import (
    IDENTITY_CHANGES,
    TokenCache,
    TokenKey,
    Unauthenticated,
    authenticate,
)
from sakimori.store.db import Database, open_database
from sakimori.triage.policy import PolicySet


@dataclass
class Runtime:
    settings: Settings
    _database: Database | None = None
    _key: TokenKey | None = None
    _policies: PolicySet | None = None
    _read_caches: dict[bool, TokenCache] = field(default_factory=dict)
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

    def verified(self, token: str, *, read: bool, browser: bool = False) -> Principal:
        """The principal of an API token (or, ``browser``, a session), from the process's
        cache when the request is a ``read`` and the cache is on
        (``Settings.token_cache_seconds``), else from the database (:func:`authenticate`).
        API tokens and sessions have caches of their own: one is never taken for the other."""
        found = self._cached(token, read=read, browser=browser)
        if found is None:
            found = self._authenticated(token, read=read, browser=browser)
        return found

    async def verify(self, token: str, *, read: bool, browser: bool = False) -> Principal:
        """:meth:`verified` for a route: a cache hit is answered on the event loop, and only
        the database's answer costs a trip to the thread pool."""
        found = self._cached(token, read=read, browser=browser)
        if found is None:
            found = await run_in_threadpool(self._authenticated, token, read=read, browser=browser)
        return found

    def _authenticated(self, token: str, *, read: bool, browser: bool) -> Principal:
        """From the database, remembered in the read cache when ``read``."""
        cache = self._read_cache(browser) if read else None
        generation = IDENTITY_CHANGES.value
        found = authenticate(self.database, self.key, token, browser=browser)
        if cache is not None:
            cache.remember(self.key, token, found, generation=generation)
        return found

    def _cached(self, token: str, *, read: bool, browser: bool) -> Principal | None:
        # No file is read here: the key is loaded by the first verification in the pool.
        cache = self._read_cache(browser) if read else None
        key = self._key
        return cache.lookup(key, token) if cache is not None and key is not None else None

    def _read_cache(self, browser: bool) -> TokenCache | None:
        if self.settings.token_cache_seconds <= 0:
            return None
        with self._lock:
            cache = self._read_caches.get(browser)
            if cache is None:
                cache = self._read_caches[browser] = TokenCache(
                    ttl=self.settings.token_cache_seconds
                )
            return cache

    def close(self) -> None:
        with self._lock:
            if self._database is not None:
                self._database.dispose()
                self._database = None


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


# The dependencies below are coroutines although they wait for nothing (or only on a cache
# miss): FastAPI runs a plain function dependency in its thread pool, and a trip there and back
# for each of a request's dependencies was a tenth of an API process's CPU under load.


async def runtime_dependency(request: Request) -> Runtime:
    return runtime(request)


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="skm_<id>_<secret>",
    description="An API token made with `sakimori token create` or POST /v1/tokens.",
)


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated()
    rt = runtime(request)
    verified = await rt.verify(credentials.credentials, read=is_read(request))
    found = with_origin(verified, request)
    request.state.user = found.name
    return found


#: Requests whose caller may come from the read cache: they change nothing.
_READS = frozenset({"GET", "HEAD"})


def is_read(request: Request) -> bool:
    return request.method in _READS


def with_origin(found: Principal, request: Request) -> Principal:
    """The principal with the client address and request id the audit log records."""
    return replace(
        found,
        source=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
    )


RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
PrincipalDep = Annotated[Principal, Depends(principal)]
