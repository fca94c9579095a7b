"""Secrets: each pattern found, its near misses not; the value never appears in any report.

Token-shaped strings are assembled at run time so that this repository holds none.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from sakimori.probe.secrets import entropy, find_in_text, value_hash
from tests.cli.conftest import Cli

ALNUM = string.ascii_letters + string.digits


def token(length: int, alphabet: str = ALNUM, seed: int = 7) -> str:
    return "".join(alphabet[(seed * 31 + i * 17 + i * i) % len(alphabet)] for i in range(length))


UPPER = string.ascii_uppercase + string.digits

#: (pattern id, a true positive line, a near-miss line that must not be reported)
CASES = [
    ("aws-access-key", f"key = '{'AK' + 'IA' + token(16, UPPER)}'",
     f"key = '{'AK' + 'IA' + token(15, UPPER)}'"),
    ("github-token", f"t = '{'gh' + 'p_' + token(36)}'", f"t = '{'gh' + 'x_' + token(36)}'"),
    ("github-pat", f"t = '{'github_' + 'pat_' + token(82, ALNUM + '_')}'",
     f"t = '{'github_' + 'pat_' + token(20)}'"),
    ("slack-token", f"s = '{'xo' + 'xb-' + '1234567890-' + token(24)}'",
     f"s = '{'xo' + 'xq-' + '1234567890-' + token(24)}'"),
    ("google-api-key", f"g = '{'AI' + 'za' + token(35)}'", f"g = '{'AI' + 'za' + token(20)}'"),
    ("stripe-live-key", f"k = '{'sk_' + 'live_' + token(24)}'",
     f"k = '{'sk_' + 'test_' + token(24)}'"),
    ("pypi-token", f"p = '{'pypi-' + 'AgEIcHlwaS5vcmc' + token(60)}'",
     f"p = '{'pypi-' + 'AgEIcHlwaS5vcmc' + token(10)}'"),
    ("npm-token", f"n = '{'np' + 'm_' + token(36)}'", f"n = '{'np' + 'm_' + token(30)}'"),
    ("private-key", "-----BEGIN " + "RSA PRIVATE KEY-----", "-----BEGIN " + "PUBLIC KEY-----"),
    ("generic-secret", f"DB_PASSWORD = '{token(24)}'", "DB_PASSWORD = 'your-password-here'"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "positive", "negative"), CASES, ids=[c[0] for c in CASES])
def test_pattern_and_near_miss(kind: str, positive: str, negative: str) -> None:
    found = find_in_text(positive + "\n", "config.py")
    assert [f.function for f in found] == [kind]
    assert find_in_text(negative + "\n", "config.py") == []


def test_allow_listing() -> None:
    value = token(24)
    line = f"API_TOKEN = '{value}'"
    assert find_in_text(line, "a.py")
    assert find_in_text(line + "  # sakimori: allow-secret", "a.py") == []
    assert find_in_text(line, "a.py", frozenset({value_hash(value)[:12]})) == []
    assert find_in_text("API_TOKEN = '${API_TOKEN_FROM_ENV}'", "a.py") == []
    assert find_in_text("secret_key = 'AAAAAAAAAAAAAAAAAAAAAAAA'", "a.py") == []  # no entropy
    assert entropy("aaaa") == 0.0


def test_no_report_format_contains_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = [c[1].split("'")[1] for c in CASES if "'" in c[1]]
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "settings.py").write_text("\n".join(c[1] for c in CASES) + "\n", encoding="utf-8")
    (tree / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={token(40, ALNUM + '/+')}\n")
    secrets.append(token(40, ALNUM + "/+"))
    run = Cli(tmp_path / "home", capsys)
    outputs = []
    for form in ("table", "json", "sarif"):
        result = run("probe", str(tree), "--format", form)
        assert result.code == 0
        outputs.append(result.out + result.err)
    document = json.loads(outputs[1])
    assert len([f for f in document["findings"] if f["cwe"] == "CWE-798"]) == len(CASES) + 1
    for output in outputs:
        for secret in secrets:
            assert secret not in output
            assert secret[4:20] not in output
    sarif = json.loads(outputs[2])
    assert sarif["runs"][0]["results"]
    shown = document["findings"][0]["message"]
    digest = shown.split("sha256:")[1].rstrip(")")
    allowed = run("probe", str(tree), "--format", "json", "--allow-secret", digest)
    assert len(json.loads(allowed.out)["findings"]) == len(document["findings"]) - 1
