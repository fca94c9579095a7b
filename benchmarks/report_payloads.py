"""Precision and recall per class of the payload classifier (``detectors/payloads.py``) on public
labelled payload lists, against benign strings.

Labelled payloads, read from where Debian's packages install them (nothing is copied into the
repository; ``apt-get install wfuzz wapiti wamerican``):

- **wfuzz** (Debian ``wfuzz``, GPL-2; Christian Martorella, Carlos del Ojo, Xavier Mendez):
  ``/usr/share/wfuzz/wordlist/Injections/{SQL,XSS,Traversal}.txt`` and
  ``vulns/{sql_inj,dirTraversal-nix,dirTraversal-win}.txt`` — the class is the file name;
- **wapiti** (Debian ``wapiti``, GPL-2+; Nicolas Surribas): the attack modules' payloads in
  ``wapitiCore/data/attacks``: ``blindSQLPayloads.txt`` (sqli), ``execPayloads.txt`` (command
  and code execution), ``xssPayloads.ini`` (xss), ``fileHandlingPayloads.ini`` (file inclusion:
  ``remote_*`` sections remote, the others local). Wapiti's placeholders are filled as wapiti
  fills them (``[VALUE]`` → ``1``, ``[TIME]`` → ``5``, ``[LF]`` → a newline, ``[TAB]``,
  ``__XSS__`` → a taint word, ``[EXTERNAL_ENDPOINT]`` → an outside URL, ``[ATTR_SEP]`` and
  ``[VALUE_SEP]`` → a double quote, ``[FILE_NAME]`` → ``index.php``).

Benign strings (label ``benign``): the words of Debian's ``wamerican`` (``/usr/share/dict/words``,
public domain-like SCOWL licence; with apostrophes: ``Aaron's``), 20,000 phrases of 3–7 of those
words (search-box text: ``select``, ``union``, ``or``, ``from`` … in ordinary order), wfuzz's
directory and file names (``general/common.txt``) and first names (``others/names.txt``), every
line of the licence texts in ``/usr/share/common-licenses`` (Debian's ``base-files``: English
prose with quotes, parentheses, semicolons, ``or``/``and``/``select``/``from``), and the request
targets of the six people in our own corpus (tests/monitoring/assets/corpus).

Each string is classified four ways, as a request would carry it: as a query value
(``/search?q=…``) URL-encoded once and twice, and as a path (``/p/…``) encoded once and twice.
A payload counts as found in a variant when its class is among the classes returned (the
file-inclusion labels accept ``traversal``, ``rfi`` and ``ssrf``; command/code execution
accepts ``cmdi``). Recall is per data set label, over every payload and over the *shaped* ones
(at least three characters, at least one of them not a letter, digit or space: wfuzz's lists
hold bare characters such as ``'`` and bare SQL words such as ``select`` or ``desc``, which are
fuzzing probes, not payloads, and which benign text holds too). Precision is per class of ours:
of the classifications (string × variant) given that class, the share whose label accepts it
(benign strings and other labels' payloads given it are false positives).

Run: ``.venv/bin/python benchmarks/report_payloads.py [--label TEXT] [--before EARLIER.json]``;
writes ``benchmarks/results/payloads.json``. The recorded file holds the run of the current
classifier and, under ``before``, the same report run on the classifier as it was before the
rules added with it (``PYTHONPATH`` pointing at an export of the previous commit's ``src``).
"""

from __future__ import annotations

import argparse
import configparser
import gzip
import json
import random
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import quote

from _common import ROOT, machine, table, write_result
from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.payloads import PayloadDetector

WFUZZ = Path("/usr/share/wfuzz/wordlist")
WAPITI = Path("/usr/lib/python3/dist-packages/wapitiCore/data/attacks")
WORDS = Path("/usr/share/dict/words")
LICENCES = Path("/usr/share/common-licenses")
CORPUS = ROOT / "tests" / "monitoring" / "assets" / "corpus"

#: Data set label -> our classes that count as finding it.
ACCEPTS: dict[str, frozenset[str]] = {
    "sqli": frozenset({"sqli"}),
    "xss": frozenset({"xss"}),
    "traversal": frozenset({"traversal"}),
    "file-inclusion": frozenset({"traversal", "rfi", "ssrf"}),
    "exec": frozenset({"cmdi"}),
}
SOURCES = {
    "wfuzz": {
        "package": "wfuzz (Debian)",
        "licence": "GPL-2",
        "files": {
            "Injections/SQL.txt": "sqli",
            "Injections/XSS.txt": "xss",
            "Injections/Traversal.txt": "traversal",
            "vulns/sql_inj.txt": "sqli",
            "vulns/dirTraversal-nix.txt": "traversal",
            "vulns/dirTraversal-win.txt": "traversal",
        },
    },
    "wapiti": {
        "package": "wapiti (Debian)",
        "licence": "GPL-2+",
        "files": {
            "blindSQLPayloads.txt": "sqli",
            "execPayloads.txt": "exec",
            "xssPayloads.ini": "xss",
            "fileHandlingPayloads.ini": "file-inclusion",
        },
    },
}
_FILL = {
    "[VALUE]": "1",
    "[TIME]": "5",
    "[LF]": "\n",
    "[TAB]": "\t",
    "__XSS__": "w4p1t1x55",
    "[EXTERNAL_ENDPOINT]": "http://attacker.example.net/",
    "[ATTR_SEP]": '"',  # an attribute value in double quotes, as wapiti fills it there
    "[VALUE_SEP]": '"',
    "[FILE_NAME]": "index.php",
    "\\0": "\x00",
}


