"""Settings: one typed object, read in one place from the environment and an optional TOML file.

Environment variables win over the file (``SAKIMORI_CONFIG``, default
``$SAKIMORI_HOME/sakimori.toml``, keyed by the names below without prefix, in lower case)::

    SAKIMORI_HOME             data directory (default: the per-user data directory,
                              e.g. ~/.local/share/sakimori)
    SAKIMORI_DATABASE_URL     SQLAlchemy URL (default: sqlite:///$SAKIMORI_HOME/sakimori.db);
                              production: postgresql+psycopg://user@host/db
    SAKIMORI_MIRROR           base URL or directory mirroring the upstream feeds (air-gapped)
    SAKIMORI_OSV_ECOSYSTEMS   comma-separated OSV ecosystems that ``intel sync`` fetches
    SAKIMORI_MAX_INPUT_BYTES  largest inventory / intel document accepted (default 256 MiB)
    SAKIMORI_MAX_COMPONENTS   most components in one inventory (default 1,000,000)
    SAKIMORI_HTTP_TIMEOUT     seconds to wait for a feed to connect / send data (default 30)
    SAKIMORI_HTTP_RETRIES     retries of a feed after a connection error, timeout, 429 or 5xx,
                              waiting 1, 2, 4 … seconds (default 3; 0 to fail at once)
    SAKIMORI_POLICY           deadline policy: a built-in preset or a policy-set TOML file
    SAKIMORI_CVE_SOURCES      comma-separated CVE record sets ``intel sync`` fetches:
                              vulnrichment (CISA, default), cvelistV5 (the CVE Program's
                              full list); empty or "none" for neither
    SAKIMORI_TOKEN_KEY_FILE   file holding the server key that API tokens are hashed with
                              (HMAC-SHA256; default $SAKIMORI_HOME/token.key, made on first use)
    SAKIMORI_JOBS             job backend: inprocess (default: jobs run in a thread of the
                              process that enqueued them) or postgres (``sakimori worker``
                              processes on any number of machines; needs PostgreSQL)
    SAKIMORI_JOB_ATTEMPTS     tries of a job before it is dead-lettered (default 5)
    SAKIMORI_JOB_BACKOFF      seconds before the first retry, doubled each time (default 10)
    SAKIMORI_JOB_HANDLERS     extra module whose ``HANDLERS`` dict is added (tests, plug-ins)
    SAKIMORI_AUDIT_RETENTION_DAYS  age after which ``audit prune`` deletes entries (default 400)
    SAKIMORI_BASE_URL         the external URL of the service (https://…), for the URLs the
                              CSAF provider publishes (default: the URL each request came to)
    SAKIMORI_CSAF_KEY_FILE    ASCII-armoured OpenPGP secret key that CSAF documents are signed
                              with (default $SAKIMORI_HOME/csaf/signing-key.asc, made by
                              ``sakimori csaf keygen``; without one, nothing is signed)
    SAKIMORI_CSAF_PASSPHRASE_FILE  file holding that key's passphrase (if it has one)
    SAKIMORI_NVD_BASE_URL     the NVD CVE API 2.0 URL ``intel sync-nvd`` pages through (default
                              https://services.nvd.nist.gov/rest/json/cves/2.0; a mirror or
                              proxy of it at an air-gapped site)
    SAKIMORI_NVD_API_KEY_FILE file holding an NVD API key (50 instead of 5 requests per 30 s)
    SAKIMORI_NVD_API_KEY      the key itself, if no key file is set (the file wins); it is sent
                              as a request header only, never logged, shown or stored
    SAKIMORI_OIDC_ISSUER      single sign-on (OpenID Connect): the provider's issuer URL, exactly
                              as its discovery document says it (https://; http:// only for a
                              loopback host, a test); unset: no single sign-on
    SAKIMORI_OIDC_CLIENT_ID   the client id Sakimori is registered with at the provider
    SAKIMORI_OIDC_CLIENT_SECRET_FILE  file holding the client secret (needed with an issuer)
    SAKIMORI_OIDC_MAPPING_FILE  TOML file of the rules mapping claims to an organisation and a
                              role (``sakimori.services.oidc.Mapping``; unset: linked users only)
    SAKIMORI_OIDC_NAME        the provider's name on the sign-in page ("Sign in with NAME";
                              default: the issuer's host name)
    SAKIMORI_PACKAGE_ACK_HOURS  hours a package's recipients have to acknowledge it when the
                              package sets no ``acknowledge_within_hours`` (default 72)
    SAKIMORI_PACKAGE_ESCALATION_HOURS  hours after the acknowledgement reminder before the
                              recipient is escalated to its admins and the coordinator (default 24)
    SAKIMORI_PACKAGE_REPORT_HOURS  the clocks of the reports a package requires: early warning,
                              notification, final report, in hours (default "24,72,720")

Nothing here is global: the CLI builds one ``Settings`` and passes it to what it constructs.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sakimori.errors import ConfigurationError
from sakimori.formats.limits import Limits

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

DEFAULT_OSV_ECOSYSTEMS: tuple[str, ...] = (
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "NuGet",
    "Packagist",
    "RubyGems",
    "Hex",
    "Pub",
)


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    mirror: str | None = None
    osv_ecosystems: tuple[str, ...] = DEFAULT_OSV_ECOSYSTEMS
    http_timeout: float = 30.0
    http_retries: int = 3
    #: Deadline policy: a built-in preset name or a policy-set TOML file (docs/policies.md).
    policy: str = "cisa-bod-26-04"
    #: CVE record sets that ``intel sync`` fetches (``sakimori.intel.sources.cve.RECORD_SETS``).
    cve_sources: tuple[str, ...] = ("vulnrichment",)
    limits: Limits = field(default_factory=Limits)
    #: The server key API tokens are hashed with (``sakimori.services.identity.TokenKey``).
    token_key_file: Path | None = None
    #: Job backend (``sakimori.jobs``): ``inprocess`` or ``postgres``.
    jobs: str = "inprocess"
    job_attempts: int = 5
    job_backoff: float = 10.0
    job_handlers: str | None = None
    audit_retention_days: int = 400
    #: How long an API token verified for a read (GET/HEAD) is trusted without asking the
    #: database again, per server process (0: ask every time). Revoking a token, deactivating
    #: a user or moving a membership takes effect at once in the process that did it and
    #: within this many seconds in the others (docs/operations.md).
    token_cache_seconds: float = 5.0
    #: The external URL of the service, for the CSAF provider's URLs (``None``: per request).
    base_url: str | None = None
    #: The CSAF signing key and its passphrase (``sakimori.services.csaf_signing``).
    csaf_key_file: Path | None = None
    csaf_passphrase_file: Path | None = None
    #: The NVD CVE API 2.0 (``sakimori.services.nvd_sync``; ``None``: NVD's own URL).
    nvd_base_url: str | None = None
    nvd_api_key_file: Path | None = None
    #: Never in reprs: the settings object may be logged or shown in a traceback.
    nvd_api_key: str | None = field(default=None, repr=False)
    #: Single sign-on with one OpenID provider (``sakimori.services.oidc``; ``None``: off).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_file: Path | None = None
    oidc_mapping_file: Path | None = None
    oidc_name: str | None = None
    #: Package follow-up (``sakimori.packages.followup``): the default acknowledgement window,
    #: the grace between the reminder and the escalation, and the report clocks (hours).
    package_ack_hours: float = 72.0
    package_escalation_hours: float = 24.0
    package_report_hours: tuple[float, float, float] = (24.0, 72.0, 720.0)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home, file_values, pick = _picker(env)
        database_url = pick("database_url") or f"sqlite:///{home / 'sakimori.db'}"
        ecosystems = pick("osv_ecosystems")
        limits = Limits()
        max_bytes = _number(pick("max_input_bytes"), "SAKIMORI_MAX_INPUT_BYTES")
        max_components = _number(pick("max_components"), "SAKIMORI_MAX_COMPONENTS")
        if max_bytes is not None:
            limits = replace(limits, max_bytes=int(max_bytes))
        if max_components is not None:
            limits = replace(limits, max_components=int(max_components))
        timeout = _number(pick("http_timeout"), "SAKIMORI_HTTP_TIMEOUT")
        retries = _count(pick("http_retries"), "SAKIMORI_HTTP_RETRIES")
        cve_sources = env.get("SAKIMORI_CVE_SOURCES", file_values.get("cve_sources"))
        jobs = (pick("jobs") or "inprocess").lower()
        if jobs not in {"inprocess", "postgres"}:
            raise ConfigurationError(
                f"SAKIMORI_JOBS={jobs!r} is not a job backend", hint="use inprocess or postgres"
            )
        if jobs == "postgres" and not database_url.startswith("postgresql"):
            raise ConfigurationError(
                "SAKIMORI_JOBS=postgres needs a PostgreSQL database",
                hint="set SAKIMORI_DATABASE_URL=postgresql+psycopg://…, or use inprocess",
            )
        attempts = _count(pick("job_attempts"), "SAKIMORI_JOB_ATTEMPTS")
        backoff = _number(pick("job_backoff"), "SAKIMORI_JOB_BACKOFF")
        retention = _count(pick("audit_retention_days"), "SAKIMORI_AUDIT_RETENTION_DAYS")
        token_cache = _count(pick("token_cache_seconds"), "SAKIMORI_TOKEN_CACHE_SECONDS")
        return cls(
            home=home,
            database_url=database_url,
            mirror=pick("mirror"),
            osv_ecosystems=(
                tuple(e.strip() for e in ecosystems.split(",") if e.strip())
                if ecosystems
                else DEFAULT_OSV_ECOSYSTEMS
            ),
            http_timeout=30.0 if timeout is None else timeout,
            http_retries=3 if retries is None else retries,
            policy=pick("policy") or "cisa-bod-26-04",
            cve_sources=_cve_sources(cve_sources),
            limits=limits,
            token_key_file=_path(pick("token_key_file")),
            jobs=jobs,
            job_attempts=attempts or 5,
            job_backoff=10.0 if backoff is None else backoff,
            job_handlers=pick("job_handlers"),
            audit_retention_days=retention or 400,
            token_cache_seconds=5.0 if token_cache is None else float(token_cache),
            base_url=_base_url(pick("base_url")),
            csaf_key_file=_path(pick("csaf_key_file")),
            csaf_passphrase_file=_path(pick("csaf_passphrase_file")),
            nvd_base_url=_http_url(pick("nvd_base_url"), "SAKIMORI_NVD_BASE_URL"),
            nvd_api_key_file=_path(pick("nvd_api_key_file")),
            nvd_api_key=pick("nvd_api_key"),
            **_oidc(pick),
            **_package_followup(pick),
        )

    @property
    def token_key_path(self) -> Path:
        return self.token_key_file or self.home / "token.key"

    @property
    def csaf_key_path(self) -> Path:
        return self.csaf_key_file or self.home / "csaf" / "signing-key.asc"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _oidc(pick: Callable[[str], str | None]) -> dict[str, Any]:
    """The single sign-on settings, checked together: an issuer needs a client id and a
    client secret file, and is HTTPS unless its host is a loopback name (a test)."""
    issuer = pick("oidc_issuer")
    values: dict[str, Any] = {
        "oidc_issuer": issuer,
        "oidc_client_id": pick("oidc_client_id"),
        "oidc_client_secret_file": _path(pick("oidc_client_secret_file")),
        "oidc_mapping_file": _path(pick("oidc_mapping_file")),
        "oidc_name": pick("oidc_name"),
    }
    if issuer is None:
        return values
    check_issuer(issuer)
    for name in ("oidc_client_id", "oidc_client_secret_file"):
        if values[name] is None:
            raise ConfigurationError(
                f"SAKIMORI_OIDC_ISSUER is set but SAKIMORI_{name.upper()} is not",
                hint="single sign-on needs the client id and the client secret file",
            )
    return values


def package_followup_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Only the ``package_*`` settings, read as ``Settings.load`` reads them (environment, then
    the file): for code that has no ``Settings`` at hand (publishing a package opens its
    report clocks) and must not fail on an unrelated setting."""
    _, _, pick = _picker(os.environ if environ is None else environ)
    return _package_followup(pick)


