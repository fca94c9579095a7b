"""Container images as inventories: the test builds its own images (an OCI layout, as a
directory and as a tar, and a ``docker save`` archive) from real package databases and
lockfiles, and checks what they hold, whiteouts, and hostile archives refused."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats import image
from sakimori.formats.detect import detect, parse_inventory
from sakimori.formats.limits import Limits
from sakimori.matching import package_version_of
from sakimori.model.inventory import Inventory
from tests.conftest import require_data

LOCKS = ("lockfiles", "osv-scanner-add393a", "cmd", "osv-scanner", "scan", "source", "testdata")
POETRY = ("lockfiles", "osv-scanner-5058d47", "pkg", "lockfile", "fixtures", "poetry")

DEBIAN_12 = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n' \
    b'VERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n'  # fmt: skip
ALPINE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.11.6\n'

# A layer member: bytes (a file), ("link", target) a symbolic link, ("dir",) a directory.
Member = bytes | tuple[str, ...]


def layer(files: dict[str, Member], *, compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            elif content[0] == "link":
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                archive.addfile(info)
            elif content[0] == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, content[1]
                archive.addfile(info)
            else:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
    data = buffer.getvalue()
    return gzip.compress(data, mtime=0) if compress else data


def _blob(blobs: dict[str, bytes], data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    blobs[f"blobs/sha256/{digest}"] = data
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(layers: list[bytes]) -> dict[str, bytes]:
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(files, config)},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(files, data)}
            for data in layers
        ],
    }
    descriptor = _blob(files, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **descriptor}],
    }
    files["index.json"] = json.dumps(index).encode()
    return files


def docker_save(layers: list[bytes]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    paths = []
    for data in layers:
        folder = hashlib.sha256(data).hexdigest()
        files[f"{folder}/layer.tar"] = data
        paths.append(f"{folder}/layer.tar")
    files["config.json"] = b'{"os": "linux"}'
    manifest = [{"Config": "config.json", "RepoTags": ["test:latest"], "Layers": paths}]
    files["manifest.json"] = json.dumps(manifest).encode()
    return files


def pack(files: dict[str, Member]) -> bytes:
    return layer(files, compress=False)


def root_filesystem() -> list[bytes]:
    """Two layers: a Debian 12 base with the real dpkg status (``os-release`` a symbolic link,
    as in Debian), then an application layer with a real poetry.lock."""
    status = require_data(*LOCKS, "locks-many", "status").read_bytes()
    poetry = require_data(*POETRY, "two-packages.lock").read_bytes()
    base = layer(
        {
            "etc": ("dir",),
            "etc/os-release": ("link", "../usr/lib/os-release"),
            "usr/lib/os-release": DEBIAN_12,
            "var/lib/dpkg/status": status,
            "usr/bin/true": b"\x7fELF not really",
        }
    )
    app = layer({"app/poetry.lock": poetry, "app/main.py": b"print('hi')\n"})
    return [base, app]


def names(inventory: Inventory) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {c.name: (c.ecosystem, c.version, c.release) for c in inventory.components}


EXPECTED = {
    "adduser": ("Debian", "3.118", "12"),
    "proto-plus": ("PyPI", "1.22.0", None),
    "protobuf": ("PyPI", "4.21.5", None),
}


def test_an_oci_layout_tar_is_inventoried() -> None:
    data = pack(dict(oci_layout(root_filesystem())))
    assert detect(data)[0] == image.FORMAT
    inventory = parse_inventory(data)
    assert inventory.format == "container-image"
    assert names(inventory) == EXPECTED
    adduser = next(c for c in inventory.components if c.name == "adduser")
    assert adduser.purl is not None
    assert "distro=debian-12" in adduser.purl
    package = package_version_of(adduser)
    assert not isinstance(package, str)
    assert (package.ecosystem, package.name, package.release) == ("Debian", "adduser", "12")


def test_an_oci_layout_directory_is_inventoried(tmp_path: Path) -> None:
    for name, data in oci_layout(root_filesystem()).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    assert names(image.parse_directory(tmp_path)) == EXPECTED


def test_scan_reads_a_layout_directory_as_one_image(tmp_path: Path) -> None:
    from sakimori.services.scan import collect

    layout = tmp_path / "layout"
    for name, data in oci_layout(root_filesystem()).items():
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        (layout / name).write_bytes(data)
    (tmp_path / "app" / "manifest.json").parent.mkdir()
    (tmp_path / "app" / "manifest.json").write_text('{"name": "a web app manifest"}')
    assert image.is_layout_directory(layout)
    assert not image.is_layout_directory(tmp_path / "app")
    inventories, ignored = collect([layout], Limits())
    assert [names(i) for i in inventories] == [EXPECTED]
    assert ignored == []


def test_a_docker_save_archive_is_inventoried() -> None:
    data = pack(dict(docker_save(root_filesystem())))
    assert detect(data)[0] == image.FORMAT
    assert names(parse_inventory(data)) == EXPECTED


def test_alpine_image_with_installed_python_packages() -> None:
    installed = require_data(*LOCKS, "locks-many", "installed").read_bytes()
    metadata = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n\nJinja is a template engine"
    base = layer({"etc/os-release": ALPINE, "lib/apk/db/installed": installed})
    site = "usr/lib/python3.8/site-packages/Jinja2-2.10.dist-info/METADATA"
    app = layer({site: metadata}, compress=False)  # uncompressed layers are read too
    inventory = image.parse(pack(dict(oci_layout([base, app]))))
    assert names(inventory) == {
        "apk-tools": ("Alpine", "2.12.10-r1", "3.11"),
        "Jinja2": ("PyPI", "2.10", None),
    }


def test_ubuntu_and_distroless_status_files() -> None:
    """``ID=ubuntu`` makes dpkg packages Ubuntu's; distroless images keep one stanza per file
    in ``status.d`` next to ``.md5sums`` lists, which are not package databases."""
    stanza = b"Package: libssl3\nStatus: install ok installed\nSource: openssl\n"
    ubuntu = b'ID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n'
    base = layer(
        {
            "etc/os-release": ubuntu,
            "var/lib/dpkg/status.d/libssl3": stanza + b"Version: 3.0.2-0ubuntu1.10\n",
            "var/lib/dpkg/status.d/libssl3.md5sums": b"0123456789abcdef  usr/lib/libssl.so.3\n",
        }
    )
    (component,) = image.parse(pack(dict(oci_layout([base])))).components
    assert (component.ecosystem, component.release) == ("Ubuntu", "22.04")
    assert component.purl is not None
    assert component.purl.startswith("pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.10?")
    package = package_version_of(component)
    assert not isinstance(package, str)
    assert (package.ecosystem, package.name, package.release) == ("Ubuntu", "openssl", "22.04")


def test_os_packages_without_os_release_keep_no_release() -> None:
    status = require_data(*LOCKS, "locks-many", "status").read_bytes()
    inventory = image.parse(pack(dict(oci_layout([layer({"var/lib/dpkg/status": status})]))))
    assert names(inventory) == {"adduser": ("Debian", "3.118", None)}
    assert any("no /etc/os-release" in reason for reason in inventory.skipped)


def test_whiteouts_hide_lower_layers() -> None:
    poetry = require_data(*POETRY, "two-packages.lock").read_bytes()
    one = require_data(*POETRY, "one-package.lock").read_bytes()
    base = layer({"old/poetry.lock": poetry, "srv/poetry.lock": poetry, "keep/poetry.lock": one})
    top = layer(
        {
            "old/.wh.poetry.lock": b"",  # the file is deleted
            "srv/.wh..wh..opq": b"",  # the directory is emptied of lower layers…
            "srv/app/poetry.lock": one,  # …but this layer's own files stay
        }
    )
    inventory = image.parse(pack(dict(oci_layout([base, top]))))
    assert names(inventory) == {"numpy": ("PyPI", "1.23.3", None)}
    removed = image.parse(pack(dict(oci_layout([base, top, layer({".wh.keep": b""})]))))
    assert names(removed) == {"numpy": ("PyPI", "1.23.3", None)}  # srv/app still holds it
    gone = layer({".wh.keep": b"", ".wh.srv": b""})
    assert image.parse(pack(dict(oci_layout([base, top, gone])))).components == ()


def test_a_file_replacing_a_directory_hides_what_was_below() -> None:
    one = require_data(*POETRY, "one-package.lock").read_bytes()
    base = layer({"app/poetry.lock": one, "opt/poetry.lock": one})
    top = layer({"app": b"now a file", "opt": ("link", "/srv")})
    assert image.parse(pack(dict(oci_layout([base, top])))).components == ()


def test_links_the_reader_never_follows_may_point_anywhere() -> None:
    """Runtimes clamp ``..`` at the root; a link at a path we do not read is not refused."""
    base = layer({"etc/os-release": DEBIAN_12, "usr/share/x": ("link", "../../../../../y")})
    assert image.parse(pack(dict(oci_layout([base])))).components == ()


def test_an_unreadable_lockfile_is_reported_not_fatal() -> None:
    base = layer({"etc/os-release": DEBIAN_12, "app/poetry.lock": b"\x00\x01 not toml"})
    inventory = image.parse(pack(dict(oci_layout([base]))))
    assert inventory.components == ()
    assert any(s.startswith("/app/poetry.lock: not read") for s in inventory.skipped)


def test_a_plain_tar_is_not_an_image() -> None:
    data = layer({"etc/os-release": DEBIAN_12}, compress=False)
    assert not image.sniff(data)
    with pytest.raises(UnsupportedFormat):
        image.parse(data)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../../etc/passwd": b"x"}, "points outside the image"),
        ({"a/../../evil": b"x"}, "points outside the image"),
        ({"etc/os-release": ("link", "../../../../etc/os-release")}, "points outside"),
        ({"app/poetry.lock": ("hardlink", "../../host/file")}, "points outside"),
    ],
)
def test_hostile_layer_paths_are_refused(files: dict[str, Member], message: str) -> None:
    data = pack(dict(oci_layout([layer(files)])))
    with pytest.raises(MalformedDocument, match=message) as caught:
        image.parse(data)
    assert "layer 1" in caught.value.diagnostics()


def test_hostile_archive_member_path_is_refused() -> None:
    files: dict[str, Member] = dict(docker_save([layer({"a": b"x"})]))
    files["../outside"] = b"x"
    with pytest.raises(MalformedDocument, match="points outside the image"):
        image.parse(pack(files))


def test_a_layer_bomb_is_stopped_before_it_is_decompressed() -> None:
    bomb = layer({"big/file": b"\x00" * 4_000_000})  # 4 MB of zeros: a few KB compressed
    assert len(bomb) < 20_000
    limits = Limits(max_archive_bytes=1_000_000)
    with pytest.raises(LimitExceeded, match="expand to more than 1,000,000 bytes"):
        image.parse(pack(dict(oci_layout([bomb]))), limits)


def test_too_many_members_are_refused() -> None:
    crowded = layer({f"f{i}": b"" for i in range(50)})
    with pytest.raises(LimitExceeded, match="more than 40 files"):
        image.parse(pack(dict(oci_layout([crowded]))), Limits(max_archive_members=40))


def test_too_deep_a_path_is_refused() -> None:
    deep = layer({"/".join(["d"] * 30) + "/f": b""})
    with pytest.raises(LimitExceeded, match="nested deeper than 20"):
        image.parse(pack(dict(oci_layout([deep]))), Limits(max_depth=20))


def test_a_blob_that_does_not_match_its_digest_is_refused() -> None:
    files = oci_layout([layer({"a": b"x"})])
    name = next(n for n, d in files.items() if n.startswith("blobs/") and d[:2] == b"\x1f\x8b")
    files[name] = layer({"a": b"tampered"})
    with pytest.raises(MalformedDocument, match="does not match its sha256 digest"):
        image.parse(pack(dict(files)))


def test_zstd_layers_are_refused_with_the_reason() -> None:
    files: dict[str, Member] = dict(docker_save([b"\x28\xb5\x2f\xfd" + b"\x00" * 100]))
    with pytest.raises(MalformedDocument, match="zstd"):
        image.parse(pack(files))


@given(st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_images_raise_only_our_errors(data: st.DataObject) -> None:
    """Bytes flipped anywhere in an image (outer tar, manifests, compressed layers): the
    parser answers with an inventory or one of our errors, never anything else."""
    original = bytearray(_MUTATION_BASE)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(InvalidInput):
        image.parse(bytes(original))


_MUTATION_BASE = pack(
    dict(
        docker_save(
            [
                layer({"etc/os-release": DEBIAN_12, "app/requirements.txt": b"flask==0.12.2\n"}),
                layer(
                    {
                        "var/lib/dpkg/status": b"Package: a\nStatus: install ok installed\n"
                        b"Version: 1\n",
                        "etc/.wh.os-release": b"",
                    },
                    compress=False,
                ),
            ]
        )
    )
)


def test_truncated_archives_raise_only_our_errors() -> None:
    for cut in range(0, len(_MUTATION_BASE), 211):
        with contextlib.suppress(InvalidInput):
            image.parse(_MUTATION_BASE[:cut])
