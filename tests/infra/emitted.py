"""What the code emits, read off gateway/'s source: every metric name, and by which path.

An emission path (:class:`Channel`) is a Powertools ``Metrics`` instance (a module-level
``Metrics(...)``) or a hand-written EMF writer (a function that builds a
``CloudWatchMetrics`` document). A *site* is a call that emits: a wrapper of a path
called with a name (``count("X")``), a direct ``metrics.add_metric(name="X")``, or an
injected counter: an attribute typed ``Counter`` (``self.count("X")``), a chain ending in
one, or a local name for one (``count = services.pipeline.count``); services are handed
the wrappers that the Lambda wiring passes as keyword arguments (``count=count``). Names
are resolved by :func:`tests.infra.source.names_of`; a Powertools call that changes the
dimensions raises :class:`~tests.infra.source.Unresolved`.

Namespace and dimensions are not read from the source: each path is run in a fresh
interpreter with a function's environment, and the EMF line it prints is parsed.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from infra.settings import REPO_ROOT
from tests.infra.source import Unresolved, imports, names_of, reachable, sources

COUNTER = "Counter"
EMF_MARK = "CloudWatchMetrics"
DIMENSION_CALLS = frozenset({"add_dimension", "set_default_dimensions", "single_metric"})
PROBE = "WaybillProbe"
Environment = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Channel:
    """One emission path: ``kind`` ``powertools`` (``target`` a ``Metrics`` instance) or
    ``emf`` (``target`` a function writing EMF itself), in ``module``."""

    kind: str
    module: str
    target: str


@dataclass(frozen=True)
class Site:
    """Where the code emits ``names`` through ``paths``."""

    module: str
    line: int
    names: frozenset[str]
    paths: frozenset[Channel]


@dataclass(frozen=True)
class Metric:
    """One metric as CloudWatch files it."""

    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]


@cache
def instances() -> dict[tuple[str, str], Channel]:
    """Every module-level Powertools ``Metrics(...)``, by (module, variable)."""
    return {
        (module, target.id): Channel("powertools", module, target.id)
        for module, tree in sources().items()
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "Metrics"
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _instance(call: ast.Call, module: str) -> Channel:
    """The Powertools instance a ``….add_metric(...)`` call is made on."""
    name = getattr(getattr(call.func, "value", None), "id", "")
    origin, attribute = imports(module).get(name, (module, name))
    found = instances().get((origin, attribute or ""))
    if found is None:
        raise Unresolved(f"{module}:{call.lineno}: add_metric on an unknown Metrics instance")
    return found


def _name_argument(call: ast.Call) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == "name":
            return item.value
    return call.args[0] if call.args else None


def _parameters(function: ast.FunctionDef) -> set[str]:
    return {a.arg for a in function.args.args + function.args.kwonlyargs}


@cache
def wrappers() -> dict[tuple[str, str], frozenset[Channel]]:
    """Functions that emit the name they are given, by (module, function): their paths."""
    found: dict[tuple[str, str], frozenset[Channel]] = {}
    for module, tree in sources().items():
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            body = list(ast.walk(function))
            if any(isinstance(n, ast.Constant) and n.value == EMF_MARK for n in body):
                found[module, function.name] = frozenset({Channel("emf", module, function.name)})
                continue
            paths = {
                _instance(call, module)
                for call in body
                if isinstance(call, ast.Call)
                and getattr(call.func, "attr", None) == "add_metric"
                and getattr(_name_argument(call), "id", None) in _parameters(function)
            }
            if paths:
                found[module, function.name] = frozenset(paths)
    return found


@cache
def _top_level(module: str) -> frozenset[str]:
    return frozenset(n.name for n in sources()[module].body if isinstance(n, ast.FunctionDef))


def _wrapper(node: ast.expr, module: str) -> frozenset[Channel] | None:
    """The paths of the wrapper ``node`` names in ``module`` (``count``, ``obs.count``)."""
    known = wrappers()
    if isinstance(node, ast.Name):
        if node.id in _top_level(module) and (module, node.id) in known:
            return known[module, node.id]
        origin, attribute = imports(module).get(node.id, ("", None))
        return known.get((origin, attribute or ""))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        origin, attribute = imports(module).get(node.value.id, ("", ""))
        return known.get((origin, node.attr)) if attribute is None else None
    return None


@cache
def injected() -> frozenset[Channel]:
    """The paths of the wrappers handed on as keyword arguments (``count=count``)."""
    found: set[Channel] = set()
    for module, tree in sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg:
                value = node.value
                for one in [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]:
                    found |= _wrapper(one, module) or set()
    return frozenset(found)


@cache
def _counters(module: str) -> frozenset[str]:
    """Attributes and parameters annotated ``Counter`` (injected emitters) in ``module``."""
    found = set()
    for node in ast.walk(sources()[module]):
        if isinstance(node, ast.AnnAssign) and getattr(node.annotation, "id", None) == COUNTER:
            found.add(getattr(node.target, "id", ""))
        elif isinstance(node, ast.arg) and getattr(node.annotation, "id", None) == COUNTER:
            found.add(node.arg)
    return frozenset(found)


@cache
def counter_attributes() -> frozenset[str]:
    """Every attribute name typed ``Counter`` in gateway/ (``count``, ``timing``)."""
    return frozenset().union(*(_counters(module) for module in sources()))


def _is_counter(node: ast.expr, module: str) -> bool:
    """``self.count`` (typed ``Counter`` here) or ``services.pipeline.count`` (a chain
    ending in a ``Counter`` attribute); not ``items.count``, a sequence's method."""
    if not isinstance(node, ast.Attribute) or node.attr not in counter_attributes():
        return False
    if isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr in _counters(module)
    return isinstance(node.value, ast.Attribute)


