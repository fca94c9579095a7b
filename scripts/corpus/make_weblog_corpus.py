"""Record Sakimori's labelled web-log evaluation corpus: real tools against nginx on loopback.

Starts nginx (Debian's package) on 127.0.0.1 serving a small static site (``website.py``), one
listening port per session, and records in nginx's combined format, in order:

- people browsing (``sessions.browse``, six at once, for the whole run): pages with their
  assets (cached for an hour, as nginx tells them), pauses of seconds (one person skims, 1–5 s
  a page), failed sign-ins, a broken link;
- the slow agent-like probe (``sessions.probe``): a dozen different probes, 4–10 s apart, with a
  browser's user agent;
- one after the other, each bounded in time (``timeout``) and in requests (the ~900-entry
  wordlist of ``website.wordlist``; the tools' own rate and time limits where they have them):
  nmap, gobuster, ffuf, dirb, wfuzz, whatweb, dirsearch, sqlmap, wapiti — the Debian packages.

Client addresses: every tool connects from 127.0.0.1, and few of them can bind another source
address, so each session has its own nginx port and the log's client field is the address
nginx maps that port to (``nginx.conf.template``): 127.0.1.x tools, 127.0.2.x people,
127.0.3.x probes. The requests reach nginx unchanged.

Writes ``access.log.gz`` (gzip without a timestamp) and ``labels.json`` (per session: client,
tool, start, end, expected ``detected`` or ``clean``, requests logged, the command, exit status)
to ``--out`` (default ``tests/monitoring/assets/corpus``). Real timing by default: about nine
minutes (the people browse for ``--people-min-seconds``, 8 minutes; the tools take 1–2).
Run as: ``.venv/bin/python scripts/corpus/make_weblog_corpus.py``.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sessions
import website

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "tests" / "monitoring" / "assets" / "corpus"
HOST = "127.0.0.1"
#: The Debian system's tools, whatever Python or Ruby is first on the caller's PATH.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # the Debian package
    timeout: float  # seconds, wall clock; the process group is killed past it
    command: Callable[[str, Path, Path], list[str]]  # (base URL, wordlist, work dir) -> argv


TOOLS = (
    Tool(
        "nmap",
        "nmap",
        120,
        lambda url, words, work: [
            "nmap",
            "-Pn",
            "-n",
            "-sT",
            "-sV",
            "-p",
            url.rsplit(":", 1)[1],
            "--script",
            "http-enum,http-headers,http-methods,http-title,http-robots.txt",
            "--host-timeout",
            "100s",
            HOST,
        ],
    ),
    Tool(
        "gobuster",
        "gobuster",
        60,
        lambda url, words, work: [
            *("gobuster", "dir", "-u", url + "/", "-w", str(words)),
            *("-t", "10", "-q", "-z", "--timeout", "5s"),
        ],
    ),
    Tool(
        "ffuf",
        "ffuf",
        60,
        lambda url, words, work: [
            *("ffuf", "-u", url + "/FUZZ", "-w", str(words)),
            *("-t", "10", "-maxtime", "50", "-s"),
        ],
    ),
    Tool(
        "dirb",
        "dirb",
        60,
        lambda url, words, work: ["dirb", url + "/", str(words), "-S", "-r", "-z", "5"],
    ),
    Tool(
        "wfuzz",
        "wfuzz",
        60,
        lambda url, words, work: [
            *("wfuzz", "-w", str(words), "--hc", "404", "-t", "10"),
            url + "/FUZZ",
        ],
    ),
    Tool(
        "whatweb",
        "whatweb",
        60,
        lambda url, words, work: ["whatweb", "-a", "3", "--color=never", url + "/"],
    ),
    Tool(
        "dirsearch",
        "dirsearch",
        60,
        lambda url, words, work: [
            *("dirsearch", "-u", url + "/", "-w", str(words), "-t", "5"),
            *("--max-rate", "200", "--timeout", "5", "-q", "--no-color"),
            *("-o", str(work / "dirsearch.txt")),
        ],
    ),
    Tool(
        "sqlmap",
        "sqlmap",
        150,
        lambda url, words, work: [
            *("sqlmap", "-u", url + "/products.html?category=guides&page=1"),
            *("--batch", "--level", "2", "--risk", "1", "--timeout", "5", "--retries", "0"),
            *("--time-sec", "1", "--disable-coloring", "--output-dir", str(work / "sqlmap")),
        ],
    ),
    Tool(
        "wapiti",
        "wapiti",
        150,
        lambda url, words, work: [
            *("wapiti", "-u", url + "/", "--flush-session", "-d", "3"),
            *("--max-scan-time", "110", "--max-attack-time", "20"),
            *("--store-session", str(work / "wapiti-session")),
            *("--store-config", str(work / "wapiti-config")),
            *("-f", "txt", "-o", str(work / "wapiti.txt")),
        ],
    ),
)
PEOPLE = 6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--port", type=int, default=18080, help="first of the nginx ports")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", help="run only these tools (for a quick check)")
    parser.add_argument(
        "--pause-scale",
        type=float,
        default=1.0,
        help="multiply every pause of the people and the probe (1.0: real timing; the "
        "timestamps then compress too, so keep 1.0 for the committed corpus)",
    )
    parser.add_argument("--people-min-seconds", type=float, default=480.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    nginx = shutil.which("nginx", path=SYSTEM_PATH)
    if nginx is None:
        sys.exit("nginx is not installed (apt-get install nginx)")
    tools = [t for t in TOOLS if not args.only or t.name in args.only]
    missing = [t.name for t in tools if shutil.which(t.name, path=SYSTEM_PATH) is None]
    tools = [t for t in tools if t.name not in missing]
    for name in missing:
        print(f"skipped: {name} is not installed", file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="sakimori-corpus-"))
    work.chmod(0o755)
    try:
        return record(args, nginx, tools, missing, work)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def record(
    args: argparse.Namespace, nginx: str, tools: list[Tool], missing: list[str], work: Path
) -> int:
    site = work / "site"
    website.build_site(site)
    words = work / "wordlist.txt"
    words.write_text("\n".join(website.wordlist()) + "\n", encoding="utf-8")
    (work / "home").mkdir()
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / "tmp" / name).mkdir(parents=True)
    if os.geteuid() == 0:  # nginx's workers run as nobody and write request bodies here
        for directory in (work / "tmp", *(work / "tmp").iterdir()):
            shutil.chown(directory, "nobody")

    # Sessions: (client address, label, kind), one nginx port each.
    plan: list[tuple[str, str, str]] = [
        (f"127.0.1.{n}", tool.name, "tool") for n, tool in enumerate(tools, 1)
    ]
    plan += [(f"127.0.2.{n}", f"human-{n}", "human") for n in range(1, PEOPLE + 1)]
    plan.append(("127.0.3.1", "slow-probe", "probe"))
    ports = {label: args.port + n for n, (_c, label, _k) in enumerate(plan)}
    conf = work / "nginx.conf"
    conf.write_text(render_config(work, site, plan, ports), encoding="utf-8")
    env = tool_environment(work)
    server = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")], env=env
    )
    try:
        wait_for_ports([ports[label] for _c, label, _k in plan])
        outcomes = run_sessions(args, tools, plan, ports, words, work, env)
    finally:
        server.send_signal(signal.SIGQUIT)  # graceful: the log is complete
        server.wait(timeout=30)
    log = (work / "access.log").read_bytes()
    write_outputs(args.out, log, plan, outcomes, tools, missing, work)
    return 0


def render_config(
    work: Path, site: Path, plan: list[tuple[str, str, str]], ports: dict[str, int]
) -> str:
    template = (HERE / "nginx.conf.template").read_text(encoding="utf-8")
    client_map = "\n".join(f"        {ports[label]} {client};" for client, label, _k in plan)
    listen = "\n".join(f"        listen {HOST}:{ports[label]};" for _c, label, _k in plan)
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    for key, value in {
        "work": str(work),
        "site": str(site),
        "client_map": client_map,
        "listen": listen,
        "user": user,
    }.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def tool_environment(work: Path) -> dict[str, str]:
    """The tools' environment: the system PATH, a private HOME, UTC, and no proxy."""
    env = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower() and k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env.update(
        PATH=SYSTEM_PATH,
        HOME=str(work / "home"),
        TZ="UTC",
        TERM="dumb",
        NO_PROXY=HOST,
        no_proxy=HOST,
    )
    return env


