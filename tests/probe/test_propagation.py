"""Propagation features of the engine, each with a flow that must be found and one that must not."""

from __future__ import annotations

from pathlib import Path

from tests.probe.conftest import analyse, cwes

HEAD = "import os\nfrom flask import request\n\n"


def run(tmp_path: Path, body: str, **extra: str) -> set[int]:
    files = {"app.py": HEAD + body, **{f"{k}.py": v for k, v in extra.items()}}
    return cwes(analyse(tmp_path, files))


def test_f_strings_and_string_operations(tmp_path: Path) -> None:
    body = "def f():\n    x = request.args['a'].strip().lower()\n    os.system(f'ls {x!r:>10}')\n"
    assert 78 in run(tmp_path, body)


def test_list_elements_are_tracked_by_position(tmp_path: Path) -> None:
    safe = (
        "def f():\n    items = ['safe', request.args['a'], 'more']\n    items.pop(0)\n"
        "    os.system(items[1])\n"
    )
    assert 78 not in run(tmp_path / "safe", safe)
    unsafe = safe.replace("items[1]", "items[0]")
    assert 78 in run(tmp_path / "unsafe", unsafe)


def test_dict_keys_are_tracked(tmp_path: Path) -> None:
    safe = (
        "def f():\n    m = {}\n    m['a'] = 'fixed'\n    m['b'] = request.args['a']\n"
        "    m.setdefault('a', request.args['b'])\n    os.system(m['a'])\n"
    )
    assert 78 not in run(tmp_path / "safe", safe)
    assert 78 in run(tmp_path / "unsafe", safe.replace("m['a'])", "m['b'])"))


def test_constant_branches_are_decided(tmp_path: Path) -> None:
    safe = (
        "def f():\n    x = request.args['a']\n    n = 106\n    guess = 'ABC'[2]\n"
        "    if guess == 'A' or (7 * 18) + n > 300:\n        y = x\n    else:\n        y = 'ok'\n"
        "    os.system(y)\n"
    )
    assert 78 not in run(tmp_path / "safe", safe)
    assert 78 in run(tmp_path / "unsafe", safe.replace("> 300", "< 300"))


def test_unknown_branches_join(tmp_path: Path) -> None:
    body = (
        "def f():\n    y = 'ok'\n    if os.name == 'nt':\n        y = request.args['a']\n"
        "    os.system(y)\n"
    )
    assert 78 in run(tmp_path, body)


def test_returns_across_modules_and_classes(tmp_path: Path) -> None:
    helpers = (
        "class Holder:\n    def __init__(self, value):\n        self.value = value\n"
        "    def get(self):\n        return self.value\n\n"
        "def first(*values):\n    return values[0]\n\ndef fixed(value):\n    return 'fixed'\n"
    )
    unsafe = (
        "from helpers import *\n\ndef f():\n"
        "    os.system(Holder(first(request.args['a'], 'x')).get())\n"
    )
    report = analyse(tmp_path / "u", {"app.py": HEAD + unsafe, "helpers.py": helpers})
    finding = next(f for f in report.findings if f.cwe == 78)
    assert any("returned from" in step.note for step in finding.steps)
    safe = (
        "from helpers import *\n\ndef f():\n    os.system(Holder(fixed(request.args['a'])).get())\n"
    )
    assert 78 not in cwes(analyse(tmp_path / "s", {"app.py": HEAD + safe, "helpers.py": helpers}))


def test_sanitisers_are_per_cwe(tmp_path: Path) -> None:
    body = (
        "import html, sqlite3\n\ndef f():\n    x = html.escape(request.args['a'])\n"
        "    n = int(request.args['b'])\n    os.system('ls ' + str(n))\n"
        "    sqlite3.connect('d').execute('select ' + x)\n"
    )
    found = run(tmp_path, body)
    assert 89 in found
    assert 78 not in found


