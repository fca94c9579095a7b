"""Statements: assignments, branches (constant-folded where possible), loops, definitions."""

from __future__ import annotations

import ast
from typing import Any

from sakimori.probe import models
from sakimori.probe.engine import Engine, Frame, as_const, element_of
from sakimori.probe.program import ClassInfo, FunctionInfo, is_route_decorator
from sakimori.probe.values import CLEAN, Flow, Obj, Value, join, join_flows, location

_TERMINATING_CALLS = frozenset({"abort", "flask.abort", "sys.exit", "exit", "quit"})


def join_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    if len(envs) == 1:
        return envs[0]
    merged = dict(envs[0])
    for env in envs[1:]:
        for name, value in env.items():
            merged[name] = join(merged[name], value) if name in merged else value
    return merged


class Statements(Engine):
    def exec_block(self, body: list[ast.stmt], frame: Frame) -> bool:
        return all(self.exec_stmt(statement, frame) for statement in body)

    def branch(self, body: list[ast.stmt], frame: Frame, env: dict[str, Value]) -> bool:
        """Run ``body`` on ``env`` (a copy the caller owns) as a path that may not be taken."""
        saved = frame.env
        frame.env = env
        self.uncertain += 1
        try:
            return self.exec_block(body, frame)
        finally:
            self.uncertain -= 1
            frame.env = saved

    def exec_stmt(self, node: ast.stmt, frame: Frame) -> bool:
        self.tick()
        if isinstance(node, ast.Expr):
            value = self.eval(node.value, frame)
            return not (isinstance(node.value, ast.Call) and value.qual in _TERMINATING_CALLS)
        if isinstance(node, ast.Assign):
            value = self.eval(node.value, frame)
            for target in node.targets:
                self.assign(target, value, frame, node)
            return True
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.eval(node.value, frame), frame, node)
            return True
        if isinstance(node, ast.AugAssign):
            current = self.eval(_as_load(node.target), frame)
            value = self.binop(node.op, current, self.eval(node.value, frame))
            if current.obj is not None and isinstance(node.op, ast.Add):
                other = self.eval(node.value, frame)
                self.extend(current.obj, other)
                return True
            self.assign(node.target, value, frame, node)
            return True
        if isinstance(node, ast.If):
            return self.exec_if(node, frame)
        if isinstance(node, ast.While):
            test = self.eval(node.test, frame)
            if test.known and not test.const:
                return self.exec_block(node.orelse, frame)
            self.loop(node.body, frame, None)
            self.exec_block(node.orelse, frame)
            return True
        if isinstance(node, ast.For | ast.AsyncFor):
            iterable = self.eval(node.iter, frame)
            self.loop(node.body, frame, (node.target, self.iterate(iterable, node, frame)))
            self.exec_block(node.orelse, frame)
            return True
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                value = self.eval(item.context_expr, frame)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, value, frame, item.context_expr)
            return self.exec_block(node.body, frame)
        if isinstance(node, ast.Try | ast.TryStar):
            return self.exec_try(node, frame)
        if isinstance(node, ast.Return):
            value = self.eval(node.value, frame) if node.value is not None else CLEAN
            if frame.function is not None and frame.function.route:
                self.route_return(value, node, frame)
            frame.returns.append(value)
            return False
        if isinstance(node, ast.Raise):
            self.eval(node.exc, frame) if node.exc is not None else None
            return False
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.define_function(node, frame, None)
            return True
        if isinstance(node, ast.ClassDef):
            self.define_class(node, frame)
            return True
        if isinstance(node, ast.Import | ast.ImportFrom):
            self.do_import(node, frame)
            return True
        if isinstance(node, ast.Global | ast.Nonlocal):
            frame.globals_.update(node.names) if isinstance(node, ast.Global) else None
            return True
        if isinstance(node, ast.Match):
            subject = self.eval(node.subject, frame)
            chosen = _constant_case(node, subject) if subject.known else None
            if chosen is not None:
                return self.exec_block(chosen.body, frame) if chosen is not _NO_CASE else True
            envs = [frame.env]
            for case in node.cases:
                env = dict(frame.env)
                for name in _capture_names(case.pattern):
                    env[name] = subject
                if self.branch(case.body, frame, env):
                    envs.append(env)
            _replace(frame, join_envs(envs))
            return True
        if isinstance(node, ast.Assert):
            self.eval(node.test, frame)
            return True
        if isinstance(node, ast.Delete | ast.Pass | ast.Break | ast.Continue):
            return True
        return True

    def exec_if(self, node: ast.If, frame: Frame) -> bool:
        test = self.eval(node.test, frame)
        if test.known:
            return self.exec_block(node.body if test.const else node.orelse, frame)
        body_env, else_env = dict(frame.env), dict(frame.env)
        self.refine(node.test, body_env, else_env, frame)
        envs = []
        if self.branch(node.body, frame, body_env):
            envs.append(body_env)
        if self.branch(node.orelse, frame, else_env):
            envs.append(else_env)
        if not envs:
            return False
        _replace(frame, join_envs(envs))
        return True

    def refine(
        self, test: ast.expr, yes: dict[str, Value], no: dict[str, Value], frame: Frame
    ) -> None:
        """Allow-list checks: ``x in CONSTANTS`` / ``x == 'c'`` make ``x`` safe where it holds."""
        negate = False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, negate = test.operand, True
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return
        if not isinstance(test.left, ast.Name):
            return
        op = test.ops[0]
        if not isinstance(op, ast.In | ast.NotIn | ast.Eq | ast.NotEq):
            return
        allowed = as_const(self.eval(test.comparators[0], frame))
        if allowed is None or allowed is CLEAN.const:
            return
        if isinstance(op, ast.In | ast.NotIn) and not isinstance(allowed, tuple | frozenset):
            return
        target = yes if isinstance(op, ast.In | ast.Eq) != negate else no
        name = test.left.id
        if isinstance(op, ast.Eq | ast.NotEq):
            target[name] = Value(const=allowed)
        elif name in target:
            current = target[name]
            flow = current.flow.clear(models.ALL) if current.flow is not None else None
            target[name] = current.with_flow(flow)

    def loop(
        self, body: list[ast.stmt], frame: Frame, target: tuple[ast.expr, Value] | None
    ) -> None:
        env = frame.env
        for _ in range(2):
            run = dict(env)
            if target is not None:
                saved = frame.env
                frame.env = run
                self.uncertain += 1
                try:
                    self.assign(target[0], target[1], frame, target[0])
                finally:
                    self.uncertain -= 1
                    frame.env = saved
            self.branch(body, frame, run)
            env = join_envs([env, run])
        _replace(frame, env)

    def exec_try(self, node: ast.Try | ast.TryStar, frame: Frame) -> bool:
        before = dict(frame.env)
        falls = self.exec_block(node.body, frame)
        envs = [frame.env] if falls else []
        for handler in node.handlers:
            env = join_envs([before, frame.env])
            if handler.name:
                env[handler.name] = CLEAN
            if self.branch(handler.body, frame, env):
                envs.append(env)
        if falls and node.orelse:
            falls = self.exec_block(node.orelse, frame)
            envs[0] = dict(frame.env)
        if envs:
            _replace(frame, join_envs(envs))
        finals = self.exec_block(node.finalbody, frame)
        return bool(envs) and finals

    # -- assignment -----------------------------------------------------------------------------

    def assign(self, target: ast.expr, value: Value, frame: Frame, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if value.flow is not None:
                step = location(frame.module.path, node, f"{target.id} = ...")
                value = value.with_flow(value.flow.step(step))
            env = frame.module.env if target.id in frame.globals_ else frame.env
            env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = value.obj.items if value.obj is not None else None
            plain = [e for e in target.elts if not isinstance(e, ast.Starred)]
            if items is not None and len(items) == len(target.elts) == len(plain):
                for element, item in zip(target.elts, items, strict=True):
                    self.assign(element, item, frame, node)
            else:
                each = element_of(value)
                for element in target.elts:
                    inner = element.value if isinstance(element, ast.Starred) else element
                    self.assign(inner, each, frame, node)
        elif isinstance(target, ast.Attribute):
            self.assign_attribute(target, value, frame, node)
        elif isinstance(target, ast.Subscript):
            self.assign_item(target, value, frame, node)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, frame, node)

    def assign_attribute(
        self, target: ast.Attribute, value: Value, frame: Frame, node: ast.AST
    ) -> None:
        base = self.eval(target.value, frame)
        if base.obj is not None and base.obj.kind in {"instance", "class"}:
            old = base.obj.attrs.get(target.attr)
            weak = self.uncertain > base.obj.level
            base.obj.attrs[target.attr] = join(old, value) if weak and old else value
            return
        if isinstance(base.func, ClassInfo):
            base.func.namespace.attrs[target.attr] = value
            return
        if base.qual is not None and base.obj is None and base.flow is None:
            self.program.overrides[f"{base.qual}.{target.attr}"] = value
        sink = models.ATTRIBUTE_SINKS.get(target.attr)
        flow = value.deep_flow()
        if sink is not None and flow is not None and base.obj is None:
            self.report(sink.cwe, node, frame, sink.what, flow)

    def assign_item(self, target: ast.Subscript, value: Value, frame: Frame, node: ast.AST) -> None:
        base = self.eval(target.value, frame)
        key = self.eval(target.slice, frame)
        flow = value.deep_flow()
        if flow is not None and (
            base.qual in models.TRUST_BOUNDARY
            or (
                isinstance(target.value, ast.Attribute)
                and target.value.attr == "session"
                and base.flow is not None
            )
        ):
            self.report(501, node, frame, "session attribute", flow)
        obj = base.obj
        if obj is None:
            return
        if obj.kind == "dict" and key.known and not isinstance(target.slice, ast.Slice):
            try:
                old = obj.keyed.get(key.const)
            except TypeError:
                obj.rest = join_flows(obj.rest, flow)
                return
            weak = self.uncertain > obj.level
            obj.keyed[key.const] = join(old, value) if weak and old else value
        elif (
            obj.items is not None
            and key.known
            and isinstance(key.const, int)
            and -len(obj.items) <= key.const < len(obj.items)
            and self.uncertain <= obj.level
        ):
            obj.items[key.const] = value
        else:
            obj.smash()
            obj.rest = join_flows(obj.rest, join_flows(flow, key.flow))

    def extend(self, obj: Obj, other: Value) -> None:
        items = other.obj.items if other.obj is not None else None
        if obj.items is not None and items is not None and self.uncertain <= obj.level:
            obj.items.extend(items)
            obj.rest = join_flows(obj.rest, other.obj.rest if other.obj else None)
        else:
            obj.smash()
            obj.rest = join_flows(obj.rest, other.deep_flow() or element_of(other).flow)

    # -- definitions ----------------------------------------------------------------------------

    def define_function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, frame: Frame, cls: ClassInfo | None
    ) -> Value:
        owner = cls.qualname + "." if cls is not None else ""
        if frame.function is not None and cls is None:
            owner = frame.function.qualname + "."
        closure = frame.env if frame.function is not None and cls is None else None
        info = FunctionInfo(node, frame.module, owner + node.name, cls=cls, closure=closure)
        for decorator in node.decorator_list:
            callee = decorator.func if isinstance(decorator, ast.Call) else decorator
            value = self.eval(callee, frame)
            if is_route_decorator(value.qual, models.ROUTES):
                info.route = True
        info.request_parameter = any(
            package in frame.module.packages for package in models.REQUEST_PARAMETER_PACKAGES
        )
        frame.module.functions.append(info)
        result = Value(func=info)
        if cls is None:
            frame.env[node.name] = result
        return result

    def define_class(self, node: ast.ClassDef, frame: Frame) -> None:
        info = ClassInfo(node, frame.module, node.name)
        for base_node in node.bases:
            base = self.eval(base_node, frame)
            if isinstance(base.func, ClassInfo):
                info.bases.append(base.func)
        info.namespace.cls = info
        decorators = [ast.unparse(d) for d in node.decorator_list]
        if any("dataclass" in d for d in decorators):
            info.dataclass_fields = [
                s.target.id
                for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            ]
        inner = Frame(frame.module, {}, frame.function, frame.closure)
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                info.namespace.attrs[statement.name] = self.define_function(statement, inner, info)
            elif isinstance(statement, ast.Assign | ast.AnnAssign):
                value = self.eval(statement.value, inner) if statement.value else CLEAN
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                for target in targets:
                    if isinstance(target, ast.Name):
                        info.namespace.attrs[target.id] = value
            elif isinstance(statement, ast.ClassDef):
                self.define_class(statement, inner)
        frame.env[node.name] = Value(func=info, obj=info.namespace)

    def do_import(self, node: ast.Import | ast.ImportFrom, frame: Frame) -> None:
        module = frame.module
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.packages.add(alias.name.split(".")[0])
                local = self.program.resolve(alias.name, module)
                if alias.asname:
                    frame.env[alias.asname] = Value(func=local) if local else Value(qual=alias.name)
                else:
                    top = alias.name.split(".")[0]
                    found = self.program.resolve(top, module)
                    frame.env[top] = Value(func=found) if found else Value(qual=top)
            return
        name = node.module or ""
        if not node.level:
            module.packages.add(name.split(".")[0])
        local = self.program.resolve(name, module, node.level)
        if local is not None and local is not module:
            self.run_module(local)
        for alias in node.names:
            if alias.name == "*":
                if local is not None:
                    for key, value in local.env.items():
                        if not key.startswith("_"):
                            frame.env[key] = value
                continue
            bound = alias.asname or alias.name
            if local is not None:
                if alias.name in local.env:
                    frame.env[bound] = local.env[alias.name]
                    continue
                sub = self.program.resolve(f"{local.name}.{alias.name}", module)
                frame.env[bound] = Value(func=sub) if sub else CLEAN
                continue
            qual = f"{name}.{alias.name}" if name else alias.name
            frame.env[bound] = Value(qual=qual)

    def route_return(self, value: Value, node: ast.Return, frame: Frame) -> None:
        body = value
        if value.obj is not None and value.obj.kind == "tuple" and value.obj.items:
            body = value.obj.items[0]
        if body.obj is not None and body.obj.kind in ("dict", "list"):
            return  # the frameworks serialise a returned dict or list as JSON, not HTML
        flow = body.deep_flow()
        if flow is not None and body.qual is None:
            self.report(79, node, frame, "HTTP response body returned by a route", flow)


