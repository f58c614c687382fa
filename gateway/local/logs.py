"""How ``waybill serve`` logs: one short human line per request, or JSON as on AWS.

``human`` (the default) prints, for each request, the time (UTC), method, path, status,
outcome code (what the answer says: ``accepted``, ``duplicate``, ``parked``, or the
refusal's error code) and latency, then the reasons of a refusal or a parking (the
message the caller got, and the reason the pipeline logged with ``extra={"reason": …}``,
bounded and escaped by :func:`gateway.observability.printable`); other log records are
one ``time LEVEL message`` line each. Neither the Lambda-context JSON nor EMF blobs
reach the terminal (EMF is turned off: nobody reads it from here). ``json`` leaves the
Powertools logger and EMF exactly as on AWS.

Example::

    with local_logging("human"):
        run_server(app)
    # 14:02:11Z POST /webhooks/demo/easypost 202 parked 9ms  ParseError: no tracking code
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.audit.outcomes import delivery_outcomes
from gateway.local.asgi import Message, Send

LOG_FORMATS = ("human", "json")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_notes: ContextVar[list[str] | None] = ContextVar("waybill_request_notes", default=None)


def printable(text: str, limit: int = 200) -> str:
    """:func:`gateway.observability.printable`, imported when first needed: importing it
    sets up the Powertools logger, which a bare edge (no handler yet) must not get."""
    from gateway.observability import printable as escaped

    return escaped(text, limit)


class Answered:
    """Wraps an ASGI ``send`` to keep the response's body (read for its outcome code)."""

    def __init__(self, send: Send) -> None:
        self.inner, self.body = send, b""

    async def send(self, message: Message) -> None:
        """Pass the message on, keeping the body."""
        if message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        await self.inner(message)


def collect_notes() -> list[str]:
    """A fresh list of the current request's reasons (call in the request's own task:
    the handler's thread inherits the context, so what it logs lands here)."""
    notes: list[str] = []
    _notes.set(notes)
    return notes


def answer_of(method: str, path: str, status: int, body: bytes) -> tuple[str, str]:
    """``(outcome code, message)`` read from an answer: a refusal's error code and message,
    a delivery's outcomes as the audit names them (``accepted+parked`` for a batch stored
    in part) and why it was ignored; empty for other answers (a query's body is not read).

    >>> answer_of("POST", "/webhooks/a/ups", 401, b'{"error": {"code": "signature_missing",'
    ...           b' "message": "signature is missing"}}')
    ('signature_missing', 'signature is missing')
    >>> answer_of("POST", "/v1/events", 200, b'{"accepted": 0, "duplicates": 2}')
    ('duplicate', '')
    """
    delivery = method == "POST" and (path.startswith("/webhooks/") or path == "/v1/events")
    if status < 400 and not delivery:
        return "", ""
    try:
        answer = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(answer, dict):
        return "", ""
    if status >= 400:
        return _refusal(answer)
    found = delivery_outcomes("", "", answer, _EPOCH)
    why = printable(str(answer["ignored"])) if answer.get("ignored") else ""
    return "+".join(dict.fromkeys(event.outcome for event in found)), why


def _refusal(answer: dict[str, Any]) -> tuple[str, str]:
    """An error body's code and message: ours, or RFC 6749's (the OAuth token endpoint)."""
    error = answer.get("error")
    if isinstance(error, dict):  # {"error": {"code", "message"}}
        code, message = error.get("code", ""), error.get("message", "")
    elif isinstance(error, str):  # {"error": "invalid_client", "error_description": …}
        code, message = error, answer.get("error_description", "")
    else:
        return "", ""
    return printable(str(code), 60), printable(str(message))


def log_request(
    log: logging.Logger,
    request: tuple[str, str, str],
    status: int,
    body: bytes,
    elapsed_ms: float,
    notes: list[str],
) -> None:
    """Log one answered request (``request`` = client, method, path): its fields as
    ``extra`` (the JSON keys), from which :class:`HumanFormatter` writes the human line."""
    client, method, path = request
    outcome, message = answer_of(method, path, status, body)
    reasons = list(dict.fromkeys([*notes, message] if message else notes))
    fields = {"method": method, "path": path, "status": status, "outcome": outcome}
    fields |= {"latency_ms": round(elapsed_ms, 1), "reasons": reasons}
    log.info('%s "%s %s" %s %.1fms', client, method, path, status, elapsed_ms, extra=fields)


def _clock(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%SZ")


class HumanFormatter(logging.Formatter):
    """A request as ``time METHOD path status outcome latency  reasons``; anything else as
    ``time LEVEL message`` (with its traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """One line (a traceback follows on its own lines)."""
        fields = record.__dict__
        if "latency_ms" in fields:
            parts = [
                _clock(record),
                fields["method"],
                printable(fields["path"]),
                str(fields["status"]),
            ]
            parts += [fields["outcome"]] if fields["outcome"] else []
            line = " ".join([*parts, f"{fields['latency_ms']:.0f}ms"])
            return f"{line}  {'; '.join(fields['reasons'])}" if fields["reasons"] else line
        line = f"{_clock(record)} {record.levelname} {printable(record.getMessage(), 500)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _to_request(record: logging.LogRecord) -> bool:
    """Keep a record with a ``reason`` for its request's line (if inside a request)."""
    notes = _notes.get()
    reason = getattr(record, "reason", None)
    if notes is None or not isinstance(reason, str):
        return True
    notes.append(reason)
    return False


@contextmanager
def local_logging(log_format: str, stream: TextIO | None = None) -> Iterator[None]:
    """Inside, the ``waybill`` loggers print as ``log_format`` says (``human``: to
    ``stream``, stdout by default); restored on exit."""
    if log_format == "json":
        yield
        return
    if log_format != "human":
        raise ValueError(f"unknown log format {log_format!r} (one of {', '.join(LOG_FORMATS)})")
    human = logging.StreamHandler(stream or sys.stdout)
    human.setFormatter(HumanFormatter())
    human.addFilter(_to_request)
    from gateway.observability import emit_metrics, logger

    powertools = logger.registered_handler
    quiet = logging.Filter("-- nothing --")  # matches no logger: drops every record
    powertools.addFilter(quiet)
    waybill = logging.getLogger("waybill")
    waybill.addHandler(human)
    emit_metrics(False)
    try:
        yield
    finally:
        emit_metrics(True)
        waybill.removeHandler(human)
        powertools.removeFilter(quiet)