def test_environment_and_argv_are_local_sources(tmp_path: Path) -> None:
    body = (
        "import sys, subprocess\n\nsubprocess.call(sys.argv[1], shell=True)\n"
        "eval(os.environ['X'])\n"
    )
    assert not run(tmp_path / "remote", body)
    local = analyse(tmp_path / "local", {"app.py": HEAD + body}, local_sources=True)
    assert {78, 94} <= cwes(local)


def test_monkey_patched_library_function_is_followed(tmp_path: Path) -> None:
    body = (
        "import string\n\ndef fixed(s, sep=None):\n    return 'FIXED'\n\n"
        "def f():\n    string.capwords = fixed\n    os.system(string.capwords(request.args['a']))\n"
    )
    assert 78 not in run(tmp_path, body)


def test_fingerprint_ignores_line_moves(tmp_path: Path) -> None:
    body = "def f():\n    os.system(request.args['a'])\n"
    before = analyse(tmp_path / "a", {"app.py": HEAD + body}).findings
    after = analyse(tmp_path / "b", {"app.py": HEAD + "\n\n# moved\n" + body}).findings
    assert [f.fingerprint for f in before] == [f.fingerprint for f in after]
    assert before[0].sink.line + 3 == after[0].sink.line


def test_generators_yield_in_order(tmp_path: Path) -> None:
    body = (
        "def gen(a, b):\n    yield a\n    yield b\n\n"
        "def f():\n    g = gen('safe', request.args['a'])\n    first = next(g)\n"
        "    os.system(first)\n"
    )
    assert 78 not in run(tmp_path / "safe", body)
    assert 78 in run(tmp_path / "unsafe", body.replace("first = next(g)", "first = list(g)[1]"))


def test_special_methods_of_classes(tmp_path: Path) -> None:
    body = (
        "class Box:\n    def __init__(self, v):\n        self.v = v\n"
        "    def __getitem__(self, key):\n        return self.v\n"
        "    def __str__(self):\n        return 'box'\n\n"
        "def f():\n    b = Box(request.args['a'])\n    os.system(b[0])\n    eval(str(b))\n"
    )
    found = run(tmp_path, body)
    assert 78 in found
    assert 94 not in found


def test_object_new_and_unbound_init(tmp_path: Path) -> None:
    body = (
        "class Holder:\n    def __init__(self, v):\n        self.v = v\n\n"
        "def f():\n    h = Holder.__new__(Holder)\n    Holder.__init__(h, request.args['a'])\n"
        "    os.system(h.v)\n"
    )
    assert 78 in run(tmp_path, body)


def test_match_on_a_constant_subject(tmp_path: Path) -> None:
    body = (
        "def f():\n    x = request.args['a']\n    kind = 'b'\n    y = 'fixed'\n"
        "    match kind:\n        case 'a':\n            y = x\n        case _:\n            pass\n"
        "    os.system(y)\n"
    )
    assert 78 not in run(tmp_path / "safe", body)
    assert 78 in run(tmp_path / "unsafe", body.replace("kind = 'b'", "kind = 'a'"))


def test_empty_containers_from_constructors(tmp_path: Path) -> None:
    body = (
        "def f():\n    m = dict()\n    m['k'] = request.args['a']\n    m['s'] = 'ok'\n"
        "    os.system(m['s'])\n    eval(m['k'])\n"
    )
    found = run(tmp_path, body)
    assert 94 in found
    assert 78 not in found


def test_xml_parsers_configured_for_external_entities(tmp_path: Path) -> None:
    body = (
        "from lxml import etree\nimport xml.sax\nfrom xml.sax.handler import feature_external_ges\n"
        "unsafe = etree.XMLParser(resolve_entities=True)\n"
        "safe = etree.XMLParser(resolve_entities=False)\n"
        "parser = xml.sax.make_parser()\nparser.setFeature(feature_external_ges, True)\n"
        "parser.setFeature(feature_external_ges, False)\n"
    )
    report = analyse(tmp_path, {"x.py": body})
    assert sorted(f.sink.line for f in report.findings if f.cwe == 611) == [4, 7]
