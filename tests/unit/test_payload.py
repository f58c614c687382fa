"""The shared body readers of gateway/payload.py: what they accept, and how they refuse."""

from __future__ import annotations

import doctest
import json
from collections.abc import Callable

import pytest

from gateway import payload
from gateway.errors import ParseError
from gateway.payload import as_list, as_object, load_object, required_text, text

SECRETISH = "tn-1Z999AA10123456784"


def refusal(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The message of the ParseError that ``call`` raises."""
    with pytest.raises(ParseError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_the_docstring_examples_hold() -> None:
    failures, tried = doctest.testmod(payload)
    assert tried > 0 and failures == 0


# --- load_object -------------------------------------------------------------------


def test_load_object_reads_an_object() -> None:
    body = json.dumps({"id": "evt_1", "result": {"tracking_code": "EZ1"}}).encode()
    assert load_object(body) == {"id": "evt_1", "result": {"tracking_code": "EZ1"}}


def test_load_object_accepts_a_utf8_bom_and_non_ascii_text() -> None:
    body = "\ufeff" + json.dumps({"city": "Zürich"}, ensure_ascii=False)
    assert load_object(body.encode("utf-8")) == {"city": "Zürich"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"tracking_number": ',
        b"not json",
        b'{"a": 1} trailing',
        f'{{"tracking_number": "{SECRETISH}",}}'.encode(),
    ],
)
def test_load_object_refuses_invalid_json_without_echoing_the_body(body: bytes) -> None:
    assert refusal(load_object, body) == "body is not valid JSON"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\xfa",
        b'{"city": "Z\xfcrich"}',  # Latin-1, not UTF-8
        b'{"city": "\xc3"}',  # a truncated two-byte sequence
        f'{{"tn": "{SECRETISH}"}}'.encode() + b"\xed\xa0\x80",  # an encoded surrogate
    ],
)
def test_load_object_refuses_invalid_utf8(body: bytes) -> None:
    assert refusal(load_object, body) == "body is not valid JSON"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "body is not an object"),
        (b"null", "body is not an object"),
        (b'"a string"', "body is not an object"),
        (b"42", "body is not an object"),
        (b"true", "body is not an object"),
    ],
)
def test_load_object_refuses_a_top_level_that_is_not_an_object(body: bytes, message: str) -> None:
    assert refusal(load_object, body) == message


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    ],
)
def test_load_object_refuses_nesting_too_deep_to_decode(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        load_object(body)
    assert str(caught.value) == "body is nested too deeply"
    assert caught.value.__cause__ is None  # no chained decoder error to carry the body


def test_load_object_reads_moderate_nesting() -> None:
    depth = 200
    body = b'{"a": ' * depth + b"1" + b"}" * depth
    value: object = load_object(body)
    for _ in range(depth):
        assert isinstance(value, dict)
        value = value["a"]
    assert value == 1


# --- as_object, as_list ------------------------------------------------------------


def test_as_object_returns_the_same_dict() -> None:
    value = {"a": 1}
    assert as_object(value, "msg") is value


@pytest.mark.parametrize("value", [None, [], [{}], "{}", 0, True])
def test_as_object_names_what_is_not_an_object(value: object) -> None:
    assert refusal(as_object, value, "Event.result") == "Event.result is not an object"


def test_as_list_returns_the_same_list_and_none_as_empty() -> None:
    value = [1, {"a": 2}]
    assert as_list(value, "msg.checkpoints") is value
    assert as_list(None, "msg.checkpoints") == []
    assert as_list([], "data.events", required=True) == []


@pytest.mark.parametrize("value", [{}, "", "[]", 0, False, (1, 2)])
def test_as_list_names_what_is_not_a_list(value: object) -> None:
    assert refusal(as_list, value, "msg.checkpoints") == "msg.checkpoints is not a list"


def test_as_list_required_refuses_none() -> None:
    assert refusal(as_list, None, "data.events", required=True) == "data.events is not a list"


# --- text, required_text -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("EZ1", "EZ1"),
        ("  EZ1\n", "EZ1"),
        ("a b", "a b"),
        ("", None),
        (" \t\n", None),
        (None, None),
        (0, None),
        (12.5, None),
        (["EZ1"], None),
        ({"v": "EZ1"}, None),
    ],
)
def test_text(value: object, expected: str | None) -> None:
    assert text(value) == expected


def test_required_text_returns_the_stripped_value() -> None:
    assert required_text({"tracking_number": " 1Z9 "}, "tracking_number", "msg") == "1Z9"


@pytest.mark.parametrize("container", [{}, {"tracking_number": None}, {"tracking_number": "  "}])
def test_required_text_refuses_a_missing_or_blank_value(container: dict[str, object]) -> None:
    message = refusal(required_text, container, "tracking_number", "msg")
    assert message == "msg has no tracking_number"


def test_required_text_refuses_a_non_string_without_echoing_it() -> None:
    message = refusal(required_text, {"tracking_number": [SECRETISH]}, "tracking_number", "data")
    assert message == "data has no tracking_number"
