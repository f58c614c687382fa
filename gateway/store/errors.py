"""DynamoDB's refusals, as the 503 the HTTP surface answers with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import StoreUnavailableError


@contextmanager
def store_errors() -> Iterator[None]:
    """Anything DynamoDB refuses becomes a 503 the carrier retries (dedupe makes it safe)."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        raise StoreUnavailableError(f"storage refused the request ({code})") from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(f"storage unreachable ({type(exc).__name__})") from exc
