"""Format detection, and parsers never raising whatever the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.monitoring.parsers import FORMATS, detect_format, make_parser

COMBINED = '1.2.3.4 - - [10/Oct/2023:08:32:31 +0000] "GET / HTTP/1.1" 200 1 "-" "x"'
JSON = '{"remote_addr":"1.2.3.4","time":"2023-10-10T08:32:31Z","request":"GET / HTTP/1.1"}'
SSH = "Oct 10 08:32:31 h sshd[1]: Invalid user a from 1.2.3.4 port 2"


def test_detect() -> None:
    assert detect_format([COMBINED, COMBINED]) == "combined"
    assert detect_format([JSON, "garbage"]) == "json"
    assert detect_format(["Oct 10 08:32:31 h sudo[1]: x", SSH]) == "ssh"
    assert detect_format(["Oct 10 08:32:31 h CRON[1]: x"]) is None
    assert detect_format(["nothing here"]) is None


PIECES = st.sampled_from(
    [COMBINED, JSON, SSH, '"', "[", "]", "{", "}", " ", "-", "%", "\\", "\x00", "\n", ":", "/"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), PIECES), max_size=8))
def test_parsers_never_raise(parts: list[str]) -> None:
    line = "".join(parts)
    for name in FORMATS:
        result = make_parser(name, year=2024).parse(line, 1)
        assert result is None or isinstance(result, str | tuple)
