"""The analysed tree as the engine sees it: modules, functions, classes, and name resolution."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from sakimori.probe.values import Obj, Value


@dataclass(eq=False)
class ModuleInfo:
    name: str  # dotted, from the path relative to the root
    path: str  # relative, forward slashes
    tree: ast.Module
    lines: list[str]
    env: dict[str, Value] = field(default_factory=dict)
    state: str = "new"  # new, running, done
    packages: set[str] = field(default_factory=set)  # top-level packages imported
    functions: list[FunctionInfo] = field(default_factory=list)


@dataclass(eq=False)
class FunctionInfo:
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    module: ModuleInfo
    qualname: str
    cls: ClassInfo | None = None
    closure: dict[str, Value] | None = None
    route: bool = False
    request_parameter: bool = False
    generator: bool | None = None  # computed on first call


@dataclass(eq=False)
class ClassInfo:
    node: ast.ClassDef
    module: ModuleInfo
    qualname: str
    bases: list[ClassInfo] = field(default_factory=list)
    namespace: Obj = field(default_factory=lambda: Obj("class"))
    dataclass_fields: list[str] | None = None

    def lookup(self, name: str, seen: set[int] | None = None) -> Value | None:
        """A class attribute or method, following in-tree base classes in order."""
        if name in self.namespace.attrs:
            return self.namespace.attrs[name]
        seen = seen if seen is not None else set()
        seen.add(id(self))
        for base in self.bases:
            if id(base) not in seen:
                found = base.lookup(name, seen)
                if found is not None:
                    return found
        return None


class Program:
    """Every module of the tree, by dotted name, with the lookups imports need."""

    def __init__(self, modules: list[ModuleInfo]) -> None:
        self.modules: dict[str, ModuleInfo] = {}
        self.by_tail: dict[str, list[ModuleInfo]] = {}
        for module in modules:
            self.modules[module.name] = module
            self.by_tail.setdefault(module.name.rsplit(".", 1)[-1], []).append(module)
        #: Attributes of external modules replaced by the analysed code (monkey patching).
        self.overrides: dict[str, Value] = {}

    def resolve(self, name: str, importer: ModuleInfo, level: int = 0) -> ModuleInfo | None:
        """The in-tree module an import names, or None for an external one."""
        package = importer.name.rsplit(".", 1)[0] if "." in importer.name else ""
        if importer.path.endswith("__init__.py"):
            package = importer.name
        if level:
            parts = package.split(".") if package else []
            if level - 1 > len(parts):
                return None
            base = parts[: len(parts) - (level - 1)]
            dotted = ".".join([*base, name] if name else base)
            return self.modules.get(dotted)
        if name in self.modules:
            return self.modules[name]
        if package and f"{package}.{name}" in self.modules:
            return self.modules[f"{package}.{name}"]
        return None

    def module_of_qual(self, qual: str) -> ModuleInfo | None:
        return self.modules.get(qual)


def is_route_decorator(qual: str | None, routes: Any) -> bool:
    if not qual or "." not in qual:
        return False
    owner, method = qual.rsplit(".", 1)
    return any(owner in apps and method in methods for apps, methods in routes)