def wait_for_ports(ports: list[int]) -> None:
    deadline = time.monotonic() + 10
    for port in ports:
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@dataclass
class ToolRun:
    start: datetime
    end: datetime
    exit: int | None  # None: killed at the timeout
    command: list[str]


Outcomes = dict[str, "sessions.Outcome | ToolRun"]


def run_sessions(
    args: argparse.Namespace,
    tools: list[Tool],
    plan: list[tuple[str, str, str]],
    ports: dict[str, int],
    words: Path,
    work: Path,
    env: dict[str, str],
) -> Outcomes:
    rng = random.Random(args.seed)  # noqa: S311 -- timing and choices, not secrets
    pause = sessions.sleeper(args.pause_scale)
    stop = threading.Event()
    outcomes: Outcomes = {}
    threads = []
    started = time.monotonic()
    people = [label for _client, label, kind in plan if kind == "human"]
    for number, label in enumerate(people):
        outcome = sessions.Outcome()
        outcomes[label] = outcome
        thread = threading.Thread(
            target=sessions.browse,
            args=(f"http://{HOST}:{ports[label]}", sessions.BROWSERS[number % 5]),
            kwargs={
                "rng": random.Random(rng.random()),  # noqa: S311
                "stop": stop,
                "outcome": outcome,
                "min_pages": 8,
                "pause": pause,
                "signs_in": number % 2 == 1,  # every other person fails to sign in
                "hurried": number == 2,  # one person skims
            },
            name=label,
        )
        thread.start()
        threads.append(thread)
        pause(rng.uniform(2.0, 10.0))  # people arrive one by one

    probe_outcome = sessions.Outcome()
    outcomes["slow-probe"] = probe_outcome
    probe = threading.Thread(
        target=sessions.probe,
        args=(f"http://{HOST}:{ports['slow-probe']}", random.Random(rng.random())),  # noqa: S311
        kwargs={"outcome": probe_outcome, "pause": pause},
        name="slow-probe",
    )
    probe.start()

    for tool in tools:
        outcomes[tool.name] = run_tool(tool, f"http://{HOST}:{ports[tool.name]}", words, work, env)
        time.sleep(3)
    probe.join()
    remaining = args.people_min_seconds * args.pause_scale - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    stop.set()
    for thread in threads:
        thread.join()
    return outcomes


