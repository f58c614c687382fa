"""Lambda event filter patterns, evaluated as Lambda documents them (for the rules we use).

moto does not filter event source mappings, so the stream filters are checked here with a
small matcher of the documented rules (EventBridge pattern syntax, which Lambda event
filtering uses): a pattern is a tree of objects whose leaves are **arrays** of matchers;
an object matches when every one of its keys matches (AND); an array matches when any of
its matchers does (OR); a matcher is a value (equality), ``{"prefix": "…"}`` (a string
starting with it) or ``{"exists": true|false}`` (the leaf is present or absent). A record
passes a mapping's filters when it matches any one pattern. Any other operator or shape
is refused, so a pattern Lambda would reject (a leaf that is not an array, an unknown
operator) fails the tests instead of passing silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

OPERATORS = frozenset({"prefix", "exists"})


def check_pattern(pattern: Mapping[str, Any], path: str = "") -> None:
    """Raise ``ValueError`` unless ``pattern`` uses only the shapes and operators above."""
    if not pattern:
        raise ValueError(f"{path or 'pattern'}: an empty object matches nothing useful")
    for key, rule in pattern.items():
        where = f"{path}.{key}" if path else key
        if isinstance(rule, Mapping):
            check_pattern(rule, where)
            continue
        if not isinstance(rule, list) or not rule:
            raise ValueError(f"{where}: a leaf must be a non-empty array of matchers")
        for matcher in rule:
            if isinstance(matcher, Mapping):
                if len(matcher) != 1 or next(iter(matcher)) not in OPERATORS:
                    raise ValueError(f"{where}: unsupported matcher {matcher}")
            elif not isinstance(matcher, str | int | float | bool) and matcher is not None:
                raise ValueError(f"{where}: unsupported matcher {matcher!r}")


def _leaf(matcher: Any, present: bool, value: Any) -> bool:
    if isinstance(matcher, Mapping):
        ((operator, argument),) = matcher.items()
        if operator == "exists":
            return present is bool(argument)
        return present and isinstance(value, str) and value.startswith(argument)
    return present and not isinstance(value, Mapping | list) and value == matcher


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether ``record`` (a decoded event) matches one filter ``pattern``."""
    for key, rule in pattern.items():
        present = isinstance(record, Mapping) and key in record
        value = record[key] if present else None
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping) or not matches(rule, value):
                if all(_only_absent(rule)):
                    continue  # {"a": {"b": [{"exists": false}]}} holds when "a" is absent
                return False
            continue
        if not any(_leaf(m, present, value) for m in rule):
            return False
    return True


def _only_absent(rule: Mapping[str, Any]) -> Iterable[bool]:
    for value in rule.values():
        if isinstance(value, Mapping):
            yield from _only_absent(value)
        else:
            yield value == [{"exists": False}]


def passes(patterns: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """Whether an event source mapping with these filters hands ``record`` to the function."""
    return any(matches(p, record) for p in patterns)
