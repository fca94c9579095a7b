"""The taint engine: an abstract interpreter over Python's ``ast``.

Each module's top level runs once; then every function is analysed as an entry point (route
handlers and framework views with their parameters as sources). Calls to functions and classes of
the analysed tree are followed into their bodies with the actual abstract arguments (a
context-sensitive, depth-limited inter-procedural analysis across modules); calls that carry no
tainted data are summarised once per function and reused. Branches whose condition folds to a
constant run alone; others run both ways and their variables are joined. Lists, tuples and dicts
keep their elements (dicts by constant key) until an operation the engine does not follow.

Sources, sinks and sanitisers come only from the data tables in :mod:`sakimori.probe.models`.
The statement walker is :mod:`sakimori.probe.statements`; this module evaluates expressions and
calls.
"""

from __future__ import annotations

import ast
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from sakimori.probe import models
from sakimori.probe.findings import CodeFinding, fingerprint
from sakimori.probe.program import ClassInfo, FunctionInfo, ModuleInfo, Program
from sakimori.probe.rules import RULES
from sakimori.probe.values import (
    CLEAN,
    NOCONST,
    Flow,
    Obj,
    Value,
    const,
    join,
    join_flows,
    location,
)

MAX_DEPTH = 8
MAX_CONST_LENGTH = 10_000
_ALIASES = {"xml.etree.cElementTree": "xml.etree.ElementTree", "cgi.escape": "cgi.escape"}


class BudgetExceeded(Exception):
    """The per-file or per-run time or work budget ran out."""


@dataclass
class Frame:
    module: ModuleInfo
    env: dict[str, Value]
    function: FunctionInfo | None = None
    closure: dict[str, Value] | None = None
    returns: list[Value] = field(default_factory=list)
    globals_: set[str] = field(default_factory=set)
    yields: list[Value] = field(default_factory=list)
    yields_exact: bool = True  # every yield ran unconditionally, in order
    base_uncertain: int = 0