def run_tool(tool: Tool, url: str, words: Path, work: Path, env: dict[str, str]) -> ToolRun:
    command = tool.command(url, words, work)
    print(f"$ {' '.join(command)}", flush=True)
    start = datetime.now(UTC)
    with (work / f"{tool.name}.out").open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work / "home",
            start_new_session=True,
        )
        try:
            code: int | None = process.wait(timeout=tool.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    end = datetime.now(UTC)
    print(f"  {tool.name}: exit {code}, {(end - start).total_seconds():.0f} s", flush=True)
    return ToolRun(start, end, code, command)


def write_outputs(
    out: Path,
    log: bytes,
    plan: list[tuple[str, str, str]],
    outcomes: Outcomes,
    tools: list[Tool],
    missing: list[str],
    work: Path,
) -> None:
    lines = Counter(line.split(b" ", 1)[0].decode() for line in log.splitlines() if line)
    labels = []
    for client, label, kind in plan:
        outcome = outcomes[label]
        end = outcome.end or datetime.now(UTC)
        entry: dict[str, object] = {
            "client": client,
            "tool": label,
            "kind": kind,
            "start": _second(outcome.start, up=False),
            "end": _second(end, up=True),
            "expected": "clean" if kind == "human" else "detected",
            "requests_logged": lines.get(client, 0),
        }
        if isinstance(outcome, ToolRun):
            entry["command"] = [w.replace(str(work), "$WORK") for w in outcome.command]
            entry["exit"] = outcome.exit
            entry["timed_out"] = outcome.exit is None
        else:
            entry["request_errors"] = len(outcome.errors)
        labels.append(entry)
    packages = ["nginx", *(t.package for t in tools)]
    document = {
        "generator": "scripts/corpus/make_weblog_corpus.py",
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "log": "access.log.gz",
        "log_format": "combined",
        "lines": sum(lines.values()),
        "versions": {name: package_version(name) for name in packages},
        "not_installed": missing,
        "sessions": labels,
    }
    out.mkdir(parents=True, exist_ok=True)
    with (
        (out / "access.log.gz").open("wb") as raw,
        gzip.GzipFile(filename="access.log", mode="wb", fileobj=raw, mtime=0) as compressed,
    ):
        compressed.write(log)
    (out / "labels.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out / 'access.log.gz'} ({len(log.splitlines()):,} lines) and labels.json")


def _second(moment: datetime, *, up: bool) -> str:
    """ISO 8601 to the second (the log's resolution): start rounded down, end up."""
    whole = moment.replace(microsecond=0)
    if up and moment.microsecond:
        whole += timedelta(seconds=1)
    return whole.isoformat()


def package_version(package: str) -> str:
    result = subprocess.run(
        ["/usr/bin/dpkg-query", "-W", "-f", "${Version}", package],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": SYSTEM_PATH},
    )
    return result.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
