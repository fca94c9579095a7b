"""Abstract values of the taint engine: what a Python expression may hold.

A :class:`Value` carries at most one :class:`Flow` (the evidence that attacker-controlled data
may be in it, with the path it took), a constant when one is known (so that branches decided by
constants are followed exactly), the qualified name of what it refers to outside the analysed tree
(``os.popen``, ``flask.request``, ``sqlite3.connect().cursor()``), an in-tree function or class, and
a heap object (:class:`Obj`) for containers and instances whose contents are tracked element by
element. Values are immutable; heap objects are mutable and shared, like Python's own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import Any

#: Longest path kept on a flow; later steps replace the middle ones.
MAX_STEPS = 24


class _NoConst:
    """Marker: no constant is known."""

    _instance: _NoConst | None = None

    def __repr__(self) -> str:
        return "NOCONST"


NOCONST: Any = _NoConst()


@dataclass(frozen=True)
class Step:
    """One place a tainted value passed through."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    note: str


@dataclass(frozen=True)
class Flow:
    """Evidence that a value may carry data from a source, and the way it came."""

    source: str
    origin: Step
    steps: tuple[Step, ...] = ()
    cleared: frozenset[int] = frozenset()

    def step(self, step: Step) -> Flow:
        if self.steps and self.steps[-1] == step:
            return self
        steps = (*self.steps, step)
        if len(steps) > MAX_STEPS:
            steps = (*steps[:4], *steps[-(MAX_STEPS - 4) :])
        return replace(self, steps=steps)

    def clear(self, cwes: frozenset[int]) -> Flow:
        return replace(self, cleared=self.cleared | cwes)


def join_flows(a: Flow | None, b: Flow | None) -> Flow | None:
    """Either flow; when both exist, the first, safe only for what both were sanitised against."""
    if a is None:
        return b
    if b is None or a is b:
        return a
    if a.cleared == b.cleared:
        return a
    return replace(a, cleared=a.cleared & b.cleared)


@dataclass(eq=False)
class Obj:
    """A heap object: a container with tracked elements, an instance, or a class."""

    kind: str  # list, tuple, dict, set, instance, class
    items: list[Value] | None = None  # exact sequence, when known
    keyed: dict[Any, Value] = field(default_factory=dict)  # dict entries by constant key
    attrs: dict[str, Value] = field(default_factory=dict)
    rest: Flow | None = None  # taint of elements whose place is unknown
    cls: Any = None  # the ClassInfo of an instance or class
    level: int = 0  # branch nesting where it was created: deeper writes are weak

    def deep_flow(self, depth: int = 3) -> Flow | None:
        flow = self.rest
        if depth <= 0:
            return flow
        for value in (*(self.items or ()), *self.keyed.values(), *self.attrs.values()):
            flow = join_flows(flow, value.deep_flow(depth - 1))
        return flow

    def smash(self) -> None:
        """Forget element order (after an operation the engine does not follow exactly)."""
        if self.items is not None:
            for value in self.items:
                self.rest = join_flows(self.rest, value.deep_flow())
            self.items = None


@dataclass(frozen=True)
class Value:
    """What an expression may evaluate to."""

    flow: Flow | None = None
    const: Any = NOCONST
    qual: str | None = None
    func: Any = None  # FunctionInfo or ClassInfo from the engine
    obj: Obj | None = None
    bound: Value | None = None  # the receiver of a bound method

    @property
    def known(self) -> bool:
        return self.const is not NOCONST

    def deep_flow(self, depth: int = 3) -> Flow | None:
        flow = self.flow
        if self.obj is not None and self.obj.kind != "class":
            flow = join_flows(flow, self.obj.deep_flow(depth))
        return flow

    def with_flow(self, flow: Flow | None) -> Value:
        return replace(self, flow=flow)


CLEAN = Value()


def const(value: object) -> Value:
    return Value(const=value)


def join(a: Value, b: Value) -> Value:
    """The value of a variable that holds ``a`` on one path and ``b`` on another."""
    if a is b:
        return a
    constant = a.const if (a.known and b.known and _same(a.const, b.const)) else NOCONST
    obj = a.obj if a.obj is b.obj else None
    flow = join_flows(a.flow, b.flow)
    if obj is None and (a.obj is not None or b.obj is not None):
        flow = join_flows(a.deep_flow(), b.deep_flow())
        if a.obj is not None and b.obj is None and b.flow is None and not b.known:
            obj = a.obj
        elif b.obj is not None and a.obj is None and a.flow is None and not a.known:
            obj = b.obj
    return Value(
        flow=flow,
        const=constant,
        qual=a.qual if a.qual == b.qual else None,
        func=a.func if a.func is b.func else (a.func or b.func),
        obj=obj,
        bound=a.bound if a.bound is b.bound else (a.bound or b.bound),
    )


def _same(a: object, b: object) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def location(path: str, node: ast.AST, note: str) -> Step:
    line = getattr(node, "lineno", 1)
    column = getattr(node, "col_offset", 0)
    end_line = getattr(node, "end_lineno", None) or line
    end_column = getattr(node, "end_col_offset", None)
    if end_column is None:
        end_column = column
    return Step(path, line, column, end_line, end_column, note)
