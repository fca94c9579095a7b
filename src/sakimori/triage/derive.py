"""The derivation rules: evidence and asset context -> SSVC decision point values, with reasons.

Values are SSVC value keys (Exploitation ``N``/``P``/``A``, Automatable ``N``/``Y``, Technical
Impact ``P``/``T``, Mission & Well-being ``L``/``M``/``H``, System Exposure ``C``/``O``, Human
Impact ``L``/``M``/``H``/``VH``, Publicly Exposed ``N``/``Y``). ``docs/triage.md`` states every
rule and default in prose; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sakimori.triage.config import TriageConfig
from sakimori.triage.evidence import AssetContext, Cvss, Evidence
from sakimori.triage.signals import VectorFacts, exploit_references, vector_facts

LOCAL_OVERRIDE = "local override"


@dataclass(frozen=True, slots=True)
class Because:
    """One piece of evidence behind a value: where it came from, and what it says."""

    source: str
    detail: str


@dataclass(frozen=True, slots=True)
class Derived:
    """A derived value key, the evidence for it, and whether it is a default (evidence missing)."""

    value: str
    because: tuple[Because, ...]
    unknown: bool = False


def derive_vulnerability(
    evidence: Evidence, config: TriageConfig
) -> tuple[Derived, Derived, Derived]:
    """(Exploitation, Automatable, Technical Impact) of one vulnerability."""
    vectors = [
        (c, facts) for c in evidence.cvss if (facts := vector_facts(c.type, c.vector)) is not None
    ]
    return (
        exploitation(evidence, config),
        automatable(evidence, config, vectors),
        technical_impact(evidence, vectors),
    )


def exploitation(evidence: Evidence, config: TriageConfig) -> Derived:
    """``A`` on KEV, CISA active or corroborated sightings; ``P`` on CISA poc, an exploit
    reference, EPSS at or above the threshold, or the AI-era rule; else ``N``."""
    cisa = evidence.cisa_ssvc
    active: list[Because] = []
    if evidence.kev:
        due = f", due {evidence.kev_due_date}" if evidence.kev_due_date else ""
        active.append(
            Because("KEV", f"listed in CISA's Known Exploited Vulnerabilities catalog{due}")
        )
    if cisa is not None and cisa.exploitation == "active":
        active.append(Because("CISA SSVC", _cisa(cisa.exploitation, cisa.timestamp)))
    if evidence.sightings == "corroborated":
        active.append(
            Because("sightings", "exploitation attempts corroborated by Sakimori monitoring")
        )
    if active:
        return Derived("A", tuple(active))
    poc: list[Because] = []
    if cisa is not None and cisa.exploitation == "poc":
        poc.append(Because("CISA SSVC", _cisa(cisa.exploitation, cisa.timestamp)))
    found = exploit_references(config).first(evidence.references)
    if found is not None:
        reference, why = found
        poc.append(Because("reference", f"{reference.url} is {why} ({reference.source})".strip()))
    threshold = config.epss_poc_threshold
    if threshold is not None and evidence.epss is not None and evidence.epss >= threshold:
        poc.append(
            Because(
                f"EPSS ({LOCAL_OVERRIDE})",
                f"EPSS {evidence.epss:.3f} is at or above the threshold {threshold:g}",
            )
        )
    ai_era = _ai_era(evidence, config)
    if ai_era is not None:
        poc.append(Because(f"{LOCAL_OVERRIDE}: AI-era rule", ai_era))
    if poc:
        return Derived("P", tuple(poc))
    if cisa is not None:
        return Derived("N", (Because("CISA SSVC", _cisa(cisa.exploitation, cisa.timestamp)),))
    epss = "unknown" if evidence.epss is None else f"{evidence.epss:.3f}"
    return Derived(
        "N",
        (
            Because(
                "no evidence of exploitation",
                "not in KEV, no CISA enrichment, no corroborated sightings, no exploit reference, "
                f"EPSS {epss}, AI-era rule does not apply",
            ),
        ),
    )


def _ai_era(evidence: Evidence, config: TriageConfig) -> str | None:
    if not (config.ai_era_rule and evidence.open_source and evidence.fix_available):
        return None
    weakness = next((w for w in evidence.cwes if w.cwe in config.ai_era_cwes), None)
    if weakness is None:
        return None
    return (
        f"open-source code with a public fix, and {weakness.cwe} ({weakness.source}) is a weakness "
        "class automated tools exploit well: a fix diff makes an n-day exploit cheap"
    )


def automatable(
    evidence: Evidence, config: TriageConfig, vectors: list[tuple[Cvss, VectorFacts]]
) -> Derived:
    """CISA's value; else the CVSS vector(s); else the weakness class; else unknown -> ``Y``."""
    cisa = evidence.cisa_ssvc
    if cisa is not None:
        value = "Y" if cisa.automatable == "yes" else "N"
        return Derived(value, (Because("CISA SSVC", _cisa(cisa.automatable, cisa.timestamp)),))
    if vectors:
        for cvss, facts in vectors:
            if facts.stated_automatable is not None:
                value = "Y" if facts.stated_automatable else "N"
                return Derived(value, (_cvss(cvss, f"supplemental metric AU:{value}"),))
        for cvss, facts in vectors:
            if facts.automatable:
                return Derived("Y", (_cvss(cvss, facts.exploitability),))
        cvss, facts = vectors[0]
        return Derived("N", (_cvss(cvss, facts.exploitability),))
    yes = next((w for w in evidence.cwes if w.cwe in config.automatable_cwes), None)
    if yes is not None:
        return Derived(
            "Y",
            (Because("CWE", f"{yes.cwe} ({yes.source}): usually one unauthenticated request"),),
        )
    no = [w for w in evidence.cwes if w.cwe in config.not_automatable_cwes]
    if evidence.cwes and len(no) == len(evidence.cwes):
        return Derived(
            "N",
            (
                Because(
                    "CWE", f"{no[0].cwe} ({no[0].source}): needs a victim's action or local access"
                ),
            ),
        )
    return Derived(
        "Y",
        (
            Because(
                "default",
                "unknown: no CVSS vector and no weakness class that settles it; assumed "
                "automatable until shown otherwise (conservative)",
            ),
        ),
        unknown=True,
    )


