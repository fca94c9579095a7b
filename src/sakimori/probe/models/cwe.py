"""Sinks by weakness (CWE), for the standard library and common database, XML and LDAP packages.

Qualified names are what the engine resolves through imports: ``import subprocess as sp;
sp.run(x)`` reaches ``subprocess.run``. Method sinks hold a receiver type where the method name is
ambiguous (``find`` is a str method too), and none where it is not (DB-API ``execute``).
"""

from __future__ import annotations

from sakimori.probe.models.base import Pattern, Sink

_XML = ("xml.etree.", "lxml.etree.", "defusedxml.")
_SUBPROCESS = ("call", "run", "Popen", "check_call", "check_output")

CALL_SINKS: dict[str, Sink] = {
    # CWE-78 OS command injection
    "os.system": Sink(78, what="shell command"),
    "os.popen": Sink(78, what="shell command"),
    "os.popen2": Sink(78, what="shell command"),
    "os.popen3": Sink(78, what="shell command"),
    "commands.getoutput": Sink(78, what="shell command"),
    "commands.getstatusoutput": Sink(78, what="shell command"),
    "subprocess.getoutput": Sink(78, what="shell command"),
    "subprocess.getstatusoutput": Sink(78, what="shell command"),
    "pty.spawn": Sink(78, what="command"),
    **{
        f"subprocess.{name}": Sink(78, (0,), ("args",), when="command", what="command")
        for name in _SUBPROCESS
    },
    **{
        f"os.{name}": Sink(78, (-1,), what="program or argument")
        for name in ("execl", "execle", "execlp", "execv", "execve", "execvp", "spawnl", "spawnv")
    },
    "asyncio.create_subprocess_shell": Sink(78, what="shell command"),
    # CWE-94 code injection
    "eval": Sink(94, what="evaluated code"),
    "exec": Sink(94, what="executed code"),
    "compile": Sink(94, what="compiled code"),
    "jinja2.Template": Sink(94, what="template source"),
    # CWE-22 path traversal
    "open": Sink(22, (0,), ("file",), what="file path"),
    "io.open": Sink(22, (0,), ("file",), what="file path"),
    "codecs.open": Sink(22, (0,), ("filename",), what="file path"),
    "os.open": Sink(22, what="file path"),
    "os.remove": Sink(22, what="file path"),
    "os.unlink": Sink(22, what="file path"),
    "os.rmdir": Sink(22, what="directory path"),
    "os.mkdir": Sink(22, what="directory path"),
    "os.makedirs": Sink(22, what="directory path"),
    "os.listdir": Sink(22, what="directory path"),
    "os.rename": Sink(22, (0, 1), what="file path"),
    "os.replace": Sink(22, (0, 1), what="file path"),
    "shutil.copy": Sink(22, (0, 1), what="file path"),
    "shutil.copyfile": Sink(22, (0, 1), what="file path"),
    "shutil.move": Sink(22, (0, 1), what="file path"),
    "shutil.rmtree": Sink(22, what="directory path"),
    "pathlib.Path": Sink(22, (-1,), when="used_as_file", what="file path"),
    "tarfile.open": Sink(22, what="archive path"),
    # CWE-89 SQL injection
    "sqlalchemy.text": Sink(89, what="SQL text"),
    "sqlalchemy.sql.text": Sink(89, what="SQL text"),
    "pandas.read_sql": Sink(89, what="SQL query"),
    "pandas.read_sql_query": Sink(89, what="SQL query"),
    # CWE-90 LDAP injection
    "ldap.filter.filter_format": Sink(90, what="LDAP filter template"),
    # CWE-643 XPath injection
    "elementpath.select": Sink(643, (1,), ("path",), what="XPath expression"),
    "lxml.etree.XPath": Sink(643, what="XPath expression"),
    "lxml.etree.ETXPath": Sink(643, what="XPath expression"),
    # CWE-611 XML external entities
    "lxml.etree.fromstring": Sink(611, what="XML document"),
    "lxml.etree.XML": Sink(611, what="XML document"),
    "lxml.etree.parse": Sink(611, what="XML document"),
    "xml.dom.minidom.parseString": Sink(611, what="XML document"),
    "xml.dom.pulldom.parseString": Sink(611, what="XML document"),
    "xml.sax.parseString": Sink(611, what="XML document"),
    "xml.sax.parse": Sink(611, what="XML document"),
    # CWE-502 deserialisation of untrusted data
    "pickle.loads": Sink(502, what="pickled data"),
    "pickle.load": Sink(502, what="pickled data"),
    "_pickle.loads": Sink(502, what="pickled data"),
    "cPickle.loads": Sink(502, what="pickled data"),
    "dill.loads": Sink(502, what="pickled data"),
    "marshal.loads": Sink(502, what="marshalled data"),
    "shelve.open": Sink(502, what="shelf path"),
    "jsonpickle.decode": Sink(502, what="jsonpickle data"),
    "yaml.load": Sink(502, (0,), ("stream",), when="unsafe_loader", what="YAML document"),
    "yaml.unsafe_load": Sink(502, what="YAML document"),
    "yaml.load_all": Sink(502, (0,), ("stream",), when="unsafe_loader", what="YAML document"),
}

