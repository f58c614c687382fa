"""gateway/'s source as data: modules, what each imports and binds, and the metric names
an expression can evaluate to (:func:`names_of`).

A name is a string, a conditional, a module constant (its own or imported), or an
f-string whose ``{….code}`` is any ``GatewayError`` code of gateway/ or adapters/
(:func:`error_codes`). Anything else raises :class:`Unresolved`: the test must learn it
rather than guess.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from itertools import product
from pathlib import Path

from infra.settings import REPO_ROOT

PACKAGES = ("gateway",)
"""Where metrics are emitted (the handlers' code)."""
CODE_SOURCES = ("gateway", "adapters")
"""Where error codes come from (an adapter's refusal is counted as ``Rejected_<code>``)."""
ERROR_BASE = "GatewayError"


class Unresolved(Exception):
    """The source holds an emission the test cannot read: resolve it, or teach the test."""


def module_name(path: Path) -> str:
    """``gateway/api/app.py`` → ``gateway.api.app``; a package's ``__init__`` → the package."""
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def sources(packages: tuple[str, ...] = PACKAGES) -> dict[str, ast.Module]:
    """Every module of ``packages``, parsed."""
    found = {}
    for package in packages:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            found[module_name(path)] = ast.parse(path.read_text(), str(path))
    return found


@cache
def imports(module: str) -> dict[str, tuple[str, str | None]]:
    """Local name → (module, attribute) for ``from m import a as b``; (m, None) for
    ``import m as b``."""
    bound: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(sources()[module]):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = (alias.name, None)
    return bound


def imported_modules(module: str) -> set[str]:
    """The gateway modules ``module`` imports, eagerly, lazily or by ``import_module``."""
    modules = sources()
    found: set[str] = set()
    for node in ast.walk(modules[module]):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
        for name in names:
            parts = name.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return found & set(modules)


@cache
def reachable(module: str) -> frozenset[str]:
    """Every gateway module a Lambda whose handler lives in ``module`` may run."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imported_modules(current) - seen)
    return frozenset(seen)


@cache
def constants(module: str) -> dict[str, str]:
    """The module-level string constants of ``module``."""
    return {
        target.id: node.value.value
        for node in sources()[module].body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _class_codes(node: ast.ClassDef) -> Iterator[str]:
    """``code = "x"``, ``code: str = "x"`` and ``status, code = 400, "x"`` in a class body."""
    for statement in node.body:
        pairs: list[tuple[ast.expr, ast.expr | None]] = []
        if isinstance(statement, ast.AnnAssign):
            pairs = [(statement.target, statement.value)]
        elif isinstance(statement, ast.Assign):
            assigned = statement.value
            for target in statement.targets:
                if isinstance(target, ast.Tuple) and isinstance(assigned, ast.Tuple):
                    pairs += list(zip(target.elts, assigned.elts, strict=False))
                else:
                    pairs.append((target, assigned))
        for name, value in pairs:
            if getattr(name, "id", None) == "code" and isinstance(value, ast.Constant):
                yield str(value.value)


@cache
def error_codes() -> frozenset[str]:
    """Every ``code`` a ``GatewayError`` can carry: class attributes of its subclasses, and
    ``code="…"`` where one is raised."""
    trees = list(sources(CODE_SOURCES).values())
    classes = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.ClassDef)]
    errors, grown = {ERROR_BASE}, True
    while grown:
        more = {
            c.name
            for c in classes
            if {getattr(b, "id", getattr(b, "attr", "")) for b in c.bases} & errors
        }
        grown, errors = not more <= errors, errors | more
    codes = {code for c in classes if c.name in errors for code in _class_codes(c)}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in errors:
                codes |= {
                    str(k.value.value)
                    for k in node.keywords
                    if k.arg == "code" and isinstance(k.value, ast.Constant)
                }
    return frozenset(codes)


def names_of(node: ast.expr, module: str) -> frozenset[str]:
    """Every metric name ``node`` (in ``module``) can evaluate to."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return frozenset({node.value})
    if isinstance(node, ast.IfExp):
        return names_of(node.body, module) | names_of(node.orelse, module)
    if isinstance(node, ast.Name):
        origin, attribute = imports(module).get(node.id, (module, node.id))
        if origin in sources() and attribute in constants(origin):
            return frozenset({constants(origin)[attribute]})
    if isinstance(node, ast.JoinedStr):
        parts = [_part(value, module) for value in node.values]
        return frozenset("".join(choice) for choice in product(*parts))
    raise Unresolved(f"{_where(node, module)}: cannot tell which metric {ast.unparse(node)} is")


def _part(node: ast.expr, module: str) -> list[str]:
    if isinstance(node, ast.Constant):
        return [str(node.value)]
    if isinstance(node, ast.FormattedValue) and getattr(node.value, "attr", None) == "code":
        return sorted(error_codes())
    raise Unresolved(f"{_where(node, module)}: cannot enumerate {ast.unparse(node)}")


def _where(node: ast.AST, module: str) -> str:
    return f"{module}:{getattr(node, 'lineno', '?')}"
