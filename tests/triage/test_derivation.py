"""One test per decision point and per evidence source: the evidence that set the value, and the
documented defaults (marked unknown) when evidence is missing."""

from __future__ import annotations

import pytest

from sakimori.model.cve import CisaSsvc
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import Decision, DecisionTables, decide
from sakimori.triage.evidence import AssetContext, Cvss, Evidence, Reference, Weakness

V3_AUTO_TOTAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
KNOWN = AssetContext("medium", True, (), "production")


def run(tables: DecisionTables, evidence: Evidence, context: AssetContext = KNOWN) -> Decision:
    return decide(evidence, context, tables, DEFAULT_CONFIG)


def ev(**fields: object) -> Evidence:
    return Evidence(id="CVE-2024-0001", **fields)  # type: ignore[arg-type]


def cisa(e: str = "none", a: str = "no", ti: str = "partial") -> CisaSsvc:
    return CisaSsvc(e, a, ti, "2.0.3", "2024-09-18T18:07:57Z", "CISA Coordinator")  # type: ignore[arg-type]


# --- Exploitation -------------------------------------------------------------------------------


def test_exploitation_active_from_kev(tables: DecisionTables) -> None:
    point = run(tables, ev(kev=True, kev_due_date="2024-10-09")).point("E")
    assert (point.value, point.value_name, point.unknown) == ("A", "Active", False)
    assert point.because[0].source == "KEV"
    assert "due 2024-10-09" in point.because[0].detail


def test_exploitation_active_from_cisa(tables: DecisionTables) -> None:
    point = run(tables, ev(cisa_ssvc=cisa("active"))).point("E")
    assert point.value == "A"
    assert [b.source for b in point.because] == ["CISA SSVC"]
    assert "says active" in point.because[0].detail


def test_exploitation_active_from_corroborated_sightings(tables: DecisionTables) -> None:
    point = run(tables, ev(sightings="corroborated")).point("E")
    assert point.value == "A"
    assert [b.source for b in point.because] == ["sightings"]


def test_exploitation_active_names_every_source(tables: DecisionTables) -> None:
    evidence = ev(kev=True, cisa_ssvc=cisa("active"), sightings="corroborated")
    point = run(tables, evidence).point("E")
    assert [b.source for b in point.because] == ["KEV", "CISA SSVC", "sightings"]


def test_kev_beats_cisa_poc(tables: DecisionTables) -> None:
    assert run(tables, ev(kev=True, cisa_ssvc=cisa("poc"))).point("E").value == "A"


def test_exploitation_poc_from_cisa(tables: DecisionTables) -> None:
    point = run(tables, ev(cisa_ssvc=cisa("poc"))).point("E")
    assert (point.value, point.value_name) == ("P", "Public PoC")
    assert point.because[0].source == "CISA SSVC"


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        (Reference("https://vuldb.example/x", ("exploit",), "cna:VulDB"), "tagged 'exploit'"),
        (Reference("https://osv.example/replay", ("EVIDENCE",)), "tagged 'EVIDENCE'"),
        (Reference("https://www.exploit-db.com/exploits/50592"), "an exploit site"),
        (Reference("http://packetstormsecurity.com/files/1/x.html"), "an exploit site"),
        (
            Reference("https://github.com/rapid7/metasploit-framework/blob/master/m.rb"),
            "an exploit collection",
        ),
        (Reference("https://huntr.com/bounties/f7a87f29"), "an exploit collection"),
        (Reference("https://github.com/someone/CVE-2024-0001-PoC"), "exploit code on github.com"),
        (Reference("https://gitlab.com/a/b/-/blob/main/exploit.py"), "exploit code on gitlab.com"),
        (Reference("https://github.com/x/proof-of-concept-thing"), "exploit code on github.com"),
    ],
)
def test_exploitation_poc_from_exploit_reference(
    tables: DecisionTables, reference: Reference, why: str
) -> None:
    point = run(tables, ev(references=(reference,))).point("E")
    assert point.value == "P"
    assert point.because[0].source == "reference"
    assert reference.url in point.because[0].detail
    assert why in point.because[0].detail


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/pocketbase/commit/abc",
        "https://github.com/org/repo/security/advisories/GHSA-aaaa-bbbb-cccc",
        "https://notexploit-db.com.example/x",
        "https://www.rapid7.com/blog/post/x",
        "not a url at all",
        "http://[::1",
    ],
)
def test_references_that_are_not_exploit_code(tables: DecisionTables, url: str) -> None:
    assert run(tables, ev(references=(Reference(url, ("patch",)),))).point("E").value == "N"


