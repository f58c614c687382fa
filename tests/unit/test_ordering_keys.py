"""Every text key that orders events orders them exactly as UTC instants, for years 1..9999.

The state's comparison and its DynamoDB condition (``ordering_key``), the event sort key
(the history's order and its cursors' positions) and the status index's sort key are
compared as strings: they must sort as the instants they hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.carriers.adapter import ParsedEvent
from gateway.ingest.normalise import to_canonical
from gateway.models import Status, TzSource, instant_text
from gateway.store.index import changed_at, index_keys
from gateway.store.keys import event_sk

instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


def event(at: datetime, status: Status, received: datetime) -> object:
    parsed = ParsedEvent(
        tracking_number="1Z9",
        status=status,
        occurred_at=at,
        tz_source=TzSource.CARRIER_UTC,
        carrier_code=status.value,
    )
    return to_canonical(
        parsed, tenant="acme", carrier="ups", received_at=received, delivery_id=None
    )


@given(instants, instants)
def test_instant_texts_sort_as_the_instants(a: datetime, b: datetime) -> None:
    assert (instant_text(a) < instant_text(b)) == (a < b)
    assert len(instant_text(a)) == len("2025-01-02T00:00:00.000000Z")
    assert (event_sk(a, "ev_1") < event_sk(b, "ev_1")) == (a < b)


@given(instants, instants)
def test_index_positions_sort_as_the_instants_and_read_back(a: datetime, b: datetime) -> None:
    ka = index_keys("acme", "1Z9", "ups", Status.DELIVERED, a)["gsi1sk"]["S"]
    kb = index_keys("acme", "1Z9", "ups", Status.DELIVERED, b)["gsi1sk"]["S"]
    assert (ka < kb) == (a < b)
    assert changed_at(ka) == a


@given(instants, instants)
def test_between_events_of_equal_rank_the_later_instant_has_the_greater_key(
    a: datetime, b: datetime
) -> None:
    received = datetime(9999, 12, 31, tzinfo=UTC)  # nothing is in the future
    ea, eb = (event(t, Status.IN_TRANSIT, received) for t in (a, b))
    if a.year >= 1970 and b.year >= 1970:
        assert ea.status_rank() == eb.status_rank() == 3  # type: ignore[attr-defined]
    if ea.status_rank() == eb.status_rank():  # type: ignore[attr-defined]
        assert (ea.ordering_key() < eb.ordering_key()) == (a < b)  # type: ignore[attr-defined]


@given(instants, instants)
def test_a_known_status_outranks_unknown_and_implausible_events_whatever_the_times(
    known_at: datetime, other_at: datetime
) -> None:
    received = datetime(2025, 6, 1, tzinfo=UTC)
    known_at = max(min(known_at, received), datetime(1970, 1, 1, tzinfo=UTC))
    known = event(known_at, Status.DELIVERED, received)
    unknown = event(other_at, Status.UNKNOWN, received)
    implausible_at = other_at if not other_at.year >= 1970 else received + timedelta(days=30)
    implausible = event(implausible_at, Status.DELIVERED, received)
    keys = [e.ordering_key() for e in (implausible, unknown, known)]  # type: ignore[attr-defined]
    assert max(keys) == keys[2]
    if unknown.plausible():  # type: ignore[attr-defined]
        assert keys[0] < keys[1]
