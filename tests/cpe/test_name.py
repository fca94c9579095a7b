"""CPE 2.3 names: the NISTIR 7695 binding and unbinding examples, errors, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sakimori.cpe.name import (
    ANY,
    NA,
    PUNCTUATION,
    Value,
    Wfn,
    bind_fs,
    bind_uri,
    from_text,
    parse,
    parse_fs,
    parse_uri,
    quote,
    unquote,
)
from sakimori.errors import InvalidInput

IE = {"part": "a", "vendor": "microsoft", "product": "internet_explorer"}

# NISTIR 7695 §6.1.2.3 / §6.2.2.3 examples: (WFN, URI binding, formatted-string binding)
BINDINGS = [
    (
        Wfn(**IE, version="8\\.0\\.6001", update="beta"),
        "cpe:/a:microsoft:internet_explorer:8.0.6001:beta",
        "cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
    ),
    (
        Wfn(**IE, version="8\\.*", update="sp?"),
        "cpe:/a:microsoft:internet_explorer:8.%02:sp%01",
        "cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*",
    ),
    (
        Wfn(
            "a",
            "hp",
            "insight_diagnostics",
            "7\\.4\\.0\\.1570",
            NA,
            sw_edition="online",
            target_sw="win2003",
            target_hw="x64",
        ),
        "cpe:/a:hp:insight_diagnostics:7.4.0.1570:-:~~online~win2003~x64~",
        "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*",
    ),
    (
        Wfn("a", "hp", "openview_network_manager", "7\\.51", target_sw="linux"),
        "cpe:/a:hp:openview_network_manager:7.51::~~~linux~~",
        "cpe:2.3:a:hp:openview_network_manager:7.51:*:*:*:*:linux:*:*",
    ),
    (
        Wfn(
            "a",
            "foo\\\\bar",
            "big\\$money_manager_2010",
            sw_edition="special",
            target_sw="ipod_touch",
            target_hw="80gb",
        ),
        "cpe:/a:foo%5cbar:big%24money_manager_2010:::~~special~ipod_touch~80gb~",
        "cpe:2.3:a:foo\\\\bar:big\\$money_manager_2010:*:*:*:*:special:ipod_touch:80gb:*",
    ),
]


@pytest.mark.parametrize(("wfn", "uri", "fs"), BINDINGS)
def test_spec_binding_examples(wfn: Wfn, uri: str, fs: str) -> None:
    assert bind_uri(wfn) == uri
    assert bind_fs(wfn) == fs
    assert parse_uri(uri) == wfn
    assert parse_fs(fs) == wfn
    assert parse(uri) == parse(fs)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        # §6.1.3.3: percent-encoded * and ? are quoted characters, %02 / %01 are wildcards
        (
            "cpe:/a:microsoft:internet_explorer:8.%2a:sp%3f",
            {"version": "8\\.\\*", "update": "sp\\?"},
        ),
        ("cpe:/a:microsoft:internet_explorer:8.%02:sp%01", {"version": "8\\.*", "update": "sp?"}),
        ("cpe:/a:foo~bar:big%7emoney_2010", {"vendor": "foo\\~bar", "product": "big\\~money_2010"}),
        ("cpe:/a:microsoft:internet_explorer", {"version": ANY, "language": ANY}),
        ("cpe:/o:vendor:product:-", {"version": NA}),
        ("cpe:/a:v:p:1.0:::en-us", {"language": "en\\-us", "edition": ANY}),
    ],
)
def test_uri_unbinding(uri: str, expected: dict[str, Value]) -> None:
    wfn = parse_uri(uri)
    for attribute, value in expected.items():
        assert wfn.get(attribute) == value


@pytest.mark.parametrize(
    ("fs", "expected"),
    [
        (
            "cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
            {"version": "8\\.0\\.6001"},
        ),
        (
            "cpe:2.3:a:foo\\\\bar:big\\$money:2010:*:*:*:special:ipod_touch:80gb:*",
            {"vendor": "foo\\\\bar", "product": "big\\$money"},
        ),
        # quoted colon inside a value does not split fields
        ("cpe:2.3:a:vendor:pro\\:duct:1.0:*:*:*:*:*:*:*", {"product": "pro\\:duct"}),
        # a quoted letter is the letter; an unquoted punctuation character gets quoted
        ("cpe:2.3:a:v\\endor:p~q:1.0:*:*:*:*:*:*:*", {"vendor": "vendor", "product": "p\\~q"}),
        (
            "cpe:2.3:a:qualitia:active\\!_mail:*:*:*:*:*:*:*:*",
            {"product": "active\\!_mail", "version": ANY},
        ),
        (
            "cpe:2.3:h:fortinet:fortigate-6300f:-:*:*:*:*:*:*:*",
            {"product": "fortigate\\-6300f", "version": NA},
        ),
        ("cpe:2.3:a:v:p:\\-:*:*:*:*:*:*:*", {"version": "\\-"}),
        ("cpe:2.3:a:v:p:??1:*:*:*:*:*:*:*", {"version": "??1"}),
    ],
)
def test_fs_unbinding(fs: str, expected: dict[str, Value]) -> None:
    wfn = parse_fs(fs)
    for attribute, value in expected.items():
        assert wfn.get(attribute) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cpe:/a:foo%5cbar:big%24money_2010%07:::~~special~ipod_touch~80gb~", "percent-encoding"),
        ("cpe:/a:foo:bar:12.%02.1234", "embedded %02"),
        ("cpe:/a:foo:bar:1.0:::en:extra", "at most 7"),
        ("cpe:/a:foo:bar:1.0::~a~b~c", "packed edition"),
        ("cpe:/x:foo:bar", "not a (application)"),
        ("cpe:/a:foo bar:baz", "unencoded"),
        ("cpe:2.3:a:foo:bar:12.*.1234:*:*:*:*:*:*:*", "embedded '*'"),
        ("cpe:2.3:a:foo:bar:1?2:*:*:*:*:*:*:*", "embedded '?'"),
        ("cpe:2.3:a:foo:bar:1.0:*:*:*:*:*:*", "12 fields"),
        ("cpe:2.3:a:foo:bar:1.0:*:*:*:*:*:*:*:*", "14 fields"),
        ("cpe:2.3:a:foo:bar::*:*:*:*:*:*:*", "empty"),
        ("cpe:2.3:a:foo:bar:1.0:*:*:*:*:*:*:\\", "lone backslash"),
        ("cpe:2.3:a:foo:b\u00e4r:1.0:*:*:*:*:*:*:*", "printable ASCII"),
        ("cpe:2.3:a:foo:bar:**:*:*:*:*:*:*:*", "only wildcards"),
        ("cpe:2.3:z:foo:bar:1:*:*:*:*:*:*:*", "not a (application)"),
        ("fortios 7.0", "neither"),
    ],
)
def test_bad_names_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse(text)
    assert message in raised.value.message
    assert raised.value.where
    assert raised.value.hint


def test_from_text_quotes_what_a_person_types() -> None:
    wfn = from_text("a", "Qualitia", "Active! mail", "6.60.05008561")
    assert wfn.vendor == "Qualitia"
    assert wfn.product == "Active\\!_mail"
    assert bind_fs(wfn) == "cpe:2.3:a:Qualitia:Active\\!_mail:6.60.05008561:*:*:*:*:*:*:*"
    assert from_text("o", "v", "p", "*").version is ANY
    assert from_text("o", "v", "p", "-", update="h1").update == "h1"
    with pytest.raises(InvalidInput):
        from_text("x", "v", "p")
    with pytest.raises(InvalidInput):
        from_text("a", "v", "p", colour="red")
    with pytest.raises(InvalidInput):
        quote("caf\u00e9")


# -- round trips (Hypothesis) ---------------------------------------------------------------

_PLAIN = st.text(
    alphabet=st.sampled_from(sorted(PUNCTUATION) + list("abcXYZ019_")), min_size=1, max_size=8
)


@st.composite
def values(draw: st.DrawFn, *, wildcards: bool = True) -> Value:
    kind = draw(st.sampled_from(["any", "na", "string", "string", "string"]))
    if kind == "any":
        return ANY
    if kind == "na":
        return NA
    core = quote(draw(_PLAIN))
    if wildcards:
        core = draw(st.sampled_from(["", "*", "?", "??"])) + core
        core += draw(st.sampled_from(["", "*", "?", "???"]))
    return core


@st.composite
def wfns(draw: st.DrawFn) -> Wfn:
    part = draw(st.sampled_from(["a", "o", "h", ANY]))
    return Wfn(part, *(draw(values()) for _ in range(10)))


@given(wfns())
def test_fs_round_trip(wfn: Wfn) -> None:
    assert parse_fs(bind_fs(wfn)) == wfn


@given(wfns())
def test_uri_round_trip(wfn: Wfn) -> None:
    assert parse_uri(bind_uri(wfn)) == wfn


@given(wfns())
def test_fs_to_uri_to_fs(wfn: Wfn) -> None:
    fs = bind_fs(wfn)
    assert bind_fs(parse_uri(bind_uri(parse_fs(fs)))) == fs
    assert bind_uri(parse_fs(bind_fs(parse_uri(bind_uri(wfn))))) == bind_uri(wfn)


@given(_PLAIN)
def test_quote_unquote(text: str) -> None:
    assert unquote(quote(text)) == text.replace(" ", "_")
