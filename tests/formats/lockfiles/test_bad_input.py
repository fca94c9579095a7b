"""Bad input for every parser: broken, truncated, of the wrong types, hostile, too large.

Whatever the bytes, a parser returns an ``Inventory`` or raises one of our ``InvalidInput``
errors; nothing else (no ``KeyError``, no ``yaml.YAMLError``, no XML entity expansion) escapes.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument
from sakimori.formats.limits import Limits
from sakimori.formats.lockfiles import (
    PARSERS,
    apk_installed,
    bun_lock,
    cabal_freeze,
    cargo_lock,
    composer_lock,
    deps_json,
    dpkg_status,
    gemfile_lock,
    go_mod,
    gradle_lock,
    maven_pom,
    npm_lock,
    nuget_config,
    nuget_lock,
    pdm_lock,
    pipfile_lock,
    pnpm_lock,
    podfile_lock,
    poetry_lock,
    stack_lock,
    swift_resolved,
    uv_lock,
    yarn_lock,
)
from sakimori.model.inventory import Inventory
from tests.formats.lockfiles._support import INVALID, SAMPLES, asset

SMALL_TREE = Limits(max_nodes=100_000)

#: tests/formats/assets/lockfiles/invalid: file, parser, the error, and what its message says.
INVALID_FILES: list[tuple[str, ModuleType, type[InvalidInput], str]] = [
    ("Pipfile-wrong-types.lock", pipfile_lock, MalformedDocument, "must be an object, not a list"),
    ("apk-no-version", apk_installed, MalformedDocument, "no P: name or V: version"),
    ("bun-truncated.lock", bun_lock, MalformedDocument, "invalid JSON"),
    ("cabal-bad-field.freeze", cabal_freeze, MalformedDocument, "is not 'field: value'"),
    ("cargo-truncated.lock", cargo_lock, MalformedDocument, "invalid TOML"),
    ("composer-wrong-types.lock", composer_lock, MalformedDocument, "must be a list"),
    ("deps-json-bad-key.json", deps_json, MalformedDocument, "is not 'Name/Version'"),
    ("deps-json-truncated.json", deps_json, MalformedDocument, "invalid JSON"),
    ("dpkg-no-version", dpkg_status, MalformedDocument, "an installed package without a Version"),
    ("gemfile-bad-spec.lock", gemfile_lock, MalformedDocument, "is not 'name (version)'"),
    ("gemfile-not-utf8.lock", gemfile_lock, MalformedDocument, "not UTF-8"),
    ("go-unclosed.mod", go_mod, MalformedDocument, "the require block is not closed"),
    (
        "gradle-bad-line.lockfile",
        gradle_lock,
        MalformedDocument,
        "is not 'group:artifact:version='",
    ),
    ("nuget-lock-wrong-types.json", nuget_lock, MalformedDocument, "must be a string, not a list"),
    (
        "package-lock-wrong-types.json",
        npm_lock,
        MalformedDocument,
        "must be a string, not a number",
    ),
    ("packages-entities.config", nuget_config, MalformedDocument, "DTD or entity declarations"),
    ("packages-no-id.config", nuget_config, MalformedDocument, "has no id"),
    ("pdm-groups-not-list.lock", pdm_lock, MalformedDocument, "must be a list, not a string"),
    ("pnpm-alias-bomb.yaml", pnpm_lock, LimitExceeded, "more than 100,000 values"),
    ("pnpm-bad-version.yaml", pnpm_lock, MalformedDocument, "is not a number"),
    ("podfile-bad-pod.lock", podfile_lock, MalformedDocument, "is not 'Name (version)'"),
    ("poetry-no-version.lock", poetry_lock, MalformedDocument, "must be a string, not null"),
    ("pom-billion-laughs.xml", maven_pom, MalformedDocument, "DTD or entity declarations"),
    ("pom-truncated.xml", maven_pom, MalformedDocument, "invalid XML"),
    ("pom-xxe.xml", maven_pom, MalformedDocument, "DTD or entity declarations"),
    ("stack-bad-hackage.yaml.lock", stack_lock, MalformedDocument, "is not 'name-version@hash'"),
    ("swift-no-location.resolved", swift_resolved, MalformedDocument, "has no location"),
    ("uv-wrong-source.lock", uv_lock, MalformedDocument, "must be an object, not a string"),
    ("yarn-berry-bad-resolution.lock", yarn_lock, MalformedDocument, "is not valid"),
    ("yarn-v1-no-version.lock", yarn_lock, MalformedDocument, "has no version"),
]


def parse_or_refuse(module: ModuleType, data: bytes, limits: Limits = SMALL_TREE) -> None:
    """The contract: an inventory, or one of our errors with a message for a person."""
    result: Inventory | InvalidInput
    try:
        result = module.parse(data, limits)
    except InvalidInput as error:
        result = error
    if isinstance(result, InvalidInput):
        assert result.diagnostics()
    else:
        assert isinstance(result, Inventory)
    assert isinstance(module.sniff(data), bool)


@pytest.mark.parametrize(("name", "module", "error", "message"), INVALID_FILES)
def test_invalid_sample_is_refused(
    name: str, module: ModuleType, error: type[InvalidInput], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        module.parse((INVALID / name).read_bytes(), SMALL_TREE)


def test_every_invalid_sample_is_in_the_table() -> None:
    assert {p.name for p in INVALID.iterdir()} == {name for name, *_ in INVALID_FILES}


@pytest.mark.slow
def test_pnpm_alias_bomb_is_stopped_by_the_default_limits() -> None:
    with pytest.raises(LimitExceeded, match="more than 20,000,000 values"):
        pnpm_lock.parse((INVALID / "pnpm-alias-bomb.yaml").read_bytes())


def alias_bomb(prefix: bytes) -> bytes:
    lines = [prefix, b'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 8)
        lines.append(f"a{level}: &a{level} [{refs}]".encode())
    return b"\n".join([*lines, b""])


@pytest.mark.parametrize(
    ("module", "prefix"),
    [
        (pnpm_lock, b"lockfileVersion: '9.0'"),
        (yarn_lock, b"__metadata:\n  version: 8"),
        (stack_lock, b"# This file was autogenerated by Stack.\npackages: []"),
        (podfile_lock, b"PODS:\n  - A (1.0)"),
    ],
    ids=lambda value: value.FORMAT if isinstance(value, ModuleType) else "",
)
def test_yaml_alias_bombs_hit_the_node_limit(module: ModuleType, prefix: bytes) -> None:
    data = alias_bomb(prefix)
    assert module.sniff(data)
    with pytest.raises(LimitExceeded):
        module.parse(data, SMALL_TREE)


@pytest.mark.parametrize("module", [maven_pom, nuget_config], ids=lambda m: m.FORMAT)
def test_xml_external_entities_are_never_resolved(module: ModuleType) -> None:
    root = b"project" if module is maven_pom else b"packages"
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>\n<'
        + root
        + b">&e;</"
        + root
        + b">"
    )
    with pytest.raises(MalformedDocument, match="DTD"):
        module.parse(data)


# --- the same checks for every parser, on its hand-written sample ------------------------------

MODULES = pytest.mark.parametrize("module", PARSERS, ids=lambda module: module.FORMAT)


@MODULES
def test_input_over_the_size_limit(module: ModuleType) -> None:
    data = asset(SAMPLES[module])
    with pytest.raises(LimitExceeded, match="bytes, more than the limit"):
        module.parse(data, Limits(max_bytes=len(data) - 1))


@MODULES
def test_too_many_components(module: ModuleType) -> None:
    data = asset(SAMPLES[module])
    assert len(module.parse(data).components) >= 2
    with pytest.raises(LimitExceeded, match="components, more than the limit of 1"):
        module.parse(data, Limits(max_components=1))


@MODULES
def test_every_truncation(module: ModuleType) -> None:
    data = asset(SAMPLES[module])
    step = max(1, len(data) // 150)
    for cut in range(0, len(data), step):
        parse_or_refuse(module, data[:cut])


@MODULES
def test_not_utf8(module: ModuleType) -> None:
    data = asset(SAMPLES[module])
    with pytest.raises(MalformedDocument):
        module.parse(data[:40] + b"\xff\xfe\xfd" + data[40:])


@MODULES
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n",
        b"null",
        b"[]",
        b"{}",
        b"1",
        b'"x"',
        b"- a\n- b\n",
        b"package = 1\n",
        b'package = ["x"]\n',
        b"[[package]]\nname = 1\nversion = []\n",
        b'{"packages": [], "dependencies": [], "pins": {}, "libraries": []}',
        b'{"packages": {"a": null}, "dependencies": {"a": 1}, "libraries": {"a/1": 2}}',
        b"lockfileVersion: '9.0'\npackages:\n  ? [a, b]\n  : x\n",
        b"lockfileVersion: 6.0\npackages:\n  /a@1.0.0: [1, 2]\n  3: {}\n",
        b"PODS: {a: b}\n",
        b"packages: [1, {completed: []}, {completed: {hackage: 3}}]\n",
        b"<project><dependencies><dependency/></dependencies></project>",
        b"<packages><package id='' version=''/></packages>",
        b"[" * 5000 + b"]" * 5000,
        b"{" * 300 + b"}" * 300,
        b"a: " + b"[" * 5000,
        b"Package: a b\nStatus: install ok installed\nVersion: 1\n",
        b"Package: a\nStatus: install ok installed\nVersion: 1 2\nSource: (x)\n",
        b"P:\nV:\n\nP:a\nV:1\n",
        b"GEM\n  remote: x\n  specs:\n    a ()\n    b (-)\n",
        b"constraints: any.a ==, ==1, any. ==1\n",
        b"module x\nrequire (\n)\nreplace a => \nreplace => b v1\n",
        b"a:b:c=\n:::=\n",
        b'# yarn lockfile v1\n\n"@":\n  version ""\n',
        b'__metadata:\n  version: 8\n"x@npm:1":\n  resolution: "@npm:"\n',
        b"-r\n-c\n--requirement=\n-e\n--\n-\n",
        # packageurl-python raises TypeError (not ValueError) for the name "/".
        b"Package: /\nStatus: install ok installed\nVersion: 1\n",
        b"packages:\n- completed:\n    name: /\n    version: 1\n",
    ],
)
def test_wrong_types_and_shapes(module: ModuleType, data: bytes) -> None:
    parse_or_refuse(module, data)


@MODULES
@pytest.mark.parametrize(
    "line",
    [
        b" " * 200_000 + b"x",
        b'"\\' * 100_000,
        b"${" * 100_000,
        b"a==" + b"1." * 100_000,
        b"(" * 200_000,
    ],
    ids=["spaces", "quotes", "dollars", "long-version", "parens"],
)
def test_pathological_lines_end_quickly(module: ModuleType, line: bytes) -> None:
    # Linear-time scanners: a regular expression that backtracked would make this test crawl.
    data = asset(SAMPLES[module])
    parse_or_refuse(module, line)
    parse_or_refuse(module, data + b"\n" + line + b"\n")
