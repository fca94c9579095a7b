"""Sinks and patterns: where a tainted value must not arrive, and calls that are weaknesses."""

from __future__ import annotations

import ast

from sakimori.probe import models
from sakimori.probe.engine import Frame
from sakimori.probe.models.base import Sink
from sakimori.probe.statements import Statements
from sakimori.probe.values import Value

_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader", "safe_load")
_WEAK_HASHES = frozenset({"md5", "sha1", "md4", "md2", "sha", "ripemd160"})
_SHELLS = frozenset({"sh", "bash", "zsh", "cmd", "cmd.exe", "/bin/sh", "/bin/bash", "powershell"})


class Sinks(Statements):
    def check_sink(
        self,
        sink: Sink,
        args: list[Value],
        kwargs: dict[str | None, Value],
        receiver: Value | None,
        node: ast.Call,
        frame: Frame,
    ) -> None:
        if sink.when == "used_as_file":
            return
        if sink.when == "receiver":
            if receiver is not None and receiver.flow is not None:
                self.report(sink.cwe, node, frame, sink.what, receiver.flow)
            return
        if sink.when == "unsafe_loader":
            loader = kwargs.get("Loader") or (args[1] if len(args) > 1 else None)
            if loader is not None and (loader.qual or "").endswith(_SAFE_LOADERS):
                return
        chosen: list[Value] = []
        positions = range(len(args)) if -1 in sink.args else sink.args
        chosen.extend(args[i] for i in positions if i < len(args))
        chosen.extend(kwargs[name] for name in sink.kwargs if name in kwargs)
        if sink.when == "command":
            chosen = _command_values(chosen, kwargs)
        for value in chosen:
            flow = value.deep_flow()
            if flow is not None:
                self.report(sink.cwe, node, frame, sink.what, flow)
                return

    def patterns(
        self,
        qual: str | None,
        method: str | None,
        receiver_qual: str | None,
        args: list[Value],
        kwargs: dict[str | None, Value],
        starred: bool,
        node: ast.Call,
        frame: Frame,
    ) -> None:
        pattern = models.PATTERNS.get(qual) if qual else None
        if pattern is None and method is not None and isinstance(node.func, ast.Attribute):
            pattern = models.METHOD_PATTERNS.get(method)
        if pattern is None:
            return
        if pattern.when == "for_security":
            flag = kwargs.get("usedforsecurity")
            if flag is not None and flag.known and not flag.const:
                return
        elif pattern.when == "weak_algorithm":
            name = args[0].const if args else None
            if not (isinstance(name, str) and name.lower().replace("-", "") in _WEAK_HASHES):
                return
            flag = kwargs.get("usedforsecurity")
            if flag is not None and flag.known and not flag.const:
                return
        elif pattern.when == "resolve_entities":
            flag = kwargs.get("resolve_entities")
            if flag is None or not flag.known or not flag.const:
                return
        elif pattern.when == "sax_entities":
            enabled = len(args) == 2 and args[1].known and bool(args[1].const)
            if not enabled or not (args[0].qual or "").endswith(
                ("feature_external_ges", "feature_external_pes")
            ):
                return
        elif pattern.when == "insecure_cookie":
            if starred or None in kwargs:
                return
            secure = kwargs.get("secure")
            if secure is not None and (not secure.known or secure.const):
                return
        self.report(pattern.cwe, node, frame, pattern.what)


def _command_values(chosen: list[Value], kwargs: dict[str | None, Value]) -> list[Value]:
    """For subprocess: the parts of the command an attacker must not control."""
    shell = kwargs.get("shell")
    with_shell = shell is not None and (not shell.known or bool(shell.const))
    result: list[Value] = []
    for value in chosen:
        obj = value.obj
        if obj is None or with_shell:
            result.append(value)
            continue
        if obj.items is None:
            result.append(value)
            continue
        if not obj.items:
            continue
        result.append(obj.items[0])
        first = obj.items[0].const
        if isinstance(first, str) and first.rsplit("/", 1)[-1] in _SHELLS:
            result.extend(obj.items[1:])
        if obj.rest is not None:
            result.append(Value(flow=obj.rest))
    return result
