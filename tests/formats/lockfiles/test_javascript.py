"""npm-family lockfiles: package-lock.json (v1, v2, v3), yarn.lock (v1, berry), pnpm-lock.yaml
(v5, v6, v9), bun.lock."""

from __future__ import annotations

import orjson
import pytest

from sakimori.formats.lockfiles import bun_lock, npm_lock, pnpm_lock, yarn_lock
from sakimori.model.inventory import Inventory
from tests.formats.lockfiles._support import SCAN, V1, asset, real

FIX = ("osv-scanner-add393a", "cmd", "osv-scanner", "fix", "testdata")


def npm(inventory: Inventory) -> list[tuple[str, str | None]]:
    assert all(c.ecosystem == "npm" for c in inventory.components)
    return [(c.name, c.version) for c in inventory.components]


# --- package-lock.json --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_npm_aliases_are_reported_under_the_real_name(version: str) -> None:
    inventory = npm_lock.parse(real(*V1, "npm", f"alias.{version}.json"))
    assert npm(inventory) == [
        ("@babel/code-frame", "7.0.0"),  # "babel-code-frame": "npm:@babel/code-frame@7.0.0"
        ("string-width", "5.1.2"),
        ("string-width", "4.2.0"),  # "string-width-cjs": "npm:string-width@4.2.0"
    ]
    assert inventory.components[0].purl == "pkg:npm/%40babel/code-frame@7.0.0"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_npm_scoped_packages(version: str) -> None:
    inventory = npm_lock.parse(real(*V1, "npm", f"scoped-packages.{version}.json"))
    assert sorted(npm(inventory)) == [("@babel/code-frame", "7.0.0"), ("wrappy", "1.0.2")]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_npm_nested_dependencies(version: str) -> None:
    inventory = npm_lock.parse(real(*V1, "npm", f"nested-dependencies.{version}.json"))
    assert sorted(npm(inventory)) == [
        ("postcss", "6.0.23"),
        ("postcss", "7.0.16"),
        ("postcss-calc", "7.0.1"),
        ("supports-color", "5.5.0"),
        ("supports-color", "6.1.0"),
    ]


def test_npm_nested_duplicates_are_one_component_per_version() -> None:
    v1 = npm(npm_lock.parse(real(*V1, "npm", "nested-dependencies-dup.v1.json")))
    assert len(v1) == 39
    assert sorted(pair for pair in v1 if pair[0] == "supports-color") == [
        ("supports-color", "2.0.0"),
        ("supports-color", "5.5.0"),
        ("supports-color", "6.1.0"),
    ]
    v2 = npm(npm_lock.parse(real(*V1, "npm", "nested-dependencies-dup.v2.json")))
    assert sorted(v2) == [("supports-color", "2.0.0"), ("supports-color", "6.1.0")]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((*SCAN, "locks-insecure", "my-package-lock.json"), [("ansi-html", "0.0.1")]),
        ((*SCAN, "locks-many", "package-lock.json"), [("ansi-html", "0.0.8")]),
        (
            (*SCAN, "locks-licenses", "package-lock.json"),
            [
                ("babel", "6.23.0"),
                ("human-signals", "5.0.0"),
                ("ms", "2.1.3"),
                ("type-fest", "4.26.1"),
            ],
        ),
    ],
)
def test_npm_scan_fixtures(parts: tuple[str, ...], expected: list[tuple[str, str]]) -> None:
    assert npm(npm_lock.parse(real(*parts))) == expected


def test_npm_fix_fixture_v2_with_optional_packages() -> None:
    inventory = npm_lock.parse(real(*FIX, "in-place-npm", "package-lock.json"))
    assert len(inventory.components) == 106
    by_name = {c.name: c for c in inventory.components}
    assert by_name["ajv"].version == "6.12.6"
    assert by_name["ansi-regex"].scope == "optional"
    assert by_name["ajv"].scope is None


def test_npm_v3_links_workspaces_git_and_scopes() -> None:
    inventory = npm_lock.parse(asset("package-lock.v3.json"))
    assert [(c.name, c.version, c.scope, c.note) for c in inventory.components] == [
        ("fsevents", "2.3.3", "optional", None),
        (
            "is-odd",
            "3.0.1",
            None,
            "git dependency git+ssh://git@github.com/jonschlinkert/is-odd.git"
            "#6f3e2c4c7f1ab3b6d9a3e1b4e0f3c0e3b2a1d0c9",
        ),
        ("jest-mock", "29.7.0", "dev", None),
        ("lodash", "4.17.21", None, None),
        ("lodash", "4.17.20", "dev", None),
    ]
    assert inventory.skipped == (
        "node_modules/@scope/lib: workspace or linked folder, the project's own code",
        "packages/lib: workspace or linked folder, the project's own code",
    )


# --- yarn.lock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "multiple-versions.v1.lock",
            [
                ("define-properties", "1.1.3"),
                ("define-property", "0.2.5"),
                ("define-property", "1.0.0"),
                ("define-property", "2.0.2"),
            ],
        ),
        ("multiple-versions.v2.lock", [("debug", "4.3.3"), ("debug", "2.6.9"), ("debug", "3.2.7")]),
        (
            "scoped-packages.v1.lock",
            [("@babel/code-frame", "7.12.11"), ("@babel/compat-data", "7.14.0")],
        ),
        (
            "scoped-packages.v2.lock",
            [
                ("@babel/cli", "7.16.8"),
                ("@babel/code-frame", "7.16.7"),
                ("@babel/compat-data", "7.16.8"),
            ],
        ),
    ],
)
def test_yarn_fixtures(name: str, expected: list[tuple[str, str]]) -> None:
    assert npm(yarn_lock.parse(real(*V1, "yarn", name))) == expected


