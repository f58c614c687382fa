"""API Gateway REST (v1) proxy events, built from an HTTP request, and responses back.

Example::

    route = match_route("/v1/shipments/1Z999")
    event = build_event(route, method="GET", path="/v1/shipments/1Z999", ...)
    status, headers, body = http_response(handler(event, LocalContext.new(...)))
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from gateway.routes import Route

FUNCTION_NAME = "waybill-local"
REGION = "us-west-2"
ACCOUNT_ID = "000000000000"
TIMEOUT_MS = 29_000  # API Gateway's integration timeout


def _single_and_multi(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's pair of maps: last value per name, and all values; None when empty."""
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    if not multi:
        return None, None
    return {name: values[-1] for name, values in multi.items()}, multi


def encode_body(body: bytes) -> tuple[str | None, bool]:
    """``(body, isBase64Encoded)``: UTF-8 text when it decodes, else base64; None if empty."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def build_event(
    route: Route,
    *,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    query_string: bytes,
    body: bytes,
    source_ip: str,
    tenant: str | None,
    request_id: str,
) -> dict[str, Any]:
    """The proxy event API Gateway would pass to the Lambda for this request."""
    single_headers, multi_headers = _single_and_multi(headers)
    query = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    single_query, multi_query = _single_and_multi(query)
    text, is_base64 = encode_body(body)
    lower = {name.lower(): value for name, value in headers}
    now = time.time()
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "resourceId": "local",
        "resourcePath": route.resource,
        "httpMethod": method,
        "path": path,
        "stage": "local",
        "requestId": request_id,
        "extendedRequestId": request_id,
        "protocol": "HTTP/1.1",
        "domainName": lower.get("host", "localhost"),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": source_ip, "userAgent": lower.get("user-agent")},
    }
    if tenant is not None:
        request_context["authorizer"] = {"tenant": tenant, "principalId": tenant}
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": route.path_parameters or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass
class LocalContext:
    """The subset of the Lambda context object that handlers and Powertools read."""

    aws_request_id: str
    function_name: str = FUNCTION_NAME
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
    log_group_name: str = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name: str = "local"
    deadline_ms: float = field(default_factory=lambda: time.monotonic() * 1000 + TIMEOUT_MS)

    @classmethod
    def new(cls) -> LocalContext:
        """A context for one invocation, with a fresh request id."""
        return cls(aws_request_id=str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (nominal, not enforced) timeout."""
        return max(0, int(self.deadline_ms - time.monotonic() * 1000))


class MalformedResponseError(ValueError):
    """The handler returned something that is not a proxy response (API Gateway: 502)."""


def http_response(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` from a proxy response, merged as API Gateway does.

    ``multiValueHeaders`` win over ``headers`` for the same (case-insensitive) name.
    """
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise MalformedResponseError("the handler response has no integer statusCode")
    multi = response.get("multiValueHeaders") or {}
    single = response.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise MalformedResponseError("headers and multiValueHeaders must be objects")
    headers = [
        (str(name), str(value))
        for name, values in multi.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    taken = {name.lower() for name in multi}
    headers += [(str(n), str(v)) for n, v in single.items() if n.lower() not in taken]
    body = response.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise MalformedResponseError("the response body must be a string")
    elif response.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise MalformedResponseError("isBase64Encoded but the body is not base64") from exc
    else:
        raw = body.encode("utf-8")
    return response["statusCode"], headers, raw
