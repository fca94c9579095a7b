"""Python lockfiles: requirements files, Pipfile.lock, poetry.lock, pdm.lock, uv.lock."""

from __future__ import annotations

import pytest

from sakimori.errors import MalformedDocument
from sakimori.formats.lockfiles import pdm_lock, pipfile_lock, poetry_lock, requirements, uv_lock
from tests.formats.lockfiles._support import SCAN, V1, asset, real, triples

IMAGE = ("osv-scanner-add393a", "cmd", "osv-scanner", "scan", "image", "testdata")


def pypi(*pairs: tuple[str, str | None]) -> list[tuple[str | None, str, str | None]]:
    return [("PyPI", name, version) for name, version in pairs]


# --- requirements.txt ---------------------------------------------------------------------------


def test_requirements_known_vulnerable_pins() -> None:
    inventory = requirements.parse(real(*IMAGE, "python-fixture", "requirements.txt"))
    # "Django==1.11.29" and "Flask==0.12.2" repeat earlier lines: one component each.
    assert triples(inventory) == pypi(
        ("flask", "0.12.2"),
        ("django", "1.11.29"),
        ("requests", "2.20.0"),
        ("certifi", "2025.11.12"),
        ("chardet", "3.0.4"),
        ("click", "8.1.8"),
        ("idna", "2.7"),
        ("itsdangerous", "2.2.0"),
        ("Jinja2", "3.1.6"),
        ("MarkupSafe", "3.0.3"),
        ("pytz", "2025.2"),
        ("urllib3", "1.24.3"),
        ("Werkzeug", "3.1.4"),
    )
    assert inventory.components[0].purl == "pkg:pypi/flask@0.12.2"
    assert inventory.components[8].purl == "pkg:pypi/jinja2@3.1.6"
    assert inventory.skipped == ()


def test_requirements_file_format_example_skips_with_reasons() -> None:
    inventory = requirements.parse(real(*V1, "pip", "file-format-example.txt"))
    assert triples(inventory) == pypi(("docopt", "0.6.1"))
    assert inventory.includes == ("other-file.txt",)
    assert inventory.skipped == (
        "line 3: pytest: not pinned (no version specifier)",
        "line 4: pytest-cov: not pinned (no version specifier)",
        "line 5: beautifulsoup4: not pinned (no version specifier)",
        "line 10: keyring: not pinned (>=4.1.1)",
        "line 11: coverage: not pinned (!=3.5)",
        "line 12: Mopidy-Dirble: not pinned (~=1.1)",
        "line 18: ./downloads/numpy-1.9.2-cp34-none-win32.whl: URL or path, not a registry package",
        "line 19: http://wxpython.org/Phoenix/snapshot-builds/"
        "wxPython_Phoenix-3.0.3.dev1820+49a8884-cp34-none-win_amd64.whl: "
        "URL or path, not a registry package",
        "line 23: rejected: not pinned (no version specifier)",
        "line 24: green: not pinned (no version specifier)",
    )


def test_requirements_line_continuations_follow_pip() -> None:
    inventory = requirements.parse(real(*V1, "pip", "line-continuation.txt"))
    assert triples(inventory) == pypi(
        ("foo", "1.2.3"), ("bar", "4.5.6"), ("baz", "7.8.9"), ("qux", "10.11.12")
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "multiple-packages-constrained.txt",
            [
                ("astroid", "2.5.1"),
                ("beautifulsoup4", "4.9.3"),
                ("boto3", "1.17.19"),
                ("botocore", "1.20.19"),
                ("certifi", "2020.12.5"),
                ("chardet", "4.0.0"),
                ("circus", "0.17.1"),
                ("click", "7.1.2"),
                ("django-debug-toolbar", "3.2.1"),
                ("django-filter", "2.4.0"),
                ("django-nose", "1.4.7"),
                ("django-storages", "1.11.1"),
                ("django", "2.2.24"),
            ],
        ),
        (
            "multiple-packages-mixed.txt",
            [("pandas", "0.23.4"), ("numpy", "1.16.0"), ("scikit-learn", "0.20.1")],
        ),
        (
            "non-normalized-names.txt",
            [("zope.interface", "5.4.0"), ("Pillow", "1.0.0"), ("Twisted", "20.3.0")],
        ),
        ("one-package-constrained.txt", [("django", "2.2.24")]),
        ("other-file.txt", [("django", "2.2.24")]),
        (
            "with-per-requirement-options.txt",
            [("boto3", "1.26.121"), ("foo", "1.0.0"), ("FooProject", "1.2")],
        ),
    ],
)
def test_requirements_osv_scanner_fixtures(name: str, expected: list[tuple[str, str]]) -> None:
    assert triples(requirements.parse(real(*V1, "pip", name))) == pypi(*expected)


