"""Hypothesis: random bytes, mutated samples and real files, and documents with random values in
random places go through every sniffer and every parser. Only ``InvalidInput`` may escape."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput
from sakimori.formats.limits import Limits
from sakimori.formats.lockfiles import PARSERS
from sakimori.model.inventory import Inventory
from tests.conftest import require_data
from tests.formats.lockfiles._support import SAMPLES, asset

LIMITS = Limits(max_nodes=200_000, max_components=50_000)
#: More examples for a long exploratory run: SAKIMORI_FUZZ_EXAMPLES=20000 pytest -k fuzz.
EXAMPLES = int(os.environ.get("SAKIMORI_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SAMPLE_BYTES = [asset(name) for name in sorted(SAMPLES.values())]
JSON_SAMPLES = [data for data in SAMPLE_BYTES if data.lstrip().startswith(b"{")]
YAML_SAMPLES = [
    asset(name)
    for name in (
        "pnpm-lock.v9.yaml",
        "pnpm-lock.v6.yaml",
        "stack-git.yaml.lock",
        "yarn-berry-protocols.lock",
        "Podfile-subspecs.lock",
    )
]
# Fragments that mean something in one format or another.
TOKENS = [
    b'"',
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\n",
    b"  ",
    b"    ",
    b"- ",
    b"null",
    b"1",
    b"1.0",
    b"true",
    b"@",
    b"npm:",
    b"file:",
    b"git+",
    b"workspace:",
    b"${",
    b"<",
    b">",
    b"/",
    b"==",
    b"\\",
    b"#",
    b"//",
    b"/*",
    b"(",
    b")",
    b"&a ",
    b"*a",
    b"\x00",
    b"\xff",
    b"=>",
    b"\t",
    b"[[package]]\n",
    b'source = "',
    b"PODS:\n",
    b"GEM\n",
    b"Package: x\n",
    b"P:x\nV:1\n",
    b"constraints: ",
    b"require (\n",
    b"-r ",
    b"--hash=",
    b"\\\n",
    b"<!DOCTYPE x>",
    b"&e;",
]


def contract(data: bytes) -> None:
    for parser in PARSERS:
        assert isinstance(parser.sniff(data), bool)
        result: Inventory | InvalidInput
        try:
            result = parser.parse(data, LIMITS)
        except InvalidInput as error:
            result = error
        if isinstance(result, InvalidInput):
            assert result.diagnostics()
        else:
            assert result.format == parser.FORMAT


@st.composite
def mutations(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(min_value=0, max_value=len(data)))
        if operation == "flip" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(min_value=0, max_value=255))
        elif operation == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS) | st.binary(max_size=8))
        elif operation == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=64))]
        elif operation == "truncate":
            del data[at:]
        elif operation == "repeat":
            chunk = data[at : at + draw(st.integers(min_value=1, max_value=200))]
            data[at:at] = chunk * draw(st.integers(min_value=1, max_value=20))
    return bytes(data)


WORDS = [t.decode("latin-1") for t in TOKENS] + ["", "/", "~", "?", "|", "-1", "x (1)", "a@", "@a"]


@st.composite
def word_mutations(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A sample with a few space-separated words of its lines replaced, extended or inserted:
    keeps the line structure that the line-based formats need to get past their first checks."""
    lines = draw(st.sampled_from(corpus)).decode("utf-8").split("\n")
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        words = lines[index].split(" ")
        at = draw(st.integers(min_value=0, max_value=len(words) - 1))
        word = draw(st.sampled_from(WORDS))
        operation = draw(st.sampled_from(["replace", "append", "insert"]))
        if operation == "replace":
            words[at] = word
        elif operation == "append":
            words[at] += word
        else:
            words.insert(at, word)
        lines[index] = " ".join(words)
    return "\n".join(lines).encode("utf-8")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def nodes(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside a decoded document."""
    found: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        keys = (
            list(item)
            if isinstance(item, dict)
            else range(len(item))
            if isinstance(item, list)
            else []
        )
        for key in keys:
            found.append((item, key))
            stack.append(item[key])
    return found


@st.composite
def replaced(draw: st.DrawFn, corpus: list[bytes], loads: Any, dumps: Any) -> bytes:
    """A valid document with a few of its values replaced by random ones (wrong types)."""
    document = loads(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        places = nodes(document)
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        container[key] = draw(JSON_VALUES)
    return dumps(document)


def _yaml_load(data: bytes) -> Any:
    return yaml.safe_load(data)


def _yaml_dump(value: Any) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True).encode()


def _json_load(data: bytes) -> Any:
    from sakimori.formats.lockfiles.bun_lock import jsonc_to_json

    return orjson.loads(jsonc_to_json(data))


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    contract(data)


@FUZZ
@given(
    st.lists(
        st.sampled_from([*TOKENS, b"a", b"Z", b"0", b"9", b".", b"-", b"_", b" "]), max_size=200
    )
)
def test_random_token_soup(tokens: list[bytes]) -> None:
    contract(b"".join(tokens))


@FUZZ
@given(mutations(SAMPLE_BYTES))
def test_mutated_samples(data: bytes) -> None:
    contract(data)


@FUZZ
@given(word_mutations(SAMPLE_BYTES))
def test_samples_with_words_changed(data: bytes) -> None:
    contract(data)


@FUZZ
@given(replaced(JSON_SAMPLES, _json_load, orjson.dumps))
def test_json_documents_with_random_values(data: bytes) -> None:
    contract(data)


@FUZZ
@given(replaced(YAML_SAMPLES, _yaml_load, _yaml_dump))
def test_yaml_documents_with_random_values(data: bytes) -> None:
    contract(data)


def _real_files() -> list[bytes]:
    root = require_data("lockfiles")
    return [
        path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in {"LICENSE", "SOURCES.md"}
    ]


def test_mutated_real_files() -> None:
    corpus = _real_files()

    @FUZZ
    @given(mutations(corpus) | word_mutations(corpus))
    def run(data: bytes) -> None:
        contract(data)

    run()


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).parent.parent.joinpath("assets", "lockfiles").rglob("*"))
)
def test_every_sample_through_every_parser(path: Path) -> None:
    if path.is_file():
        contract(path.read_bytes())
