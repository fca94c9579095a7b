"""The configurable parts of triage, versioned: :class:`TriageConfig`.

Every decision records the ``version`` of the configuration it was made with, so a changed
threshold or mapping is visible in explanations and can be recomputed. The defaults, and the
reasons for them, are written down in ``docs/triage.md``; a deployment that changes any of them
should give its configuration a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from sakimori.errors import ConfigurationError
from sakimori.model import organisation

#: Japan's fifteen critical-infrastructure sectors, by the keys ``model.organisation`` stores.
JAPAN_CI_SECTORS: Final = frozenset(organisation.SECTORS)

#: Weakness classes automated tools (scanners, exploit frameworks, LLM agents) exploit well.
AI_ERA_CWES: Final = frozenset(
    f"CWE-{n}"
    for n in (
        # injection: generic, command, OS command, XSS, SQL, LDAP, code, eval, EL, template
        *(74, 77, 78, 79, 89, 90, 94, 95, 917, 1336),
        # path traversal and file inclusion
        *(22, 23, 35, 36, 98),
        # deserialisation of untrusted data
        502,
        # authentication / authorisation bypass
        *(287, 288, 290, 306, 639, 862, 863),
        # server-side request forgery, XML external entities, unrestricted upload
        *(918, 611, 434),
        # memory safety (the bugs fuzzers and parsers' attackers find): bounds, overflow, UAF
        *(119, 120, 121, 122, 125, 787, 416, 415),
    )
)

#: Without a CVSS vector: weaknesses usually reachable by one unauthenticated network request…
AUTOMATABLE_CWES: Final = frozenset(
    f"CWE-{n}"
    for n in (
        *(77, 78, 89, 90, 94, 95, 917, 1336),
        *(22, 23, 35, 36, 98, 502),
        *(287, 288, 290, 306, 918, 611, 434),
    )
)
#: …and weaknesses that need a victim's action or local access, so the kill chain cannot be run
#: end to end by a tool (cross-site scripting, CSRF, open redirect, clickjacking, link following,
#: search-path and race conditions).
NOT_AUTOMATABLE_CWES: Final = frozenset(
    f"CWE-{n}" for n in (79, 352, 601, 1021, 59, 426, 427, 362, 367)
)

#: Hosts that publish exploit code, and host/path prefixes of exploit collections or of reports
#: that carry a proof of concept by rule (huntr bounties require one; GitHub Security Lab
#: advisories publish theirs).
EXPLOIT_SITES: Final = (
    "exploit-db.com",
    "packetstormsecurity.com",
    "packetstormsecurity.org",
    "packetstormsecurity.net",
    "packetstorm.news",
    "0day.today",
    "sploitus.com",
    "rapid7.com/db/modules",
    "github.com/rapid7/metasploit-framework",
    "github.com/projectdiscovery/nuclei-templates",
    "github.com/offensive-security/exploitdb",
    "huntr.dev/bounties",
    "huntr.com/bounties",
    "securitylab.github.com/advisories",
)
#: Code hosts where a repository or gist whose path names an exploit or PoC counts as exploit code.
CODE_HOSTS: Final = ("github.com", "gist.github.com", "gitlab.com", "codeberg.org", "bitbucket.org")
EXPLOIT_WORDS: Final = ("exploit", "exploits", "poc", "pocs", "proof-of-concept", "metasploit")
#: Reference tags (CVE) and types (OSV) that mark exploit code or evidence of exploitability.
EXPLOIT_TAGS: Final = ("exploit", "x_refsource_EXPLOIT-DB", "EVIDENCE")

_MWI_LEVELS: Final = ("L", "M", "H")
_HI_LEVELS: Final = ("L", "M", "H", "VH")


@dataclass(frozen=True, slots=True)
class TriageConfig:
    """Thresholds, lists and mappings that decide how evidence becomes SSVC values.

    ``epss_poc_threshold``: EPSS at or above it raises Exploitation to ``poc`` (a labelled local
    override; ``None`` turns it off). ``ai_era_rule``: see ``docs/triage.md``.
    ``mwi_by_criticality`` / ``hi_by_criticality``: asset criticality to Mission & Well-being
    Impact and Human Impact value keys; when the asset's organisation is in one of
    ``critical_sectors``, neither is lower than ``sector_floor_mwi`` / ``sector_floor_hi``.
    ``default_criticality`` stands in when the asset's criticality is unknown.
    """

    version: str = "sakimori-triage-1"
    epss_poc_threshold: float | None = 0.1
    exploit_sites: tuple[str, ...] = EXPLOIT_SITES
    code_hosts: tuple[str, ...] = CODE_HOSTS
    exploit_words: tuple[str, ...] = EXPLOIT_WORDS
    exploit_tags: tuple[str, ...] = EXPLOIT_TAGS
    ai_era_rule: bool = True
    ai_era_cwes: frozenset[str] = AI_ERA_CWES
    automatable_cwes: frozenset[str] = AUTOMATABLE_CWES
    not_automatable_cwes: frozenset[str] = NOT_AUTOMATABLE_CWES
    critical_sectors: frozenset[str] = JAPAN_CI_SECTORS
    mwi_by_criticality: tuple[tuple[str, str], ...] = (
        ("low", "L"),
        ("medium", "M"),
        ("high", "H"),
        ("critical", "H"),
    )
    hi_by_criticality: tuple[tuple[str, str], ...] = (
        ("low", "L"),
        ("medium", "M"),
        ("high", "H"),
        ("critical", "VH"),
    )
    sector_floor_mwi: str = "M"
    sector_floor_hi: str = "M"
    default_criticality: str = "medium"
    _mwi: Mapping[str, str] = field(init=False, compare=False, repr=False)
    _hi: Mapping[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.version.strip():
            raise ConfigurationError("a triage configuration needs a version")
        threshold = self.epss_poc_threshold
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigurationError(f"EPSS threshold {threshold} is not between 0 and 1")
        mwi, hi = dict(self.mwi_by_criticality), dict(self.hi_by_criticality)
        for name, table, levels in (("MWI", mwi, _MWI_LEVELS), ("HI", hi, _HI_LEVELS)):
            for level in ("low", "medium", "high", "critical"):
                if table.get(level) not in levels:
                    raise ConfigurationError(
                        f"{name} mapping gives {table.get(level)!r} for criticality {level!r}; "
                        f"expected one of {', '.join(levels)}"
                    )
        if self.default_criticality not in mwi:
            raise ConfigurationError(f"default criticality {self.default_criticality!r} unknown")
        if self.sector_floor_mwi not in _MWI_LEVELS or self.sector_floor_hi not in _HI_LEVELS:
            raise ConfigurationError(
                f"sector floors {self.sector_floor_mwi!r} / {self.sector_floor_hi!r} are not "
                f"MWI ({', '.join(_MWI_LEVELS)}) / HI ({', '.join(_HI_LEVELS)}) values"
            )
        object.__setattr__(self, "_mwi", mwi)
        object.__setattr__(self, "_hi", hi)

    def impact(self, criticality: str, sectors: tuple[str, ...]) -> tuple[str, str, str | None]:
        """(MWI key, HI key, the critical-infrastructure sector that set a floor, or None)."""
        mwi, hi = self._mwi[criticality], self._hi[criticality]
        sector = next((s for s in sectors if s in self.critical_sectors), None)
        if sector is not None:
            mwi = max(mwi, self.sector_floor_mwi, key=_MWI_LEVELS.index)
            hi = max(hi, self.sector_floor_hi, key=_HI_LEVELS.index)
        return mwi, hi, sector


DEFAULT_CONFIG: Final = TriageConfig()