def _fill(payload: str) -> str:
    for placeholder, value in _FILL.items():
        payload = payload.replace(placeholder, value)
    return payload


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()]


def load_payloads() -> list[tuple[str, str, str]]:
    """(label, source file, payload) for every labelled payload, duplicates dropped per label."""
    found: list[tuple[str, str, str]] = []
    for name, label in SOURCES["wfuzz"]["files"].items():  # type: ignore[attr-defined]
        found += [(label, f"wfuzz/{name}", line) for line in _lines(WFUZZ / name)]
    for name, label in SOURCES["wapiti"]["files"].items():  # type: ignore[attr-defined]
        path = WAPITI / name
        if name.endswith(".ini"):
            parser = configparser.RawConfigParser(strict=False)
            parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
            for section in parser.sections():
                payload = parser.get(section, "payload", fallback="")
                if not payload:
                    continue
                sub = label
                if label == "file-inclusion":
                    sub = "file-inclusion"  # remote and local: both accept traversal/rfi/ssrf
                found.append((sub, f"wapiti/{name}[{section}]", _fill(payload)))
        else:
            found += [(label, f"wapiti/{name}", _fill(line)) for line in _lines(path)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for label, source, payload in found:
        if (label, payload) not in seen:
            seen.add((label, payload))
            unique.append((label, source, payload))
    return unique


def load_benign(phrases: int = 20_000) -> list[tuple[str, str, str]]:
    words = _lines(WORDS)
    rng = random.Random(7)
    found = [("benign", "wamerican", w) for w in words]
    found += [
        (
            "benign",
            "wamerican phrases",
            " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))),
        )
        for _ in range(phrases)
    ]
    found += [
        ("benign", "wfuzz/general/common.txt", w) for w in _lines(WFUZZ / "general/common.txt")
    ]
    found += [("benign", "wfuzz/others/names.txt", w) for w in _lines(WFUZZ / "others/names.txt")]
    for licence in sorted({p.resolve() for p in LICENCES.iterdir() if p.is_file()}):
        found += [
            ("benign", f"common-licenses/{licence.name}", line.strip())
            for line in _lines(licence)
            if len(line.strip()) >= 3
        ]
    return found


def corpus_people() -> list[tuple[str, str]]:
    """(path, query) of every request of the people in our corpus (labelled clean)."""
    labels = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))
    people = {s["client"] for s in labels["sessions"] if s["kind"] == "human"}
    targets = set()
    with gzip.open(CORPUS / labels["log"], "rt", encoding="utf-8") as log:
        for line in log:
            client = line.split(" ", 1)[0]
            if client in people:
                target = line.split('"', 2)[1].split(" ")[1]
                path, _, query = target.partition("?")
                targets.add((path, query))
    return sorted(targets)


def variants(text: str) -> dict[str, tuple[str, str]]:
    """The string as a request carries it: (path, query) per variant."""
    once = quote(text, safe="")
    path_once = quote(text, safe="/")
    return {
        "query, encoded once": ("/search", f"q={once}"),
        "query, encoded twice": ("/search", f"q={quote(once, safe='')}"),
        "path, encoded once": (f"/p/{path_once}", ""),
        "path, encoded twice": (f"/p/{quote(path_once, safe='/')}", ""),
    }


def shaped(text: str) -> bool:
    """At least three characters, one of them not a letter, digit or space."""
    return len(text) >= 3 and any(not (c.isalnum() or c.isspace()) for c in text)


