"""Turn match results into findings: aliases merged, fixes, severity, KEV and EPSS attached. Pure.

One finding per (package-version in an inventory, vulnerability): records from several
databases that share an id are one vulnerability, reported under its CVE id when it has one,
with every other id in ``aliases``. A component listed twice in one inventory (npm nests copies)
gives one finding, not two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sakimori.errors import InvalidVersion
from sakimori.matching import aliases
from sakimori.matching.index import Hit
from sakimori.matching.matcher import ComponentResult
from sakimori.model.advisory import AdvisoryInfo
from sakimori.model.ecosystem import to_purl
from sakimori.model.finding import Finding, NotEvaluated
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.triage.severity import overall, scores
from sakimori.versions import key_function


def build_findings(
    inventory: str,
    results: Iterable[ComponentResult],
    advisories: Mapping[str, AdvisoryInfo],
    kev: Mapping[str, KevEntry],
    epss: Mapping[str, EpssScore],
    cvss: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> tuple[list[Finding], list[NotEvaluated]]:
    """``cvss`` adds severity statements by CVE id (from CVE records' CNA and ADP metrics)."""
    findings: dict[tuple[str, str, str, str], Finding] = {}
    not_evaluated: dict[tuple[str, str | None, str | None, str | None], NotEvaluated] = {}
    for result in results:
        component = result.component
        if result.not_evaluated is not None or result.package is None:
            item = NotEvaluated(
                inventory,
                component.name,
                component.version,
                component.ecosystem,
                result.not_evaluated or "not evaluated",
            )
            not_evaluated[(item.name, item.version, item.ecosystem, None)] = item
            continue
        package = result.package
        hits: dict[str, list[Hit]] = {}
        for hit in result.result.hits:
            hits.setdefault(hit.entry.advisory_id, []).append(hit)
        ids_by_record = {
            record: advisories[record].aliases if record in advisories else () for record in hits
        }
        purl = component.purl or to_purl(package.ecosystem, component.name, package.version)
        for records in aliases.group(ids_by_record):
            finding = _finding(
                inventory,
                component.name,
                package.ecosystem,
                package.version,
                package.release,
                purl,
                records,
                hits,
                advisories,
                kev,
                epss,
                cvss or {},
            )
            key = (package.ecosystem, package.name, package.version, finding.vulnerability)
            findings.setdefault(key, finding)
        for unevaluated in result.result.unevaluated:
            record = unevaluated.entry.advisory_id
            if record in hits:
                continue
            item = NotEvaluated(
                inventory,
                component.name,
                component.version,
                component.ecosystem,
                unevaluated.reason,
                record,
            )
            not_evaluated[(item.name, item.version, item.ecosystem, record)] = item
    return sort_findings(findings.values()), list(not_evaluated.values())


def _finding(
    inventory: str,
    name: str,
    ecosystem: str,
    version: str,
    release: str | None,
    purl: str | None,
    records: Sequence[str],
    hits: Mapping[str, Sequence[Hit]],
    advisories: Mapping[str, AdvisoryInfo],
    kev: Mapping[str, KevEntry],
    epss: Mapping[str, EpssScore],
    cvss: Mapping[str, Sequence[tuple[str, str]]],
) -> Finding:
    ids: list[str] = list(records)
    statements: list[tuple[str, str]] = []
    summary = ""
    for record in records:
        info = advisories.get(record)
        if info is not None:
            ids.extend(info.aliases)
            statements.extend(info.severity)
            summary = summary or info.summary
    all_ids = aliases.ordered(ids)
    primary = all_ids[0]
    for identifier in all_ids:
        statements.extend(cvss.get(identifier, ()))
    fixed = _sorted_versions(
        ecosystem, (f for record in records for hit in hits[record] for f in hit.fixed)
    )
    severity = scores(statements)
    best_score, rating = overall(severity)
    cves = [i for i in all_ids if i.startswith("CVE-")]
    kev_entry = next((kev[c] for c in cves if c in kev), None)
    epss_found = [epss[c] for c in cves if c in epss]
    top = max(epss_found, key=lambda s: s.epss) if epss_found else None
    return Finding(
        vulnerability=primary,
        aliases=tuple(i for i in all_ids if i != primary),
        ecosystem=ecosystem,
        package=name,
        version=version,
        purl=purl,
        fixed=fixed,
        severity=severity,
        score=best_score,
        rating=rating,
        kev=kev_entry is not None,
        kev_due_date=kev_entry.due_date if kev_entry else None,
        epss=top.epss if top else None,
        epss_percentile=top.percentile if top else None,
        summary=summary,
        inventory=inventory,
        records=tuple(sorted(records)),
        release=release,
    )


def _sorted_versions(ecosystem: str, versions: Iterable[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys(versions))
    key = key_function(ecosystem)
    if key is None:
        return tuple(unique)
    try:
        return tuple(sorted(unique, key=key))
    except InvalidVersion:
        return tuple(unique)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """KEV first, then by EPSS, then by CVSS score, then by package and id."""
    return sorted(
        findings,
        key=lambda f: (
            not f.kev,
            -(f.epss or 0.0),
            -(f.score or 0.0),
            -f.rating,
            f.inventory,
            f.package,
            f.version,
            f.vulnerability,
        ),
    )
