"""go.mod, Cargo.lock, Gemfile.lock / gems.locked, composer.lock."""

from __future__ import annotations

import pytest

from sakimori.formats.lockfiles import cargo_lock, composer_lock, gemfile_lock, go_mod
from tests.formats.lockfiles._support import SCAN, V1, asset, real, triples

C = ("osv-scanner-add393a", "cmd", "osv-scanner")
A = ("osv-scanner-add393a",)


# --- go.mod -------------------------------------------------------------------------------------


def test_go_mod_indirect_requirements_are_reported() -> None:
    inventory = go_mod.parse(real(*V1, "go", "indirect-packages.mod"))
    assert triples(inventory) == [
        ("Go", "github.com/BurntSushi/toml", "v1.0.0"),
        ("Go", "gopkg.in/yaml.v2", "v2.4.0"),
        ("Go", "github.com/mattn/go-colorable", "v0.1.9"),
        ("Go", "github.com/mattn/go-isatty", "v0.0.14"),
        ("Go", "golang.org/x/sys", "v0.0.0-20210630005230-0f9fa26af87c"),
    ]
    assert inventory.components[0].purl == "pkg:golang/github.com/BurntSushi/toml@v1.0.0"


def test_go_mod_two_packages_and_no_stdlib() -> None:
    inventory = go_mod.parse(real(*V1, "go", "two-packages.mod"))
    assert triples(inventory) == [
        ("Go", "github.com/BurntSushi/toml", "v1.0.0"),
        ("Go", "gopkg.in/yaml.v2", "v2.4.0"),
    ]
    assert "stdlib" not in [c.name for c in inventory.components]
    assert inventory.skipped[0].startswith("line 3: go 1.17: the minimum Go version")


def test_go_mod_replacement_by_a_module_reports_the_replacement() -> None:
    inventory = go_mod.parse(real(*V1, "go", "replace-one.mod"))
    assert triples(inventory) == [("Go", "example.com/fork/net", "v1.4.5")]
    assert inventory.components[0].note == "replaces golang.org/x/net v1.2.3"


def test_go_mod_replacement_by_a_local_path_is_never_the_original_version() -> None:
    inventory = go_mod.parse(real(*SCAN, "locks-many", "replace-local.mod"))
    assert inventory.components == ()
    assert inventory.skipped == (
        "golang.org/x/net v1.2.3: replaced by the local directory ./fork/net",
    )


def test_go_mod_single_line_requires() -> None:
    inventory = go_mod.parse(real(*SCAN, "call-analysis-go-project", "go.mod"))
    assert triples(inventory) == [
        ("Go", "github.com/gogo/protobuf", "v1.3.1"),
        ("Go", "github.com/ipfs/go-bitfield", "v1.0.0"),
        ("Go", "golang.org/x/image", "v0.4.0"),
    ]
    assert go_mod.parse(real(*SCAN, "go-project", "go.mod")).components == ()


