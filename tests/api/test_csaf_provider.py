"""The CSAF provider on a real ``sakimori serve`` (loopback), signing with a key made by gpg in
the test: provider metadata valid against the CSAF schema, each feed lists exactly what the
caller may read, every document is valid, its hash matches and its signature verifies with the
published key; other organisations, anonymous callers and withdrawn packages get nothing."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from sakimori.packages.csaf import tracking_id
from sakimori.packages.model import Content
from sakimori.services import audit, csaf_signing
from sakimori.services import packages as service
from tests.packages.conftest import Platform, build_platform, content, errors
from tests.packages.conftest import csaf_validator as csaf_validator  # the fixture
from tests.packages.test_csaf_provider import provider_validator, verify
from tests.serving import sakimori_serve

PASSPHRASE = "a test passphrase"
STAFF = {"kanri", "bunseki"}
#: title -> (TLP, audience)
PACKAGES: dict[str, tuple[str, dict[str, Any]]] = {
    "clear": ("CLEAR", {"organisations": ["city-bank"]}),
    "green": ("GREEN", {"organisations": ["city-bank"]}),
    "amber": ("AMBER", {"organisations": ["city-bank"]}),
    "strict": ("AMBER+STRICT", {"organisations": ["river-power"]}),
    "red": ("RED", {"people": ["bank-user"]}),
    "withdrawn": ("AMBER", {"organisations": ["city-bank"]}),
}
#: Who may read each package, written out by hand (not from the code under test).
READERS: dict[str, set[str]] = {
    "green": STAFF | {"bank-admin", "bank-user"},
    "amber": STAFF | {"bank-admin", "bank-user"},
    "strict": STAFF | {"power-user"},
    "red": STAFF | {"bank-user"},
}
FEED_OF = {"green": "green", "amber": "amber", "strict": "amber", "red": "red"}
CALLERS = ("kanri", "bank-admin", "bank-user", "power-user", "water-user", "vendor-psirt", "allied")


@dataclass
class Served:
    base: str
    platform: Platform
    ids: dict[str, int]
    fingerprint: str
    home: Path

    def client(self, user: str | None = None) -> httpx.Client:
        headers = self.platform.headers(user) if user else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def _make_key(where: Path) -> str:
    """A passphrase-protected ed25519 key made with gpg in a throw-away GNUPGHOME; its
    armoured secret key is written to ``where / "key.asc"``. Returns the fingerprint."""
    home = where / "keygen"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    secret = [*gpg, "--passphrase", PASSPHRASE]
    try:
        subprocess.run(
            [*secret, "--quick-gen-key", "CSAF test <csaf@test.example>", "ed25519", "sign", "0"],
            check=True,
            capture_output=True,
        )
        listed = subprocess.run(
            [*gpg, "--with-colons", "--list-secret-keys"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line[:4] == "fpr:")
        exported = subprocess.run(
            [*secret, "--armor", "--export-secret-keys", fingerprint],
            check=True,
            capture_output=True,
        ).stdout
    finally:
        csaf_signing.stop_agent(home)
    (where / "key.asc").write_bytes(exported)
    (where / "passphrase").write_text(PASSPHRASE + "\n")
    return fingerprint


def _publish(platform: Platform, name: str) -> int:
    tlp, audience = PACKAGES[name]
    value = content(title=f"CSAF provider test: {name}", tlp=tlp, audience=audience)
    view = service.create_draft(platform.db, Content.from_dict(value), "bunseki")
    service.submit(platform.db, view.id, "bunseki")
    service.approve(platform.db, view.id, "kanri")
    return view.id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("csaf")
    secrets = tmp_path_factory.mktemp("secrets")
    fingerprint = _make_key(secrets)
    with build_platform("sqlite", home) as platform:
        ids = {name: _publish(platform, name) for name in PACKAGES}
        service.withdraw(platform.db, ids["withdrawn"], "kanri")
        draft = content(title="CSAF provider test: draft", tlp="CLEAR")
        ids["draft"] = service.create_draft(platform.db, Content.from_dict(draft), "bunseki").id
        env = {
            **os.environ,
            "SAKIMORI_HOME": str(home),
            "SAKIMORI_DATABASE_URL": f"sqlite:///{home / 'sakimori.db'}",
            "SAKIMORI_CSAF_KEY_FILE": str(secrets / "key.asc"),
            "SAKIMORI_CSAF_PASSPHRASE_FILE": str(secrets / "passphrase"),
        }
        try:
            with sakimori_serve(env) as server:
                yield Served(server.base, platform, ids, fingerprint, home)
        finally:
            csaf_signing.stop_agent(home / "csaf" / "gnupg")  # in case shutdown did not
        assert PASSPHRASE not in server.output, "the passphrase reached the log"


def _ids(feed: dict[str, Any]) -> set[str]:
    return {entry["id"] for entry in feed["feed"]["entry"]}


def _key(served: Served) -> str:
    with served.client() as anonymous:
        metadata = anonymous.get("/.well-known/csaf/provider-metadata.json").json()
    (entry,) = metadata["public_openpgp_keys"]
    answer = httpx.get(entry["url"], timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/pgp-keys")
    return answer.text


def test_the_provider_metadata_is_valid_and_names_the_key(served: Served) -> None:
    with served.client() as anonymous:
        answer = anonymous.get("/.well-known/csaf/provider-metadata.json")
        assert answer.status_code == 200
        metadata = answer.json()
        assert errors(provider_validator(), metadata) == []
        assert metadata["role"] == "csaf_trusted_provider"
        base = served.base
        assert metadata["canonical_url"] == f"{base}/.well-known/csaf/provider-metadata.json"
        assert metadata["public_openpgp_keys"] == [
            {
                "fingerprint": served.fingerprint,
                "url": f"{base}/.well-known/csaf/openpgp/{served.fingerprint}.asc",
            }
        ]
        wrong = anonymous.get(f"/.well-known/csaf/openpgp/{'0' * 40}.asc")
        assert wrong.status_code == 404
        assert wrong.headers["content-type"] == "application/problem+json"


def test_the_white_feed_is_public_and_holds_only_clear_packages(served: Served) -> None:
    with served.client() as anonymous:
        feed = anonymous.get("/.well-known/csaf/feed-tlp-white.json")
        assert feed.status_code == 200
        assert _ids(feed.json()) == {tracking_id(served.ids["clear"])}
        for label in ("green", "amber", "red"):
            refused = anonymous.get(f"/v1/csaf/feed-tlp-{label}.json")
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("caller", CALLERS)
def test_each_feed_lists_exactly_what_the_caller_may_read(served: Served, caller: str) -> None:
    with served.client(caller) as client:
        for label in ("green", "amber", "red"):
            answer = client.get(f"/v1/csaf/feed-tlp-{label}.json")
            assert answer.status_code == 200, answer.text
            expected = {
                tracking_id(served.ids[name])
                for name, readers in READERS.items()
                if FEED_OF[name] == label and caller in readers
            }
            assert _ids(answer.json()) == expected, (caller, label)


def test_every_document_is_valid_hashed_and_signed(
    served: Served, csaf_validator: Draft202012Validator, tmp_path: Path
) -> None:
    public_key = _key(served)
    feeds = [("/.well-known/csaf/feed-tlp-white.json", None)] + [
        (f"/v1/csaf/feed-tlp-{label}.json", "kanri") for label in ("green", "amber", "red")
    ]
    seen = 0
    for n, (url, user) in enumerate(feeds):
        with served.client(user) as client:
            for entry in client.get(url).json()["feed"]["entry"]:
                links = {link["rel"]: link["href"] for link in entry["link"]}
                assert links["self"] == entry["content"]["src"]
                document = client.get(links["self"])
                assert document.status_code == 200
                assert document.headers["content-type"] == "application/json"
                assert errors(csaf_validator, document.json()) == []
                assert document.json()["document"]["tracking"]["id"] == entry["id"]
                name = links["self"].rsplit("/", 1)[1]
                assert name == entry["id"].lower() + ".json"
                digest = client.get(links["hash"])
                assert digest.text == f"{hashlib.sha512(document.content).hexdigest()}  {name}\n"
                signature = client.get(links["signature"])
                assert signature.status_code == 200
                scratch = tmp_path / f"{n}-{name}"
                scratch.mkdir()
                assert served.fingerprint in verify(
                    signature.text, document.content, public_key, scratch
                )
                seen += 1
    assert seen == 5  # clear, green, amber, strict, red


def _amber_url(served: Served, client: httpx.Client) -> str:
    feed = client.get("/v1/csaf/feed-tlp-amber.json").json()
    entry = next(e for e in feed["feed"]["entry"] if e["id"] == tracking_id(served.ids["amber"]))
    url: str = entry["content"]["src"]
    return url.removeprefix(served.base)


def test_another_organisation_never_gets_an_amber_document(served: Served) -> None:
    with served.client("bank-user") as owner:
        url = _amber_url(served, owner)
    assert url.startswith("/v1/csaf/amber/")
    own = str(served.ids["amber"])
    amber = tracking_id(served.ids["amber"]).lower()
    for caller in ("power-user", "water-user", "vendor-psirt", "allied"):
        with served.client(caller) as client:
            for suffix in ("", ".sha512", ".asc"):
                refused = client.get(url + suffix)
                assert refused.status_code == 404, (caller, suffix)
                assert refused.headers["content-type"] == "application/problem+json"
                missing = client.get(url.replace(amber, "sakimori-pkg-999999") + suffix)
                assert refused.status_code == missing.status_code == 404
                assert refused.json()["detail"].replace(own, "N") == missing.json()[
                    "detail"
                ].replace("999999", "N"), "a hidden document answers as a missing one"
    with served.client() as anonymous:
        assert anonymous.get(url).status_code == 401
        name = url.rsplit("/", 1)[1]
        year = url.split("/")[4]
        assert anonymous.get(f"/.well-known/csaf/white/{year}/{name}").status_code == 404
    with served.client("bank-user") as owner:
        assert owner.get(url.replace("/amber/", "/green/")).status_code == 404


def test_withdrawn_and_draft_packages_are_not_published(served: Served) -> None:
    with served.client("kanri") as staff:
        url = _amber_url(served, staff)
        for name in ("withdrawn", "draft"):
            ident = tracking_id(served.ids[name])
            gone = url.replace(tracking_id(served.ids["amber"]).lower(), ident.lower())
            assert staff.get(gone).status_code == 404
            assert staff.get(gone.replace("/amber/", "/green/")).status_code == 404
            for label in ("green", "amber", "red"):
                assert ident not in _ids(staff.get(f"/v1/csaf/feed-tlp-{label}.json").json())
    with served.client() as anonymous:
        white = anonymous.get("/.well-known/csaf/feed-tlp-white.json").json()
        assert tracking_id(served.ids["draft"]) not in _ids(white)


def test_a_new_revision_is_signed_once_and_served(served: Served, tmp_path: Path) -> None:
    package_id = served.ids["green"]
    signatures = served.home / "csaf" / "signatures" / served.fingerprint
    with served.client("bank-user") as client:
        before = client.get("/v1/csaf/feed-tlp-green.json").json()["feed"]["entry"]
        (entry,) = [e for e in before if e["id"] == tracking_id(package_id)]
        first = client.get(entry["content"]["src"] + ".asc").text
        assert client.get(entry["content"]["src"] + ".asc").text == first
        count = len(list(signatures.glob("*.asc")))
        value = content(title="CSAF provider test: green", tlp="GREEN")
        value["audience"] = PACKAGES["green"][1]
        service.revise(served.platform.db, package_id, Content.from_dict(value), "bunseki", "v2")
        service.submit(served.platform.db, package_id, "bunseki")
        service.approve(served.platform.db, package_id, "kanri")
        after = client.get("/v1/csaf/feed-tlp-green.json").json()["feed"]["entry"]
        (entry,) = [e for e in after if e["id"] == tracking_id(package_id)]
        document = client.get(entry["content"]["src"])
        version = document.json()["document"]["tracking"]["version"]
        assert version == "2"
        signature = client.get(entry["content"]["src"] + ".asc").text
        assert signature != first
        assert len(list(signatures.glob("*.asc"))) == count + 1
        public_key = _key(served)
        assert served.fingerprint in verify(signature, document.content, public_key, tmp_path)


def test_reads_of_amber_documents_and_feeds_are_audited(served: Served) -> None:
    def reads(kind: str) -> int:
        entries = audit.page(served.platform.db, limit=1000)
        return sum(1 for e in entries if e["actor"] == "bank-admin" and e["object_kind"] == kind)

    documents, feeds = reads("package.csaf"), reads("csaf.feed")
    with served.client("bank-admin") as client:
        url = _amber_url(served, client)  # one feed read
        assert client.get(url).status_code == 200
        assert client.get("/v1/csaf/feed-tlp-green.json").status_code == 200  # not recorded
    assert reads("package.csaf") == documents + 1
    assert reads("csaf.feed") == feeds + 1


# -- the directory distribution (CSAF requirements 11–14) -----------------------------------------


def _names(listing: str) -> set[str]:
    return {line.rsplit("/", 1)[1] for line in listing.splitlines()}


def _file_of(served: Served, name: str) -> str:
    return tracking_id(served.ids[name]).lower() + ".json"


def test_the_white_folder_lists_its_documents_each_hashed_and_signed(
    served: Served, tmp_path: Path
) -> None:
    public_key = _key(served)
    with served.client() as anonymous:
        metadata = anonymous.get("/.well-known/csaf/provider-metadata.json").json()
        (folder,) = [d["directory_url"] for d in metadata["distributions"] if "directory_url" in d]
        assert folder == f"{served.base}/.well-known/csaf/white/"
        index = anonymous.get(folder + "index.txt")
        assert index.status_code == 200
        assert index.headers["content-type"] == "text/plain; charset=utf-8"
        changes = anonymous.get(folder + "changes.csv")
        assert changes.headers["content-type"] == "text/csv; charset=utf-8"
        paths = index.text.splitlines()
        assert _names(index.text) == {_file_of(served, "clear")}  # not the draft, nothing else
        rows = list(csv.reader(changes.text.splitlines()))
        assert [path for path, _ in rows] == paths
        for (path, changed), n in zip(rows, range(len(rows)), strict=True):
            document = anonymous.get(folder + path)  # the path resolves below the folder
            assert document.status_code == 200
            tracking = document.json()["document"]["tracking"]
            assert path.split("/")[0] == tracking["initial_release_date"][:4]  # requirement 11
            assert changed == tracking["current_release_date"]
            name = path.rsplit("/", 1)[1]
            digest = anonymous.get(folder + path + ".sha512").text
            assert digest == f"{hashlib.sha512(document.content).hexdigest()}  {name}\n"
            signature = anonymous.get(folder + path + ".asc").text
            scratch = tmp_path / str(n)
            scratch.mkdir()
            assert served.fingerprint in verify(signature, document.content, public_key, scratch)
        page = anonymous.get(folder)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        year = paths[0].split("/")[0]
        assert f'href="{year}/"' in page.text
        assert 'href="changes.csv"' in page.text
        assert f'href="{paths[0].split("/")[1]}.asc"' in anonymous.get(folder + year + "/").text
        assert anonymous.get(folder + "1999/").status_code == 404
        # Nothing of the other labels is listed in public, nor without a token.
        for label in ("green", "amber", "red"):
            assert anonymous.get(f"/.well-known/csaf/{label}/index.txt").status_code == 404
            for listing in ("index.txt", "changes.csv", ""):
                refused = anonymous.get(f"/v1/csaf/{label}/{listing}")
                assert refused.status_code == 401, (label, listing)


@pytest.mark.parametrize("caller", CALLERS)
def test_each_protected_folder_lists_exactly_what_the_caller_may_read(
    served: Served, caller: str
) -> None:
    with served.client(caller) as client:
        for label in ("green", "amber", "red"):
            expected = {
                _file_of(served, name)
                for name, readers in READERS.items()
                if FEED_OF[name] == label and caller in readers
            }
            index = client.get(f"/v1/csaf/{label}/index.txt")
            changes = client.get(f"/v1/csaf/{label}/changes.csv")
            assert index.status_code == changes.status_code == 200, index.text
            assert _names(index.text) == expected, (caller, label)
            rows = list(csv.reader(changes.text.splitlines()))
            assert {path for path, _ in rows} == set(index.text.splitlines())
            # Newest change first (requirement 13).
            times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for _, t in rows]
            assert times == sorted(times, reverse=True)
            page = client.get(f"/v1/csaf/{label}/").text
            years = {path.split("/")[0] for path in index.text.splitlines()}
            assert set(re.findall(r'href="([0-9]{4})/"', page)) == years
            for path in index.text.splitlines():
                assert client.get(f"/v1/csaf/{label}/{path}").status_code == 200
                year_page = client.get(f"/v1/csaf/{label}/{path.split('/')[0]}/").text
                listed = set(re.findall(r'href="([^"/]+\.json)"', year_page))
                assert listed <= expected
                assert path.split("/")[1] in listed


def test_the_amber_listing_after_a_withdrawal_and_for_a_stranger(served: Served) -> None:
    """The withdrawn AMBER package is in no listing; another bank's user sees none of the
    bank's AMBER documents, in the list or on the pages."""
    withdrawn, amber = _file_of(served, "withdrawn"), _file_of(served, "amber")
    with served.client("kanri") as staff:
        assert withdrawn not in staff.get("/v1/csaf/amber/index.txt").text
        assert amber in staff.get("/v1/csaf/amber/changes.csv").text
    with served.client("water-user") as stranger:
        assert stranger.get("/v1/csaf/amber/index.txt").text == ""
        assert stranger.get("/v1/csaf/amber/changes.csv").text == ""
        assert amber not in stranger.get("/v1/csaf/amber/").text