class Engine:
    """Findings of one program; statement execution is mixed in from ``statements``."""

    def __init__(
        self,
        program: Program,
        *,
        deadline: float,
        max_work: int = 2_000_000,
        local_sources: bool = False,
    ) -> None:
        self.program = program
        self.local_sources = local_sources
        self.deadline = deadline
        self.max_work = max_work
        self.work = 0
        self.uncertain = 0
        self.stack: list[FunctionInfo] = []
        self.findings: dict[str, CodeFinding] = {}
        self.memo: dict[Any, Value] = {}

    # -- budget ---------------------------------------------------------------------------------

    def tick(self) -> None:
        self.work += 1
        if self.work > self.max_work:
            raise BudgetExceeded("work budget")
        if self.work % 512 == 0 and time.monotonic() > self.deadline:
            raise BudgetExceeded("time budget")

    # -- statements are in sakimori.probe.statements ---------------------------------------------

    def exec_block(self, body: list[ast.stmt], frame: Frame) -> bool:
        raise NotImplementedError

    def assign(self, target: ast.expr, value: Value, frame: Frame, node: ast.AST) -> None:
        raise NotImplementedError

    # -- names ----------------------------------------------------------------------------------

    def lookup(self, name: str, frame: Frame, node: ast.AST) -> Value:
        if name in frame.env and name not in frame.globals_:
            value = frame.env[name]
        elif frame.closure is not None and name in frame.closure:
            value = frame.closure[name]
        elif name in frame.module.env:
            value = frame.module.env[name]
        else:
            value = Value(qual=name)
        return self.sourced(value, frame, node)

    def sourced(self, value: Value, frame: Frame, node: ast.AST) -> Value:
        if value.qual in models.SOURCES and value.flow is None:
            what, threat = models.SOURCES[value.qual]
            if threat == "local" and not self.local_sources:
                return value
            origin = location(frame.module.path, node, f"source: {what} ({value.qual})")
            return value.with_flow(Flow(what, origin))
        return value

    # -- expressions ----------------------------------------------------------------------------

    def eval(self, node: ast.expr | None, frame: Frame) -> Value:
        if node is None:
            return const(None)
        self.tick()
        if isinstance(node, ast.Constant):
            return const(node.value)
        if isinstance(node, ast.Name):
            return self.lookup(node.id, frame, node)
        if isinstance(node, ast.Attribute):
            return self.attribute(self.eval(node.value, frame), node.attr, frame, node)
        if isinstance(node, ast.Call):
            return self.call(node, frame)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.eval(node.left, frame), self.eval(node.right, frame))
        if isinstance(node, ast.JoinedStr):
            parts = [self.eval(v, frame) for v in node.values]
            flow = None
            for part in parts:
                flow = join_flows(flow, part.deep_flow())
            if all(p.known for p in parts):
                return Value(const="".join(str(p.const) for p in parts))
            return Value(flow=flow)
        if isinstance(node, ast.FormattedValue):
            value = self.eval(node.value, frame)
            if value.obj is not None and value.obj.kind == "instance":
                value = self.magic(value, "__str__", [], node, frame) or value
            if node.format_spec is not None:
                self.eval(node.format_spec, frame)
            return value if value.known else Value(flow=value.deep_flow())
        if isinstance(node, ast.Compare):
            return self.compare(node, frame)
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, frame)
        if isinstance(node, ast.UnaryOp):
            operand = self.eval(node.operand, frame)
            if operand.known:
                try:
                    folded = _UNARY[type(node.op)](operand.const)
                except Exception:
                    return Value(flow=operand.flow) if not isinstance(node.op, ast.Not) else CLEAN
                return const(folded)
            return CLEAN if isinstance(node.op, ast.Not) else Value(flow=operand.flow)
        if isinstance(node, ast.IfExp):
            test = self.eval(node.test, frame)
            if test.known:
                return self.eval(node.body if _truthy(test.const) else node.orelse, frame)
            return join(self.eval(node.body, frame), self.eval(node.orelse, frame))
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, frame)
            if base.obj is not None and base.obj.kind == "instance":
                index = self.eval(node.slice, frame)
                found = self.magic(base, "__getitem__", [index], node, frame)
                if found is not None:
                    return found
            return self.subscript(base, node.slice, frame)
        if isinstance(node, ast.List | ast.Tuple):
            return self.sequence(
                node.elts, frame, "list" if isinstance(node, ast.List) else "tuple"
            )
        if isinstance(node, ast.Set):
            obj = Obj("set", level=self.uncertain)
            for element in node.elts:
                obj.rest = join_flows(obj.rest, self.eval(element, frame).deep_flow())
            return Value(obj=obj)
        if isinstance(node, ast.Dict):
            obj = Obj("dict", level=self.uncertain)
            for key_node, value_node in zip(node.keys, node.values, strict=True):
                value = self.eval(value_node, frame)
                if key_node is None:
                    obj.rest = join_flows(obj.rest, value.deep_flow())
                    continue
                key = self.eval(key_node, frame)
                if key.known and _hashable(key.const):
                    obj.keyed[key.const] = value
                else:
                    obj.rest = join_flows(obj.rest, join_flows(key.flow, value.deep_flow()))
            return Value(obj=obj)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self.comprehension(node, frame)
        if isinstance(node, ast.Lambda):
            info = FunctionInfo(node, frame.module, "<lambda>", closure=dict(frame.env))
            return Value(func=info)
        if isinstance(node, ast.Await):
            return self.eval(node.value, frame)
        if isinstance(node, ast.Yield | ast.YieldFrom):
            value = self.eval(node.value, frame)
            if self.uncertain > frame.base_uncertain:
                frame.yields_exact = False
            if isinstance(node, ast.YieldFrom):
                items = value.obj.items if value.obj is not None else None
                if items is None:
                    frame.yields_exact = False
                    frame.yields.append(self.iterate(value, node, frame))
                else:
                    frame.yields.extend(items)
            else:
                frame.yields.append(value)
            return CLEAN
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value, frame)
            self.assign(node.target, value, frame, node)
            return value
        if isinstance(node, ast.Starred):
            return self.eval(node.value, frame)
        if isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper, node.step):
                if bound is not None:
                    self.eval(bound, frame)
            return CLEAN
        return CLEAN

    def sequence(self, elements: list[ast.expr], frame: Frame, kind: str) -> Value:
        obj = Obj(kind, items=[], level=self.uncertain)
        for element in elements:
            if isinstance(element, ast.Starred):
                inner = self.eval(element.value, frame)
                if inner.obj is not None and inner.obj.items is not None and obj.items is not None:
                    obj.items.extend(inner.obj.items)
                else:
                    obj.smash()
                    obj.rest = join_flows(obj.rest, inner.deep_flow())
            elif obj.items is not None:
                obj.items.append(self.eval(element, frame))
            else:
                obj.rest = join_flows(obj.rest, self.eval(element, frame).deep_flow())
        constant = as_const(Value(obj=obj))
        return Value(obj=obj, const=constant if kind == "tuple" else NOCONST)

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, frame: Frame
    ) -> Value:
        inner = Frame(frame.module, dict(frame.env), frame.function, frame.closure)
        for generator in node.generators:
            iterable = self.eval(generator.iter, inner)
            self.assign(
                generator.target, self.iterate(iterable, generator, inner), inner, generator
            )
            for condition in generator.ifs:
                self.eval(condition, inner)
        obj = Obj("dict" if isinstance(node, ast.DictComp) else "list", level=self.uncertain)
        if isinstance(node, ast.DictComp):
            obj.rest = join_flows(
                self.eval(node.key, inner).deep_flow(), self.eval(node.value, inner).deep_flow()
            )
        else:
            obj.rest = self.eval(node.elt, inner).deep_flow()
        return Value(obj=obj)

    def attribute(self, base: Value, name: str, frame: Frame, node: ast.AST) -> Value:
        if isinstance(base.func, ModuleInfo):
            module = base.func
            self.run_module(module)
            if name in module.env:
                return module.env[name]
            sub = self.program.modules.get(f"{module.name}.{name}")
            if sub is not None:
                return Value(func=sub)
            return CLEAN
        if base.obj is not None and base.obj.kind == "instance":
            if name in base.obj.attrs:
                return base.obj.attrs[name]
            cls = base.obj.cls
            if isinstance(cls, ClassInfo):
                found = cls.lookup(name)
                if found is not None:
                    if isinstance(found.func, FunctionInfo) and not _is_static(found.func):
                        return Value(func=found.func, bound=base)
                    return found
            return Value(flow=base.obj.rest)
        if isinstance(base.func, ClassInfo):
            found = base.func.lookup(name)
            return found if found is not None else CLEAN
        qual = f"{base.qual}.{name}" if base.qual else None
        if qual is not None:
            qual = _ALIASES.get(qual, qual)
            if qual in self.program.overrides:
                return self.program.overrides[qual]
        return self.sourced(Value(flow=base.flow, qual=qual, bound=base), frame, node)

    def subscript(self, base: Value, index_node: ast.expr, frame: Frame) -> Value:
        index = self.eval(index_node, frame)
        if base.known and index.known:
            with contextlib.suppress(Exception):  # folding failures leave the value unknown
                return const(base.const[index.const])
        obj = base.obj
        if obj is not None:
            if isinstance(index_node, ast.Slice):
                copy = Obj("list", rest=obj.deep_flow(), level=self.uncertain)
                return Value(obj=copy)
            if obj.kind == "dict":
                if index.known and _hashable(index.const) and index.const in obj.keyed:
                    return obj.keyed[index.const]
                flow = obj.rest
                if not index.known:
                    for value in obj.keyed.values():
                        flow = join_flows(flow, value.deep_flow())
                return Value(flow=flow)
            if obj.items is not None and index.known and isinstance(index.const, int):
                try:
                    return obj.items[index.const]
                except IndexError:
                    return Value(flow=obj.rest)
            return element_of(base)
        return Value(flow=join_flows(base.flow, None), qual=None)

    def binop(self, op: ast.operator, left: Value, right: Value) -> Value:
        if left.known and right.known:
            try:
                folded = _BINARY[type(op)](left.const, right.const)
            except Exception:
                folded = NOCONST
            if folded is not NOCONST and not (
                isinstance(folded, str | bytes | tuple) and len(folded) > MAX_CONST_LENGTH
            ):
                return const(folded)
        if (
            left.obj is not None
            and right.obj is not None
            and isinstance(op, ast.Add)
            and left.obj.items is not None
            and right.obj.items is not None
        ):
            return Value(
                obj=Obj(
                    left.obj.kind,
                    items=[*left.obj.items, *right.obj.items],
                    level=self.uncertain,
                )
            )
        return Value(flow=join_flows(left.deep_flow(), right.deep_flow()))

    def compare(self, node: ast.Compare, frame: Frame) -> Value:
        values = [self.eval(node.left, frame)] + [self.eval(c, frame) for c in node.comparators]
        constants = [as_const(v) for v in values]
        if all(c is not NOCONST for c in constants):
            try:
                result = all(
                    _COMPARE[type(op)](constants[i], constants[i + 1])
                    for i, op in enumerate(node.ops)
                )
            except Exception:
                return CLEAN
            return const(result)
        return CLEAN

    def boolop(self, node: ast.BoolOp, frame: Frame) -> Value:
        result: Value | None = None
        is_or = isinstance(node.op, ast.Or)
        for operand_node in node.values:
            operand = self.eval(operand_node, frame)
            if operand.known:
                if _truthy(operand.const) == is_or:
                    return operand if result is None else join(result, operand)
                continue
            result = operand if result is None else join(result, operand)
        return result if result is not None else const(not is_or)

    # -- calls are in sakimori.probe.calls ------------------------------------------------------

    def magic(
        self, value: Value, name: str, args: list[Value], node: ast.AST, frame: Frame
    ) -> Value | None:
        """The result of an in-tree special method (``__getitem__``, ``__str__``…), if defined."""
        raise NotImplementedError

    def iterate(self, value: Value, node: ast.AST, frame: Frame) -> Value:
        """What a ``for`` loop over ``value`` binds, through ``__iter__`` when defined."""
        if value.obj is not None and value.obj.kind == "instance":
            iterator = self.magic(value, "__iter__", [], node, frame)
            if iterator is not None:
                following = self.magic(iterator, "__next__", [], node, frame)
                return following if following is not None else element_of(iterator)
        return element_of(value)

    def call(self, node: ast.Call, frame: Frame) -> Value:
        raise NotImplementedError

    def run_module(self, module: ModuleInfo) -> None:
        raise NotImplementedError

    # -- findings -------------------------------------------------------------------------------

    def report(
        self, cwe: int, node: ast.AST, frame: Frame, what: str, flow: Flow | None = None
    ) -> None:
        if flow is not None and cwe in flow.cleared:
            return
        rule = RULES[cwe]
        path = frame.module.path
        function = frame.function.qualname if frame.function is not None else "<module>"
        expression = ast.unparse(node.func if isinstance(node, ast.Call) else node)[:200]
        sink = location(path, node, f"sink: {what}")
        if flow is not None:
            source_kind = f"{flow.origin.path}:{flow.source}"
            message = (
                f"{rule.short}: {flow.source} (line {flow.origin.line}"
                f"{'' if flow.origin.path == path else ' of ' + flow.origin.path}) reaches "
                f"{what} in {expression}"
            )
        else:
            source_kind = ""
            message = f"{rule.short}: {what} in {expression}"
        key = fingerprint(path, rule.id, function, expression, source_kind)
        if key in self.findings:
            return
        self.findings[key] = CodeFinding(
            rule_id=rule.id,
            cwe=cwe,
            message=message,
            path=path,
            sink=sink,
            source=flow.origin if flow is not None else None,
            steps=flow.steps if flow is not None else (),
            function=function,
            sink_expression=expression,
            source_kind=flow.source if flow is not None else "",
            fingerprint=key,
        )


