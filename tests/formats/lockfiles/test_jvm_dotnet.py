"""Maven pom.xml, gradle.lockfile, NuGet packages.lock.json and packages.config, .NET deps.json."""

from __future__ import annotations

from sakimori.formats.lockfiles import deps_json, gradle_lock, maven_pom, nuget_config, nuget_lock
from sakimori.model.inventory import Inventory
from tests.formats.lockfiles._support import SCAN, V1, asset, real, triples

C = ("osv-scanner-add393a", "cmd", "osv-scanner")


def rows(inventory: Inventory) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(c.name, c.version, c.scope, c.note) for c in inventory.components]


# --- pom.xml ------------------------------------------------------------------------------------


def test_pom_two_packages() -> None:
    inventory = maven_pom.parse(real(*V1, "maven", "two-packages.xml"))
    assert triples(inventory) == [
        ("Maven", "io.netty:netty-all", "4.1.42.Final"),
        ("Maven", "org.slf4j:slf4j-log4j12", "1.7.25"),
    ]
    assert inventory.components[0].purl == "pkg:maven/io.netty/netty-all@4.1.42.Final"


def test_pom_interpolation_and_range() -> None:
    inventory = maven_pom.parse(real(*V1, "maven", "interpolation.xml"))
    assert rows(inventory) == [
        ("org.mine:mypackage", "1.0.0", None, None),
        ("org.mine:my.package", "2.3.4", None, None),
        (
            "org.mine:ranged-package",
            None,
            None,
            "version range [9.4.35.v20201120,9.5), not pinned (dependencyManagement)",
        ),
    ]


def test_pom_declared_version_wins_over_the_managed_one() -> None:
    inventory = maven_pom.parse(real(*V1, "maven", "with-dependency-management.xml"))
    assert rows(inventory) == [
        ("io.netty:netty-all", "4.1.9", None, None),
        ("org.slf4j:slf4j-log4j12", "1.7.25", None, None),
        ("com.google.code.findbugs:jsr305", "3.0.2", None, "dependencyManagement"),
    ]
    assert inventory.skipped == (
        "io.netty:netty-all 4.1.42.Final: managed version, the declared one is used",
    )


def test_pom_known_vulnerable_jsoup_in_dependency_management() -> None:
    inventory = maven_pom.parse(real(*C, "fix", "testdata", "override-maven", "pom.xml"))
    assert rows(inventory) == [
        ("org.apache.maven.wagon:wagon-http", "3.0.0", None, None),
        ("org.codehaus.plexus:plexus-utils", "3.0", None, None),
        ("org.jsoup:jsoup", "1.14.1", None, "dependencyManagement"),
        ("org.apache.httpcomponents:httpclient", "4.0", None, "dependencyManagement"),
    ]


def test_pom_profiles_and_test_scope() -> None:
    inventory = maven_pom.parse(real(*C, "update", "testdata", "pom.xml"))
    assert rows(inventory) == [
        ("com.fasterxml.jackson.core:jackson-core", "2.14.0", None, None),
        ("junit:junit", "4.12", "dev", None),
        ("org.apache.logging.log4j:log4j-api", "2.0", None, "profile some-profile"),
        ("org.slf4j:slf4j-migrator", "2.0.0", None, "dependencyManagement"),
    ]
    log4j = maven_pom.parse(real(*SCAN, "maven-transitive", "pom.xml"))
    assert triples(log4j) == [("Maven", "org.apache.logging.log4j:log4j-web", "2.14.1")]


def test_pom_parent_project_version_and_what_cannot_be_resolved() -> None:
    inventory = maven_pom.parse(asset("pom-parent.xml"))
    assert rows(inventory) == [
        ("org.example:example-core", "2.5.0", None, None),  # ${project.groupId}, parent version
        (
            "com.fasterxml.jackson.core:jackson-databind",
            "2.9.8",
            None,
            None,
        ),  # property of property
        (
            "org.apache.commons:commons-text",
            None,
            None,
            "version ${commons-text.version} could not be interpolated",
        ),
        ("org.apache.logging.log4j:log4j-core", "2.14.1", None, None),  # from dependencyManagement
        (
            "org.yaml:snakeyaml",
            None,
            None,
            "version not declared: it comes from a parent POM or a BOM",
        ),
        ("com.example:cyclic", None, None, "version ${loop.a} could not be interpolated"),
        ("junit:junit", "4.12", "dev", None),
        ("com.google.guava:guava", None, "optional", "version range [30.0-jre,), not pinned"),
    ]
    assert inventory.skipped[0] == (
        "parent POM org.example:example-parent:2.5.0: what it declares is not read here"
    )


