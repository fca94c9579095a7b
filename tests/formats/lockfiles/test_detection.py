"""Format detection: every real file and every hand-written sample is recognised by the right
parser, the first one in ``PARSERS`` order whose sniffer says yes, and parses."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from sakimori.errors import UnsupportedFormat
from sakimori.formats import lockfiles
from sakimori.formats.limits import DEFAULT_LIMITS
from sakimori.formats.lockfiles import PARSERS, detect
from sakimori.model.inventory import Inventory
from tests.conftest import require_data
from tests.formats.lockfiles._support import ASSETS, SAMPLES

F = "osv-scanner-5058d47/pkg/lockfile/fixtures/"
C = "osv-scanner-add393a/cmd/osv-scanner/"
S = C + "scan/source/testdata/"
A = "osv-scanner-add393a/"

#: Every file of ../shared/data/lockfiles (but LICENSE and SOURCES.md): the format it must be
#: detected as, how many components and how many skipped entries its inventory has.
REAL_FILES: list[tuple[str, str, int, int]] = [
    (F + "bundler/rails.lock", "Gemfile.lock", 46, 0),
    (F + "bundler/rubocop.lock", "Gemfile.lock", 10, 0),
    (F + "cargo/two-packages.lock", "Cargo.lock", 2, 0),
    (F + "composer/two-packages.json", "composer.lock", 2, 0),
    (F + "go/indirect-packages.mod", "go.mod", 5, 1),
    (F + "go/replace-one.mod", "go.mod", 1, 0),
    (F + "go/two-packages.mod", "go.mod", 2, 1),
    (F + "gradle/5-pkg", "gradle.lockfile", 5, 0),
    (F + "maven/interpolation.xml", "pom.xml", 3, 0),
    (F + "maven/two-packages.xml", "pom.xml", 2, 0),
    (F + "maven/with-dependency-management.xml", "pom.xml", 3, 1),
    (F + "npm/alias.v1.json", "package-lock.json", 3, 0),
    (F + "npm/alias.v2.json", "package-lock.json", 3, 0),
    (F + "npm/nested-dependencies-dup.v1.json", "package-lock.json", 39, 0),
    (F + "npm/nested-dependencies-dup.v2.json", "package-lock.json", 2, 0),
    (F + "npm/nested-dependencies.v1.json", "package-lock.json", 5, 0),
    (F + "npm/nested-dependencies.v2.json", "package-lock.json", 5, 0),
    (F + "npm/scoped-packages.v1.json", "package-lock.json", 2, 0),
    (F + "npm/scoped-packages.v2.json", "package-lock.json", 2, 0),
    (F + "nuget/one-framework-two-packages.v1.json", "packages.lock.json", 2, 0),
    (F + "pdm/dev-dependency.toml", "pdm.lock", 3, 0),
    (F + "pdm/git-dependency.toml", "pdm.lock", 1, 0),
    (F + "pdm/optional-dependency.toml", "pdm.lock", 3, 0),
    (F + "pdm/single-package.toml", "pdm.lock", 1, 0),
    (F + "pdm/two-packages.toml", "pdm.lock", 2, 0),
    (F + "pip/file-format-example.txt", "requirements.txt", 1, 10),
    (F + "pip/line-continuation.txt", "requirements.txt", 4, 0),
    (F + "pip/multiple-packages-constrained.txt", "requirements.txt", 13, 0),
    (F + "pip/multiple-packages-mixed.txt", "requirements.txt", 3, 5),
    (F + "pip/non-normalized-names.txt", "requirements.txt", 3, 0),
    (F + "pip/one-package-constrained.txt", "requirements.txt", 1, 0),
    (F + "pip/other-file.txt", "requirements.txt", 1, 0),
    (F + "pip/with-per-requirement-options.txt", "requirements.txt", 3, 1),
    (F + "pipenv/multiple-packages.json", "Pipfile.lock", 4, 0),
    (F + "pipenv/no-version.json", "Pipfile.lock", 2, 0),
    (F + "pipenv/one-package-dev.json", "Pipfile.lock", 1, 0),
    (F + "pipenv/one-package.json", "Pipfile.lock", 1, 0),
    (F + "pipenv/two-packages-alt.json", "Pipfile.lock", 2, 0),
    (F + "pipenv/two-packages.json", "Pipfile.lock", 2, 0),
    (F + "poetry/one-package-with-metadata.lock", "poetry.lock", 1, 0),
    (F + "poetry/one-package.lock", "poetry.lock", 1, 0),
    (F + "poetry/optional-package.lock", "poetry.lock", 1, 0),
    (F + "poetry/source-git.lock", "poetry.lock", 1, 0),
    (F + "poetry/source-legacy.lock", "poetry.lock", 1, 0),
    (F + "poetry/two-packages.lock", "poetry.lock", 2, 0),
    (F + "yarn/multiple-versions.v1.lock", "yarn.lock", 4, 0),
    (F + "yarn/multiple-versions.v2.lock", "yarn.lock", 3, 0),
    (F + "yarn/scoped-packages.v1.lock", "yarn.lock", 2, 0),
    (F + "yarn/scoped-packages.v2.lock", "yarn.lock", 3, 0),
    (C + "fix/testdata/in-place-npm/package-lock.json", "package-lock.json", 106, 0),
    (C + "fix/testdata/override-maven/pom.xml", "pom.xml", 4, 0),
    (C + "scan/image/testdata/java-fixture/app/pom.xml", "pom.xml", 2, 0),
    (C + "scan/image/testdata/python-fixture/requirements.txt", "requirements.txt", 13, 0),
    (C + "scan/image/testdata/test-image-with-deprecated/Cargo.lock", "Cargo.lock", 32, 1),
    (S + "call-analysis-go-project/go.mod", "go.mod", 3, 1),
    (S + "exp-plugins-pkgdeprecate/deprecated-novuln/Cargo.lock", "Cargo.lock", 35, 1),
    (S + "exp-plugins-pkgdeprecate/deprecated-vuln/Cargo.lock", "Cargo.lock", 6, 1),
    (S + "go-project/go.mod", "go.mod", 0, 1),
    (S + "locks-bun-shorthash/bun.lock", "bun.lock", 1, 0),
    (S + "locks-insecure/bun.lock", "bun.lock", 2, 0),
    (S + "locks-insecure/composer.lock", "composer.lock", 1, 0),
    (S + "locks-insecure/my-package-lock.json", "package-lock.json", 1, 0),
    (S + "locks-insecure/my-yarn.lock", "yarn.lock", 1, 0),
    (S + "locks-licenses/package-lock.json", "package-lock.json", 4, 0),
    (S + "locks-many/Gemfile.lock", "Gemfile.lock", 1, 0),
    (S + "locks-many/composer.lock", "composer.lock", 1, 0),
    (S + "locks-many/installed", "apk-installed", 1, 0),
    (S + "locks-many/package-lock.json", "package-lock.json", 1, 0),
    (S + "locks-many/replace-local.mod", "go.mod", 0, 1),
    (S + "locks-many/status", "dpkg-status", 1, 0),
    (S + "locks-many/yarn.lock", "yarn.lock", 1, 0),
    (S + "locks-many-with-insecure/composer.lock", "composer.lock", 6, 0),
    (S + "locks-requirements/my-requirements.txt", "requirements.txt", 1, 0),
    (S + "locks-requirements/requirements-dev.txt", "requirements.txt", 1, 0),
    (S + "locks-requirements/requirements-transitive.txt", "requirements.txt", 1, 0),
    (S + "locks-requirements/requirements.prod.txt", "requirements.txt", 1, 0),
    (S + "locks-requirements/requirements.txt", "requirements.txt", 3, 0),
    (S + "locks-requirements/the_requirements_for_test.txt", "requirements.txt", 1, 0),
    (S + "locks-requirements/unresolvable-requirements.txt", "requirements.txt", 3, 0),
    (S + "locks-scalibr/Package.resolved", "Package.resolved", 2, 0),
    (S + "locks-scalibr/Podfile.lock", "Podfile.lock", 2, 0),
    (S + "locks-scalibr/cabal.project.freeze", "cabal.project.freeze", 6, 1),
    (S + "locks-scalibr/depsjson", "deps.json", 3, 1),
    (S + "locks-scalibr/gems.locked", "Gemfile.lock", 24, 1),
    (S + "locks-scalibr/packages.config", "packages.config", 2, 0),
    (S + "locks-scalibr/packages.lock.json", "packages.lock.json", 1, 0),
    (S + "locks-scalibr/stack.yaml.lock", "stack.yaml.lock", 4, 1),
    (S + "locks-scalibr/uv.lock", "uv.lock", 2, 1),
    (S + "maven-transitive/pom.xml", "pom.xml", 1, 0),
    (C + "update/testdata/pom.xml", "pom.xml", 4, 0),
    (A + "docs/Gemfile.lock", "Gemfile.lock", 51, 0),
    (A + "internal/sourceanalysis/testdata/rust/rust-project/Cargo.lock", "Cargo.lock", 0, 1),
]

#: The hand-written samples (tests/formats/assets/lockfiles), detected the same way.
ASSET_FILES: list[tuple[str, str]] = [
    ("Package-v1.resolved", "Package.resolved"),
    ("Pipfile-categories.lock", "Pipfile.lock"),
    ("Podfile-subspecs.lock", "Podfile.lock"),
    ("apk-installed", "apk-installed"),
    ("app.deps.json", "deps.json"),
    ("bun-sources.lock", "bun.lock"),
    ("cabal-qualified.project.freeze", "cabal.project.freeze"),
    ("cargo-sources.lock", "Cargo.lock"),
    ("cargo-v1.lock", "Cargo.lock"),
    ("composer-sources.lock", "composer.lock"),
    ("dpkg-status", "dpkg-status"),
    ("gemfile-sources.lock", "Gemfile.lock"),
    ("go-edge.mod", "go.mod"),
    ("package-lock.v3.json", "package-lock.json"),
    ("packages-ns.config", "packages.config"),
    ("packages.lock.multi.json", "packages.lock.json"),
    ("pdm-sources.lock", "pdm.lock"),
    ("pnpm-lock.v5.yaml", "pnpm-lock.yaml"),
    ("pnpm-lock.v6.yaml", "pnpm-lock.yaml"),
    ("pnpm-lock.v9.yaml", "pnpm-lock.yaml"),
    ("poetry-v2.lock", "poetry.lock"),
    ("pom-parent.xml", "pom.xml"),
    ("requirements-edge.txt", "requirements.txt"),
    ("stack-git.yaml.lock", "stack.yaml.lock"),
    ("test-only.gradle.lockfile", "gradle.lockfile"),
    ("uv-sources.lock", "uv.lock"),
    ("yarn-berry-protocols.lock", "yarn.lock"),
    ("yarn-v1-sources.lock", "yarn.lock"),
]


def first_format(data: bytes) -> str:
    return next(parser.FORMAT for parser in PARSERS if parser.sniff(data))


def test_the_table_lists_every_real_file() -> None:
    root = require_data("lockfiles")
    on_disk = {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path.name not in {"LICENSE", "SOURCES.md"}
    }
    assert on_disk == {path for path, *_ in REAL_FILES}
    assert len(on_disk) == 92  # as SOURCES.md counts them


@pytest.mark.parametrize(("path", "fmt", "components", "skipped"), REAL_FILES)
def test_real_file_is_detected_and_parses(
    path: str, fmt: str, components: int, skipped: int
) -> None:
    data = require_data("lockfiles", path).read_bytes()
    assert first_format(data) == fmt
    inventory = detect(data).parse(data, DEFAULT_LIMITS)
    assert isinstance(inventory, Inventory)
    assert inventory.format == fmt
    assert (len(inventory.components), len(inventory.skipped)) == (components, skipped)
    assert lockfiles.parse(data) == inventory


@pytest.mark.parametrize(("name", "fmt"), ASSET_FILES)
def test_sample_is_detected_and_parses(name: str, fmt: str) -> None:
    data = (ASSETS / name).read_bytes()
    assert first_format(data) == fmt
    assert detect(data).parse(data).format == fmt


def test_every_sample_is_in_the_table() -> None:
    assert {p.name for p in ASSETS.iterdir() if p.is_file()} == {name for name, _ in ASSET_FILES}


def test_every_format_is_covered_by_real_files_or_samples() -> None:
    covered = {fmt for *_, fmt in ASSET_FILES} | {fmt for _, fmt, *_ in REAL_FILES}
    assert covered == {parser.FORMAT for parser in PARSERS}


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.FORMAT)
def test_each_module_provides_the_parser_interface(parser: ModuleType) -> None:
    assert isinstance(parser.FORMAT, str)
    assert list(inspect.signature(parser.sniff).parameters) == ["data"]
    parameters = inspect.signature(parser.parse).parameters
    assert list(parameters) == ["data", "limits"]
    assert parameters["limits"].default is DEFAULT_LIMITS
    assert parser in SAMPLES


def test_formats_are_distinct_and_requirements_is_last() -> None:
    formats = [parser.FORMAT for parser in PARSERS]
    assert len(set(formats)) == len(formats) == 24
    assert formats[-1] == "requirements.txt"


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"\x00\x01\x02", b"<html><body>hi</body></html>", b'{"hello": "world"}'],
)
def test_unknown_content_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        detect(data)
    assert "requirements.txt" in caught.value.diagnostics()
