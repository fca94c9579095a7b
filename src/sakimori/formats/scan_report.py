"""Scan results as JSON (Sakimori's own shape) and as SARIF 2.1.0. Pure renderers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from sakimori import __version__
from sakimori.model.finding import Finding, NotEvaluated
from sakimori.triage.severity import Rating

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/sakimori/sakimori"


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "vulnerability": finding.vulnerability,
        "aliases": list(finding.aliases),
        "ecosystem": finding.ecosystem,
        "package": finding.package,
        "version": finding.version,
        "purl": finding.purl,
        "fixed": list(finding.fixed),
        "severity": [
            {"type": s.type, "vector": s.vector, "score": s.score, "rating": s.rating.label}
            for s in finding.severity
        ],
        "score": finding.score,
        "rating": finding.rating.label,
        "kev": finding.kev,
        "kev_due_date": finding.kev_due_date,
        "epss": finding.epss,
        "epss_percentile": finding.epss_percentile,
        "summary": finding.summary,
        "inventory": finding.inventory,
        "records": list(finding.records),
        "decision": finding.decision,
        "priority": finding.priority,
        "bod": finding.bod,
        "deadline": finding.deadline.isoformat() if finding.deadline else None,
        "explanation": finding.explanation,
    }


def not_evaluated_dict(item: NotEvaluated) -> dict[str, Any]:
    return {
        "inventory": item.inventory,
        "name": item.name,
        "version": item.version,
        "ecosystem": item.ecosystem,
        "advisory": item.advisory,
        "reason": item.reason,
    }


def render_json(
    findings: Sequence[Finding],
    inventories: Sequence[dict[str, Any]],
    not_evaluated: Sequence[NotEvaluated] = (),
    ignored_files: Sequence[tuple[str, str]] = (),
    context: str | None = None,
) -> bytes:
    document = {
        "context": context,
        "findings": [finding_dict(f) for f in findings],
        "inventories": list(inventories),
        "not_evaluated": [not_evaluated_dict(n) for n in not_evaluated],
        "ignored_files": [{"path": p, "reason": r} for p, r in ignored_files],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _level(rating: Rating) -> str:
    if rating >= Rating.HIGH:
        return "error"
    if rating == Rating.MEDIUM:
        return "warning"
    return "note"


def _rule(finding: Finding) -> dict[str, Any]:
    ids = ", ".join(finding.aliases) or "none"
    text = finding.summary or f"{finding.vulnerability} in {finding.ecosystem} packages"
    properties: dict[str, Any] = {
        "tags": ["security", "vulnerability", finding.ecosystem],
        "aliases": list(finding.aliases),
    }
    if finding.score is not None:
        properties["security-severity"] = f"{finding.score:.1f}"
    return {
        "id": finding.vulnerability,
        "name": finding.vulnerability.replace("-", ""),
        "shortDescription": {"text": text[:1000]},
        "fullDescription": {"text": f"{text} (also known as: {ids})"},
        "helpUri": f"https://osv.dev/vulnerability/{finding.vulnerability}",
        "help": {
            "text": f"{text}. Upgrade to a fixed version when one is listed.",
            "markdown": f"**{finding.vulnerability}**: {text}\n\nAlso known as: {ids}.",
        },
        "properties": properties,
    }


def render_sarif(findings: Sequence[Finding]) -> bytes:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in findings:
        rules.setdefault(finding.vulnerability, _rule(finding))
        fixed = f"; fixed in {', '.join(finding.fixed)}" if finding.fixed else "; no fix known"
        kev = " Known exploited (CISA KEV)." if finding.kev else ""
        results.append(
            {
                "ruleId": finding.vulnerability,
                "level": _level(finding.rating),
                "message": {
                    "text": f"{finding.package} {finding.version} ({finding.ecosystem}) is "
                    f"affected by {finding.vulnerability}{fixed}.{kev}"
                },
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": finding.inventory}},
                        "logicalLocations": [
                            {"name": finding.purl or finding.package, "kind": "package"}
                        ],
                    }
                ],
                "partialFingerprints": {
                    "sakimori/v1": f"{finding.ecosystem}/{finding.package}@{finding.version}"
                    f"/{finding.vulnerability}"
                },
                "properties": {"kev": finding.kev, "epss": finding.epss},
            }
        )
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sakimori",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
