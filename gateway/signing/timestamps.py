"""Timestamped schemes: signature lists such as ``t=…,v1=…`` and tolerance checks."""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import SignatureError

Clock = Callable[[], float]
"""Returns the current unix time in seconds; injected so published vectors verify."""

DEFAULT_TOLERANCE_SECONDS = 300


def check_timestamp(
    value: str | None,
    now: float,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    reject_future: bool = True,
) -> int:
    """Parse a unix-seconds timestamp and check it lies within ``tolerance`` of ``now``.

    Both directions are checked unless ``reject_future`` is False.

    >>> check_timestamp("100", 150, tolerance=60)
    100
    """
    if value is None or not value.strip():
        raise SignatureError("timestamp is missing", code="timestamp_missing")
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise SignatureError("timestamp is malformed", code="timestamp_malformed")
    stamp = int(text)
    if now - stamp > tolerance:
        raise SignatureError(
            "timestamp outside the tolerance zone (too old)", code="timestamp_stale"
        )
    if reject_future and stamp - now > tolerance:
        raise SignatureError(
            "timestamp outside the tolerance zone (too new)", code="timestamp_future"
        )
    return stamp


def parse_signature_list(
    header: str, *, item_sep: str = ",", kv_sep: str = "="
) -> dict[str, list[str]]:
    """Split a multi-signature header into ``{name: [values]}``.

    Stripe-like ``t=1,v1=a,v1=b`` uses the defaults; Standard Webhooks'
    ``v1,sigA v1,sigB`` uses ``item_sep=" ", kv_sep=","``. Items without a
    separator are ignored (they are never a match).

    >>> parse_signature_list("t=1,v1=a,v1=b")
    {'t': ['1'], 'v1': ['a', 'b']}
    """
    result: dict[str, list[str]] = {}
    for item in header.split(item_sep):
        name, sep, value = item.strip().partition(kv_sep)
        if sep and name:
            result.setdefault(name, []).append(value)
    return result