def evaluate(items: list[tuple[str, str, str]], extra_benign: list[tuple[str, str]]) -> dict:
    detector = PayloadDetector(DetectorConfig())
    classify = detector.target_classes
    names = list(variants("x"))
    tp: dict[str, Counter[str]] = defaultdict(Counter)  # label -> variant -> found
    tp_shaped: Counter[str] = Counter()  # label -> found (all variants), shaped payloads
    totals: Counter[str] = Counter()
    totals_shaped: Counter[str] = Counter()
    predicted: dict[str, Counter[str]] = defaultdict(Counter)  # our class -> label -> count
    missed: dict[str, list[str]] = defaultdict(list)
    benign_hits: list[str] = []
    benign_total = 0
    for label, source, text in items:
        totals[label] += 1
        is_shaped = shaped(text)
        if is_shaped:
            totals_shaped[label] += 1
        for variant, (path, query) in variants(text).items():
            found = set(classify(path, query))
            for cls in found:
                predicted[cls][label] += 1
            if label == "benign":
                benign_total += 1
                if found and len(benign_hits) < 40:
                    benign_hits.append(f"{text!r} ({variant}): {sorted(found)}")
            elif found & ACCEPTS[label]:
                tp[label][variant] += 1
                if is_shaped:
                    tp_shaped[label] += 1
            elif variant == "query, encoded once" and len(missed[label]) < 15:
                missed[label].append(f"{text!r} [{source}]")
    for path, query in extra_benign:
        totals["benign"] += 1
        benign_total += 1
        found = set(classify(path, query))
        for cls in found:
            predicted[cls]["benign"] += 1
        if found:
            benign_hits.append(f"{path}?{query}: {sorted(found)}")
    per_label = {}
    for label in ACCEPTS:
        n = totals[label]
        m = totals_shaped[label]
        per_label[label] = {
            "payloads": n,
            "shaped_payloads": m,
            "recall": {v: tp[label][v] / n if n else 0.0 for v in names},
            "recall_all_variants": sum(tp[label].values()) / (n * len(names)) if n else 0.0,
            "recall_shaped_all_variants": tp_shaped[label] / (m * len(names)) if m else 0.0,
            "missed_examples": missed[label],
        }
    per_class = {}
    for cls, labels in sorted(predicted.items()):
        given = sum(labels.values())
        right = sum(
            count for lab, count in labels.items() if lab != "benign" and cls in ACCEPTS[lab]
        )
        per_class[cls] = {
            "given": given,
            "precision": right / given if given else 0.0,
            "false_positives_by_label": {
                lab: count
                for lab, count in labels.items()
                if lab == "benign" or cls not in ACCEPTS[lab]
            },
        }
    benign_flagged = sum(predicted[cls]["benign"] for cls in predicted)
    return {
        "labels": per_label,
        "classes": per_class,
        "benign": {
            "strings": totals["benign"],
            "classified": benign_total,
            "flagged_class_assignments": benign_flagged,
            "examples": benign_hits,
        },
    }


def _version(package: str) -> str:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="", help="a name for this run in the result file")
    parser.add_argument(
        "--before",
        type=Path,
        help="an earlier result file (e.g. of the previous classifier) to keep beside this run",
    )
    args = parser.parse_args()
    before = None
    if args.before:
        earlier = json.loads(args.before.read_text(encoding="utf-8"))
        before = {k: earlier[k] for k in ("label", "labels", "classes", "benign") if k in earlier}
    info = machine()
    payloads = load_payloads()
    benign = load_benign()
    people = corpus_people()
    result = evaluate(payloads + benign, people)
    names = list(variants("x"))
    rows = []
    for label, data in result["labels"].items():
        rows.append(
            [label, data["payloads"]]
            + [f"{data['recall'][v]:.3f}" for v in names]
            + [data["shaped_payloads"], f"{data['recall_shaped_all_variants']:.3f}"]
        )
    print("Recall per data set label (a payload found in each variant):")
    print(table(["label", "payloads", *names, "shaped", "recall (shaped)"], rows))
    print("\nPrecision per class of ours (classifications string x variant):")
    print(
        table(
            ["class", "given", "precision", "false positives by label"],
            [
                [cls, d["given"], f"{d['precision']:.3f}", d["false_positives_by_label"] or "-"]
                for cls, d in result["classes"].items()
            ],
        )
    )
    b = result["benign"]
    print(
        f"\nbenign: {b['strings']:,} strings ({b['classified']:,} classifications), "
        f"{b['flagged_class_assignments']} class assignments to benign strings"
    )
    for line in b["examples"][:10]:
        print("  benign flagged:", line)
    for label, data in result["labels"].items():
        for line in data["missed_examples"][:5]:
            print(f"  {label} missed: {line}")
    sources = {
        key: {
            "package": value["package"],
            "version": _version(key),
            "licence": value["licence"],
            "files": value["files"],
        }
        for key, value in SOURCES.items()
    }
    sources["wamerican"] = {
        "package": "wamerican (Debian)",
        "version": _version("wamerican"),
        "licence": "SCOWL (permissive, see /usr/share/doc/wamerican/copyright)",
        "files": {"/usr/share/dict/words": "benign"},
    }
    write_result(
        "payloads",
        {
            "label": args.label,
            "sources": sources,
            "variants": names,
            **result,
            **({"before": before} if before else {}),
        },
        info,
    )


if __name__ == "__main__":
    main()
