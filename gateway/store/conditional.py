"""One conditional write, metered as AWS bills it (a failed condition is billed too).

Example:
    >>> from gateway.store.capacity import CapacityMeter
    >>> def refused(**request):
    ...     from botocore.exceptions import ClientError
    ...     raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
    >>> meter = CapacityMeter()
    >>> conditional_write(meter, refused, {"Item": {}}, billed={"pk": {"S": "x"}}) is None
    True
    >>> meter.failed_write_units
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.errors import GatewayError
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import condition_failed, store_errors


def conditional_write(
    meter: CapacityMeter,
    call: Callable[..., dict[str, Any]],
    request: dict[str, Any],
    *,
    billed: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Make ``call(**request)`` (with consumed capacity returned); its answer, or None when
    its condition failed (``billed``, the item or its key, sizes the failed write's units).
    Any other refusal raises as :func:`~gateway.store.errors.store_errors` says."""
    try:
        with store_errors():
            answer = call(**request, ReturnConsumedCapacity="TOTAL")
    except GatewayError as exc:
        if condition_failed(exc):
            meter.add_failed_write(billed)
            return None
        raise
    meter.add_write(answer)
    return answer
