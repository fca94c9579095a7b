"""``csaf fetch`` between two Sakimori instances, over loopback, with real gpg.

Instance A is a real ``sakimori serve`` with a signing key made by ``sakimori csaf keygen``,
publishing a TLP:CLEAR package; instance B fetches it (service function and CLI), gets the
advisories and the finding on the asset holding the affected package. Refusals go through a
small proxy on loopback in front of A that replaces what A serves (a tampered document, a
signature by an unlisted key, a document failing the structural check, an oversized one), each
leaving B as it was. The real CSAF examples are served by a directory distribution (index.txt,
files, .sha512, .asc signed with a throw-away key).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sakimori.config import Settings
from sakimori.errors import InvalidInput, LimitExceeded, SakimoriError
from sakimori.formats.limits import Limits
from sakimori.packages import csaf_consumer as consumer
from sakimori.packages import csaf_provider as layout
from sakimori.packages.model import Content
from sakimori.services import csaf_fetch, csaf_signing
from sakimori.services import packages as service
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import require_data
from tests.packages.conftest import Platform, build_platform, content
from tests.serving import sakimori_serve

CVE = "CVE-2021-35042"
PRODUCTS = [
    {"purl": "pkg:pypi/django@1.11.29"},
    {"purl": "pkg:pypi/django@2.2.24"},
    {"cpe": "cpe:2.3:a:djangoproject:django:1.11.29:*:*:*:*:*:*:*"},
    {"vendor": "Acme", "product": "Portal", "version": "4"},
]


# -- a small HTTP server: a proxy in front of A, or a static directory ----------------------------


@dataclass
class Served:
    """What a test server answers: ``files`` by path, else (``upstream``) what A answers."""

    upstream: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    base: str = ""


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.log.append(self.path)
            if self.path in served.files:
                self._answer(200, served.files[self.path])
            elif served.upstream is None:
                self._answer(404, b"not found")
            else:
                headers = {"Host": self.headers["Host"]}  # A builds its URLs from it
                if self.headers.get("Authorization"):
                    headers["Authorization"] = self.headers["Authorization"]
                answer = httpx.get(served.upstream + self.path, headers=headers, timeout=30)
                self._answer(answer.status_code, answer.content)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[Served]:
    served = Served()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


# -- instance A -----------------------------------------------------------------------------------


@dataclass
class ProviderA:
    base: str
    platform: Platform
    package_id: int
    key_file: Path
    fingerprint: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=30)


def _env(home: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "SAKIMORI_HOME": str(home),
        "SAKIMORI_DATABASE_URL": f"sqlite:///{home / 'sakimori.db'}",
        **more,
    }


def _publish(platform: Platform, **changes: Any) -> int:
    value = content(title="Django SQL injection (CSAF fetch test)", tlp="CLEAR", products=PRODUCTS)
    value.update(changes)
    view = service.create_draft(platform.db, Content.from_dict(value), "bunseki")
    service.submit(platform.db, view.id, "bunseki")
    service.approve(platform.db, view.id, "kanri")
    return view.id


@pytest.fixture(scope="module")
def provider_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderA]:
    home = tmp_path_factory.mktemp("a")
    made = subprocess.run(
        [sys.executable, "-m", "sakimori", "csaf", "keygen", "--algorithm", "ed25519"],
        env=_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    fingerprint = made.stdout.split()[1]
    with build_platform("sqlite", home) as platform:
        package_id = _publish(platform)
        amber = content(
            title="For the community", tlp="GREEN", audience={"organisations": ["city-bank"]}
        )
        amber_view = service.create_draft(platform.db, Content.from_dict(amber), "bunseki")
        service.submit(platform.db, amber_view.id, "bunseki")
        service.approve(platform.db, amber_view.id, "kanri")
        try:
            with sakimori_serve(_env(home)) as server:
                yield ProviderA(
                    server.base,
                    platform,
                    package_id,
                    home / "csaf" / "signing-key.asc",
                    fingerprint,
                )
        finally:
            csaf_signing.stop_agent(home / "csaf" / "gnupg")


def _document_path(a: ProviderA, base: str | None = None) -> str:
    """The path of A's TLP:CLEAR document, from its feed."""
    feed = httpx.get((base or a.base) + "/.well-known/csaf/feed-tlp-white.json", timeout=30).json()
    (entry,) = feed["feed"]["entry"]
    return httpx.URL(entry["content"]["src"]).path