@cache
def _counter_aliases(module: str) -> frozenset[str]:
    """Local names bound to an injected counter: ``count = services.pipeline.count``."""
    return frozenset(
        target.id
        for node in ast.walk(sources()[module])
        if isinstance(node, ast.Assign) and _is_counter(node.value, module)
        for target in node.targets
        if isinstance(target, ast.Name)
    )


def _site_paths(call: ast.Call, module: str) -> frozenset[Channel] | None:
    func = call.func
    called = getattr(func, "attr", getattr(func, "id", None))
    if called in DIMENSION_CALLS:
        raise Unresolved(f"{module}:{call.lineno}: {called} changes the emitted dimensions")
    if called == "add_metric":
        return frozenset({_instance(call, module)})
    if _is_counter(func, module) or getattr(func, "id", None) in _counter_aliases(module):
        return injected()
    return _wrapper(func, module)


def _forwards(argument: ast.expr, function: ast.FunctionDef | None) -> bool:
    """True inside a wrapper passing its own ``name`` parameter on: not a site."""
    return function is not None and getattr(argument, "id", None) in _parameters(function)


def _calls(
    tree: ast.AST, function: ast.FunctionDef | None = None
) -> Iterator[tuple[ast.Call, ast.FunctionDef | None]]:
    """(call, the innermost function holding it) of every call under ``tree``."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.Call):
            yield child, function
        inner = child if isinstance(child, ast.FunctionDef) else function
        yield from _calls(child, inner)


@cache
def sites() -> tuple[Site, ...]:
    """Every call in gateway/ that emits a metric, with the names it can emit."""
    found = []
    for module, tree in sources().items():
        for call, function in _calls(tree):
            paths = _site_paths(call, module)
            argument = _name_argument(call)
            if paths is None or argument is None or _forwards(argument, function):
                continue
            found.append(Site(module, call.lineno, names_of(argument, module), paths))
    return tuple(found)


PROBE_SCRIPT = """
import importlib, sys
kind, module, target, name = sys.argv[1:]
found = getattr(importlib.import_module(module), target)
if kind == "powertools":
    found.add_metric(name=name, unit="Count", value=1)
    found.flush_metrics()
else:
    found(name)
"""


@cache
def probe(path: Channel, environment: Environment) -> frozenset[tuple[str, str]]:
    """(namespace, dimension pairs as JSON) of every directive ``path`` writes for a probe
    metric, run in a fresh interpreter with ``environment`` as a function would have it."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT), **dict(environment)}
    argv = [sys.executable, "-c", PROBE_SCRIPT, path.kind, path.module, path.target, PROBE]
    result = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, check=True)
    found = set()
    for line in result.stdout.decode().splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            if PROBE in {m["Name"] for m in directive["Metrics"]}:
                for keys in directive["Dimensions"]:
                    pairs = sorted((key, str(document[key])) for key in keys)
                    found.add((directive["Namespace"], json.dumps(pairs)))
    if not found:
        raise Unresolved(f"{path}: wrote no EMF directive for a probe metric")
    return frozenset(found)


def metrics_of(functions: Iterable[tuple[str, dict[str, str]]]) -> set[Metric]:
    """Every metric the functions (handler module, environment) can emit: each what its
    handler's module reaches, under its own environment."""
    wanted = [
        (site, channel, tuple(sorted(environment.items())))
        for module, environment in functions
        for site in sites()
        if site.module in reachable(module)
        for channel in site.paths
    ]
    probes = sorted({(channel, env) for _, channel, env in wanted}, key=repr)
    with ThreadPoolExecutor() as pool:  # a fresh interpreter each: run them side by side
        written = dict(zip(probes, pool.map(lambda p: probe(*p), probes), strict=True))
    return {
        Metric(namespace, name, frozenset((k, v) for k, v in json.loads(dimensions)))
        for site, channel, env in wanted
        for namespace, dimensions in written[channel, env]
        for name in site.names
    }
