"""An endpoint's filters and the TLP rule of who may receive a notification (pure).

An endpoint receives a package revision when every filter it sets matches (a filter left
empty matches everything):

- ``sectors``: the package's audience names one of them;
- ``vulnerabilities``: the package covers one of them (ids compared case-insensitively);
- ``purl_prefixes``: one of the package's affected products has a purl starting with one;
- ``min_tlp`` / ``max_tlp``: the label lies between them (CLEAR < GREEN < AMBER <
  AMBER+STRICT < RED).

Filters only narrow. Who may receive anything at all is the package rule
(``sakimori.packages.model.may_read``) applied to the endpoint: its organisation must be an
active recipient, and a TLP:RED revision goes only to a *personal e-mail* endpoint of a person
the package names — never to a webhook or an organisation's shared mailbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sakimori.errors import InvalidInput
from sakimori.packages.model import Content, Receipt, Tlp, may_read

ORDER: Final = list(Tlp)
KINDS: Final = frozenset({"webhook", "email"})
LANGUAGES: Final = frozenset({"ja", "en"})


@dataclass(frozen=True, slots=True)
class Filters:
    sectors: tuple[str, ...] = ()
    vulnerabilities: tuple[str, ...] = ()
    purl_prefixes: tuple[str, ...] = ()
    min_tlp: Tlp | None = None
    max_tlp: Tlp | None = None

    def __post_init__(self) -> None:
        if (
            self.min_tlp is not None
            and self.max_tlp is not None
            and ORDER.index(self.min_tlp) > ORDER.index(self.max_tlp)
        ):
            raise InvalidInput(
                f"min_tlp {self.min_tlp.value} is more restricted than max_tlp {self.max_tlp.value}"
            )
        for prefix in self.purl_prefixes:
            if not prefix.startswith("pkg:"):
                raise InvalidInput(f"product filter {prefix!r} is not a purl prefix (pkg:…)")

    def matches(self, content: Content) -> bool:
        if self.sectors and not set(self.sectors) & set(content.audience.sectors):
            return False
        if self.vulnerabilities:
            wanted = {v.upper() for v in self.vulnerabilities}
            if not wanted & {v.upper() for v in content.vulnerabilities}:
                return False
        if self.purl_prefixes and not any(
            p.purl and p.purl.startswith(self.purl_prefixes) for p in content.products
        ):
            return False
        rank = ORDER.index(content.tlp)
        if self.min_tlp is not None and rank < ORDER.index(self.min_tlp):
            return False
        return self.max_tlp is None or rank <= ORDER.index(self.max_tlp)


def entitled(tlp: Tlp, *, kind: str, personal_user: str | None, receipt: Receipt | None) -> bool:
    """Whether an endpoint may be sent a revision labelled ``tlp`` at all."""
    if tlp is Tlp.RED and (kind != "email" or personal_user is None):
        return False
    return may_read(tlp, staff=False, receipt=receipt, user=personal_user or "")


def names(values: Iterable[str], what: str, limit: int = 100) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(out) > limit:
        raise InvalidInput(f"at most {limit} {what} per endpoint")
    for value in out:
        if len(value) > 300 or any(ord(c) < 32 for c in value):
            raise InvalidInput(f"{what} {value[:40]!r} is not acceptable")
    return out