# -- instance B -----------------------------------------------------------------------------------


def _settings(url: str, home: Path, limits: Limits | None = None) -> Settings:
    return Settings(home=home, database_url=url, limits=limits or Limits(), http_retries=0)


def _counts(db: Database) -> dict[str, Any]:
    """What B holds: rows per table, and every advisory's content hash."""
    with db.transaction() as session:
        tables = (models.Advisory, models.AffectedPackage, models.IntelSource, models.Finding)
        rows = {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in tables
        }
        hashes = {
            row.id: row.content_hash
            for row in session.execute(select(models.Advisory.id, models.Advisory.content_hash))
        }
        sources = {
            s.name: (s.record_count, json.dumps(s.detail, sort_keys=True))
            for s in session.scalars(select(models.IntelSource))
        }
    return {"rows": rows, "hashes": hashes, "sources": sources}


@dataclass
class Signer:
    """A throw-away key (not A's) and A's own key, both usable to sign in the test."""

    other: csaf_signing.GnupgSigner
    a: csaf_signing.GnupgSigner


@pytest.fixture(scope="module")
def signers(provider_a: ProviderA) -> Iterator[Signer]:
    scratch = Path(tempfile.mkdtemp(prefix="skm-t-"))  # short: gpg's socket paths are bounded
    try:
        other = csaf_signing.generate_key(
            scratch / "other.asc", name="Not A", email="x@test.example", algorithm="ed25519"
        )
        signers = Signer(
            csaf_signing.GnupgSigner(other.path, scratch / "o"),
            csaf_signing.GnupgSigner(provider_a.key_file, scratch / "a"),
        )
        assert signers.a.fingerprint == provider_a.fingerprint
        yield signers
        signers.other.close()
        signers.a.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- (a) the round trip ---------------------------------------------------------------------------


def test_b_fetches_a_and_gets_the_advisories_and_the_finding(
    provider_a: ProviderA, platform: Platform
) -> None:
    db = platform.db
    url = str(db.engine.url.render_as_string(hide_password=False))
    settings = _settings(url, platform.home)
    report = csaf_fetch.fetch_provider(db, provider_a.base, settings)
    canonical = provider_a.base + "/.well-known/csaf/provider-metadata.json"
    assert report.provider == canonical
    assert report.source == "csaf:" + canonical
    assert [f.rsplit("/", 1)[1] for f in report.feeds] == ["feed-tlp-white.json"]
    assert [(label, why) for _, label, why in report.feeds_skipped] == [
        (label, "TLP label not asked for (--tlp)") for label in ("GREEN", "AMBER", "RED")
    ]
    path = _document_path(provider_a)
    assert report.new == [provider_a.base + path]
    assert (report.verified, report.unchanged, report.changes.added) == (1, 0, 1)
    assert report.products == 2  # the two django purls
    assert sorted(n.reason for n in report.not_imported) == [consumer.NO_PURL] * 2  # CPE, name
    assert report.findings.opened >= 1

    a_document = provider_a.get(path).json()
    (a_vulnerability,) = a_document["vulnerabilities"]
    a_products = {
        p["product_id"]: p.get("product_identification_helper", {}).get("purl")
        for p in a_document["product_tree"]["full_product_names"]
    }
    with db.transaction() as session:
        (stored,) = session.scalars(
            select(models.Advisory).where(models.Advisory.source == report.source)
        )
        record = json.loads(stored.record)
        affected = session.scalars(
            select(models.AffectedPackage).where(models.AffectedPackage.advisory_id == stored.id)
        ).all()
        findings = session.execute(
            select(models.Finding, models.FindingDetail)
            .join(models.Asset, models.Asset.id == models.Finding.asset_id)
            .join(models.FindingDetail, models.FindingDetail.id == models.Finding.detail_id)
            .where(models.Asset.slug == "portal", models.Finding.package == "django")
        ).all()
    assert stored.id == f"CSAF-sakimori.example-SAKIMORI-PKG-{provider_a.package_id:06d}-{CVE}"
    assert stored.aliases == [CVE]
    assert stored.summary == a_document["document"]["title"]
    assert stored.modified == a_document["document"]["tracking"]["current_release_date"]
    assert [(a.ecosystem, a.name, sorted(a.versions)) for a in affected] == [
        ("PyPI", "django", ["1.11.29", "2.2.24"])
    ]
    kept = record["database_specific"]["csaf"]
    assert kept["document"] == provider_a.base + path
    assert record["references"][0] == provider_a.base + path
    # Products and statuses: every purl-identified product of A's document, with its status.
    assert {(p["purl"], p["status"]) for p in kept["products"]} == {
        (a_products[pid], "known_affected")
        for pid in a_vulnerability["product_status"]["known_affected"]
        if a_products[pid]
    }
    # Remediations: category, details and URL as A wrote them.
    assert [(r["category"], r["details"], r.get("url")) for r in kept["remediations"]] == [
        (r["category"], r["details"], r.get("url")) for r in a_vulnerability["remediations"]
    ]
    (finding, detail) = next((f, d) for f, d in findings if f.version == "1.11.29")
    assert finding.state == "open"
    assert CVE in (finding.vulnerability, *detail.aliases)
    assert stored.id in detail.records