METHOD_SINKS: dict[str, Sink] = {
    # DB-API cursors and connections, SQLAlchemy connections and sessions
    "execute": Sink(89, (0,), ("sql", "operation", "statement"), what="SQL statement"),
    "executemany": Sink(89, (0,), ("sql", "operation"), what="SQL statement"),
    "executescript": Sink(89, (0,), ("sql_script",), what="SQL script"),
    "mogrify": Sink(89, (0,), what="SQL statement"),
    # LDAP (python-ldap, ldap3)
    "search_s": Sink(90, (0, 2), ("base", "filterstr"), what="LDAP filter", receivers=("ldap.",)),
    "search_st": Sink(90, (0, 2), ("base", "filterstr"), what="LDAP filter", receivers=("ldap.",)),
    "search_ext_s": Sink(90, (0, 2), ("base", "filterstr"), what="LDAP", receivers=("ldap.",)),
    "search": Sink(
        90,
        (0, 1, 2),
        ("search_base", "search_filter", "filterstr"),
        what="LDAP filter",
        receivers=("ldap.", "ldap3."),
    ),
    # XPath: lxml anywhere, ElementTree's path methods on ElementTree objects only
    "xpath": Sink(643, (0,), ("_path",), what="XPath expression"),
    "findall": Sink(643, (0,), ("path",), what="XPath expression", receivers=_XML),
    "find": Sink(643, (0,), ("path",), what="XPath expression", receivers=_XML),
    "findtext": Sink(643, (0,), ("path",), what="XPath expression", receivers=_XML),
    "iterfind": Sink(643, (0,), ("path",), what="XPath expression", receivers=_XML),
    # path traversal on path objects
    "read_text": Sink(22, (), what="file path", receivers=("pathlib.Path(",), when="receiver"),
    "write_text": Sink(22, (), what="file path", receivers=("pathlib.Path(",), when="receiver"),
    "read_bytes": Sink(22, (), what="file path", receivers=("pathlib.Path(",), when="receiver"),
    "unlink": Sink(22, (), what="file path", receivers=("pathlib.Path(",), when="receiver"),
}

#: Weaknesses of a call by itself, whatever data reaches it.
PATTERNS: dict[str, Pattern] = {
    "lxml.etree.XMLParser": Pattern(
        611, "XML parser configured to resolve external entities", when="resolve_entities"
    ),
    "hashlib.md5": Pattern(328, "MD5 hash", when="for_security"),
    "hashlib.sha1": Pattern(328, "SHA-1 hash", when="for_security"),
    "hashlib.new": Pattern(328, "weak hash algorithm", when="weak_algorithm"),
    "Crypto.Hash.MD5.new": Pattern(328, "MD5 hash"),
    "Crypto.Hash.SHA.new": Pattern(328, "SHA-1 hash"),
    **{
        f"random.{name}": Pattern(330, f"random.{name} is not a secure source of randomness")
        for name in (
            "random",
            "randint",
            "randrange",
            "choice",
            "choices",
            "getrandbits",
            "uniform",
            "sample",
            "shuffle",
            "randbytes",
        )
    },
}

#: Methods that are weaknesses by themselves.
METHOD_PATTERNS: dict[str, Pattern] = {
    "set_cookie": Pattern(614, "cookie set without the Secure attribute", when="insecure_cookie"),
    "setFeature": Pattern(611, "SAX parser with external entities enabled", when="sax_entities"),
}

#: Sanitisers: the CWEs a call's result is safe for (``ALL``: a type conversion).
SANITISERS: dict[str, frozenset[int]] = {
    "html.escape": frozenset({79}),
    "cgi.escape": frozenset({79}),
    "xml.sax.saxutils.escape": frozenset({79, 643}),
    "xml.sax.saxutils.quoteattr": frozenset({79, 643}),
    "bleach.clean": frozenset({79}),
    "shlex.quote": frozenset({78}),
    "pipes.quote": frozenset({78}),
    "os.path.basename": frozenset({22}),
    "ldap.filter.escape_filter_chars": frozenset({90}),
    "ldap3.utils.conv.escape_filter_chars": frozenset({90}),
    "urllib.parse.quote": frozenset({79, 78, 89, 90, 643, 22}),
    "urllib.parse.quote_plus": frozenset({79, 78, 89, 90, 643, 22}),
    "urllib.parse.urlencode": frozenset({79, 78, 89, 90, 643}),
    "json.dumps": frozenset({78, 22}),
    "uuid.UUID": frozenset({79, 78, 89, 90, 643, 22, 94, 601, 502}),
}
