"""Files that cannot be analysed are skipped with a reason; newer syntax is analysed in part."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sakimori.errors import NotFound
from sakimori.probe.scan import Limits, probe_tree
from tests.probe.conftest import analyse, cwes

GOOD = "import os\nfrom flask import request\nos.system(request.args['cmd'])\n"


def reasons(report: object) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}  # type: ignore[attr-defined]


def test_syntax_error_python2_binary_and_encoding_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02ELF")
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: utf-8 -*-\nx = '\xff\xfe'\n")
    report = analyse(
        tmp_path,
        {
            "good.py": GOOD,
            "broken.py": "def f(:\n    pass\n" * 20,
            "py2.py": "\n".join(["print 'hello'", "exec 'x'", "print >>sys.stderr, 'x'"] * 5),
        },
    )
    skipped = reasons(report)
    assert "binary" in skipped["binary.py"]
    assert "decode" in skipped["latin.py"]
    assert "does not parse" in skipped["broken.py"]
    assert "does not parse" in skipped["py2.py"]
    assert 78 in cwes(report)  # the good file is still analysed


def test_newer_syntax_is_analysed_in_part(tmp_path: Path) -> None:
    source = "import os\ntype Alias = list[int]\nos.system(os.environ['CMD'])\n"
    report = analyse(tmp_path, {"new.py": source}, local_sources=True)
    assert 78 in cwes(report)
    (skip,) = report.skipped
    assert skip.partial
    assert "line(s) 2" in skip.reason


def test_huge_file_is_skipped(tmp_path: Path) -> None:
    report = analyse(tmp_path, {"huge.py": "x = 1\n" * 5000}, Limits(max_file_bytes=10_000))
    assert "too large" in reasons(report)["huge.py"]


def test_symlink_loop_and_directory_links(tmp_path: Path) -> None:
    os.symlink(tmp_path / "loop_b.py", tmp_path / "loop_a.py")
    os.symlink(tmp_path / "loop_a.py", tmp_path / "loop_b.py")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "again")
    report = analyse(tmp_path, {"good.py": GOOD})
    skipped = reasons(report)
    assert "symlink" in skipped["loop_a.py"]
    assert report.files == 1


def test_budget_stops_early_and_says_so(tmp_path: Path) -> None:
    body = "import os\n" + "".join(
        f"def f{i}(x):\n    return f{i - 1}(x) + x\n" for i in range(1, 60)
    )
    body = body.replace("f0(x)", "x")
    report = analyse(tmp_path, {"deep.py": body}, Limits(max_work_per_file=500))
    assert any("stopped early" in s.reason and s.partial for s in report.skipped)


def test_missing_root_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        probe_tree(tmp_path / "absent")
