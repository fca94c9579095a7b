"""The deterministic gate every proposed patch must pass before Sakimori accepts it.

A patch (a unified diff, typically proposed by the LLM reviewer) is judged in a scratch copy of
the tree, never in the tree itself:

1. its headers are read first, and it is **refused** if it names a path outside the tree
   (absolute, ``..``, through a symbolic link, inside ``.git``), changes a file that is not on
   the finding's path (its source, steps and sink: so a patch cannot weaken the project's tests
   or add a ``conftest.py``), creates, deletes, renames or copies a file, changes a file mode or
   holds binary data;
2. ``git apply`` (Debian package ``git``; run outside any repository, with no user or system
   configuration) reads it first (``--numstat``: the files git would change must be those the
   gate checked), then ``--check``, then applies it to the copy; git refuses paths outside the
   working area on its own as well. Paths with ``a/`` and ``b/`` prefixes are read with ``-p1``,
   paths without them with ``-p0``;
3. the engine runs again on the copy: the finding's fingerprint must be gone, no finding may
   appear that was not reported before, no file may stop parsing and the run must complete;
4. when a test command is configured, it must pass in the copy (without a shell, within a time
   limit). It is first run once on an unpatched copy: if the tests fail already, no patch can be
   judged and every patch is rejected with that reason.

Only a patch that passes every step is accepted; the result says which step failed and why.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sakimori.errors import ConfigurationError, InvalidInput
from sakimori.probe.findings import CodeFinding, ProbeReport

logger = logging.getLogger(__name__)

Analyse = Callable[[Path], ProbeReport]

_COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    "node_modules",
)
_DIFF_GIT = re.compile(r"^diff --git (\S+) (\S+)$")
_REFUSED_HEADERS = (
    ("deleted file mode", "deletes a file"),
    ("rename from", "renames a file"),
    ("rename to", "renames a file"),
    ("copy from", "copies a file"),
    ("copy to", "copies a file"),
    ("old mode", "changes a file mode"),
    ("new mode", "changes a file mode"),
    ("new file mode 120000", "creates a symbolic link"),
    ("GIT binary patch", "holds binary data"),
    ("Binary files", "holds binary data"),
)
#: Characters of the test command's output kept in a result.
_OUTPUT_TAIL = 2000


@dataclass(frozen=True, slots=True)
class GateSettings:
    """The project's test command (an argument list, run without a shell) and the limits."""

    test_command: tuple[str, ...] = ()
    test_timeout: float = 600.0
    max_diff_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        if self.test_timeout <= 0:
            raise ConfigurationError("the test time limit must be greater than zero")


@dataclass(frozen=True, slots=True)
class GateResult:
    """Whether a patch is accepted, the step that decided it, and what each step saw."""

    accepted: bool
    stage: str  # refused | apply | analysis | finding | new-findings | tests | accepted
    reason: str
    files: tuple[str, ...] = ()
    new_findings: tuple[str, ...] = ()
    tests: str = "not configured"  # not configured | passed | failed | timed out | not run
    test_output: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "stage": self.stage,
            "reason": self.reason,
            "files": list(self.files),
            "new_findings": list(self.new_findings),
            "tests": self.tests,
            "test_output": self.test_output,
        }


