"""Calls: in-tree functions and classes followed into their bodies, container methods, built-ins,
and the sources, sinks, sanitisers and patterns of the model tables."""

from __future__ import annotations

import ast
from typing import Any

from sakimori.probe import models
from sakimori.probe.engine import MAX_DEPTH, Frame, as_const, element_of
from sakimori.probe.models.base import Sink
from sakimori.probe.program import ClassInfo, FunctionInfo, ModuleInfo
from sakimori.probe.sinks import Sinks
from sakimori.probe.values import CLEAN, Flow, Obj, Value, const, join, join_flows, location

_COPYING = frozenset({"list", "tuple", "sorted", "reversed", "set", "frozenset", "dict"})
#: Methods that store their argument in an object the engine does not model (a queue, a buffer).
_MUTATORS = frozenset(
    {"put", "put_nowait", "append", "appendleft", "add", "extend", "update", "insert", "push",
     "write", "set", "offer", "send"}
)  # fmt: skip


class Analyzer(Sinks):
    # -- modules and entry points ---------------------------------------------------------------

    def run_module(self, module: ModuleInfo) -> None:
        if module.state != "new":
            return
        module.state = "running"
        frame = Frame(module, module.env)
        try:
            self.exec_block(module.tree.body, frame)
        finally:
            module.state = "done"

    def run_entries(self, module: ModuleInfo) -> None:
        """Analyse every function of ``module`` as an entry point."""
        self.run_module(module)
        for function in list(module.functions):
            node = function.node
            if isinstance(node, ast.Lambda):
                continue
            env: dict[str, Value] = {}
            params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            for index, param in enumerate(params):
                value = CLEAN
                if index == 0 and function.cls is not None and not _decorated_static(node):
                    value = Value(obj=Obj("instance", cls=function.cls))
                elif function.route or (
                    function.request_parameter and param.arg in {"request", "req"}
                ):
                    what = "route parameter" if function.route else "HTTP request"
                    origin = location(module.path, param, f"source: {what} {param.arg}")
                    value = Value(flow=Flow(what, origin))
                env[param.arg] = value
            for extra in (node.args.vararg, node.args.kwarg):
                if extra is not None:
                    env[extra.arg] = CLEAN
            frame = Frame(module, env, function, function.closure)
            self.stack.append(function)
            # Monkey-patching done by a function lasts for that analysis only: entry points are
            # analysed independently, so one entry's patches must not leak into another's.
            overrides = dict(self.program.overrides)
            try:
                self.exec_block(node.body, frame)
            finally:
                self.stack.pop()
                self.program.overrides = overrides

    # -- calls ----------------------------------------------------------------------------------

    def call(self, node: ast.Call, frame: Frame) -> Value:
        method: str | None = None
        receiver: Value | None = None
        if isinstance(node.func, ast.Attribute):
            receiver = self.eval(node.func.value, frame)
            method = node.func.attr
            callee = self.attribute(receiver, method, frame, node.func)
        else:
            callee = self.eval(node.func, frame)
        args: list[Value] = []
        starred = False
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                inner = self.eval(arg.value, frame)
                if inner.obj is not None and inner.obj.items is not None:
                    args.extend(inner.obj.items)
                else:
                    starred = True
                    args.append(element_of(inner))
            else:
                args.append(self.eval(arg, frame))
        kwargs: dict[str | None, Value] = {}
        for keyword in node.keywords:
            value = self.eval(keyword.value, frame)
            kwargs[keyword.arg] = (
                join(kwargs[keyword.arg], value) if keyword.arg in kwargs else value
            )
        if isinstance(callee.func, FunctionInfo):
            return self.inline(callee.func, callee.bound, args, kwargs, node, frame)
        if method == "__new__" and receiver is not None and isinstance(receiver.func, ClassInfo):
            cls = args[0].func if args and isinstance(args[0].func, ClassInfo) else receiver.func
            return Value(obj=Obj("instance", cls=cls, level=self.uncertain))
        if isinstance(callee.func, ClassInfo):
            return self.instantiate(callee.func, args, kwargs, node, frame)
        if receiver is not None and receiver.obj is not None and method is not None:
            handled = self.container_method(receiver.obj, method, args, node, frame)
            if handled is not None:
                return handled
        result = self.external(callee.qual, method, receiver, args, kwargs, starred, node, frame)
        if (
            method in _MUTATORS
            and receiver is not None
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and receiver.obj is None
            and receiver.func is None
        ):
            flow = None
            for value in args:
                flow = join_flows(flow, value.deep_flow())
            if flow is not None:
                self.assign(node.func.value, receiver.with_flow(flow), frame, node)
        return result

    def external(
        self,
        qual: str | None,
        method: str | None,
        receiver: Value | None,
        args: list[Value],
        kwargs: dict[str | None, Value],
        starred: bool,
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        flows = [a.deep_flow() for a in args] + [v.deep_flow() for v in kwargs.values()]
        flow: Flow | None = None
        for item in flows:
            flow = join_flows(flow, item)
        receiver_flow = receiver.flow if receiver is not None else None
        receiver_qual = receiver.qual if receiver is not None else None
        result_qual = f"{qual}()" if qual else None
        self.patterns(qual, method, receiver_qual, args, kwargs, starred, node, frame)
        sink = models.CALL_SINKS.get(qual) if qual else None
        if sink is None and method is not None and qual not in models.SANITISERS:
            candidate = models.METHOD_SINKS.get(method)
            if candidate is not None and _receiver_matches(candidate, receiver_qual):
                sink = candidate
        if sink is not None:
            self.check_sink(sink, args, kwargs, receiver, node, frame)
            if sink.when in {"used_as_file", "receiver"}:
                return Value(flow=join_flows(flow, receiver_flow), qual=result_qual)
            return Value(qual=result_qual)
        if qual in models.SOURCE_CALLS:
            what, threat = models.SOURCE_CALLS[qual]
            if threat == "remote" or self.local_sources:
                origin = location(frame.module.path, node, f"source: {what}")
                return Value(flow=Flow(what, origin), qual=result_qual)
        if method is not None and method in models.SOURCE_METHODS:
            prefixes, threat = models.SOURCE_METHODS[method]
            if (
                receiver_qual is not None
                and receiver_qual.startswith(prefixes)
                and (threat == "remote" or self.local_sources)
            ):
                what = f"data read by {method}()"
                return Value(
                    flow=Flow(what, location(frame.module.path, node, f"source: {what}")),
                    qual=result_qual,
                )
        if qual in models.CONVERTERS or (
            method is not None and method in models.CONVERTING_METHODS
        ):
            return Value(qual=result_qual)
        if qual in models.SANITISERS:
            total = join_flows(flow, receiver_flow)
            cleared = total.clear(models.SANITISERS[qual]) if total is not None else None
            return Value(flow=cleared, qual=result_qual)
        builtin = self.builtin(qual, args, kwargs, node, frame)
        if builtin is not None:
            return builtin
        if method is not None and receiver is not None and receiver.known:
            folded = _fold_method(receiver.const, method, args)
            if folded is not None:
                return folded
        return Value(flow=join_flows(flow, receiver_flow), qual=result_qual)

    def builtin(
        self,
        qual: str | None,
        args: list[Value],
        kwargs: dict[str | None, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value | None:
        if qual in _COPYING and not args:
            kind = "dict" if qual == "dict" else ("set" if "set" in qual else "list")
            obj = Obj(kind, items=[] if kind == "list" else None, level=self.uncertain)
            for name, value in kwargs.items():
                if name is not None and kind == "dict":
                    obj.keyed[name] = value
            return Value(obj=obj)
        if qual in _COPYING and args:
            source = args[0]
            kind = "dict" if qual == "dict" else ("set" if "set" in qual else "list")
            if source.obj is not None:
                copy = Obj(kind, rest=source.obj.rest, level=self.uncertain)
                if source.obj.items is not None and qual in {"list", "tuple"}:
                    copy.items = list(source.obj.items)
                elif source.obj.kind == "dict" and qual == "dict":
                    copy.keyed = dict(source.obj.keyed)
                else:
                    copy.rest = source.obj.deep_flow()
                return Value(obj=copy)
            return Value(obj=Obj(kind, rest=source.flow, level=self.uncertain))
        if qual in {"iter", "reversed"} and args:
            source = args[0]
            if source.obj is not None and source.obj.kind == "instance":
                found = self.magic(source, "__iter__", [], node, frame)
                return found if found is not None else source
            if source.obj is not None:
                items = source.obj.items
                if items is not None and qual == "reversed":
                    items = items[::-1]
                fresh = Obj(
                    "iterator",
                    items=list(items) if items is not None else None,
                    rest=source.obj.rest if items is not None else source.obj.deep_flow(),
                    level=self.uncertain,
                )
                return Value(obj=fresh)
            return source
        if qual == "next" and args:
            source = args[0]
            iterator = source.obj
            if iterator is not None and iterator.kind == "instance":
                found = self.magic(source, "__next__", [], node, frame)
                if found is not None:
                    return found
            if (
                iterator is not None
                and iterator.kind == "iterator"
                and iterator.items
                and self.uncertain <= iterator.level
            ):
                return iterator.items.pop(0)
            first = element_of(source)
            return join(first, args[1]) if len(args) > 1 else first
        if (
            qual == "getattr"
            and len(args) >= 2
            and args[1].known
            and isinstance(args[1].const, str)
        ):
            found = self.attribute(args[0], args[1].const, frame, node)
            return join(found, args[2]) if len(args) > 2 else found
        if (
            qual == "setattr"
            and len(args) == 3
            and args[1].known
            and isinstance(args[1].const, str)
        ):
            if args[0].obj is not None:
                args[0].obj.attrs[args[1].const] = args[2]
            return CLEAN
        if qual in {"str", "repr", "format"} and args and args[0].obj is not None:
            special = "__repr__" if qual == "repr" else "__str__"
            found = self.magic(args[0], special, [], node, frame)
            if found is not None:
                return found
        if qual in {"str", "repr", "format", "ascii"} and args:
            if args[0].known and qual == "str":
                return const(str(args[0].const))
            return Value(flow=args[0].deep_flow())
        if qual in {"print", "isinstance", "len"}:
            return CLEAN
        return None

    def container_method(
        self, obj: Obj, method: str, args: list[Value], node: ast.Call, frame: Frame
    ) -> Value | None:
        weak = self.uncertain > obj.level
        if obj.kind in {"list", "tuple", "set"}:
            if method in {"append", "add"} and args:
                if obj.items is not None and not weak and obj.kind == "list":
                    obj.items.append(args[0])
                else:
                    obj.smash()
                    obj.rest = join_flows(obj.rest, args[0].deep_flow())
                return CLEAN
            if method in {"extend", "update"} and args:
                self.extend(obj, args[0])
                return CLEAN
            if method == "insert" and len(args) == 2:
                index = args[0].const
                if obj.items is not None and not weak and isinstance(index, int):
                    obj.items.insert(index, args[1])
                else:
                    obj.smash()
                    obj.rest = join_flows(obj.rest, args[1].deep_flow())
                return CLEAN
            if method == "pop":
                if obj.items is not None and not weak and obj.items:
                    index = args[0].const if args else -1
                    if isinstance(index, int) and -len(obj.items) <= index < len(obj.items):
                        return obj.items.pop(index)
                return element_of(Value(obj=obj))
            if method == "remove" and args:
                wanted = as_const(args[0])
                if obj.items is not None and not weak:
                    for position, item in enumerate(obj.items):
                        if item.known and item.const == wanted:
                            del obj.items[position]
                            return CLEAN
                obj.smash()
                return CLEAN
            if method == "clear" and not weak:
                obj.items, obj.rest = ([] if obj.kind == "list" else None), None
                return CLEAN
            if method == "copy":
                items = list(obj.items) if obj.items is not None else None
                return Value(obj=Obj(obj.kind, items=items, rest=obj.rest, level=self.uncertain))
            if method in {"sort", "reverse"}:
                obj.smash()
                return CLEAN
            return None
        if obj.kind == "dict":
            key = as_const(args[0]) if args else None
            known = bool(args) and args[0].known
            if method in {"get", "pop"} and args:
                default = args[1] if len(args) > 1 else const(None)
                if known and key in obj.keyed:
                    found = obj.keyed[key]
                    if method == "pop" and not weak:
                        del obj.keyed[key]
                    return (
                        found
                        if obj.rest is None
                        else found.with_flow(join_flows(found.flow, obj.rest))
                    )
                if known and obj.rest is None:
                    return default
                return join(
                    default, Value(flow=Obj("dict", keyed=obj.keyed, rest=obj.rest).deep_flow())
                )
            if method == "setdefault" and args:
                value = args[1] if len(args) > 1 else const(None)
                if known and key in obj.keyed:
                    return obj.keyed[key]
                if known and not weak:
                    obj.keyed[key] = value
                    return value
                obj.rest = join_flows(obj.rest, value.deep_flow())
                return value
            if method == "update" and args:
                other = args[0].obj
                if other is not None and other.kind == "dict" and not weak:
                    obj.keyed.update(other.keyed)
                    obj.rest = join_flows(obj.rest, other.rest)
                else:
                    obj.rest = join_flows(obj.rest, args[0].deep_flow())
                return CLEAN
            if method in {"values", "items"}:
                return Value(obj=Obj("list", rest=Value(obj=obj).deep_flow(), level=self.uncertain))
            if method == "keys":
                return Value(obj=Obj("list", rest=None, level=self.uncertain))
            if method == "copy":
                return Value(
                    obj=Obj("dict", keyed=dict(obj.keyed), rest=obj.rest, level=self.uncertain)
                )
            if method == "clear" and not weak:
                obj.keyed, obj.rest = {}, None
                return CLEAN
        return None

    # -- in-tree functions and classes ----------------------------------------------------------

    def inline(
        self,
        function: FunctionInfo,
        bound: Value | None,
        args: list[Value],
        kwargs: dict[str | None, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        everything = [*args, *kwargs.values(), *([bound] if bound is not None else [])]
        tainted = any(v.deep_flow() is not None for v in everything)
        if len(self.stack) >= MAX_DEPTH or function in self.stack:
            flow = None
            for value in everything:
                flow = join_flows(flow, value.deep_flow())
            return Value(flow=flow)
        key: Any = None
        if not tainted and all(v.obj is None and v.func is None for v in everything):
            # A call that carries no tainted data is analysed once per function and constant
            # arguments, and its result reused: the summary that keeps large trees fast.
            try:
                key = (
                    id(function),
                    tuple(a.const for a in args),
                    tuple(sorted((k or "", v.const) for k, v in kwargs.items())),
                )
                hash(key)
            except TypeError:
                key = None
            if key is not None and key in self.memo:
                return self.memo[key]
        env = self.bind(function, bound, args, kwargs, node, frame)
        callee = Frame(
            function.module, env, function, function.closure, base_uncertain=self.uncertain
        )
        self.stack.append(function)
        try:
            if isinstance(function.node, ast.Lambda):
                result = self.eval(function.node.body, callee)
            else:
                self.exec_block(function.node.body, callee)
                result = CLEAN if not callee.returns else callee.returns[0]
                for other in callee.returns[1:]:
                    result = join(result, other)
                if not callee.returns:
                    result = const(None)
                if _is_generator(function):
                    result = self.generated(callee)
        finally:
            self.stack.pop()
        if result.flow is not None:
            step = location(frame.module.path, node, f"returned from {function.qualname}()")
            result = result.with_flow(result.flow.step(step))
        if key is not None:
            self.memo[key] = result
        return result

    def generated(self, frame: Frame) -> Value:
        """A generator's result: its yields in order when all ran unconditionally."""
        if frame.yields_exact:
            return Value(obj=Obj("iterator", items=list(frame.yields), level=self.uncertain))
        rest = None
        for value in frame.yields:
            rest = join_flows(rest, value.deep_flow())
        return Value(obj=Obj("iterator", rest=rest, level=self.uncertain))

    def magic(
        self, value: Value, name: str, args: list[Value], node: ast.AST, frame: Frame
    ) -> Value | None:
        obj = value.obj
        if obj is None or obj.kind != "instance" or not isinstance(obj.cls, ClassInfo):
            return None
        found = obj.cls.lookup(name)
        if found is None or not isinstance(found.func, FunctionInfo):
            return None
        call = (
            node
            if isinstance(node, ast.Call)
            else ast.Call(func=ast.Name(id=name), args=[], keywords=[])
        )
        ast.copy_location(call, node)
        return self.inline(found.func, value, args, {}, call, frame)

    def bind(
        self,
        function: FunctionInfo,
        bound: Value | None,
        args: list[Value],
        kwargs: dict[str | None, Value],
        node: ast.Call,
        frame: Frame,
    ) -> dict[str, Value]:
        spec = function.node.args
        positional = [*spec.posonlyargs, *spec.args]
        values = ([bound] if bound is not None else []) + list(args)
        env: dict[str, Value] = {}
        defaults = spec.defaults
        first_default = len(positional) - len(defaults)
        module_frame = Frame(function.module, function.module.env)
        for index, param in enumerate(positional):
            if index < len(values):
                value = values[index]
            elif param.arg in kwargs:
                value = kwargs[param.arg]
            elif index >= first_default:
                value = self.eval(defaults[index - first_default], module_frame)
            else:
                value = CLEAN
            env[param.arg] = value
        for param, default in zip(spec.kwonlyargs, spec.kw_defaults, strict=True):
            if param.arg in kwargs:
                env[param.arg] = kwargs[param.arg]
            else:
                env[param.arg] = self.eval(default, module_frame) if default else CLEAN
        if spec.vararg is not None:
            extra = values[len(positional) :]
            env[spec.vararg.arg] = Value(obj=Obj("tuple", items=list(extra), level=self.uncertain))
        if spec.kwarg is not None:
            names = {p.arg for p in (*positional, *spec.kwonlyargs)}
            rest = Obj("dict", level=self.uncertain)
            for name, value in kwargs.items():
                if name is None:
                    rest.rest = join_flows(rest.rest, value.deep_flow())
                elif name not in names:
                    rest.keyed[name] = value
            env[spec.kwarg.arg] = Value(obj=rest)
        for name, value in env.items():
            if value.flow is not None:
                step = location(
                    frame.module.path, node, f"argument {name} of {function.qualname}()"
                )
                env[name] = value.with_flow(value.flow.step(step))
        return env

    def instantiate(
        self,
        cls: ClassInfo,
        args: list[Value],
        kwargs: dict[str | None, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        instance = Value(obj=Obj("instance", cls=cls, level=self.uncertain))
        init = cls.lookup("__init__")
        if init is not None and isinstance(init.func, FunctionInfo):
            self.inline(init.func, instance, args, kwargs, node, frame)
        elif cls.dataclass_fields is not None:
            assert instance.obj is not None
            for name, value in zip(cls.dataclass_fields, args, strict=False):
                instance.obj.attrs[name] = value
            for keyword, value in kwargs.items():
                if keyword is not None:
                    instance.obj.attrs[keyword] = value
        else:
            assert instance.obj is not None
            for value in [*args, *kwargs.values()]:
                instance.obj.rest = join_flows(instance.obj.rest, value.deep_flow())
        return instance


def _receiver_matches(sink: Sink, receiver_qual: str | None) -> bool:
    if not sink.receivers:
        return True
    return receiver_qual is not None and receiver_qual.startswith(sink.receivers)


def _fold_method(receiver: Any, method: str, args: list[Value]) -> Value | None:
    if not isinstance(receiver, str | bytes) or not all(a.known for a in args):
        return None
    if method not in _PURE_STR_METHODS:
        return None
    try:
        result = getattr(receiver, method)(*(a.const for a in args))
    except Exception:
        return None
    if isinstance(result, str | bytes | int | bool) and len(str(result)) < 10_000:
        return const(result)
    return None


def _is_generator(function: FunctionInfo) -> bool:
    cached = function.generator
    if cached is None:
        cached = False
        node = function.node
        if not isinstance(node, ast.Lambda):
            pending: list[ast.AST] = list(node.body)
            while pending:
                current = pending.pop()
                if isinstance(current, ast.Yield | ast.YieldFrom):
                    cached = True
                    break
                if isinstance(
                    current, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
                ):
                    continue
                pending.extend(ast.iter_child_nodes(current))
        function.generator = cached
    return cached


def _decorated_static(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    if isinstance(node, ast.Lambda):
        return True
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


_PURE_STR_METHODS = frozenset(
    {"upper", "lower", "strip", "lstrip", "rstrip", "replace", "split", "join", "format",
     "startswith", "endswith", "encode", "decode", "capitalize", "title", "casefold", "zfill",
     "find", "index", "count", "isdigit", "isalpha", "center", "ljust", "rjust", "swapcase"}
)  # fmt: skip