def test_pom_interpolation_is_bounded() -> None:
    doubling = {"a": "${b}${b}", "b": "${a}${a}"}
    assert "${" in maven_pom.interpolate("${a}", doubling)
    assert maven_pom.interpolate("${x}", {"x": "${y}", "y": "1.0"}) == "1.0"


# --- gradle.lockfile ----------------------------------------------------------------------------


def test_gradle_lockfile() -> None:
    inventory = gradle_lock.parse(real(*V1, "gradle", "5-pkg"))
    assert triples(inventory) == [
        ("Maven", f"org.springframework.boot:{artifact}", version)
        for artifact, version in [
            ("spring-boot-autoconfigure", "2.7.4"),
            ("spring-boot-configuration-processor", "2.7.5"),
            ("spring-boot-devtools", "2.7.6"),
            ("spring-boot-starter-aop", "2.7.7"),
            ("spring-boot-starter-data-jpa", "2.7.8"),
        ]
    ]


def test_gradle_lockfile_test_configurations_are_dev() -> None:
    inventory = gradle_lock.parse(asset("test-only.gradle.lockfile"))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == [
        ("com.fasterxml.jackson.core:jackson-databind", "2.9.8", None),
        ("junit:junit", "4.12", "dev"),
        ("org.hamcrest:hamcrest-core", "1.3", "dev"),
    ]


# --- NuGet --------------------------------------------------------------------------------------


def test_nuget_packages_lock() -> None:
    inventory = nuget_lock.parse(real(*V1, "nuget", "one-framework-two-packages.v1.json"))
    assert triples(inventory) == [
        ("NuGet", "Test.Core", "6.0.5"),
        ("NuGet", "Test.System", "0.13.0-beta4"),
    ]
    scalibr = nuget_lock.parse(real(*SCAN, "locks-scalibr", "packages.lock.json"))
    assert triples(scalibr) == [("NuGet", "Newtonsoft.Json", "13.0.3")]
    assert scalibr.components[0].purl == "pkg:nuget/Newtonsoft.Json@13.0.3"


def test_nuget_packages_lock_frameworks_and_projects() -> None:
    inventory = nuget_lock.parse(asset("packages.lock.multi.json"))
    assert triples(inventory) == [
        ("NuGet", "Newtonsoft.Json", "12.0.1"),  # in net6.0 and net8.0: once
        ("NuGet", "System.Text.Encodings.Web", "4.7.1"),
        ("NuGet", "System.Text.Encodings.Web", "8.0.0"),
        ("NuGet", "runtime.native.System", "4.3.0"),
    ]
    assert inventory.skipped == (
        "MyCompany.Shared: a project of the same solution, the project's own code",
    )


def test_nuget_packages_config() -> None:
    inventory = nuget_config.parse(real(*SCAN, "locks-scalibr", "packages.config"))
    assert rows(inventory) == [
        ("Microsoft.CodeDom.Providers.DotNetCompilerPlatform", "1.0.0", None, None),
        ("Microsoft.Net.Compilers", "1.0.0", "dev", None),
    ]
    namespaced = nuget_config.parse(asset("packages-ns.config"))
    assert rows(namespaced) == [("jQuery", "1.8.2", None, None), ("NUnit", "3.13.2", "dev", None)]


def test_deps_json() -> None:
    inventory = deps_json.parse(real(*SCAN, "locks-scalibr", "depsjson"))
    assert triples(inventory) == [
        ("NuGet", "AWSSDK.Core", "3.7.10.6"),
        ("NuGet", "Microsoft.Extensions.DependencyInjection", "6.0.0"),
        ("NuGet", "System.Linq.Dynamic.Core", "1.3.7"),
    ]
    assert inventory.skipped == ("TestLibrary/1.0.0: a project library, not a NuGet package",)


def test_deps_json_runtime_pack_and_references() -> None:
    inventory = deps_json.parse(asset("app.deps.json"))
    assert rows(inventory) == [
        ("Microsoft.NETCore.App.Runtime.linux-x64", "8.0.0", None, "runtime pack"),
        ("Newtonsoft.Json", "12.0.1", None, None),
    ]
    assert inventory.skipped == (
        "App/1.0.0: a project library, not a NuGet package",
        "Legacy.Interop/1.0.0.0: a reference library, not a NuGet package",
    )
