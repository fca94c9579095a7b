"""Signing in and reading forms, for the tests that speak HTTP to the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: Any, user: str, password: str, code: Callable[[], str] | None = None) -> Any:
    """Open the sign-in page and send its form; returns the answer (not followed). When the
    answer asks for the second step and ``code`` is given, sends ``code()`` on the code page
    and returns that answer instead."""
    page = client.get("/ui/signin")
    assert page.status_code == 200
    answer = client.post(
        "/ui/signin",
        data={"username": user, "password": password, "csrf": csrf_of(page.text), "next": ""},
        follow_redirects=False,
    )
    where = answer.headers.get("location", "")
    if code is None or not where.startswith("/ui/signin/code"):
        return answer
    form = client.get(where)
    assert form.status_code == 200
    return client.post(
        "/ui/signin/code",
        data={"code": code(), "csrf": csrf_of(form.text), "next": ""},
        follow_redirects=False,
    )
