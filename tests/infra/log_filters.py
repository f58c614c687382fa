"""CloudWatch Logs JSON filter patterns and API Gateway access-log lines, evaluated offline.

moto has no ``TestMetricFilter``, so the metric filters over the access log are checked
here with a small evaluator of the documented JSON filter-pattern syntax, for the subset
the stack uses: ``{ <expr> }`` where an expression is comparisons ``$.field op value``
(``op`` one of ``=`` ``!=``) joined by ``&&`` and ``||`` (``&&`` binding tighter) and
grouped with parentheses. The value's *type* matters as in CloudWatch: a number
(``429``) compares only with a JSON number, a quoted string (``"429"``) only with a JSON
string, where ``*`` matches any run of characters; ``$.field = *`` matches any present
field. Anything else (``IS NULL``, ``EXISTS``, ``>``, arrays, unquoted words) is refused,
so a pattern the evaluator does not understand fails a test instead of passing.

:func:`render_access_log` writes a line as API Gateway does: the stage's format text with
each ``$context.*`` variable replaced by its value, verbatim, so a variable the format
quotes is a JSON string and one it leaves bare is a number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<field>\$\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<op>!=|=)
      | (?P<logic>&&|\|\|)
      | (?P<paren>[()])
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<star>\*)
    )""",
    re.VERBOSE,
)
_VARIABLE = re.compile(r"\$context\.[A-Za-z0-9_.]*[A-Za-z0-9_]")
_MISSING = object()


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if not found or found.end() == position:
            raise ValueError(f"unsupported filter syntax at {text[position:]!r}")
        kind = found.lastgroup
        assert kind is not None
        out.append((kind, found.group(kind)))
        position = found.end()
    return out


class _Parser:
    """Recursive descent: ``or := and ('||' and)*``, ``and := term ('&&' term)*``."""

    def __init__(self, tokens: list[tuple[str, str]], event: Mapping[str, Any]) -> None:
        self.tokens, self.event, self.at = tokens, event, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str) -> str:
        token = self.peek()
        if token is None or token[0] != kind:
            raise ValueError(f"expected {kind}, found {token}")
        self.at += 1
        return token[1]

    def either(self) -> bool:
        result = self.both()
        while self.peek() == ("logic", "||"):
            self.at += 1
            right = self.both()  # always parsed: a bad term fails even when short-circuited
            result = result or right
        return result

    def both(self) -> bool:
        result = self.term()
        while self.peek() == ("logic", "&&"):
            self.at += 1
            right = self.term()
            result = result and right
        return result

    def term(self) -> bool:
        if self.peek() == ("paren", "("):
            self.at += 1
            result = self.either()
            self.take("paren")
            return result
        field = self.take("field")
        op = self.take("op")
        token = self.peek()
        if token is None or token[0] not in ("string", "number", "star"):
            raise ValueError(f"{field} {op}: expected a quoted string, a number or *")
        self.at += 1
        actual = _lookup(self.event, field)
        equal = _equal(actual, token)
        return equal if op == "=" else (actual is not _MISSING and not equal)


def _lookup(event: Mapping[str, Any], field: str) -> Any:
    value: Any = event
    for part in field[2:].split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _equal(actual: Any, token: tuple[str, str]) -> bool:
    kind, text = token
    if actual is _MISSING:
        return False
    if kind == "star":
        return True
    if kind == "number":
        is_number = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        return is_number and float(actual) == float(text)
    wanted = json.loads(text)
    return isinstance(actual, str) and fnmatchcase(
        actual, wanted.replace("[", "[[]").replace("?", "[?]")
    )


def matches(pattern: str, line: str) -> bool:
    """Whether the JSON filter ``pattern`` matches the log event ``line`` (a JSON object)."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    tokens = _tokens(text[1:-1])
    if not tokens:
        raise ValueError("empty filter pattern")
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return False  # a JSON pattern never matches a line that is not JSON
    if not isinstance(event, Mapping):
        return False
    parser = _Parser(tokens, event)
    result = parser.either()
    if parser.at != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.at]} in {pattern!r}")
    return result


def render_access_log(log_format: str, values: Mapping[str, str], default: str = "-") -> str:
    """An access-log line as API Gateway writes it with ``log_format``: every
    ``$context.x`` replaced, verbatim, by ``values["$context.x"]`` (``default`` — API
    Gateway's ``-`` for a missing value — for the others)."""
    for value in values.values():
        if '"' in value or "\\" in value:
            raise ValueError(f"example value {value!r} would need escaping")
    return _VARIABLE.sub(lambda found: values.get(found.group(0), default), log_format)
