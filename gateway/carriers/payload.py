"""Reading JSON webhook bodies: the checks every adapter's ``parse`` starts with.

Pure helpers; each failure is a :class:`~gateway.errors.ParseError` whose message
names the field, never the body or a value from it. Besides the readers: the
country rule (:func:`country_code`), the ``{city, state, zip, country}`` address
(:func:`address`), a location from its parts (:func:`location`) and the per-item
loop of a batch (:func:`collect`).

Example:
    >>> body = load_object(b'{"data": {"tracking_number": " 1Z99 ", "events": null}}')
    >>> data = as_object(body.get("data"), "data")
    >>> required_text(data, "tracking_number", "data"), as_list(data.get("events"), "data.events")
    ('1Z99', [])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar

from gateway.errors import ItemIgnored, ParseError
from gateway.models import Location

Item = TypeVar("Item")
Found = TypeVar("Found")

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate: a body without one cannot decode to invalid text."""

NOWHERE = Location()
"""The empty location (frozen: one instance serves every event without a place)."""

# Location.model_validate without its per-call Python wrapper: the same validation.
_validate_location: Callable[[Mapping[str, object]], Location] = (
    Location.__pydantic_validator__.validate_python
)


def load_json(body: bytes) -> Any:
    """The body decoded as JSON whose every string (keys included) is valid Unicode.

    Invalid JSON or UTF-8, nesting too deep to decode, or a lone UTF-16 surrogate
    (``"\\ud800"``: valid JSON, but text that can be neither hashed nor stored) raise
    :class:`ParseError` naming where, never the value.

    >>> load_json(b'{"a": ["\\\\ud83d\\\\ude00", "\\\\ud800"]}')
    Traceback (most recent call last):
    gateway.errors.ParseError: body.a[1] is not valid Unicode text (a lone surrogate)
    """
    try:
        value = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise ParseError("body is not valid JSON") from exc
    except RecursionError:
        raise ParseError("body is nested too deeply") from None
    if _SURROGATE_ESCAPE.search(body):  # rare: only then walk the whole value
        where = invalid_text_at(value, "body")
        if where is not None:
            raise ParseError(f"{where} is not valid Unicode text (a lone surrogate)")
    return value


def load_object(body: bytes) -> dict[str, Any]:
    """The body decoded as a JSON object (see :func:`load_json`).

    Invalid JSON or UTF-8, nesting too deep to decode, invalid text, or a top level that
    is not an object raise :class:`ParseError`.

    >>> load_object(b'{"id": "evt_1"}')
    {'id': 'evt_1'}
    >>> load_object(b"[1, 2]")
    Traceback (most recent call last):
    gateway.errors.ParseError: body is not an object
    """
    return as_object(load_json(body), "body")


def is_valid_text(value: str) -> bool:
    """True unless ``value`` holds a lone surrogate (which UTF-8 cannot encode).

    >>> is_valid_text("caf\\u00e9 \\U0001f69a"), is_valid_text("\\ud800")
    (True, False)
    """
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def valid_text(value: str) -> str:
    """``value`` with each lone surrogate replaced by ``?`` (for messages and logs).

    >>> valid_text("a\\ud800b")
    'a?b'
    """
    return value if is_valid_text(value) else value.encode("utf-8", "replace").decode()


def invalid_text_at(value: object, where: str) -> str | None:
    """Where in a decoded JSON value a string (or key) is not valid Unicode; None if nowhere.

    >>> invalid_text_at({"ok": ["x", {"k\\udfff": 1}]}, "item")
    'item.ok[1] (a key)'
    """
    if isinstance(value, str):
        return None if is_valid_text(value) else where
    if isinstance(value, list):
        for index, inner in enumerate(value):
            if (found := invalid_text_at(inner, f"{where}[{index}]")) is not None:
                return found
    elif isinstance(value, dict):
        for key, inner in value.items():
            if not is_valid_text(key):
                return f"{where} (a key)"
            if (found := invalid_text_at(inner, f"{where}.{key}")) is not None:
                return found
    return None


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
    if isinstance(value, str) and (stripped := value.strip()):
        return stripped
    return None


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