def technical_impact(evidence: Evidence, vectors: list[tuple[Cvss, VectorFacts]]) -> Derived:
    """CISA's value; else ``T`` if a vector has high C and I on the vulnerable system (a v3
    vector with changed scope counts, conservatively), else ``P``; unknown -> ``T``."""
    cisa = evidence.cisa_ssvc
    if cisa is not None:
        value = "T" if cisa.technical_impact == "total" else "P"
        return Derived(value, (Because("CISA SSVC", _cisa(cisa.technical_impact, cisa.timestamp)),))
    for cvss, facts in vectors:
        if facts.total:
            note = (
                "; scope changed, so ambiguous: counted total (conservative)"
                if facts.ambiguous
                else ""
            )
            return Derived("T", (_cvss(cvss, facts.impact + note),))
    if vectors:
        cvss, facts = vectors[0]
        return Derived("P", (_cvss(cvss, facts.impact + ": not both C and I high"),))
    return Derived(
        "T",
        (Because("default", "unknown: no CVSS vector; assumed total (conservative)"),),
        unknown=True,
    )


def derive_context(context: AssetContext, config: TriageConfig) -> tuple[Derived, ...]:
    """(Mission & Well-being, System Exposure, Human Impact, Publicly Exposed) of one asset."""
    criticality = context.criticality
    if criticality is None:
        criticality_text = f"criticality unknown, taken as {config.default_criticality} (default)"
        level = config.default_criticality
    else:
        criticality_text = f"asset criticality {criticality}"
        level = criticality
    mwi, hi, sector = config.impact(level, context.sectors)
    plain_mwi, plain_hi, _ = config.impact(level, ())
    where = f" ({context.environment})" if context.environment else ""
    unknown = criticality is None
    source = "default" if unknown else "asset"

    def because(value: str, plain: str) -> tuple[Because, ...]:
        text = criticality_text + where
        if sector is not None:
            text += f"; sector {sector} is critical infrastructure"
            if value != plain:
                text += f", which raises {plain} to {value}"
        return (Because(source, text),)

    mission = Derived(mwi, because(mwi, plain_mwi), unknown)
    human = Derived(hi, because(hi, plain_hi), unknown)
    if context.internet_facing is None:
        text = "unknown whether the asset is internet-facing; assumed open (conservative)"
        exposure = Derived("O", (Because("default", text),), unknown=True)
        public = Derived("Y", (Because("default", text),), unknown=True)
    elif context.internet_facing:
        exposure = Derived("O", (Because("asset", "internet-facing"),))
        public = Derived("Y", (Because("asset", "internet-facing"),))
    else:
        exposure = Derived("C", (Because("asset", "not internet-facing"),))
        public = Derived("N", (Because("asset", "not internet-facing"),))
    return mission, exposure, human, public


def _cisa(value: str, timestamp: str) -> str:
    when = f" ({timestamp})" if timestamp else ""
    return f"CISA's Vulnrichment SSVC says {value}{when}"


def _cvss(cvss: Cvss, detail: str) -> Because:
    origin = f" ({cvss.source})" if cvss.source else ""
    return Because("CVSS", f"{cvss.vector}{origin}: {detail}")
