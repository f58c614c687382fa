"""Service errors: one base class, each subclass with an HTTP status and a stable code.

Messages say what failed and never carry secrets or whole bodies.
"""

from __future__ import annotations

from pydantic import ValidationError


class GatewayError(Exception):
    """Base of every error Waybill answers with; ``code`` is part of the API."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON error body of the HTTP surface."""
        return {"error": {"code": self.code, "message": self.message}}


class BadRequestError(GatewayError):
    """The request is malformed."""

    status, code = 400, "bad_request"


class SignatureError(GatewayError):
    """Authentication failed; the message names the failing step, never the values."""

    status, code = 401, "invalid_signature"


class AuthenticationError(GatewayError):
    """A missing or unknown API key."""

    status, code = 401, "unauthenticated"


class NotFoundError(GatewayError):
    """Unknown tenant, carrier, route or resource."""

    status, code = 404, "not_found"


class MethodNotAllowedError(GatewayError):
    """The route exists but not with this method; ``allow`` lists the methods it has."""

    status, code = 405, "method_not_allowed"

    def __init__(self, message: str, *, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class PayloadTooLargeError(GatewayError):
    """The body exceeds the configured limit."""

    status, code = 413, "payload_too_large"


class UnsupportedMediaTypeError(GatewayError):
    """The content type is not one the endpoint accepts."""

    status, code = 415, "unsupported_media_type"


class ThrottledError(GatewayError):
    """A rate, quota or hard cap was hit."""

    status, code = 429, "throttled"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class StoreUnavailableError(GatewayError):
    """We could not store durably; the carrier should retry (dedupe makes it safe)."""

    status, code = 503, "store_unavailable"


class UnstorableError(GatewayError):
    """The content can never be stored as it is (too large, invalid text, a key DynamoDB
    refuses): a deterministic refusal, so retrying cannot help and nothing was written.

    Ingest parks such a delivery (202); elsewhere it is a 400, never a retryable 503.
    """

    status, code = 400, "unstorable"


class ItemIgnored(Exception):
    """Raised by an adapter's item reader for an authentic item that carries nothing to
    store (e.g. a status with no time for it); its message says why, never a value.

    :func:`gateway.carriers.payload.collect` records the reason; the delivery's answer says it.
    """


class ParseError(Exception):
    """Raised by an adapter's ``parse`` for an authentic body it cannot read.

    The pipeline turns it into a parked delivery, never into a 4xx.
    """


def describe_errors(exc: ValidationError) -> str:
    """``field.path: message`` for each error of a configuration file, never the value.

    >>> from pydantic import BaseModel
    >>> class Tier(BaseModel):
    ...     rate: int
    >>> try:
    ...     Tier.model_validate({"rate": "x"})
    ... except ValidationError as exc:
    ...     print(describe_errors(exc))
    rate: input should be a valid integer, unable to parse string as an integer
    """
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "(file)"
        message = error["msg"]
        parts.append(f"{where}: {message[:1].lower()}{message[1:]}")
    return "; ".join(parts)
