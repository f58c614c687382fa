"""Key sets: rotation as a pure function, expiry, the cap, the minimum grace, masking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.tenancy.keysets import (
    MAX_PREVIOUS,
    MIN_GRACE,
    KeySet,
    KeySetError,
    generate_secret,
    mask,
    new_keyset,
    revoke_previous,
    rotate,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def test_first_rotation_creates_a_keyset() -> None:
    keyset = rotate(None, "first-secret", now=T0, grace=DAY)
    assert keyset.valid_secrets(T0) == ["first-secret"]
    assert keyset.previous == ()


def test_old_secret_valid_until_expiry_and_refused_after() -> None:
    keyset = rotate(new_keyset("old", now=T0), "new", now=T0 + SECOND, grace=DAY)
    expiry = T0 + SECOND + DAY
    assert keyset.previous[0].expires_at == expiry
    assert keyset.valid_secrets(T0 + SECOND) == ["new", "old"]
    assert keyset.valid_secrets(expiry - timedelta(microseconds=1)) == ["new", "old"]
    assert keyset.valid_secrets(expiry) == ["new"]  # expiry is exclusive
    assert keyset.valid_secrets(expiry + DAY) == ["new"]


def test_valid_secrets_current_first_then_newest_previous() -> None:
    keyset = new_keyset("s1", now=T0)
    for n, value in enumerate(["s2", "s3", "s4"], start=1):
        keyset = rotate(keyset, value, now=T0 + n * timedelta(hours=1), grace=DAY)
    assert keyset.valid_secrets(T0 + timedelta(hours=4)) == ["s4", "s3", "s2", "s1"]


def test_rotation_drops_expired_previous() -> None:
    keyset = rotate(new_keyset("a", now=T0), "b", now=T0, grace=timedelta(hours=1))
    keyset = rotate(keyset, "c", now=T0 + timedelta(hours=2), grace=DAY)
    assert [p.value for p in keyset.previous] == ["b"]


def test_rotation_is_pure() -> None:
    before = new_keyset("a", now=T0)
    after = rotate(before, "b", now=T0, grace=DAY)
    assert before.valid_secrets(T0) == ["a"]
    assert after is not before


def test_cap_refuses_a_sixth_valid_previous_with_a_clear_message() -> None:
    keyset = new_keyset("s0", now=T0)
    for n in range(1, MAX_PREVIOUS + 1):
        keyset = rotate(keyset, f"s{n}", now=T0 + n * SECOND, grace=DAY)
    assert len(keyset.unexpired_previous(T0 + DAY / 2)) == MAX_PREVIOUS
    with pytest.raises(KeySetError) as caught:
        rotate(keyset, "one-too-many", now=T0 + 10 * SECOND, grace=DAY)
    message = str(caught.value)
    assert message.startswith(
        "at most 5 previous secrets may be valid at once; revoke one or wait for expiry"
    )
    assert "s0" not in message and "one-too-many" not in message
    # once the oldest has expired, the rotation goes through
    later = rotate(keyset, "one-too-many", now=T0 + 2 * SECOND + DAY, grace=DAY)
    assert len(later.previous) <= MAX_PREVIOUS


def test_revoke_previous_then_rotation_is_possible_again() -> None:
    keyset = new_keyset("s0", now=T0)
    for n in range(1, MAX_PREVIOUS + 1):
        keyset = rotate(keyset, f"s{n}", now=T0, grace=DAY)
    keyset = revoke_previous(keyset, T0)
    assert keyset.valid_secrets(T0) == [f"s{MAX_PREVIOUS}"]
    assert rotate(keyset, "fresh", now=T0, grace=DAY).valid_secrets(T0)[0] == "fresh"


@pytest.mark.parametrize(
    ("grace", "message"),
    [
        (timedelta(0), "must be positive"),
        (-DAY, "must be positive"),
        (MIN_GRACE - SECOND, "must be at least"),
        (timedelta(minutes=5), "outlive the Lambda secrets cache"),
    ],
)
def test_grace_must_be_positive_and_outlive_the_cache(grace: timedelta, message: str) -> None:
    with pytest.raises(KeySetError, match=message):
        rotate(new_keyset("a", now=T0), "b", now=T0, grace=grace)


def test_minimum_grace_itself_is_accepted() -> None:
    assert rotate(new_keyset("a", now=T0), "b", now=T0, grace=MIN_GRACE).previous


@pytest.mark.parametrize("value", ["", " padded", "trailing\n"])
def test_bad_values_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(KeySetError) as caught:
        rotate(new_keyset("a", now=T0), value, now=T0, grace=DAY)
    assert value.strip() == "" or value.strip() not in str(caught.value)


def test_reusing_a_valid_secret_is_refused() -> None:
    keyset = rotate(new_keyset("a", now=T0), "b", now=T0, grace=DAY)
    for value in ("a", "b"):
        with pytest.raises(KeySetError, match="already valid"):
            rotate(keyset, value, now=T0, grace=DAY)


def test_naive_clock_is_refused() -> None:
    with pytest.raises(KeySetError, match="timezone-aware"):
        rotate(None, "a", now=datetime(2025, 1, 1), grace=DAY)


def test_values_stay_out_of_repr_and_str() -> None:
    keyset = rotate(new_keyset("very-secret-old", now=T0), "very-secret-new", now=T0, grace=DAY)
    for text in (repr(keyset), str(keyset), repr(keyset.previous[0])):
        assert "very-secret" not in text


def test_json_round_trip() -> None:
    keyset = rotate(new_keyset("a", now=T0), "b", now=T0, grace=DAY)
    assert KeySet.model_validate_json(keyset.model_dump_json()) == keyset


def test_generate_secret_is_random_and_long() -> None:
    values = {generate_secret() for _ in range(50)}
    assert len(values) == 50
    assert all(len(v) == 43 for v in values)


def test_mask_examples() -> None:
    assert mask("whsec_abcdefghijklmnop") == "whse…(22 chars)"
    assert mask("elevenchars") == "…(11 chars)"
    assert mask("") == "…(0 chars)"


@given(st.text(max_size=200))
def test_mask_never_shows_more_than_four_characters(value: str) -> None:
    masked = mask(value)
    shown = masked.split("…", 1)[0]
    assert len(shown) <= 4
    assert value.startswith(shown)
    if len(value) < 12:
        assert shown == ""
    if len(value) > 4:
        assert value not in masked


@given(st.lists(st.integers(min_value=600, max_value=10 * 86400), min_size=1, max_size=12))
def test_rotation_never_exceeds_the_cap_nor_returns_expired(graces: list[int]) -> None:
    keyset = new_keyset("v0", now=T0)
    now = T0
    for n, seconds in enumerate(graces, start=1):
        now += timedelta(hours=6)
        try:
            keyset = rotate(keyset, f"v{n}", now=now, grace=timedelta(seconds=seconds))
        except KeySetError:
            continue
        assert len(keyset.unexpired_previous(now)) <= MAX_PREVIOUS
        later = now + timedelta(hours=3)
        expired = {p.value for p in keyset.previous if p.expires_at <= later}
        assert not expired & set(keyset.valid_secrets(later))