def _picker(
    env: Mapping[str, str],
) -> tuple[Path, dict[str, Any], Callable[[str], str | None]]:
    """The home directory, the settings file's values, and how a setting is read: the
    environment variable ``SAKIMORI_<NAME>``, else the key ``name`` of the file, else nothing."""
    home = Path(env.get("SAKIMORI_HOME") or _default_home()).expanduser()
    file_values = _read_file(Path(env.get("SAKIMORI_CONFIG") or home / "sakimori.toml"))

    def pick(name: str) -> str | None:
        value = env.get(f"SAKIMORI_{name.upper()}")
        if value is None and name in file_values:
            value = str(file_values[name])
        return value or None

    return home, file_values, pick


def _package_followup(pick: Callable[[str], str | None]) -> dict[str, Any]:
    ack = _number(pick("package_ack_hours"), "SAKIMORI_PACKAGE_ACK_HOURS")
    grace = _number(pick("package_escalation_hours"), "SAKIMORI_PACKAGE_ESCALATION_HOURS")
    clocks = pick("package_report_hours")
    hours: tuple[float, float, float] = (24.0, 72.0, 720.0)
    if clocks is not None:
        listed = clocks.strip("[] ")  # the file may give a TOML array
        parts = [_number(p.strip(), "SAKIMORI_PACKAGE_REPORT_HOURS") for p in listed.split(",")]
        if len(parts) != 3:
            raise ConfigurationError(
                f"SAKIMORI_PACKAGE_REPORT_HOURS={clocks!r} needs three numbers",
                hint="early warning, notification, final report in hours, e.g. 24,72,720",
            )
        hours = (float(parts[0] or 0), float(parts[1] or 0), float(parts[2] or 0))
    return {
        "package_ack_hours": 72.0 if ack is None else ack,
        "package_escalation_hours": 24.0 if grace is None else grace,
        "package_report_hours": hours,
    }