def test_requirements_unpinned_lines_are_skipped_not_dropped() -> None:
    inventory = requirements.parse(real(*V1, "pip", "multiple-packages-mixed.txt"))
    assert [reason.split(":")[1].strip() for reason in inventory.skipped] == [
        "flask",
        "flask-cors",
        "sklearn",
        "requests",
        "gevent",
    ]


def test_requirements_includes_in_the_scan_fixtures() -> None:
    inventory = requirements.parse(real(*SCAN, "locks-requirements", "requirements-transitive.txt"))
    assert triples(inventory) == pypi(("numpy", "2.3.1"))
    assert inventory.includes == ("requirements.txt",)
    inventory = requirements.parse(real(*SCAN, "locks-requirements", "requirements.txt"))
    assert triples(inventory) == pypi(
        ("flask", "1.0.0"), ("django", "1.11.29"), ("requests", "2.20.0")
    )


def test_requirements_every_kind_of_line() -> None:
    inventory = requirements.parse(asset("requirements-edge.txt"))
    assert triples(inventory) == pypi(
        ("requests", "2.20.0"), ("Django", "1.11.29"), ("urllib3", "1.24.3")
    )
    assert inventory.includes == ("base.txt", "more.txt", "constraints.txt")
    reasons = "\n".join(inventory.skipped)
    for expected in (
        "line 2: --index-url https://pypi.org/simple: pip option",
        "line 7: git+https://github.com/pallets/flask.git@2.0.0#egg=flask: editable install",
        "line 8: ./local/package: editable install",
        "line 13: numpy: not pinned (==1.*)",
        "line 14: attrs: not pinned (<23,>=21)",
        "line 15: pip: direct URL reference https://github.com/pypa/pip/archive/22.0.2.zip",
        "line 16: git+https://github.com/psf/black.git@24.1.0#egg=black: URL or path",
        "line 17: ./vendor/wheel-1.0-py3-none-any.whl: URL or path",
        # pip: "#" starts a comment only at the start of a line or after whitespace.
        "line 18: six==1.16.0#not-a-comment-without-space: not a valid requirement",
    ):
        assert expected in reasons
    assert len(inventory.skipped) == 10


def test_requirements_junk_is_refused() -> None:
    with pytest.raises(MalformedDocument, match="no line of this file is a requirement"):
        requirements.parse(b"this is : not { a requirements file\n")
    assert requirements.parse(b"").components == ()
    assert requirements.parse(b"# only a comment\n").components == ()


# --- Pipfile.lock -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "multiple-packages.json",
            [
                ("itsdangerous", "2.1.2", None),
                ("pluggy", "1.0.1", None),
                ("markupsafe", "2.1.1", None),
                ("pluggy", "1.0.0", "dev"),
            ],
        ),
        ("one-package.json", [("markupsafe", "2.1.1", None)]),
        ("one-package-dev.json", [("markupsafe", "2.1.1", "dev")]),
        ("two-packages.json", [("itsdangerous", "2.1.2", None), ("markupsafe", "2.1.1", "dev")]),
        ("two-packages-alt.json", [("itsdangerous", "2.1.2", None), ("markupsafe", "2.1.1", None)]),
        ("no-version.json", [("markupsafe", None, None), ("itsdangerous", None, "dev")]),
    ],
)
def test_pipfile_lock_fixtures(
    name: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    inventory = pipfile_lock.parse(real(*V1, "pipenv", name))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == expected
    assert all(c.ecosystem == "PyPI" for c in inventory.components)


def test_pipfile_lock_git_entry_says_where_it_came_from() -> None:
    markupsafe = pipfile_lock.parse(real(*V1, "pipenv", "no-version.json")).components[0]
    assert markupsafe.note == (
        "git dependency https://github.com/pallets/markupsafe @ "
        "b36054111bc1e8bbadb5d0d60158feb72926f467"
    )


def test_pipfile_lock_categories_and_local_paths() -> None:
    inventory = pipfile_lock.parse(asset("Pipfile-categories.lock"))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == [
        ("flask", "0.12.2", None),  # also in "develop": the run-time occurrence wins
        ("pytest", "7.4.0", "dev"),
        ("sphinx", "7.2.6", "optional"),
    ]
    assert inventory.skipped == ("mylib: local or URL install ./mylib, not a registry package",)


# --- poetry.lock --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("one-package.lock", [("numpy", "1.23.3", None)]),
        ("one-package-with-metadata.lock", [("emoji", "2.0.0", None)]),
        ("optional-package.lock", [("numpy", "1.23.3", "optional")]),
        ("source-git.lock", [("ike", "0.2.0", None)]),
        ("source-legacy.lock", [("appdirs", "1.4.4", None)]),
        ("two-packages.lock", [("proto-plus", "1.22.0", None), ("protobuf", "4.21.5", None)]),
    ],
)
def test_poetry_lock_fixtures(name: str, expected: list[tuple[str, str, str | None]]) -> None:
    inventory = poetry_lock.parse(real(*V1, "poetry", name))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == expected