def test_go_mod_every_directive() -> None:
    inventory = go_mod.parse(asset("go-edge.mod"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("github.com/gogo/protobuf", "v1.3.2", "replaces github.com/gogo/protobuf v1.3.1"),
        ("golang.org/x/net", "v0.17.0", None),  # a quoted path
        ("golang.org/x/text", "v0.3.7", None),  # "// indirect" glued to the version
        ("github.com/any/version", "v2.0.0+incompatible", None),  # replace of another version
        ("golang.org/x/crypto", "v0.0.0-20210921155107-089bfa567519", None),
    ]
    assert inventory.skipped[1:] == (
        "line 6: toolchain go1.22.4: a suggestion only",
        "line 18: exclude golang.org/x/net v0.16.0",
        "github.com/old/module v1.0.0: replaced by the local directory ../old-module",
    )


# --- Cargo.lock ---------------------------------------------------------------------------------


def test_cargo_lock_two_packages() -> None:
    inventory = cargo_lock.parse(real(*V1, "cargo", "two-packages.lock"))
    assert triples(inventory) == [
        ("crates.io", "addr2line", "0.15.2"),
        ("crates.io", "syn", "1.0.73"),
    ]
    assert inventory.components[0].purl == "pkg:cargo/addr2line@0.15.2"


def test_cargo_lock_v4_skips_the_workspace_crate() -> None:
    parts = (*SCAN, "exp-plugins-pkgdeprecate", "deprecated-vuln", "Cargo.lock")
    inventory = cargo_lock.parse(real(*parts))
    assert triples(inventory) == [
        ("crates.io", "cfg-if", "0.1.10"),
        ("crates.io", "libc", "0.2.177"),
        ("crates.io", "net2", "0.2.33"),
        ("crates.io", "winapi", "0.3.9"),
        ("crates.io", "winapi-i686-pc-windows-gnu", "0.4.0"),
        ("crates.io", "winapi-x86_64-pc-windows-gnu", "0.4.0"),
    ]
    assert inventory.skipped == (
        "rust_vuln_deprecated 0.1.0: workspace member or local path crate",
    )
    rust_project = ("internal", "sourceanalysis", "testdata", "rust", "rust-project", "Cargo.lock")
    assert cargo_lock.parse(real(*A, *rust_project)).components == ()


def test_cargo_lock_v1_and_other_sources() -> None:
    assert triples(cargo_lock.parse(asset("cargo-v1.lock"))) == [
        ("crates.io", "smallvec", "0.6.13")
    ]
    inventory = cargo_lock.parse(asset("cargo-sources.lock"))
    assert [(c.ecosystem, c.name, c.version, c.note) for c in inventory.components] == [
        (
            None,
            "internal-crate",
            "2.0.0",
            "from the registry registry+https://my-registry.example/index, not crates.io; "
            "not matched",
        ),
        (
            "crates.io",
            "regex",
            "1.5.4",
            "git dependency https://github.com/rust-lang/regex?tag=1.5.4 @ "
            "3ab2ca4bed46b94ac1f3a2e2d1e8c6a4e3a9b1b2",
        ),
        ("crates.io", "time", "0.1.43", None),  # the sparse index is crates.io too
    ]


# --- Gemfile.lock / gems.locked -----------------------------------------------------------------


def test_gemfile_lock_rubocop() -> None:
    inventory = gemfile_lock.parse(real(*V1, "bundler", "rubocop.lock"))
    assert triples(inventory) == [
        ("RubyGems", name, version)
        for name, version in [
            ("ast", "2.4.2"),
            ("parallel", "1.21.0"),
            ("parser", "3.1.1.0"),
            ("rainbow", "3.1.1"),
            ("regexp_parser", "2.2.1"),
            ("rexml", "3.2.5"),
            ("rubocop", "1.25.1"),
            ("rubocop-ast", "1.16.0"),
            ("ruby-progressbar", "1.11.0"),
            ("unicode-display_width", "2.1.0"),
        ]
    ]


def test_gemfile_lock_rails_and_docs_site() -> None:
    rails = gemfile_lock.parse(real(*V1, "bundler", "rails.lock"))
    assert len(rails.components) == 46
    assert ("RubyGems", "railties", "7.0.2.2") in triples(rails)
    docs = gemfile_lock.parse(real(*A, "docs", "Gemfile.lock"))
    assert len(docs.components) == 51
    # "ffi (1.17.4-x86_64-linux-gnu)": the platform is not part of the version.
    assert ("RubyGems", "ffi", "1.17.4") in triples(docs)
    assert ("RubyGems", "google-protobuf", "4.35.1") in triples(docs)


def test_gems_locked_path_source_and_platform_duplicates() -> None:
    inventory = gemfile_lock.parse(real(*SCAN, "locks-scalibr", "gems.locked"))
    assert len(inventory.components) == 24
    assert [c.version for c in inventory.components if c.name == "nokogiri"] == ["1.18.2"]
    assert inventory.skipped == ("rubydns 2.0.2: from the local path .., the project's own code",)


def test_gemfile_lock_git_source() -> None:
    inventory = gemfile_lock.parse(asset("gemfile-sources.lock"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        (
            "activesupport",
            "7.1.0.alpha",
            "git dependency https://github.com/rails/rails.git @ "
            "9fd2a9c4e1b2c3d4e5f60718293a4b5c6d7e8f90",
        ),
        ("concurrent-ruby", "1.2.2", None),
        ("nokogiri", "1.13.3", None),
        ("racc", "1.6.2", None),
    ]
    assert gemfile_lock.parse(real(*SCAN, "locks-many", "Gemfile.lock")).components[0].name == "ast"


# --- composer.lock ------------------------------------------------------------------------------


def test_composer_lock_packages_and_dev_packages() -> None:
    inventory = composer_lock.parse(real(*V1, "composer", "two-packages.json"))
    assert [(c.ecosystem, c.name, c.version, c.scope) for c in inventory.components] == [
        ("Packagist", "sentry/sdk", "2.0.4", None),
        ("Packagist", "theseer/tokenizer", "1.1.3", "dev"),
    ]
    assert inventory.components[0].purl == "pkg:composer/sentry/sdk@2.0.4"


@pytest.mark.parametrize("folder", ["locks-insecure", "locks-many-with-insecure"])
def test_composer_known_vulnerable_flysystem(folder: str) -> None:
    inventory = composer_lock.parse(real(*SCAN, folder, "composer.lock"))
    assert ("Packagist", "league/flysystem", "1.0.8") in triples(inventory)


def test_composer_branches_and_path_packages() -> None:
    inventory = composer_lock.parse(asset("composer-sources.lock"))
    assert [(c.name, c.version, c.scope, c.note) for c in inventory.components] == [
        ("guzzlehttp/guzzle", "7.4.4", None, None),
        ("monolog/monolog", None, None, "development branch dev-main @ 4b2a1f9c"),
        ("phpunit/phpunit", "9.5.20", "dev", None),
    ]
    assert inventory.skipped == (
        "acme/local-module: local path package ./modules/local, the project's own code",
    )
