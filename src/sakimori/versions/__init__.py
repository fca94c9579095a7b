"""Version ordering per ecosystem.

Each comparator family is a module with one pure function ``sort_key(version) -> tuple``: two
versions of the same ecosystem compare exactly as the ecosystem's own tool orders them when their
keys are compared with ``<``/``==``. Keys are plain tuples so that comparing them runs in C, which
is what makes the matcher fast. ``sort_key`` raises ``InvalidVersion`` for a string the ecosystem
does not accept.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from sakimori.errors import InvalidVersion
from sakimori.model.ecosystem import COMPARATOR_FAMILY, base_ecosystem

SortKey = tuple[Any, ...]
KeyFunction = Callable[[str], SortKey]

_FAMILIES: dict[str, KeyFunction] = {}


def family_key(family: str) -> KeyFunction:
    """The ``sort_key`` function of a comparator family (``pypi``, ``semver``, ``maven``…)."""
    try:
        return _FAMILIES[family]
    except KeyError:
        module = import_module(f"sakimori.versions.{family}")
        function: KeyFunction = module.sort_key
        _FAMILIES[family] = function
        return function


def key_function(ecosystem: str) -> KeyFunction | None:
    """The ``sort_key`` function for an OSV ecosystem, or ``None`` if we have no comparator."""
    family = COMPARATOR_FAMILY.get(base_ecosystem(ecosystem))
    return None if family is None else family_key(family)


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, equal to, or after ``b`` in ``ecosystem``."""
    key = key_function(ecosystem)
    if key is None:
        raise InvalidVersion(a, ecosystem, "no version comparator for this ecosystem")
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)
