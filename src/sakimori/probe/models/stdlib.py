"""Sources outside web frameworks: the environment, the command line, files, sockets, stdin.

Sources have a threat model, as in CodeQL: ``remote`` data (network responses, sockets) is always
a source; ``local`` data (environment, command line, standard input, file contents) only when the
caller asks for it (``sakimori probe --local-sources``), because in a service it is set by the
operator, not by an attacker.
"""

from __future__ import annotations

#: Names whose value (and everything read from it) is attacker-influenced: (what, threat model).
SOURCES = {
    "os.environ": ("environment variable", "local"),
    "os.environb": ("environment variable", "local"),
    "sys.argv": ("command-line argument", "local"),
    "sys.stdin": ("standard input", "local"),
}

#: Calls whose result is attacker-influenced.
SOURCE_CALLS = {
    "os.getenv": ("environment variable", "local"),
    "os.getenvb": ("environment variable", "local"),
    "input": ("standard input", "local"),
    "raw_input": ("standard input", "local"),
    "urllib.request.urlopen": ("network response", "remote"),
    "requests.get": ("network response", "remote"),
    "requests.post": ("network response", "remote"),
    "httpx.get": ("network response", "remote"),
    "httpx.post": ("network response", "remote"),
}

_FILES = ("open()", "io.open()", "codecs.open()", "pathlib.Path()")
_SOCKETS = ("socket.socket()", "socket.create_connection()", "socket.socket().accept()")

#: Methods whose result is attacker-influenced: receiver prefixes and threat model.
SOURCE_METHODS = {
    "recv": (_SOCKETS, "remote"),
    "recvfrom": (_SOCKETS, "remote"),
    "recv_into": (_SOCKETS, "remote"),
    "makefile": (_SOCKETS, "remote"),
    "read": ((*_FILES, "urllib.request.urlopen()"), "local"),
    "readline": (_FILES, "local"),
    "readlines": (_FILES, "local"),
    "read_text": (("pathlib.Path(",), "local"),
    "read_bytes": (("pathlib.Path(",), "local"),
}
