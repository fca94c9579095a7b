"""OS package databases (dpkg status, apk installed), Haskell (cabal freeze, stack lock), SwiftPM
Package.resolved and CocoaPods Podfile.lock."""

from __future__ import annotations

from sakimori.formats.lockfiles import (
    apk_installed,
    cabal_freeze,
    dpkg_status,
    podfile_lock,
    stack_lock,
    swift_resolved,
)
from tests.formats.lockfiles._support import SCAN, asset, real, triples

# --- dpkg status --------------------------------------------------------------------------------


def test_dpkg_status_real_file() -> None:
    inventory = dpkg_status.parse(real(*SCAN, "locks-many", "status"))
    assert triples(inventory) == [("Debian", "adduser", "3.118")]
    adduser = inventory.components[0]
    assert adduser.note == "source package adduser 3.118"
    assert adduser.purl == "pkg:deb/debian/adduser@3.118?arch=all&upstream=adduser"
    assert adduser.release is None  # the status file does not say which Debian


def test_dpkg_status_only_installed_packages_and_their_source() -> None:
    inventory = dpkg_status.parse(asset("dpkg-status"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("libc6", "2.36-9+deb12u3", "source package glibc 2.36-9+deb12u3"),
        ("libssl3", "3.0.11-1~deb12u2", "source package openssl 3.0.11-1~deb12u2"),  # on hold
        ("libldap-2.5-0", "2.5.13+dfsg-5+b1", "source package openldap 2.5.13+dfsg-5"),
    ]
    assert inventory.components[2].purl == (
        "pkg:deb/debian/libldap-2.5-0@2.5.13%2Bdfsg-5%2Bb1"
        "?arch=amd64&upstream=openldap%402.5.13%2Bdfsg-5"
    )
    assert inventory.skipped == ("oldpkg: not installed (deinstall ok config-files)",)


# --- apk installed ------------------------------------------------------------------------------


def test_apk_installed_real_file() -> None:
    inventory = apk_installed.parse(real(*SCAN, "locks-many", "installed"))
    assert triples(inventory) == [("Alpine", "apk-tools", "2.12.10-r1")]
    assert inventory.components[0].purl == (
        "pkg:apk/alpine/apk-tools@2.12.10-r1?arch=x86_64&upstream=apk-tools"
    )


def test_apk_installed_origins() -> None:
    inventory = apk_installed.parse(asset("apk-installed"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("musl", "1.2.4-r2", "origin package musl"),
        ("libcrypto3", "3.1.4-r1", "origin package openssl"),
        ("libssl3", "3.1.4-r1", "origin package openssl"),
    ]


# --- Haskell ------------------------------------------------------------------------------------


def test_cabal_freeze() -> None:
    inventory = cabal_freeze.parse(real(*SCAN, "locks-scalibr", "cabal.project.freeze"))
    assert triples(inventory) == [
        ("Hackage", "AC-Angle", "1.0"),
        ("Hackage", "ALUT", "2.4.0.3"),
        ("Hackage", "ANum", "0.2.0.2"),
        ("Hackage", "Agda", "2.6.4.3"),
        ("Hackage", "Allure", "0.11.0.0"),
        ("Hackage", "biscuit-haskell", "0.3.0.0"),
    ]
    assert inventory.skipped == (
        "constraint 'transformers-base +orphaninstances': not a pinned version",
    )


def test_cabal_freeze_qualifiers_and_other_fields() -> None:
    inventory = cabal_freeze.parse(asset("cabal-qualified.project.freeze"))
    assert [(c.name, c.version) for c in inventory.components] == [
        ("aeson", "2.1.2.1"),
        ("base", "4.17.2.1"),
        ("Cabal", "3.8.1.0"),
        ("text", "2.0.2"),
    ]
    assert len(inventory.skipped) == 2


def test_stack_lock() -> None:
    inventory = stack_lock.parse(real(*SCAN, "locks-scalibr", "stack.yaml.lock"))
    assert triples(inventory) == [
        ("Hackage", "fuzzyset", "0.2.4"),
        ("Hackage", "hasql-pool", "1.0.1"),
        ("Hackage", "jose-jwt", "0.10.0"),
        ("Hackage", "postgresql-libpq", "0.10.1.0"),
    ]
    assert inventory.skipped == ("snapshot lts-22.41: its package set is not expanded",)


def test_stack_lock_git_package() -> None:
    inventory = stack_lock.parse(asset("stack-git.yaml.lock"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("aeson", "2.1.2.1", None),
        (
            "servant",
            "0.20.1",
            "git dependency https://github.com/haskell-servant/servant.git @ "
            "8f3ec9b6e7a2c3e4d5f60718293a4b5c6d7e8f90",
        ),
    ]


# --- SwiftPM ------------------------------------------------------------------------------------


def test_package_resolved_v2() -> None:
    inventory = swift_resolved.parse(real(*SCAN, "locks-scalibr", "Package.resolved"))
    assert triples(inventory) == [
        ("SwiftURL", "github.com/apple/swift-nio-http2", "1.19.1"),
        ("SwiftURL", "github.com/pytorch/executorch", "0.6.0"),
    ]
    assert inventory.components[0].purl == "pkg:swift/github.com/apple/swift-nio-http2@1.19.1"


def test_package_resolved_v1_and_branch_pins() -> None:
    inventory = swift_resolved.parse(asset("Package-v1.resolved"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        ("github.com/apple/swift-log", "1.4.2", None),
        (
            "github.com/vapor/vapor",  # from git@github.com:vapor/vapor.git
            None,
            "pinned to a revision, not a version: main 0d9e53e2b25d4d1e5c3b5a6d0b0f0f1b2c3d4e5f",
        ),
    ]


# --- CocoaPods ----------------------------------------------------------------------------------


def test_podfile_lock_is_listed_without_an_ecosystem() -> None:
    inventory = podfile_lock.parse(real(*SCAN, "locks-scalibr", "Podfile.lock"))
    assert triples(inventory) == [(None, "GlossButtonNode", "3.1.2"), (None, "PINCache", "3.0.3")]
    assert inventory.components[0].purl == "pkg:cocoapods/GlossButtonNode@3.1.2"
    assert inventory.components[0].note == "CocoaPods has no OSV ecosystem: listed, not matched"


def test_podfile_lock_subspecs_and_local_pods() -> None:
    inventory = podfile_lock.parse(asset("Podfile-subspecs.lock"))
    assert triples(inventory) == [(None, "Alamofire", "5.4.4"), (None, "Firebase", "8.10.0")]
    assert inventory.skipped == ("LocalKit: from the local path ../LocalKit",)