# -- (c) a second fetch, and the CLI --------------------------------------------------------------


def _cli(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sakimori", "csaf", "fetch", *args],
        env={**_env(home), "SAKIMORI_DATABASE_URL": url, "SAKIMORI_HTTP_RETRIES": "0"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_cli_and_a_second_fetch_download_nothing_again(
    provider_a: ProviderA, http_server: Served, tmp_path: Path
) -> None:
    http_server.upstream = provider_a.base  # a proxy that only logs what is asked of A
    url = f"sqlite:///{tmp_path / 'b.db'}"
    first = _cli(tmp_path, url, http_server.base)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"provider {http_server.base}/.well-known/csaf/provider-metadata.json"
    assert "documents: 1 new, 0 changed, 0 unchanged; 1 downloaded and verified" in first.stdout
    assert "advisories: 1 added, 0 changed, 0 unchanged, from 2 products" in first.stdout
    assert "products not imported: 2 (2 no package URL)" in first.stdout
    path = _document_path(provider_a)
    assert http_server.log.count(path) == 1
    assert http_server.log.count(path + ".asc") == 1
    assert not any(p.startswith("/v1/") for p in http_server.log), "no protected feed asked for"
    del http_server.log[:]
    second = _cli(tmp_path, url, http_server.base)
    assert second.returncode == 0, second.stderr
    assert "documents: 0 new, 0 changed, 1 unchanged; 0 downloaded" in second.stdout
    assert "advisories: 0 added, 0 changed, 0 unchanged" in second.stdout
    # Only the metadata, the key and the feed: the feed's `updated` says nothing changed.
    assert sorted(http_server.log) == sorted(
        [
            "/.well-known/csaf/provider-metadata.json",
            f"/.well-known/csaf/openpgp/{provider_a.fingerprint}.asc",
            "/.well-known/csaf/feed-tlp-white.json",
        ]
    )
    refused = _cli(tmp_path, url, http_server.base, "--tlp", "CLEAR,GREEN")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "sakimori: error: TLP labels other than CLEAR are served behind a token (pass "
        "--token-file, or fetch --tlp CLEAR only)"
    ]


def test_a_token_reads_the_protected_feeds_and_is_not_kept(
    provider_a: ProviderA, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(provider_a.platform.tokens["bank-user"] + "\n")
    url = f"sqlite:///{tmp_path / 'b.db'}"
    done = _cli(tmp_path, url, provider_a.base, "--tlp", "CLEAR,GREEN", "--token-file", str(token))
    assert done.returncode == 0, done.stderr
    assert "documents: 2 new, 0 changed, 0 unchanged; 2 downloaded and verified" in done.stdout
    assert "feed-tlp-green.json" in done.stdout
    amber = _cli(tmp_path, url, provider_a.base, "--tlp", "AMBER", "--token-file", str(token))
    assert amber.returncode == 2
    assert "TLP:AMBER documents cannot be imported" in amber.stderr
    assert provider_a.platform.tokens["bank-user"] not in done.stdout + done.stderr
    db = open_database(url)
    try:
        assert _counts(db)["rows"]["advisory"] == 2
        detail = _counts(db)["sources"]
        assert provider_a.platform.tokens["bank-user"] not in json.dumps(detail)
    finally:
        db.dispose()


def test_the_token_goes_to_the_provider_origin_only_and_redirects_are_checked() -> None:
    """The guard on every request (redirects included), over an ``httpx.MockTransport``."""
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("Authorization")))
        if request.url.path == "/away":
            return httpx.Response(302, headers={"Location": "http://elsewhere.example/x"})
        return httpx.Response(200, content=b"{}")

    rule = consumer.UrlRule.of_provider("https://csaf.example/.well-known/csaf/p.json")
    guard = csaf_fetch._Guard(rule, "s3cret", httpx.MockTransport(answer))
    with httpx.Client(transport=guard, follow_redirects=True) as client:
        client.get("https://csaf.example/v1/csaf/feed-tlp-amber.json")
        client.get("https://mirror.example/doc.json", headers={"Authorization": "Bearer x"})
        with pytest.raises(InvalidInput, match="neither https nor the provider's own origin"):
            client.get("https://csaf.example/away")
    assert seen == [
        ("https://csaf.example/v1/csaf/feed-tlp-amber.json", "Bearer s3cret"),
        ("https://mirror.example/doc.json", None),
        ("https://csaf.example/away", "Bearer s3cret"),
    ]


