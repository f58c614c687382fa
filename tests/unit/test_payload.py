"""The shared body readers of gateway/carriers/payload.py: what they accept, and how they refuse."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gateway.carriers.payload import (
    address,
    as_list,
    as_object,
    collect,
    country_code,
    load_object,
    required_text,
    text,
)
from gateway.errors import ItemIgnored, ParseError
from gateway.models import Location

SECRETISH = "tn-1Z999AA10123456784"


def refusal(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The message of the ParseError that ``call`` raises."""
    with pytest.raises(ParseError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


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


# --- country_code ------------------------------------------------------------------


@pytest.mark.parametrize(("value", "code"), [("US", "US"), (" gb ", "GB"), ("De", "DE")])
def test_country_code_accepts_alpha2_in_any_case(value: str, code: str) -> None:
    metadata: dict[str, str] = {}
    assert country_code(value, metadata) == code
    assert metadata == {}


@pytest.mark.parametrize(
    ("value", "raw"),
    [("USA", "USA"), ("United States ", "United States"), ("U1", "U1"), ("ÜS", "ÜS")],
)
def test_country_code_keeps_anything_else_as_country_raw(value: str, raw: str) -> None:
    metadata = {"slug": "ups"}
    assert country_code(value, metadata) is None
    assert metadata == {"slug": "ups", "country_raw": raw}


@pytest.mark.parametrize("value", [None, "", "   ", 44, ["US"]])
def test_country_code_of_nothing_is_none_and_keeps_nothing(value: object) -> None:
    metadata: dict[str, str] = {}
    assert country_code(value, metadata) is None
    assert metadata == {}


def test_country_code_with_a_table_accepts_only_its_keys() -> None:
    table = {"USA": "US", "DEU": "DE"}
    metadata: dict[str, str] = {}
    assert country_code("usa", metadata, table=table) == "US"
    assert metadata == {}
    assert country_code("US", metadata, table=table) is None  # alpha-2 is not in the table
    assert metadata == {"country_raw": "US"}


# --- address -----------------------------------------------------------------------


def test_address_reads_the_default_shape() -> None:
    metadata: dict[str, str] = {}
    place = {"city": " Memphis ", "state": "TN", "zip": "38118", "country": "us"}
    assert address(place, metadata) == Location(
        city="Memphis", region="TN", postal_code="38118", country="US"
    )
    assert metadata == {}


def test_address_reads_other_keys_and_coordinates() -> None:
    metadata: dict[str, str] = {}
    place = {"city": "Köln", "stateOrProvinceCode": "NW", "postalCode": "50667", "cc": "DE"}
    found = address(
        place,
        metadata,
        region="stateOrProvinceCode",
        postal="postalCode",
        country="cc",
        coordinates=(50.9, 6.9),
    )
    assert found == Location(
        city="Köln", region="NW", postal_code="50667", country="DE", lat=50.9, lon=6.9
    )


def test_address_keeps_a_country_name_as_country_raw() -> None:
    metadata = {"source": "USPS"}
    found = address({"city": "Reno", "country": "United States"}, metadata)
    assert found == Location(city="Reno")
    assert metadata == {"source": "USPS", "country_raw": "United States"}


@pytest.mark.parametrize("raw", [None, [], "Memphis, TN", 7])
def test_address_of_something_not_an_object_is_empty(raw: object) -> None:
    metadata: dict[str, str] = {}
    assert address(raw, metadata).is_empty()
    assert metadata == {}


# --- collect -----------------------------------------------------------------------


def read_pair(item: object, where: str) -> list[tuple[str, int]]:
    """Two results per item, labelled; refuses like an adapter's reader."""
    if item == "model":
        Location(country="xx")  # a pydantic ValidationError quoting the value
    number = as_object(item, where)["n"]
    return [(where, number), (where, number + 1)]


def test_collect_reads_every_item_with_its_label() -> None:
    found, failures, ignored = collect([{"n": 1}, {"n": 5}], read_pair, "trackings[{}]")
    assert found == [
        ("trackings[0]", 1),
        ("trackings[0]", 2),
        ("trackings[1]", 5),
        ("trackings[1]", 6),
    ]
    assert failures == ignored == []


def test_collect_keeps_the_good_items_and_names_the_bad_ones() -> None:
    items: list[object] = [{"n": 1}, SECRETISH, "model", {"n": 3}]
    found, failures, _ = collect(items, read_pair, "completeTrackResults[2].trackResults[{}]")
    assert found == [
        ("completeTrackResults[2].trackResults[0]", 1),
        ("completeTrackResults[2].trackResults[0]", 2),
        ("completeTrackResults[2].trackResults[3]", 3),
        ("completeTrackResults[2].trackResults[3]", 4),
    ]
    assert failures == [
        "completeTrackResults[2].trackResults[1] is not an object",
        "completeTrackResults[2].trackResults[2] has an invalid field",
    ]
    assert not any(SECRETISH in f or "xx" in f for f in failures)


def test_collect_label_may_be_any_template() -> None:
    def refuse(item: object, where: str) -> list[object]:
        raise ParseError(f"{where}: event has no at")

    assert collect(["a", "b"], refuse, "event {}") == (
        [],
        ["event 0: event has no at", "event 1: event has no at"],
        [],
    )
    assert collect([], refuse, "event {}") == ([], [], [])


def test_collect_keeps_why_a_readable_item_carried_nothing() -> None:
    def silent(item: object, where: str) -> list[object]:
        if item == "quiet":
            raise ItemIgnored(f"{where} has a status but no time")
        return [item]

    assert collect(["a", "quiet", "b"], silent, "data[{}]") == (
        ["a", "b"],
        [],
        ["data[1] has a status but no time"],
    )


def test_collect_lets_other_errors_through() -> None:
    def broken(item: object, where: str) -> list[object]:
        raise KeyError(where)

    with pytest.raises(KeyError):
        collect([1], broken, "data[{}]")