def _replace(frame: Frame, env: dict[str, Value]) -> None:
    """Make ``env`` the frame's variables, in place (a module's frame is its globals)."""
    if env is not frame.env:
        merged = dict(env)
        frame.env.clear()
        frame.env.update(merged)


def _as_load(target: ast.expr) -> ast.expr:
    return target


_NO_CASE = ast.match_case(pattern=ast.MatchAs(), body=[])


def _constant_case(node: ast.Match, subject: Value) -> ast.match_case | None:
    """The case a constant subject takes (``_NO_CASE``: none), or None when it is not certain."""
    for case in node.cases:
        if case.guard is not None:
            return None
        decided = _matches(case.pattern, subject.const)
        if decided is None:
            return None
        if decided:
            return case
    return _NO_CASE


def _matches(pattern: ast.pattern, value: Any) -> bool | None:
    if isinstance(pattern, ast.MatchAs):
        return True if pattern.pattern is None and pattern.name is None else None
    if isinstance(pattern, ast.MatchValue) and isinstance(pattern.value, ast.Constant):
        return bool(pattern.value.value == value) and type(pattern.value.value) is type(value)
    if isinstance(pattern, ast.MatchSingleton):
        return pattern.value is value
    if isinstance(pattern, ast.MatchOr):
        results = [_matches(p, value) for p in pattern.patterns]
        if any(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None
    return None


def _capture_names(pattern: ast.pattern) -> list[str]:
    names = []
    for child in ast.walk(pattern):
        name = getattr(child, "name", None)
        if isinstance(name, str):
            names.append(name)
    return names


__all__ = ["Flow", "Statements", "join_envs"]