# -- (b) refusals ---------------------------------------------------------------------------------


def _b_with_a_fetched(provider_a: ProviderA, url: str, home: Path) -> Database:
    """B, holding A's advisory fetched directly (so a refusal has something to leave alone)."""
    db = open_database(url)
    report = csaf_fetch.fetch_provider(db, provider_a.base, _settings(url, home))
    assert report.changes.added == 1
    return db


def _refusal(
    provider_a: ProviderA,
    proxy: Served,
    database_url: str,
    home: Path,
    files: dict[str, bytes],
    limits: Limits | None = None,
) -> SakimoriError:
    proxy.upstream = provider_a.base
    db = _b_with_a_fetched(provider_a, database_url, home)
    try:
        before = _counts(db)
        proxy.files.update(files)
        with pytest.raises(SakimoriError) as caught:
            csaf_fetch.fetch_provider(db, proxy.base, _settings(database_url, home, limits))
        assert _counts(db) == before, "a refused fetch changed B"
        assert caught.value.message.endswith("; nothing was imported")
        return caught.value
    finally:
        db.dispose()


def _real(a: ProviderA, path: str) -> bytes:
    answer = a.get(path)
    assert answer.status_code == 200
    return answer.content


def test_a_tampered_document_is_refused(
    provider_a: ProviderA, http_server: Served, database_url: str, tmp_path: Path
) -> None:
    path = _document_path(provider_a)
    tampered = _real(provider_a, path).replace(b"1.11.29", b"1.11.30")
    error = _refusal(provider_a, http_server, database_url, tmp_path, {path: tampered})
    assert isinstance(error, InvalidInput)
    assert error.where == http_server.base + path
    assert "(hash mismatch)" in error.message


def test_a_signature_by_a_key_not_listed_is_refused(
    provider_a: ProviderA, signers: Signer, http_server: Served, database_url: str, tmp_path: Path
) -> None:
    path = _document_path(provider_a)
    signature = signers.other.signature(_real(provider_a, path)).encode()
    error = _refusal(provider_a, http_server, database_url, tmp_path, {path + ".asc": signature})
    assert error.where == http_server.base + path
    assert "the OpenPGP signature does not verify" in error.message
    assert signers.other.fingerprint[-16:] in error.message  # the key that signed it


def test_a_document_failing_the_structural_check_is_refused(
    provider_a: ProviderA, signers: Signer, http_server: Served, database_url: str, tmp_path: Path
) -> None:
    path = _document_path(provider_a)
    document = json.loads(_real(provider_a, path))
    del document["document"]["tracking"]["revision_history"]
    data = layout.serialise(document)
    files = {
        path: data,
        path + ".sha512": layout.sha512_file(data, path.rsplit("/", 1)[1]).encode(),
        path + ".asc": signers.a.signature(data).encode(),  # hash and signature are right
    }
    error = _refusal(provider_a, http_server, database_url, tmp_path, files)
    assert error.where == http_server.base + path
    assert error.message.startswith("not a valid CSAF document: ")
    assert "revision_history is missing" in error.message