def test_exploitation_poc_from_epss_is_a_labelled_local_override(tables: DecisionTables) -> None:
    point = run(tables, ev(epss=0.42, epss_percentile=0.97)).point("E")
    assert point.value == "P"
    assert point.because[0].source == "EPSS (local override)"
    assert "0.420" in point.because[0].detail
    assert run(tables, ev(epss=0.05)).point("E").value == "N"
    off = TriageConfig(version="no-epss", epss_poc_threshold=None)
    assert decide(ev(epss=0.99), KNOWN, tables, off).point("E").value == "N"


AI_ERA = {
    "open_source": True,
    "fix_available": True,
    "cwes": (Weakness("CWE-89", "GHSA-xxxx"),),
}


def test_exploitation_poc_from_the_ai_era_rule(tables: DecisionTables) -> None:
    point = run(tables, ev(**AI_ERA)).point("E")
    assert point.value == "P"
    assert point.because[0].source == "local override: AI-era rule"
    assert "CWE-89 (GHSA-xxxx)" in point.because[0].detail
    assert "public fix" in point.because[0].detail


@pytest.mark.parametrize(
    "missing",
    [
        {"open_source": False},
        {"fix_available": False},
        {"cwes": (Weakness("CWE-400"),)},
        {"cwes": ()},
    ],
)
def test_ai_era_rule_needs_all_three_conditions(tables: DecisionTables, missing: dict) -> None:
    assert run(tables, ev(**{**AI_ERA, **missing})).point("E").value == "N"


def test_ai_era_rule_can_be_turned_off(tables: DecisionTables) -> None:
    off = TriageConfig(version="no-ai-era", ai_era_rule=False)
    assert decide(ev(**AI_ERA), KNOWN, tables, off).point("E").value == "N"


def test_local_overrides_raise_cisa_none(tables: DecisionTables) -> None:
    point = run(tables, ev(cisa_ssvc=cisa("none"), epss=0.5, **AI_ERA)).point("E")
    assert point.value == "P"
    assert [b.source for b in point.because] == [
        "EPSS (local override)",
        "local override: AI-era rule",
    ]


def test_exploitation_none_from_cisa(tables: DecisionTables) -> None:
    point = run(tables, ev(cisa_ssvc=cisa("none"))).point("E")
    assert (point.value, point.because[0].source) == ("N", "CISA SSVC")


def test_exploitation_none_without_evidence_says_what_was_checked(tables: DecisionTables) -> None:
    point = run(tables, ev()).point("E")
    assert (point.value, point.value_name, point.unknown) == ("N", "None", False)
    assert point.because[0].source == "no evidence of exploitation"
    assert "EPSS unknown" in point.because[0].detail


# --- Automatable --------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "key"), [("yes", "Y"), ("no", "N")])
def test_automatable_from_cisa(tables: DecisionTables, value: str, key: str) -> None:
    evidence = ev(cisa_ssvc=cisa(a=value), cvss=(Cvss("CVSS_V3", V3_AUTO_TOTAL),))
    point = run(tables, evidence).point("A")
    assert (point.value, point.because[0].source) == (key, "CISA SSVC")


