"""A naive EasyPost webhook receiver and a bare ceiling, to set Waybill's served figures against.

Two plain ASGI callables (no framework), each served by the venv's ``uvicorn`` with its
defaults (one worker process, asyncio, h11, its access log) in its own subprocess
(``bench/uvicorn_app.py``); ``bench/peer_throughput.py`` loads them and Waybill with the
same signed bodies. Configuration comes from the environment: ``PEER_ENDPOINT`` (the
DynamoDB endpoint: the gateway's own DynamoDB Local), ``PEER_TABLE``, ``PEER_SECRET``.

``app``, the naive peer (the floor), for ``POST /webhooks/bench/easypost``:

1. reads the whole raw body;
2. checks ``X-Hmac-Signature: hmac-sha256-hex=<hex>``: HMAC-SHA256 of the raw body keyed
   with the NFKD-normalised secret, compared in constant time (``hmac.compare_digest``);
   401 when it is missing or does not match;
3. ``json.loads`` the body (400 if that fails or it has no ``result.tracking_details``);
4. in a worker thread (``asyncio.to_thread``, one boto3 client shared by the threads,
   boto3's default configuration), one ``PutItem`` per tracking detail, one after the
   other, with no condition: ``pk`` = ``result.tracking_code``, ``sk`` = the detail's
   ``datetime`` + ``#`` + its index, ``detail`` = the detail as JSON text;
5. answers 200 ``{"stored": n}`` (n = the details written); an exception (DynamoDB
   unavailable…) is uvicorn's own 500.

Its table (pk, sk strings, on demand) is created at startup (ASGI lifespan) if missing.
Any other path or method gets 404.

What it does **not** do, all of which Waybill does on top: no dedupe (a carrier retry or
a full-history resend writes every detail again; nothing is read before writing), no
shipment state (no current status, no ordering of late events, no status index), no
audit record or outcome counters, no tenant lookup (one fixed path, one secret from the
environment; no key rotation, several secrets or secret store), no throttling, quota or
hard cap, no parsing into a validated canonical model (no fingerprints, time zones,
status mapping, size bounds), no parking of unreadable deliveries, no content-type or
body-size check, no structured logs or metrics beyond uvicorn's access log.

``ceiling`` answers 200 ``{}`` to every POST after receiving its body (405 otherwise):
the cost of uvicorn and the HTTP client alone, with no DynamoDB at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import unicodedata
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PATH = "/webhooks/bench/easypost"
PREFIX = b"hmac-sha256-hex="
TABLE = os.environ.get("PEER_TABLE", "waybill-bench-peer")
KEY = unicodedata.normalize("NFKD", os.environ.get("PEER_SECRET", "")).encode()
_client: DynamoDBClient | None = None


def _make_client() -> DynamoDBClient:
    return boto3.client(
        "dynamodb",
        endpoint_url=os.environ["PEER_ENDPOINT"],
        region_name="us-west-2",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local's dummy credentials
    )


def _create_table() -> None:
    global _client
    _client = client = _make_client()
    if TABLE in client.list_tables()["TableNames"]:
        return
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=TABLE)


def _signed(body: bytes, header: bytes) -> bool:
    expected = PREFIX + hmac.new(KEY, body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, header)


def _store(tracking_code: str, details: list[dict[str, Any]]) -> int:
    assert _client is not None
    for index, detail in enumerate(details):
        item = {
            "pk": {"S": tracking_code},
            "sk": {"S": f"{detail['datetime']}#{index}"},
            "detail": {"S": json.dumps(detail)},
        }
        _client.put_item(TableName=TABLE, Item=item)
    return len(details)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, startup: Callable[[], None] | None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await asyncio.to_thread(startup or (lambda: None))
            except Exception as exc:  # uvicorn then exits: no peer without its table
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The naive peer (see the module's docstring)."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send, _create_table)
    if scope["method"] != "POST" or scope["path"] != PATH:
        return await _answer(send, 404, {"error": "not found"})
    body = await _body(receive)
    if not _signed(body, dict(scope["headers"]).get(b"x-hmac-signature", b"")):
        return await _answer(send, 401, {"error": "signature mismatch"})
    try:
        result = json.loads(body)["result"]
        tracking_code, details = result["tracking_code"], result["tracking_details"]
    except (ValueError, KeyError, TypeError):
        return await _answer(send, 400, {"error": "not a tracker"})
    stored = await asyncio.to_thread(_store, tracking_code, details)
    await _answer(send, 200, {"stored": stored})


async def ceiling(scope: Scope, receive: Receive, send: Send) -> None:
    """200 ``{}`` to every POST, nothing else done."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send, None)
    await _body(receive)
    await _answer(send, 200 if scope["method"] == "POST" else 405, {})