def test_an_oversized_document_is_refused(
    provider_a: ProviderA, signers: Signer, http_server: Served, database_url: str, tmp_path: Path
) -> None:
    path = _document_path(provider_a)
    data = _real(provider_a, path).rstrip(b"\n") + b" " * 300_000 + b"\n"  # still valid JSON
    files = {
        path: data,
        path + ".sha512": layout.sha512_file(data, path.rsplit("/", 1)[1]).encode(),
        path + ".asc": signers.a.signature(data).encode(),
    }
    limits = replace(Limits(), max_bytes=200_000)
    error = _refusal(provider_a, http_server, database_url, tmp_path, files, limits)
    assert isinstance(error, LimitExceeded)
    assert error.where == http_server.base + path
    assert "the document is larger than the limit of 200,000 bytes" in error.message


def test_a_refusal_on_the_command_line_is_one_line(
    provider_a: ProviderA, http_server: Served, tmp_path: Path
) -> None:
    http_server.upstream = provider_a.base
    path = _document_path(provider_a)
    http_server.files[path] = _real(provider_a, path) + b" "
    url = f"sqlite:///{tmp_path / 'b.db'}"
    refused = _cli(tmp_path, url, http_server.base)
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"sakimori: error: {http_server.base}{path}: the document's sha512 is ")
    assert line.endswith("(hash mismatch); nothing was imported")
    assert refused.stdout == ""


# -- (d) the real examples from a directory distribution ------------------------------------------


def _directory_provider(
    served: Served, signer: csaf_signing.GnupgSigner, names: list[Path]
) -> None:
    metadata = {
        "canonical_url": served.base + "/.well-known/csaf/provider-metadata.json",
        "distributions": [{"directory_url": served.base + "/csaf/"}],
        "last_updated": "2026-01-01T00:00:00Z",
        "list_on_CSAF_aggregators": False,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": False,
        "public_openpgp_keys": [
            {"fingerprint": signer.fingerprint, "url": served.base + "/key.asc"}
        ],
        "publisher": {"category": "other", "name": "Examples", "namespace": "https://x.example"},
        "role": "csaf_trusted_provider",
    }
    served.files["/.well-known/csaf/provider-metadata.json"] = json.dumps(metadata).encode()
    served.files["/key.asc"] = signer.public_key.encode()
    lines = []
    for path in names:
        data = path.read_bytes()
        year = json.loads(data)["document"]["tracking"]["initial_release_date"][:4]
        where = f"/csaf/{year}/{path.name}"
        lines.append(where.removeprefix("/csaf/"))
        served.files[where] = data
        served.files[where + ".sha512"] = (
            f"{hashlib.sha512(data).hexdigest()}  {path.name}\n".encode()
        )
        served.files[where + ".asc"] = signer.signature(data).encode()
    served.files["/csaf/index.txt"] = "".join(f"{line}\n" for line in lines).encode()


def test_the_real_examples_from_a_directory_distribution(
    signers: Signer, http_server: Served, database_url: str, tmp_path: Path
) -> None:
    root = require_data("csaf", "csaf_2.0", "examples", "csaf")
    every = sorted(root.rglob("*.json"))
    readable = [
        p for p in every if json.loads(p.read_text())["document"]["category"] in consumer.PROFILES
    ]
    # And one TLP:GREEN document (an example relabelled), which a CLEAR fetch must not import.
    green = json.loads((root / "bsi-2022-0001.json").read_text())
    green["document"]["distribution"]["tlp"]["label"] = "GREEN"
    green["document"]["tracking"]["id"] = "BSI-2022-GREEN"
    (tmp_path / "bsi-2022-green.json").write_text(json.dumps(green))
    _directory_provider(http_server, signers.other, [*readable, tmp_path / "bsi-2022-green.json"])
    db = open_database(database_url)
    try:
        report = csaf_fetch.fetch_provider(db, http_server.base, _settings(database_url, tmp_path))
        assert report.feeds == [http_server.base + "/csaf/"]
        assert len(readable) == 17
        assert len(report.new) == report.verified == 18
        assert report.skipped == [(http_server.base + "/csaf/2022/bsi-2022-green.json", "GREEN")]
        assert report.changes.added == report.products == 0  # no example names a purl
        assert len(report.not_imported) == 58  # of the 17 examples (the GREEN one is skipped)
        assert {n.reason for n in report.not_imported} == {consumer.NO_PURL}
        # index.txt gives no times: the hash files tell that nothing changed.
        del http_server.log[:]
        again = csaf_fetch.fetch_provider(db, http_server.base, _settings(database_url, tmp_path))
        assert (again.unchanged, again.verified, again.skipped) == (18, 0, [])
        assert not [p for p in http_server.log if p.endswith(".json") and "/csaf/2" in p]
        # A document no longer listed is reported, and kept.
        _directory_provider(http_server, signers.other, readable[1:])
        fewer = csaf_fetch.fetch_provider(db, http_server.base, _settings(database_url, tmp_path))
        year = json.loads(readable[0].read_text())["document"]["tracking"]["initial_release_date"]
        assert fewer.no_longer_listed == [
            f"{http_server.base}/csaf/{year[:4]}/{readable[0].name}",
            f"{http_server.base}/csaf/2022/bsi-2022-green.json",
        ]
        assert fewer.unchanged == 16
        # Cisco's document (category "Cisco Security Advisory") in the listing: all refused.
        _directory_provider(http_server, signers.other, every)
        before = _counts(db)
        with pytest.raises(SakimoriError, match="is not csaf_security_advisory or csaf_vex"):
            csaf_fetch.fetch_provider(db, http_server.base, _settings(database_url, tmp_path))
        assert _counts(db) == before
    finally:
        db.dispose()