@pytest.mark.parametrize(
    ("vector", "value", "words"),
    [
        (V3_AUTO_TOTAL, "Y", "attack vector network, complexity low"),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "N", "attack vector local"),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", "N", "user interaction required"),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "N", "complexity high"),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "Y",
            "requirements none",
        ),
        ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "N", "present"),
        ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:A/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AU:Y", "Y", "AU:Y"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AU:N", "N", "AU:N"),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "Y", "authentication none"),
        ("(AV:N/AC:L/Au:S/C:P/I:P/A:P)", "N", "authentication"),
    ],
)
def test_automatable_from_cvss(tables: DecisionTables, vector: str, value: str, words: str) -> None:
    kind = "CVSS_V2" if vector.startswith(("AV", "(")) else "CVSS_V" + vector[5]
    point = run(tables, ev(cvss=(Cvss(kind, vector, "cna:X"),))).point("A")
    assert (point.value, point.because[0].source, point.unknown) == (value, "CVSS", False)
    assert words in point.because[0].detail
    assert "(cna:X)" in point.because[0].detail


def test_automatable_any_vector_saying_yes_wins(tables: DecisionTables) -> None:
    local = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
    evidence = ev(cvss=(Cvss("CVSS_V3", local, "cna"), Cvss("CVSS_V3", V3_AUTO_TOTAL, "adp")))
    point = run(tables, evidence).point("A")
    assert point.value == "Y"
    assert "(adp)" in point.because[0].detail


def test_unreadable_vectors_are_ignored(tables: DecisionTables) -> None:
    evidence = ev(cvss=(Cvss("CVSS_V3", "CVSS:3.1/AV:Q"), Cvss("CVSS_V2", "HIGH")))
    point = run(tables, evidence).point("A")
    assert (point.value, point.unknown, point.because[0].source) == ("Y", True, "default")


@pytest.mark.parametrize(
    ("cwes", "value"),
    [
        (("CWE-89",), "Y"),
        (("CWE-79",), "N"),
        (("CWE-79", "CWE-352"), "N"),
        (("CWE-79", "CWE-78"), "Y"),
    ],
)
def test_automatable_from_weakness_class_without_cvss(
    tables: DecisionTables, cwes: tuple[str, ...], value: str
) -> None:
    evidence = ev(cwes=tuple(Weakness(c, "cna:X") for c in cwes))
    point = run(tables, evidence).point("A")
    assert (point.value, point.because[0].source, point.unknown) == (value, "CWE", False)


@pytest.mark.parametrize(
    "cwes", [(), (Weakness("CWE-400"),), (Weakness("CWE-79"), Weakness("CWE-400"))]
)
def test_automatable_unknown_defaults_to_yes(tables: DecisionTables, cwes: tuple) -> None:
    point = run(tables, ev(cwes=cwes)).point("A")
    assert (point.value, point.value_name, point.unknown) == ("Y", "Yes", True)
    assert point.because[0].source == "default"
    assert "unknown" in point.because[0].detail


# --- Technical Impact ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "key"), [("total", "T"), ("partial", "P")])
def test_technical_impact_from_cisa(tables: DecisionTables, value: str, key: str) -> None:
    point = run(tables, ev(cisa_ssvc=cisa(ti=value))).point("TI")
    assert (point.value, point.because[0].source) == (key, "CISA SSVC")


@pytest.mark.parametrize(
    ("vector", "value", "note"),
    [
        (V3_AUTO_TOTAL, "T", "scope unchanged"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:H", "P", "not both C and I high"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "P", "not both"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "T", "ambiguous"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:L/A:N", "P", "scope changed"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", "T", "VC:H VI:H"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:H/SI:H/SA:H", "P", "VI:L"),
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", "T", "C:complete I:complete"),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "P", "C:partial"),
    ],
)
def test_technical_impact_from_cvss(
    tables: DecisionTables, vector: str, value: str, note: str
) -> None:
    kind = "CVSS_V2" if vector.startswith("AV") else "CVSS_V" + vector[5]
    point = run(tables, ev(cvss=(Cvss(kind, vector),))).point("TI")
    assert (point.value, point.because[0].source, point.unknown) == (value, "CVSS", False)
    assert note in point.because[0].detail