def country_code(
    value: object, metadata: dict[str, str], *, table: Mapping[str, str] | None = None
) -> str | None:
    """An ISO alpha-2 country (upper-cased) from ``text(value)``, else ``None``.

    A value that is not one is kept as ``metadata["country_raw"]`` (carriers send
    names too). With ``table`` (upper-case spelling → alpha-2, e.g. AfterShip's
    alpha-3), only its keys are accepted.

    >>> metadata = {}
    >>> country_code(" us ", metadata), country_code("Deutschland", metadata), metadata
    ('US', None, {'country_raw': 'Deutschland'})
    >>> country_code("deu", {}, table={"DEU": "DE"}), country_code(None, {})
    ('DE', None)
    """
    raw = text(value)
    if raw is None:
        return None
    if table is not None:
        code = table.get(raw.upper())
    else:
        code = raw.upper() if len(raw) == 2 and raw.isascii() and raw.isalpha() else None
    if code is None:
        metadata["country_raw"] = raw
    return code


def address(
    raw: object,
    metadata: dict[str, str],
    *,
    region: str = "state",
    postal: str = "zip",
    country: str = "country",
    coordinates: tuple[float | None, float | None] = (None, None),
) -> Location:
    """A ``{city, <region>, <postal>, <country>}`` object as a Location; not an object: empty.

    The country follows :func:`country_code`; ``coordinates`` are ``(lat, lon)``,
    already checked by the caller.

    >>> address({"city": "Memphis", "state": "TN", "zip": "38118", "country": "us"}, {})
    Location(city='Memphis', region='TN', postal_code='38118', country='US', lat=None, lon=None)
    >>> address(None, {}).is_empty()
    True
    """
    place = raw if isinstance(raw, dict) else {}
    lat, lon = coordinates
    return location(
        {
            "city": text(place.get("city")),
            "region": text(place.get(region)),
            "postal_code": text(place.get(postal)),
            "country": country_code(place.get(country), metadata),
            "lat": lat,
            "lon": lon,
        }
    )


def location(parts: Mapping[str, object]) -> Location:
    """``parts`` validated as a :class:`Location`; the shared empty one when all are ``None``.

    A Location is frozen, so events may share the empty one (nothing to validate).

    >>> location({"city": "Memphis", "lat": None}).city, location({"city": None}) is NOWHERE
    ('Memphis', True)
    """
    for value in parts.values():
        if value is not None:
            return _validate_location(parts)
    return NOWHERE


class Collected(NamedTuple, Generic[Found]):
    """What :func:`collect` read from a batch: everything found, why items failed, and why
    readable items carried nothing to store."""

    found: list[Found]
    failures: list[str]
    ignored: list[str]


def collect(
    items: Iterable[Item], read: Callable[[Item, str], Iterable[Found]], where: str
) -> Collected[Found]:
    """Read each item of a batch on its own: ``(everything read, failures, ignored)``.

    ``read(item, label)`` gets the item's label, ``where`` with ``{}`` standing for
    its position. A :class:`ParseError` becomes a failure with its own message (it
    names fields, never values); a ``ValueError`` (a model check, whose
    message may quote values) becomes "<label> has an invalid field"; an
    :class:`ItemIgnored` is a reason in ``ignored``.

    >>> def read(item, label):
    ...     if item == "-":
    ...         raise ItemIgnored(f"{label} has no time")
    ...     return [int(item)] if item else as_list(None, label, required=True)
    >>> found, failures, ignored = collect(["1", "", "x", "-"], read, "trackings[{}]")
    >>> found, ignored
    ([1], ['trackings[3] has no time'])
    >>> failures
    ['trackings[1] is not a list', 'trackings[2] has an invalid field']
    """
    found: list[Found] = []
    failures: list[str] = []
    ignored: list[str] = []
    for index, item in enumerate(items):
        label = where.replace("{}", str(index))
        try:
            found.extend(read(item, label))
        except ItemIgnored as exc:
            ignored.append(str(exc))
        except ParseError as exc:
            failures.append(str(exc))
        except ValueError:
            failures.append(f"{label} has an invalid field")
    return Collected(found, failures, ignored)