def test_a_key_that_is_not_the_one_listed_is_refused(
    signers: Signer, http_server: Served, tmp_path: Path
) -> None:
    example = require_data("csaf", "csaf_2.0", "examples", "csaf", "bsi-2022-0001.json")
    _directory_provider(http_server, signers.other, [example])
    http_server.files["/key.asc"] = signers.a.public_key.encode()  # not the fingerprint listed
    url = f"sqlite:///{tmp_path / 'b.db'}"
    db = open_database(url)
    try:
        with pytest.raises(InvalidInput) as caught:
            csaf_fetch.fetch_provider(db, http_server.base, _settings(url, tmp_path))
        assert caught.value.where == http_server.base + "/key.asc"
        assert caught.value.message == (
            f"the key at {http_server.base}/key.asc is not the key {signers.other.fingerprint} "
            f"the metadata lists (it holds {signers.a.fingerprint}); nothing was imported"
        )
        assert _counts(db)["rows"]["advisory"] == 0
        assert not any(p.startswith("/csaf/") for p in http_server.log), "no document read"
    finally:
        db.dispose()


# -- (e) A through its directory distribution alone ------------------------------------------------


def test_b_fetches_a_through_its_directory_distribution_alone(
    provider_a: ProviderA, http_server: Served, tmp_path: Path
) -> None:
    """A's metadata, through a proxy, with its ROLIE feeds taken out: B finds A's TLP:CLEAR
    document from ``changes.csv`` alone, verifies it, and the next fetch reads no document."""
    http_server.upstream = provider_a.base
    where = "/.well-known/csaf/provider-metadata.json"
    metadata = httpx.get(http_server.base + where, timeout=30).json()
    (folder,) = [d["directory_url"] for d in metadata["distributions"] if "directory_url" in d]
    assert folder == http_server.base + "/.well-known/csaf/white/"
    metadata["distributions"] = [{"directory_url": folder}]
    http_server.files[where] = json.dumps(metadata).encode()
    del http_server.log[:]
    url = f"sqlite:///{tmp_path / 'b.db'}"
    db = open_database(url)
    try:
        report = csaf_fetch.fetch_provider(db, http_server.base, _settings(url, tmp_path))
        path = _document_path(provider_a)
        assert report.feeds == [folder]
        assert report.new == [http_server.base + path]
        assert (report.verified, report.changes.added) == (1, 1)
        assert "/.well-known/csaf/white/changes.csv" in http_server.log
        assert path + ".asc" in http_server.log
        assert not [p for p in http_server.log if "feed-tlp" in p], "no ROLIE feed was read"
        del http_server.log[:]
        again = csaf_fetch.fetch_provider(db, http_server.base, _settings(url, tmp_path))
        assert (again.unchanged, again.verified) == (1, 0)
        # changes.csv's time of change equals the one remembered: the document is not asked for.
        assert sorted(http_server.log) == sorted(
            [
                where,
                f"/.well-known/csaf/openpgp/{provider_a.fingerprint}.asc",
                folder.removeprefix(http_server.base) + "changes.csv",
            ]
        )
    finally:
        db.dispose()