def strip_level(diff: str) -> int:
    """1 when every path of the diff has an ``a/`` or ``b/`` prefix (git's default), else 0."""
    names: list[str] = []
    lines = diff.splitlines()
    for index, line in enumerate(lines):
        match = _DIFF_GIT.match(line)
        if match:
            names.extend(match.groups())
        elif (
            line.startswith("--- ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("+++ ")
        ):
            names.extend((_header_path(line) or "a/", _header_path(lines[index + 1]) or "b/"))
    return 1 if names and all(n.startswith(("a/", "b/")) for n in names) else 0


def patched_paths(diff: str) -> tuple[str, ...]:
    """The tree-relative paths a diff changes; InvalidInput when the diff must be refused."""
    lines = diff.splitlines()
    strip = strip_level(diff)
    paths: list[str] = []
    for index, line in enumerate(lines):
        for prefix, why in _REFUSED_HEADERS:
            if line.startswith(prefix):
                raise InvalidInput(f"the patch {why}, which the gate does not accept")
        match = _DIFF_GIT.match(line)
        if match:
            paths.extend(_checked(name, strip) for name in match.groups())
        elif (
            line.startswith("--- ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("+++ ")
        ):
            old, new = _header_path(line), _header_path(lines[index + 1])
            if new is None:
                raise InvalidInput("the patch deletes a file, which the gate does not accept")
            paths.extend(_checked(name, strip) for name in (old, new) if name is not None)
    if not paths:
        raise InvalidInput("the patch names no file (not a unified diff)")
    return tuple(dict.fromkeys(paths))


def _header_path(line: str) -> str | None:
    name = line[4:].split("\t", 1)[0].strip()
    return None if name == "/dev/null" else name


def _checked(name: str, strip: int) -> str:
    if name.startswith('"'):
        raise InvalidInput(f"the patch names a quoted path {name}, which the gate refuses")
    if strip:
        name = name[2:]
    path = PurePosixPath(name)
    if not name or name.startswith("/") or path.is_absolute() or "\\" in name or ":" in name:
        raise InvalidInput(f"the patch names {name!r}, a path outside the tree")
    if ".." in path.parts:
        raise InvalidInput(f"the patch names {name!r}, a path escaping the tree")
    if any(part in (".git", ".hg", ".svn") for part in path.parts):
        raise InvalidInput(f"the patch names {name!r}, inside version-control metadata")
    return path.as_posix()


def on_path(finding: CodeFinding) -> set[str]:
    """The files a fix of ``finding`` may change: those of its source, steps and sink."""
    steps = [finding.sink, *finding.steps]
    if finding.source is not None:
        steps.append(finding.source)
    return {finding.path, *(step.path for step in steps)}


class Gate:
    """Judges patches against one tree and the engine's report on it (the baseline)."""

    def __init__(
        self,
        root: Path,
        baseline: ProbeReport,
        analyse: Analyse,
        settings: GateSettings | None = None,
    ) -> None:
        self.root = root.resolve()
        self.baseline = baseline
        self.analyse = analyse
        self.settings = settings or GateSettings()
        self._baseline_tests: tuple[str, str] | None = None
        self._git = shutil.which("git")

    def check(self, diff: str, finding: CodeFinding) -> GateResult:
        """Apply ``diff`` in a scratch copy and judge it as a fix of ``finding``."""
        if len(diff.encode("utf-8", errors="replace")) > self.settings.max_diff_bytes:
            return GateResult(False, "refused", "the patch is larger than the limit")
        try:
            files = patched_paths(diff)
        except InvalidInput as exc:
            return GateResult(False, "refused", exc.message)
        allowed = on_path(finding)
        foreign = [f for f in files if f not in allowed]
        if foreign:
            return GateResult(
                False,
                "refused",
                f"the patch changes {', '.join(foreign)}, not a file on the finding's path "
                f"({', '.join(sorted(allowed))})",
                files,
            )
        if self._git is None:
            return GateResult(
                False, "apply", "git is not installed: patches cannot be applied", files
            )
        with self._scratch() as scratch:
            escaped = [f for f in files if not _inside(scratch, scratch / f)]
            if escaped:
                return GateResult(
                    False,
                    "refused",
                    f"the patch writes through a symbolic link out of the tree: "
                    f"{', '.join(escaped)}",
                    files,
                )
            failure = self._apply(scratch, diff, set(files))
            if failure:
                return GateResult(False, failure[0], failure[1], files)
            return self._judge(scratch, finding.fingerprint, files)

    def _judge(self, scratch: Path, fingerprint: str, files: tuple[str, ...]) -> GateResult:
        after = self.analyse(scratch if self.root.is_dir() else scratch / self.root.name)
        if after.stopped_early:
            return GateResult(
                False,
                "analysis",
                f"the analysis of the patched tree did not complete: {after.stopped_early}",
                files,
            )
        before_skipped = {(s.path, s.reason) for s in self.baseline.skipped}
        broken = [s for s in after.skipped if (s.path, s.reason) not in before_skipped]
        if broken:
            detail = "; ".join(f"{s.path}: {s.reason}" for s in broken[:3])
            return GateResult(
                False, "analysis", f"the patched tree no longer analyses cleanly: {detail}", files
            )
        found = {f.fingerprint: f for f in after.findings if f.tool == "sakimori"}
        if fingerprint in found:
            still = found[fingerprint]
            return GateResult(
                False,
                "finding",
                f"the finding is still reported "
                f"({still.rule_id} at {still.path}:{still.sink.line})",
                files,
            )
        known = {f.fingerprint for f in self.baseline.findings}
        new = [f for key, f in found.items() if key not in known]
        if new:
            detail = "; ".join(f"{f.rule_id} at {f.path}:{f.sink.line}" for f in new[:5])
            return GateResult(
                False,
                "new-findings",
                f"the patch introduces {len(new)} new finding(s): {detail}",
                files,
                tuple(f.fingerprint for f in new),
            )
        if not self.settings.test_command:
            return GateResult(
                True,
                "accepted",
                "the finding is gone and nothing new is reported (no test command configured)",
                files,
            )
        baseline_status, baseline_output = self._tests_before()
        if baseline_status != "passed":
            return GateResult(
                False,
                "tests",
                f"the project's tests do not pass without the "
                f"patch ({baseline_status}): the gate cannot judge it",
                files,
                tests="not run",
                test_output=baseline_output,
            )
        status, output = self._run_tests(scratch)
        if status != "passed":
            return GateResult(
                False,
                "tests",
                f"the project's tests {status} with the patch",
                files,
                tests=status,
                test_output=output,
            )
        return GateResult(
            True,
            "accepted",
            "the finding is gone, nothing new is reported and the project's tests pass",
            files,
            tests=status,
            test_output=output,
        )

    def _tests_before(self) -> tuple[str, str]:
        if self._baseline_tests is None:
            with self._scratch() as scratch:
                self._baseline_tests = self._run_tests(scratch)
        return self._baseline_tests

    @contextmanager
    def _scratch(self) -> Iterator[Path]:
        holder = Path(tempfile.mkdtemp(prefix="sakimori-gate-"))
        try:
            scratch = holder / "tree"
            if self.root.is_dir():
                shutil.copytree(self.root, scratch, symlinks=True, ignore=_COPY_IGNORE)
            else:
                scratch.mkdir()
                shutil.copy2(self.root, scratch / self.root.name)
            yield scratch
        finally:
            shutil.rmtree(holder, ignore_errors=True)

    def _apply(self, scratch: Path, diff: str, files: set[str]) -> tuple[str, str] | None:
        """None when the diff applied; else the stage that failed and why.

        git's own reading of the paths (``--numstat``) must agree with the gate's, so a patch
        git would read differently from the headers checked above is refused, not applied.
        """
        strip = f"-p{strip_level(diff)}"
        ok, numstat = self._git_apply(scratch, diff, ["--numstat", "-z", strip])
        if not ok:
            return "apply", numstat
        touched = {
            entry.split("\t", 2)[2] for entry in numstat.split("\0") if entry.count("\t") >= 2
        }
        unseen = sorted(touched - files)
        if unseen or not touched:
            return "refused", f"git reads the patch as changing {', '.join(unseen) or 'nothing'}"
        for extra in (["--check", strip], [strip]):
            ok, message = self._git_apply(scratch, diff, extra)
            if not ok:
                return "apply", message
        return None

    def _git_apply(self, scratch: Path, diff: str, options: list[str]) -> tuple[bool, str]:
        """``git apply`` in ``scratch``: (True, its output) or (False, why it failed)."""
        assert self._git is not None
        env = {
            **os.environ,
            "GIT_CEILING_DIRECTORIES": str(scratch.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
        }
        for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            env.pop(name, None)
        command = [self._git, "apply", *options, "--recount", "--whitespace=nowarn", "-"]
        try:
            done = subprocess.run(  # noqa: S603 - our fixed git command, the diff on stdin
                command,
                input=diff.encode("utf-8"),
                cwd=scratch,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False, "git apply did not finish within 60 s"
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", errors="replace").strip()
            return False, f"the patch does not apply: {' '.join(message.split())[:500]}"
        return True, done.stdout.decode("utf-8", errors="replace")

    def _run_tests(self, scratch: Path) -> tuple[str, str]:
        return run_command(self.settings.test_command, scratch, self.settings.test_timeout)


def run_command(command: Sequence[str], cwd: Path, timeout: float) -> tuple[str, str]:
    """Run ``command`` in ``cwd`` (its own process group, killed whole on timeout): the status
    (passed, failed, timed out) and the tail of its combined output."""
    try:
        process = subprocess.Popen(  # noqa: S603 - the operator's configured test command
            list(command),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return "failed", f"cannot run the test command: {exc.strerror or exc}"
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        output, _ = process.communicate()
        return "timed out", _tail(output)
    return ("passed" if process.returncode == 0 else "failed"), _tail(output)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(output: bytes) -> str:
    return output.decode("utf-8", errors="replace")[-_OUTPUT_TAIL:]


def _inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (which may not exist yet) stays below ``root`` once symlinks resolve."""
    resolved = Path(os.path.realpath(path))
    return resolved.is_relative_to(Path(os.path.realpath(root)))
