"""Staged roll-out of a staged (verified) update: canary group first, health check, the rest;
automatic roll-back when an install or a health check fails.

The plan is the operator's ``STATE/rollout.toml``::

    health_check = ["/usr/local/bin/check-payments", "{group}"]   # exit 0 = healthy
    install = ["/usr/local/bin/deploy", "{host}", "{artefact}"]    # optional, see below
    install_root = "/srv/sakimori"      # without ``install``: copy into this directory
    command_timeout = 300               # seconds, for each install and health-check command

    [[group]]                           # the first group is the canary
    name = "canary"
    hosts = ["pay-01"]

    [[group]]
    name = "rest"
    hosts = ["pay-02", "pay-03"]

Commands are argument lists (no shell; write ``["sh", "-c", "…"]`` for one), with ``{host}``,
``{group}``, ``{line}``, ``{version}``, ``{artefact}`` replaced, and the same values in the
environment as ``SAKIMORI_HOST``, ``SAKIMORI_GROUP``, ``SAKIMORI_HOSTS`` (comma-separated),
``SAKIMORI_LINE``, ``SAKIMORI_VERSION``, ``SAKIMORI_ARTEFACT`` (empty when a roll-back removes
a first install), ``SAKIMORI_ACTION`` (``install`` or ``rollback``).

Without an install command, :class:`DirectoryInstaller` installs ``<install_root>/<host>/<line>/
<version>/<file>`` and points the ``current`` symlink at it (switched atomically).

Every step is appended to the journal and handed to each :class:`StepReporter` — the seam through
which the platform will learn of installs and mark findings fixed (not built yet).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sakimori.errors import ConfigurationError, MalformedDocument, NotFound
from sakimori.updates.client import StateLayout, version_key
from sakimori.updates.errors import RolloutFailed
from sakimori.updates.journal import Journal

logger = logging.getLogger(__name__)
OUTPUT_KEPT = 400


@dataclass(frozen=True)
class Group:
    name: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    health_check: tuple[str, ...] | None = None
    install: tuple[str, ...] | None = None
    install_root: Path | None = None
    command_timeout: float = 300.0

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(
                "no roll-out plan", where=str(path), hint="write rollout.toml (docs/updates.md)"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise MalformedDocument(f"not TOML: {exc}", where=str(path)) from None
        try:
            return cls.from_dict(document, base=path.parent)
        except ConfigurationError as exc:
            raise exc.located(str(path)) from None

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, base: Path) -> Plan:
        groups = []
        seen: set[str] = set()
        for entry in document.get("group", []):
            name, hosts = entry.get("name"), entry.get("hosts")
            if not isinstance(name, str) or not name or not isinstance(hosts, list) or not hosts:
                raise ConfigurationError("every [[group]] needs a name and a non-empty hosts list")
            for host in hosts:
                if not isinstance(host, str) or not host or "/" in host or host.startswith("."):
                    raise ConfigurationError(f"group {name}: {host!r} is not a usable host name")
                if host in seen:
                    raise ConfigurationError(f"host {host} is in more than one group")
                seen.add(host)
            groups.append(Group(name, tuple(hosts)))
        if not groups:
            raise ConfigurationError("the plan has no [[group]]; the first one is the canary")
        install_root = document.get("install_root")
        install = _command(document.get("install"), "install")
        if install is None and not isinstance(install_root, str):
            raise ConfigurationError("the plan needs an install command or an install_root")
        timeout = document.get("command_timeout", 300)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError("command_timeout must be a positive number of seconds")
        return cls(
            groups=tuple(groups),
            health_check=_command(document.get("health_check"), "health_check"),
            install=install,
            install_root=base / install_root if isinstance(install_root, str) else None,
            command_timeout=float(timeout),
        )


def _command(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{name} must be a list of strings (program and arguments)")
    return tuple(value)


@dataclass(frozen=True)
class Step:
    """What an installer is asked to do on one host."""

    action: str  # install | rollback
    host: str
    group: str
    line: str
    version: str | None  # None: remove (roll-back of a first install)
    artefact: Path | None


class Installer(Protocol):
    def apply(self, step: Step) -> None:
        """Install ``step.artefact`` as ``step.version`` on ``step.host`` (or remove it when
        ``step.version`` is None); raise ``RolloutFailed`` on failure."""


class StepReporter(Protocol):
    """Receives every journal entry of a roll-out (the platform's seam; not built yet)."""

    def report(self, entry: Mapping[str, Any]) -> None: ...


class DirectoryInstaller:
    """Installs into ``root/<host>/<line>/<version>/`` and switches ``current`` atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def apply(self, step: Step) -> None:
        base = self.root / step.host / step.line
        current = base / "current"
        if step.version is None or step.artefact is None:
            current.unlink(missing_ok=True)
            return
        target = base / step.version
        if not (target / step.artefact.name).exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(step.artefact, target / step.artefact.name)
        link = base / ".current.new"
        link.unlink(missing_ok=True)
        link.symlink_to(step.version)
        os.replace(link, current)


class CommandInstaller:
    """Runs the operator's install command for each step."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout

    def apply(self, step: Step) -> None:
        values = _values(step.group, (step.host,), step.line, step.version or "", step.artefact)
        values["host"] = step.host
        code, output = run_command(self.argv, values, step.action, self.timeout)
        if code != 0:
            raise RolloutFailed(
                f"install command exited with {code} on {step.host}: {output[-200:]}".rstrip()
            )


def _values(
    group: str, hosts: Sequence[str], line: str, version: str, artefact: Path | None
) -> dict[str, str]:
    return {
        "group": group,
        "hosts": ",".join(hosts),
        "host": hosts[0] if len(hosts) == 1 else "",
        "line": line,
        "version": version,
        "artefact": str(artefact) if artefact else "",
    }


def run_command(
    argv: Sequence[str], values: Mapping[str, str], action: str, timeout: float
) -> tuple[int, str]:
    """Run an operator-configured command; (exit code, last output). A timeout is exit 124."""
    try:
        arguments = [part.format(**values) for part in argv]
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigurationError(f"bad placeholder in command {list(argv)}: {exc}") from None
    environment = {**os.environ, "SAKIMORI_ACTION": action}
    environment.update({f"SAKIMORI_{key.upper()}": value for key, value in values.items()})
    try:
        done = subprocess.run(  # noqa: S603 - the operator's own configured command, no shell
            arguments,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:g} s"
    except OSError as exc:
        return 127, f"cannot run {arguments[0]}: {exc.strerror}"
    output = (done.stdout + done.stderr).strip()
    return done.returncode, output[-OUTPUT_KEPT:]


@dataclass
class Installed:
    """``STATE/installed.json``: per product line and host, the versions installed in order."""

    path: Path
    history: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Installed:
        if not path.exists():
            return cls(path)
        try:
            return cls(path, json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise MalformedDocument(f"not JSON: {exc.msg}", where=str(path)) from None

    def current(self, line: str, host: str) -> str | None:
        versions = self.history.get(line, {}).get(host, [])
        return versions[-1] if versions else None

    def previous(self, line: str, host: str) -> str | None:
        versions = self.history.get(line, {}).get(host, [])
        return versions[-2] if len(versions) > 1 else None

    def push(self, line: str, host: str, version: str) -> None:
        self.history.setdefault(line, {}).setdefault(host, []).append(version)
        self.save()

    def pop(self, line: str, host: str) -> None:
        versions = self.history.get(line, {}).get(host, [])
        if versions:
            versions.pop()
        self.save()

    def save(self) -> None:
        temporary = self.path.with_name(f".{self.path.name}.new")
        temporary.write_text(json.dumps(self.history, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, self.path)


@dataclass(frozen=True)
class RolloutResult:
    line: str
    version: str
    installed: tuple[str, ...]
    skipped: tuple[str, ...]


class Rollout:
    """Roll out and roll back staged releases of one operator state directory."""

    def __init__(
        self,
        state: Path,
        plan: Plan,
        *,
        installer: Installer | None = None,
        reporters: Sequence[StepReporter] = (),
    ) -> None:
        self.layout = StateLayout(state)
        self.plan = plan
        if installer is not None:
            self.installer: Installer = installer
        elif plan.install is not None:
            self.installer = CommandInstaller(plan.install, plan.command_timeout)
        else:
            assert plan.install_root is not None  # Plan.from_dict requires one of the two
            self.installer = DirectoryInstaller(plan.install_root)
        self.reporters = tuple(reporters)
        self.journal = Journal(self.layout.journal)
        self.installed = Installed.load(state / "installed.json")

    def staged_versions(self, line: str) -> list[str]:
        base = self.layout.staging / line
        if not base.is_dir():
            return []
        versions = [p.name for p in base.iterdir() if (p / "release.json").is_file()]
        return sorted(versions, key=version_key)

    def artefact(self, line: str, version: str) -> Path:
        """The staged file of ``line`` ``version``, checked against its recorded SHA-256."""
        directory = self.layout.staging / line / version
        try:
            release = json.loads((directory / "release.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(
                f"{line} {version} is not staged", hint=f"run `sakimori updates stage {line}`"
            ) from None
        artefact: Path = directory / str(release["file"])
        digest = hashlib.sha256(artefact.read_bytes()).hexdigest()
        if digest != release["sha256"]:
            raise RolloutFailed(
                f"staged {artefact} changed since it was verified (SHA-256 {digest[:16]}…)",
                hint="stage it again",
            )
        return artefact

    def rollout(self, line: str, version: str | None = None) -> RolloutResult:
        """Install ``version`` (default: the newest staged) group by group, running the health
        check after each group; on any failure roll every host of this roll-out back."""
        staged = self.staged_versions(line)
        if version is None:
            if not staged:
                raise NotFound(
                    f"nothing of {line} is staged", hint=f"run `sakimori updates stage {line}`"
                )
            version = staged[-1]
        artefact = self.artefact(line, version)
        self._step(
            "rollout-started", line=line, version=version, groups=[g.name for g in self.plan.groups]
        )
        done: list[tuple[str, str]] = []  # (group, host) installed by this roll-out
        skipped: list[str] = []
        for group in self.plan.groups:
            for host in group.hosts:
                if self.installed.current(line, host) == version:
                    skipped.append(host)
                    self._step(
                        "already-installed", line=line, version=version, group=group.name, host=host
                    )
                    continue
                previous = self.installed.current(line, host)
                try:
                    self.installer.apply(Step("install", host, group.name, line, version, artefact))
                except RolloutFailed as exc:
                    self._step(
                        "install-failed",
                        line=line,
                        version=version,
                        group=group.name,
                        host=host,
                        message=exc.diagnostics(),
                    )
                    undone = self._undo(line, done, failed=(group.name, host))
                    self._fail(line, version, f"install failed on {host} ({exc.message})", undone)
                self.installed.push(line, host, version)
                done.append((group.name, host))
                self._step(
                    "installed",
                    line=line,
                    version=version,
                    group=group.name,
                    host=host,
                    previous=previous,
                )
            if not self._healthy(group, line, version):
                undone = self._undo(line, done)
                self._fail(line, version, f"health check failed after group {group.name}", undone)
        self._step(
            "rollout-completed",
            line=line,
            version=version,
            installed=[h for _, h in done],
            skipped=skipped,
        )
        return RolloutResult(line, version, tuple(h for _, h in done), tuple(skipped))

    def rollback(self, line: str) -> list[tuple[str, str | None]]:
        """Put every host of the plan back on the version it had before its current one."""
        self._step("rollback-started", line=line)
        moved: list[tuple[str, str | None]] = []
        for group in self.plan.groups:
            for host in group.hosts:
                if self.installed.current(line, host) is None:
                    continue
                moved.append((host, self._revert(line, group.name, host)))
        self._step("rollback-completed", line=line, hosts=[h for h, _ in moved])
        return moved

    def _healthy(self, group: Group, line: str, version: str) -> bool:
        if self.plan.health_check is None:
            self._step("health-check-skipped", line=line, version=version, group=group.name)
            return True
        values = _values(group.name, group.hosts, line, version, None)
        code, output = run_command(
            self.plan.health_check, values, "health-check", self.plan.command_timeout
        )
        self._step(
            "health-check",
            line=line,
            version=version,
            group=group.name,
            passed=code == 0,
            exit_code=code,
            output=output,
        )
        return code == 0

    def _undo(
        self, line: str, done: list[tuple[str, str]], failed: tuple[str, str] | None = None
    ) -> tuple[int, list[str]]:
        """Roll back ``done`` (newest first) and the half-installed ``failed`` host; go on past
        a host whose roll-back fails. Returns (hosts rolled back, hosts whose roll-back failed)."""
        broken: list[str] = []
        count = 0
        if failed is not None:
            group, host = failed
            try:
                self._apply_previous(line, group, host, self.installed.current(line, host))
                count += 1
            except RolloutFailed:
                broken.append(host)
        for group, host in reversed(done):
            try:
                self._revert(line, group, host)
                count += 1
            except RolloutFailed:
                broken.append(host)
        return count, broken

    def _revert(self, line: str, group: str, host: str) -> str | None:
        target = self.installed.previous(line, host)
        self._apply_previous(line, group, host, target)
        self.installed.pop(line, host)
        return target

    def _apply_previous(self, line: str, group: str, host: str, version: str | None) -> None:
        artefact = self.artefact(line, version) if version is not None else None
        try:
            self.installer.apply(Step("rollback", host, group, line, version, artefact))
        except RolloutFailed as exc:
            self._step(
                "rollback-failed",
                line=line,
                group=group,
                host=host,
                to=version,
                message=exc.diagnostics(),
            )
            raise
        self._step("rolled-back", line=line, group=group, host=host, to=version)

    def _fail(self, line: str, version: str, reason: str, undone: tuple[int, list[str]]) -> None:
        count, broken = undone
        self._step(
            "rollout-failed",
            line=line,
            version=version,
            reason=reason,
            rolled_back=count,
            rollback_failed=broken,
        )
        trouble = f"; ROLL-BACK FAILED on {', '.join(broken)}" if broken else ""
        raise RolloutFailed(
            f"{line} {version}: {reason}; rolled {count} host(s) back to their previous version"
            f"{trouble}; later groups untouched",
            hint=f"see {self.layout.journal}",
        )

    def _step(self, event: str, **fields: Any) -> None:
        entry = self.journal.append(event, **fields)
        for reporter in self.reporters:
            try:
                reporter.report(entry)
            except Exception:  # reporting must never stop or corrupt a roll-out
                logger.warning("reporting %s to %r failed", event, reporter, exc_info=True)
