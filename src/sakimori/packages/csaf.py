"""A package revision as a CSAF 2.0 ``csaf_security_advisory`` document.

The product tree is built by the CSAF VEX writer's ``_Tree`` (one ``full_product_name`` per
affected product, with its purl / CPE as identification helper), so both writers name products
the same way. Each vulnerability lists every affected product as ``known_affected``, carries the
package's mitigations as remediations, its deadlines and summary as notes.

TLP: CSAF 2.0 knows only TLP 1.0 labels (WHITE, GREEN, AMBER, RED). ``CLEAR`` is written as
``WHITE``; ``AMBER+STRICT`` as ``AMBER``, with the restriction to the recipient's organisation
stated in ``distribution.text``, which always names the TLP 2.0 label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sakimori import __version__
from sakimori.formats.vex import _common as c
from sakimori.formats.vex._csaf_writer import _Tree
from sakimori.formats.vex.csaf_vex import CVE
from sakimori.model.vex import VexProduct
from sakimori.packages.model import Content, Tlp

#: TLP 2.0 label → the CSAF 2.0 (TLP 1.0) label.
CSAF_TLP: Final[dict[Tlp, str]] = {
    Tlp.CLEAR: "WHITE",
    Tlp.GREEN: "GREEN",
    Tlp.AMBER: "AMBER",
    Tlp.AMBER_STRICT: "AMBER",
    Tlp.RED: "RED",
}

_DISTRIBUTION: Final[dict[Tlp, str]] = {
    Tlp.CLEAR: "TLP:CLEAR (TLP 2.0), written as TLP:WHITE: disclosure is not limited.",
    Tlp.GREEN: "TLP:GREEN (TLP 2.0): limited to the community; not for public channels.",
    Tlp.AMBER: "TLP:AMBER (TLP 2.0): limited to the recipient's organisation and its clients "
    "on a need-to-know basis.",
    Tlp.AMBER_STRICT: "TLP:AMBER+STRICT (TLP 2.0), written as TLP:AMBER because CSAF 2.0 knows "
    "only TLP 1.0 labels: restricted to the recipient's organisation only; do not share it "
    "with clients or anyone outside the organisation.",
    Tlp.RED: "TLP:RED (TLP 2.0): for the named recipients only; no further disclosure.",
}


@dataclass(frozen=True, slots=True)
class Release:
    """One published revision, for the revision history."""

    number: int
    published_at: datetime
    change: str


@dataclass(frozen=True, slots=True)
class Publisher:
    name: str = "Sakimori national coordinator"
    namespace: str = "https://sakimori.example"


def tracking_id(package_id: int) -> str:
    return f"SAKIMORI-PKG-{package_id:06d}"


def render(
    package_id: int,
    content: Content,
    releases: Sequence[Release],
    publisher: Publisher = Publisher(),
) -> dict[str, Any]:
    """The CSAF document of the newest of ``releases`` (which carry ``content``)."""
    if not releases:
        raise ValueError("a CSAF document is rendered for a published revision only")
    history = sorted(releases, key=lambda r: r.number)
    tree = _Tree()
    pids = [
        tree.id_of(VexProduct(purl=p.purl, cpe=p.cpe, name=p.label if p.product else None))
        for p in content.products
    ]
    pids = list(dict.fromkeys(pids))
    notes: list[dict[str, Any]] = [
        {"category": "summary", "title": "Summary", "text": content.summary or content.title},
    ]
    if content.guidance:
        notes.append({"category": "details", "title": "Guidance", "text": content.guidance})
    if content.deadlines:
        notes.append(
            {
                "category": "general",
                "title": "Deadlines",
                "text": "\n".join(
                    f"- {d.vulnerability or 'all vulnerabilities'}: by {d.due.isoformat()} "
                    f"({d.source})"
                    for d in content.deadlines
                ),
            }
        )
    for rule in content.detection_rules:
        notes.append(
            {"category": "details", "title": f"Sigma rule: {rule.title}", "text": rule.sigma}
        )
    references = [
        {"category": "external", "summary": r.summary or r.url, "url": r.url}
        for r in content.references
    ]
    for vulnerability in content.vulnerabilities:
        references.append(
            {
                "category": "external",
                "summary": vulnerability,
                "url": _vulnerability_url(vulnerability),
            }
        )
    newest = history[-1]
    return {
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "distribution": {
                "text": _DISTRIBUTION[content.tlp],
                "tlp": {"label": CSAF_TLP[content.tlp], "url": "https://www.first.org/tlp/"},
            },
            "lang": "en",
            "notes": notes,
            "publisher": {
                "category": "coordinator",
                "name": publisher.name,
                "namespace": publisher.namespace,
            },
            "references": references,
            "title": content.title,
            "tracking": {
                "current_release_date": c.format_time(newest.published_at),
                "generator": {"engine": {"name": "Sakimori", "version": __version__}},
                "id": tracking_id(package_id),
                "initial_release_date": c.format_time(history[0].published_at),
                "revision_history": [
                    {
                        "date": c.format_time(r.published_at),
                        "number": str(r.number),
                        "summary": r.change or ("Initial version." if r.number == 1 else "Update."),
                    }
                    for r in history
                ],
                "status": "final",
                "version": str(newest.number),
            },
        },
        "product_tree": tree.render(),
        "vulnerabilities": [_vulnerability(v, content, pids) for v in content.vulnerabilities],
    }


def _vulnerability_url(vulnerability: str) -> str:
    if CVE.fullmatch(vulnerability):
        return f"https://www.cve.org/CVERecord?id={vulnerability}"
    return f"https://osv.dev/vulnerability/{vulnerability}"


def _vulnerability(vulnerability: str, content: Content, pids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if CVE.fullmatch(vulnerability):
        out["cve"] = vulnerability
    else:
        out["ids"] = [{"system_name": c.id_system(vulnerability), "text": vulnerability}]
    text = f"{vulnerability} is addressed by the counter-measure package {content.title!r}."
    due = [d for d in content.deadlines if d.vulnerability in {None, vulnerability}]
    if due:
        text += " Deadline: " + min(d.due for d in due).isoformat() + "."
    out["notes"] = [{"category": "description", "title": "Counter-measure", "text": text}]
    out["product_status"] = {"known_affected": list(pids)}
    remediations: list[dict[str, Any]] = []
    for mitigation in content.mitigations:
        item: dict[str, Any] = {
            "category": mitigation.category,
            "details": mitigation.details,
            "product_ids": list(pids),
        }
        if mitigation.url:
            item["url"] = mitigation.url
        remediations.append(item)
    if not remediations:
        remediations.append(
            {
                "category": "none_available",
                "details": content.guidance or "See the package's guidance.",
                "product_ids": list(pids),
            }
        )
    out["remediations"] = remediations
    out["references"] = [
        {"category": "external", "summary": vulnerability, "url": _vulnerability_url(vulnerability)}
    ]
    return out