def test_yarn_known_vulnerable_ansi_html() -> None:
    assert npm(yarn_lock.parse(real(*SCAN, "locks-insecure", "my-yarn.lock"))) == [
        ("ansi-html", "0.0.1")
    ]
    assert npm(yarn_lock.parse(real(*SCAN, "locks-many", "yarn.lock"))) == [
        ("balanced-match", "1.0.2")
    ]


def test_yarn_v1_aliases_git_and_local_entries() -> None:
    inventory = yarn_lock.parse(asset("yarn-v1-sources.lock"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("@types/node", "18.19.3", None),
        (
            "is-odd",
            "3.0.1",
            "tarball dependency https://codeload.github.com/jonschlinkert/is-odd/tar.gz/6f3e2c4",
        ),
        ("string-width", "4.2.3", None),
        ("undici-types", "5.26.5", None),
    ]
    assert inventory.skipped == ("local-thing: local dependency file:./vendor/local-thing",)


def test_yarn_berry_protocols() -> None:
    inventory = yarn_lock.parse(asset("yarn-berry-protocols.lock"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        (
            "is-number",
            "7.0.0",
            "git dependency https://github.com/jonschlinkert/is-number.git"
            "#commit=98e8ff1da1a89f93d1397a24d7413ed15421c139",
        ),
        ("resolve", "1.22.8", "patched locally"),
        ("string-width", "4.2.3", None),
    ]
    assert inventory.skipped == (
        "my-app: workspace: ., the project's own code",
        "utils: link: ./packages/utils::locator=my-app%40workspace%3A., the project's own code",
    )


# --- pnpm-lock.yaml -----------------------------------------------------------------------------


def test_pnpm_v9() -> None:
    inventory = pnpm_lock.parse(asset("pnpm-lock.v9.yaml"))
    assert npm(inventory) == [
        ("@babel/code-frame", "7.24.7"),
        ("ansi-html", "0.0.1"),
        ("is-even", "1.0.0"),
        ("js-tokens", "4.0.0"),
        ("loose-envify", "1.4.0"),
        ("react-dom", "18.2.0"),
        ("react", "18.2.0"),
    ]
    assert inventory.components[2].note == (
        "tarball dependency https://codeload.github.com/jonschlinkert/is-even/tar.gz/4e6ef9a"
    )


def test_pnpm_v6_peer_suffixes_scopes_and_local_entries() -> None:
    inventory = pnpm_lock.parse(asset("pnpm-lock.v6.yaml"))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == [
        ("@vue/shared", "3.4.15", None),
        ("fsevents", "2.3.3", "dev"),
        ("lodash", "4.17.21", None),
        ("react-dom", "18.2.0", None),
        ("is-odd", "3.0.1", "dev"),
        ("tool", "2.0.0", None),
    ]
    assert inventory.components[-1].note == (
        "git dependency https://gitlab.com/acme/tool.git @ 0123abc4567def"
    )
    assert inventory.skipped == ("file:../my-utils: local dependency, the project's own code",)


def test_pnpm_v5_slash_keys() -> None:
    inventory = pnpm_lock.parse(asset("pnpm-lock.v5.yaml"))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == [
        ("@babel/code-frame", "7.18.6", "dev"),
        ("react-dom", "17.0.2", None),
        ("react", "17.0.2", None),
    ]


# --- bun.lock -----------------------------------------------------------------------------------


def test_bun_lock_trailing_commas() -> None:
    inventory = bun_lock.parse(real(*SCAN, "locks-insecure", "bun.lock"))
    assert npm(inventory) == [("has-flag", "4.0.0"), ("wrappy", "1.0.2")]


def test_bun_lock_git_short_hash() -> None:
    inventory = bun_lock.parse(real(*SCAN, "locks-bun-shorthash", "bun.lock"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("some-git-dep", None, "git dependency github:org/repo#bca26e4")
    ]


def test_bun_lock_sources_comments_and_nested_copies() -> None:
    inventory = bun_lock.parse(asset("bun-sources.lock"))
    assert [(c.name, c.version) for c in inventory.components] == [
        ("is-odd", None),
        ("left-pad", None),
        ("loose-envify", "1.4.0"),
        ("react", "18.2.0"),
        ("loose-envify", "1.3.1"),
    ]
    assert inventory.skipped == (
        "@scope/lib: local dependency workspace:packages/lib",
        "local: local dependency file:vendor/local",
    )


def test_jsonc_strings_keep_their_commas_and_slashes() -> None:
    text = b'{"a": "x,}", "b": "// not a comment", "c": [1, 2, ], } // end'
    cleaned = bun_lock.jsonc_to_json(text)
    assert cleaned == b'{"a": "x,}", "b": "// not a comment", "c": [1, 2  ]  }  '
    assert orjson.loads(cleaned) == {"a": "x,}", "b": "// not a comment", "c": [1, 2]}
