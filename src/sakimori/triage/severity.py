"""Severity ratings from CVSS vectors (v2, v3.x, v4.0) and database ratings (GHSA's "MODERATE"…).

CVSS vectors are scored with the ``cvss`` library (Red Hat Product Security); the qualitative
rating follows the CVSS v3/v4 bands (none < 4.0 ≤ medium < 7.0 ≤ high < 9.0 ≤ critical; low is
0.1–3.9). A record without a vector may still carry its database's rating, which is used as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class Rating(IntEnum):
    UNKNOWN = 0
    NONE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Rating:
        """``"high"``, ``"HIGH"``, GHSA's ``"MODERATE"`` -> Rating; unknown words -> UNKNOWN."""
        word = text.strip().upper()
        if word == "MODERATE":
            return cls.MEDIUM
        return cls.__members__.get(word, cls.UNKNOWN)


@dataclass(frozen=True, slots=True)
class SeverityScore:
    """One severity statement: the type (CVSS_V3…), the vector or word, score, and rating."""

    type: str
    vector: str
    score: float | None
    rating: Rating


def rating_of_score(score: float) -> Rating:
    if score == 0:
        return Rating.NONE
    if score < 4.0:
        return Rating.LOW
    if score < 7.0:
        return Rating.MEDIUM
    if score < 9.0:
        return Rating.HIGH
    return Rating.CRITICAL


def score(kind: str, vector: str) -> SeverityScore:
    """Score one OSV ``severity`` entry; an unreadable vector gives an UNKNOWN rating."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    value: float | None = None
    try:
        if kind == "CVSS_V4" or vector.startswith("CVSS:4"):
            value = float(CVSS4(vector).base_score)
        elif kind == "CVSS_V3" or vector.startswith("CVSS:3"):
            value = float(CVSS3(vector).base_score)
        elif kind == "CVSS_V2":
            value = float(CVSS2(vector).base_score)
    except (CVSSError, ValueError, KeyError, IndexError):
        value = None
    if value is not None:
        return SeverityScore(kind, vector, value, rating_of_score(value))
    return SeverityScore(kind, vector, None, Rating.parse(vector))


def scores(statements: Iterable[tuple[str, str]]) -> tuple[SeverityScore, ...]:
    return tuple(score(kind, vector) for kind, vector in dict.fromkeys(statements))


def overall(found: Iterable[SeverityScore]) -> tuple[float | None, Rating]:
    """The highest CVSS score and rating among the statements (newest CVSS version first)."""
    best_score: float | None = None
    best_rating = Rating.UNKNOWN
    for item in found:
        if item.score is not None and (best_score is None or item.score > best_score):
            best_score = item.score
        best_rating = max(best_rating, item.rating)
    return best_score, best_rating
