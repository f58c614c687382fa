"""gateway/carriers/timeparse.py: how carrier times are read, and an unreadable one refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.carriers.timeparse import from_unix, parse_instant
from gateway.errors import ParseError
from gateway.models import TzSource

SECRETISH = "1Z999AA10123456784"


@pytest.mark.parametrize(
    ("value", "instant", "source", "local"),
    [
        (
            "2018-07-31T10:33:00-04:00",
            datetime(2018, 7, 31, 14, 33, tzinfo=UTC),
            TzSource.CARRIER_OFFSET,
            "2018-07-31T10:33:00",
        ),
        ("2024-06-03T16:30Z", datetime(2024, 6, 3, 16, 30, tzinfo=UTC), TzSource.CARRIER_UTC, None),
        (
            " 2024-06-03T16:30:00+00:00 ",
            datetime(2024, 6, 3, 16, 30, tzinfo=UTC),
            TzSource.CARRIER_UTC,
            None,
        ),
        (
            "2021-01-14T00:52:00",
            datetime(2021, 1, 14, 0, 52, tzinfo=UTC),
            TzSource.ASSUMED_UTC,
            "2021-01-14T00:52:00",
        ),
        ("2024-06-03", datetime(2024, 6, 3, tzinfo=UTC), TzSource.DATE_ONLY, "2024-06-03"),
    ],
)
def test_parse_instant_reads_each_kind_of_time(
    value: str, instant: datetime, source: TzSource, local: str | None
) -> None:
    assert parse_instant(value) == (instant, source, local)


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "soon", f"{SECRETISH}T10:00", "2021-13-45", "2024-02-30T10:00:00Z"],
)
def test_parse_instant_refuses_without_quoting_the_value(value: str | None) -> None:
    with pytest.raises(ParseError) as caught:
        parse_instant(value)
    assert str(caught.value) == "unreadable timestamp"
    assert caught.value.__cause__ is None  # the decoder's message quotes the value


def test_parse_instant_names_the_field_and_where_it_sits() -> None:
    with pytest.raises(ParseError) as caught:
        parse_instant("2021-13-45", "occurrenceDatetime", where="trackings[1].events[0]")
    assert str(caught.value) == "trackings[1].events[0] has no readable occurrenceDatetime"
    with pytest.raises(ParseError, match=r"^unreadable status_date$"):
        parse_instant("yesterday", "status_date")


def test_from_unix_is_aware_utc() -> None:
    assert from_unix(1_717_432_200) == datetime(2024, 6, 3, 16, 30, tzinfo=UTC)


def test_an_offset_that_overflows_the_calendar_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_instant("0001-01-01T00:00:00+01:00")