def check_issuer(issuer: str) -> str:
    """An OpenID issuer URL: ``https://`` (``http://`` only to a loopback host), no query or
    fragment (OpenID Connect Discovery 1.0, section 2)."""
    parts = urlsplit(issuer)
    loopback = (parts.hostname or "") in _LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError(
            f"the OpenID issuer {issuer!r} must be an https:// URL",
            hint="http:// is accepted only for a loopback host (127.0.0.1, ::1, localhost)",
        )
    if not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(f"the OpenID issuer {issuer!r} must have a host, no query or #")
    return issuer


def _cve_sources(value: object) -> tuple[str, ...]:
    from sakimori.intel.sources.cve import RECORD_SETS

    if value is None:
        return ("vulnrichment",)
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in RECORD_SETS]
    if unknown:
        raise ConfigurationError(
            f"SAKIMORI_CVE_SOURCES names unknown record sets: {', '.join(unknown)}",
            hint="choose from " + ", ".join(RECORD_SETS) + ", or none",
        )
    return tuple(dict.fromkeys(names))


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(("https://", "http://")):
        raise ConfigurationError(f"SAKIMORI_BASE_URL={value!r} is not an http(s) URL")
    return value.rstrip("/")


def _http_url(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not value.startswith(("https://", "http://")):
        raise ConfigurationError(f"{name}={value!r} is not an http(s) URL")
    return value


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


def _default_home() -> str:
    from platformdirs import user_data_dir

    return user_data_dir("sakimori", appauthor=False)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read settings: {exc}", where=str(path)) from None


def _number(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not a number") from None
    if number <= 0:
        raise ConfigurationError(f"{name}={value!r} must be greater than zero")
    return number


def _count(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not a whole number") from None
    if number < 0:
        raise ConfigurationError(f"{name}={value!r} must not be negative")
    return number