def test_technical_impact_unknown_defaults_to_total(tables: DecisionTables) -> None:
    point = run(tables, ev()).point("TI")
    assert (point.value, point.value_name, point.unknown) == ("T", "Total", True)
    assert point.because[0].source == "default"


# --- Exposure (deployer System Exposure, BOD 26-04 Publicly Exposed) ----------------------------


@pytest.mark.parametrize(
    ("facing", "exp", "pe", "unknown"),
    [(True, "O", "Y", False), (False, "C", "N", False), (None, "O", "Y", True)],
)
def test_exposure_from_the_asset(
    tables: DecisionTables, facing: bool | None, exp: str, pe: str, unknown: bool
) -> None:
    decision = run(tables, ev(), AssetContext("high", facing))
    assert (decision.point("EXP").value, decision.point("EXP").unknown) == (exp, unknown)
    assert (decision.point("PE").value, decision.point("PE").unknown) == (pe, unknown)
    source = "default" if unknown else "asset"
    assert decision.point("EXP").because[0].source == source
    assert decision.point("PE").point_name == "Publicly Exposed"


# --- Mission & Well-being Impact, Human Impact ---------------------------------------------------


@pytest.mark.parametrize(
    ("criticality", "sectors", "mwi", "hi"),
    [
        ("low", (), "L", "L"),
        ("medium", (), "M", "M"),
        ("high", (), "H", "H"),
        ("critical", (), "H", "VH"),
        ("low", ("electric_power",), "M", "M"),
        ("medium", ("finance",), "M", "M"),
        ("high", ("water",), "H", "H"),
        ("critical", ("medical",), "H", "VH"),
        ("low", ("retail",), "L", "L"),
    ],
)
def test_mission_and_human_impact_from_criticality_and_sector(
    tables: DecisionTables, criticality: str, sectors: tuple[str, ...], mwi: str, hi: str
) -> None:
    context = AssetContext(criticality, True, sectors)  # type: ignore[arg-type]
    decision = run(tables, ev(), context)
    assert (decision.point("MWI").value, decision.point("HI").value) == (mwi, hi)
    assert decision.point("MWI").because[0].source == "asset"
    assert not decision.point("MWI").unknown


def test_critical_sector_explains_the_raise(tables: DecisionTables) -> None:
    decision = run(tables, ev(), AssetContext("low", True, ("gas",)))
    detail = decision.point("MWI").because[0].detail
    assert "sector gas is critical infrastructure, which raises L to M" in detail


def test_unknown_criticality_defaults_to_medium(tables: DecisionTables) -> None:
    decision = run(tables, ev(), AssetContext(None, True))
    for key in ("MWI", "HI"):
        point = decision.point(key)
        assert (point.value, point.unknown, point.because[0].source) == ("M", True, "default")
        assert "criticality unknown" in point.because[0].detail


def test_bare_file_scan_context(tables: DecisionTables) -> None:
    decision = run(tables, ev(), AssetContext.unknown())
    assert decision.context_unknown
    assert [decision.point(k).value for k in ("MWI", "EXP", "HI", "PE")] == ["M", "O", "M", "Y"]
    assert all(decision.point(k).unknown for k in ("MWI", "EXP", "HI", "PE"))
    assert "asset context unknown" in decision.explain()
    assert not run(tables, ev(), KNOWN).context_unknown


# --- In KEV (BOD 26-04) -------------------------------------------------------------------------


def test_in_kev_point(tables: DecisionTables) -> None:
    assert run(tables, ev(kev=True)).point("KEV").value == "Y"
    point = run(tables, ev(sightings="corroborated")).point("KEV")
    assert (point.value, point.because[0].source) == ("N", "KEV")
