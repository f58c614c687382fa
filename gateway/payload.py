"""Reading JSON webhook bodies: the checks every adapter's ``parse`` starts with.

Pure helpers; each failure is a :class:`~gateway.errors.ParseError` whose message
names the field, never the body or a value from it.

Example:
    >>> body = load_object(b'{"data": {"tracking_number": " 1Z99 ", "events": null}}')
    >>> data = as_object(body.get("data"), "data")
    >>> required_text(data, "tracking_number", "data"), as_list(data.get("events"), "data.events")
    ('1Z99', [])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.errors import ParseError


def load_object(body: bytes) -> dict[str, Any]:
    """The body decoded as a JSON object.

    Invalid JSON or UTF-8, nesting too deep to decode, or a top level that is not an
    object raise :class:`ParseError`.

    >>> load_object(b'{"id": "evt_1"}')
    {'id': 'evt_1'}
    >>> load_object(b"[1, 2]")
    Traceback (most recent call last):
    gateway.errors.ParseError: body is not an object
    """
    try:
        value = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise ParseError("body is not valid JSON") from exc
    except RecursionError:
        raise ParseError("body is nested too deeply") from None
    return as_object(value, "body")


def as_object(value: object, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object; :class:`ParseError` naming ``what`` otherwise.

    >>> as_object({"a": 1}, "msg")
    {'a': 1}
    >>> as_object(None, "msg")
    Traceback (most recent call last):
    gateway.errors.ParseError: msg is not an object
    """
    if not isinstance(value, dict):
        raise ParseError(f"{what} is not an object")
    return value


def text(value: object) -> str | None:
    """A string stripped of surrounding whitespace; ``None`` when blank or not a string.

    >>> text("  Memphis "), text("   "), text(42)
    ('Memphis', None, None)
    """
    return value.strip() if isinstance(value, str) and value.strip() else None


def required_text(container: Mapping[str, Any], key: str, what: str) -> str:
    """``text(container[key])``; :class:`ParseError` ("<what> has no <key>") when absent.

    >>> required_text({"tracking_code": "EZ1"}, "tracking_code", "Tracker")
    'EZ1'
    >>> required_text({"tracking_code": " "}, "tracking_code", "Tracker")
    Traceback (most recent call last):
    gateway.errors.ParseError: Tracker has no tracking_code
    """
    found = text(container.get(key))
    if found is None:
        raise ParseError(f"{what} has no {key}")
    return found


def as_list(value: object, what: str, *, required: bool = False) -> list[Any]:
    """``value`` when it is a JSON array; ``None`` is ``[]`` unless ``required``.

    Anything else raises :class:`ParseError` ("<what> is not a list").

    >>> as_list(None, "msg.checkpoints"), as_list([1], "msg.checkpoints")
    ([], [1])
    >>> as_list(None, "data.events", required=True)
    Traceback (most recent call last):
    gateway.errors.ParseError: data.events is not a list
    """
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{what} is not a list")
    return value