def test_poetry_lock_git_source_note() -> None:
    ike = poetry_lock.parse(real(*V1, "poetry", "source-git.lock")).components[0]
    assert ike.note == (
        "git dependency https://github.com/dzshn/ike @ cd66602cd29f61a2d2e7fb995fef1e61708c034d"
    )


def test_poetry_2_groups_and_directory_source() -> None:
    inventory = poetry_lock.parse(asset("poetry-v2.lock"))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == [
        ("django", "1.11.29", None),
        ("pytest", "8.0.0", "dev"),
    ]
    assert inventory.skipped == (
        "mylib: local directory dependency ../mylib, not a registry package",
    )


# --- pdm.lock -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("single-package.toml", [("toml", "0.10.2", None)]),
        ("two-packages.toml", [("six", "1.16.0", None), ("toml", "0.10.2", None)]),
        (
            "dev-dependency.toml",
            [
                ("pyroute2", "0.7.11", "dev"),
                ("toml", "0.10.2", None),
                ("win-inet-pton", "1.1.0", "dev"),
            ],
        ),
        (
            "optional-dependency.toml",
            [
                ("pyroute2", "0.7.11", "optional"),
                ("toml", "0.10.2", None),
                ("win-inet-pton", "1.1.0", "optional"),
            ],
        ),
        ("git-dependency.toml", [("toml", "0.10.2", None)]),
    ],
)
def test_pdm_lock_fixtures(name: str, expected: list[tuple[str, str, str | None]]) -> None:
    inventory = pdm_lock.parse(real(*V1, "pdm", name))
    assert [(c.name, c.version, c.scope) for c in inventory.components] == expected


def test_pdm_lock_sources() -> None:
    git = pdm_lock.parse(real(*V1, "pdm", "git-dependency.toml")).components[0]
    assert git.note == (
        "git dependency https://github.com/uiri/toml.git @ 65bab7582ce14c55cdeec2244c65ea23039c9e6f"
    )
    inventory = pdm_lock.parse(asset("pdm-sources.lock"))
    assert [(c.name, c.version, c.scope, c.note) for c in inventory.components] == [
        ("pytest", "8.0.0", "optional", None),
        (
            "requests",
            "2.20.0",
            None,
            "URL dependency https://example.com/requests-2.20.0-py2.py3-none-any.whl",
        ),
    ]
    assert inventory.skipped == ("mylib: local path dependency ./mylib, the project's own code",)


# --- uv.lock ------------------------------------------------------------------------------------


def test_uv_lock_known_vulnerable_protobuf() -> None:
    inventory = uv_lock.parse(real(*SCAN, "locks-scalibr", "uv.lock"))
    assert triples(inventory) == pypi(("emoji", "2.14.0"), ("protobuf", "4.25.5"))
    assert inventory.skipped == ("uv-lockfiles: virtual source ., the project's own code",)


def test_uv_lock_sources() -> None:
    inventory = uv_lock.parse(asset("uv-sources.lock"))
    assert [(c.name, c.version, c.note) for c in inventory.components] == [
        (
            "black",
            "24.1.0",
            "git dependency https://github.com/psf/black?rev=24.1.0"
            "#e7fb048281a8b5dbfc2d9eb3bf1fd36ee3e2d2a3",
        ),
        ("django", "1.11.29", None),
        (
            "wheel-from-url",
            "1.0.0",
            "URL dependency https://example.com/wheel_from_url-1.0.0-py3-none-any.whl",
        ),
    ]
    assert inventory.skipped == (
        "app: editable source ., the project's own code",
        "sibling: directory source ../sibling, the project's own code",
    )
