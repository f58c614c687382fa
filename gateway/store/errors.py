"""DynamoDB's refusals, as the answers the HTTP surface gives: 503 only for real outages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from gateway.errors import StoreUnavailableError, UnstorableError

DETERMINISTIC_CODES = frozenset({"ValidationException", "SerializationException"})
"""Refusals of the request itself (a key or item over DynamoDB's limits, a malformed
value): the same request fails the same way every time."""
CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: BaseException) -> bool:
    """Whether ``exc`` (a ``ClientError``, or a store error raised from one) is a failed
    condition: the item was not as the write required, and the write was still billed."""
    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    return (
        isinstance(cause, ClientError)
        and cause.response.get("Error", {}).get("Code") == CONDITION_FAILED
    )


@contextmanager
def store_errors() -> Iterator[None]:
    """DynamoDB's refusals as service errors.

    A refusal of the request itself is :class:`UnstorableError` (never retried); anything
    else (throttling, an unreachable or failing service, a missing table) is a 503 the
    caller retries, which dedupe makes safe.
    """
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        if code in DETERMINISTIC_CODES:
            raise UnstorableError(f"storage refused the request as invalid ({code})") from exc
        raise StoreUnavailableError(f"storage refused the request ({code})") from exc
    except ParamValidationError as exc:
        raise UnstorableError("storage refused the request as invalid (parameters)") from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(f"storage unreachable ({type(exc).__name__})") from exc
