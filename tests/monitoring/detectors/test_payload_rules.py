"""The general payload shapes added after measuring recall on public payload lists
(benchmarks/report_payloads.py): each with a payload it catches and benign text it must not."""

from __future__ import annotations

import pytest

from sakimori.monitoring.detectors import DetectorConfig
from sakimori.monitoring.detectors.payloads import PayloadDetector

DETECTOR = PayloadDetector(DetectorConfig())


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/item", "id=x%27)%20or%20(%27a%27%3D%27a", "sqli"),  # parenthesised tautology
        ("/item", "id=%27%20or%20%27%27%3D%27", "sqli"),  # empty-string tautology
        ("/item", "id=1+and+2%3D0", "sqli"),  # numeric comparison
        ("/item", "id=1%27+or+name+like+%27%25", "sqli"),
        ("/item", "id=1%27+and+(select+1)", "sqli"),
        ("/item", "id=1;exec+master..xp_cmdshell", "sqli"),
        ("/p", "q=%22%20onpointerenter%3D%22prompt%601%60", "xss"),  # any on* handler
        ("/p", "q=window[%27al%27%2B%27ert%27](1)", "xss"),
        ("/..%c0%af..%c0%afboot.ini", "", "traversal"),  # overlong UTF-8 slash
        ("/..%u2215..%u2215etc/passwd", "", "traversal"),  # IIS %u encoding
        ("/download", "file=....//....//etc/hosts", "traversal"),  # ../ stripped once
        ("/download", "file=/etc/services", "traversal"),
        ("/download", "file=C:/inetpub/wwwroot/web.config", "traversal"),
        ("/download", "file=index.php::$DATA", "traversal"),
        ("/ping", "host=1;env;", "cmdi"),
        ("/ping", "host=%26ping+-n+25+127.0.0.1%26", "cmdi"),
        ("/eval", "code=%27;exit(1);//", "cmdi"),  # PHP code after a string breakout
    ],
)
def test_caught(path: str, query: str, expected: str) -> None:
    assert expected in DETECTOR.target_classes(path, query)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/search", "q=O%27Brien+and+sons"),
        ("/search", "q=%22cats%22+or+%22dogs%22"),
        ("/search", "q=select+the+best+from+the+list"),
        ("/search", "q=rock+and+roll+from+1950+to+1960"),
        ("/search", "q=online+shopping&online=1&onsale=yes"),
        ("/docs/environment/setup", "page=2&sort=desc"),
        ("/blog/2024/how-to-ping-a-host", ""),
        ("/window/cleaning", "q=window+%5Bframes%5D"),
        ("/etc-and-more/notes", "q=etc."),
        ("/files/report...final.pdf", ""),
    ],
)
def test_benign(path: str, query: str) -> None:
    assert DETECTOR.target_classes(path, query) == ()