def element_of(value: Value) -> Value:
    """What iterating over ``value`` yields."""
    obj = value.obj
    if obj is None:
        if value.known and isinstance(value.const, str | bytes | tuple) and value.const:
            return CLEAN
        return Value(flow=value.flow)
    if obj.kind == "dict":
        flow = obj.rest
        for key in obj.keyed:
            if not isinstance(key, str | int | float | bytes | bool | None):
                flow = join_flows(flow, None)
        return Value(flow=flow)
    if obj.items is not None and obj.items:
        result = obj.items[0]
        for item in obj.items[1:]:
            result = join(result, item)
        return result.with_flow(join_flows(result.flow, obj.rest)) if obj.rest else result
    return Value(flow=obj.rest)


def as_const(value: Value) -> Any:
    """The constant a value holds (tuples, lists and sets of constants included), or NOCONST."""
    if value.known:
        return value.const
    obj = value.obj
    if (
        obj is not None
        and obj.kind in {"list", "tuple"}
        and obj.items is not None
        and obj.rest is None
        and all(item.known for item in obj.items)
    ):
        return tuple(item.const for item in obj.items)
    return NOCONST


def _truthy(value: object) -> bool:
    try:
        return bool(value)
    except Exception:
        return True


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _is_static(function: FunctionInfo) -> bool:
    node = function.node
    if isinstance(node, ast.Lambda):
        return False
    return any(
        isinstance(d, ast.Name) and d.id in {"staticmethod", "classmethod"}
        for d in node.decorator_list
    )


def _contains(a: Any, b: Any) -> bool:
    return bool(a in b)


_BINARY: dict[type, Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: (
        a * b
        if not (isinstance(a, str | bytes) or isinstance(b, str | bytes))
        or abs(a if isinstance(a, int) else b) < MAX_CONST_LENGTH
        else NOCONST
    ),
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b if abs(b) < 64 else NOCONST,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitXor: lambda a, b: a ^ b,
    ast.LShift: lambda a, b: a << b if b < 64 else NOCONST,
    ast.RShift: lambda a, b: a >> b,
}
_UNARY: dict[type, Any] = {
    ast.Not: lambda a: not a,
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
    ast.Invert: lambda a: ~a,
}
_COMPARE: dict[type, Any] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: _contains,
    ast.NotIn: lambda a, b: not _contains(a, b),
    ast.Is: lambda a, b: a is b if a is None or b is None else a == b,
    ast.IsNot: lambda a, b: a is not b if a is None or b is None else a != b,
}
