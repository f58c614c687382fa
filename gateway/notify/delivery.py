"""One attempt to deliver one message, and what its outcome does to the message and endpoint.

The body is signed the Standard Webhooks way: ``webhook-id`` (the message id, stable
across attempts), ``webhook-timestamp`` (this attempt) and ``webhook-signature`` with one
``v1,`` entry per secret that signs now (both during a rotation's grace). The request
goes through :mod:`gateway.notify.transport` (address rules, no redirects, capped reads).

Outcomes: a 2xx within 15 s delivers the message; a 410 fails it and disables the
endpoint; any other failure schedules the next attempt (:mod:`gateway.notify.schedule`,
``Retry-After`` honoured) or fails the message when none is left; an endpoint that has
failed without a success for five days is disabled and its message paused. A disabled
endpoint's messages are paused without an attempt; a deleted endpoint's are dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gateway.audit.outcomes import AuditEvent, Auditor
from gateway.notify.addresses import AddressPolicy
from gateway.notify.endpoints import Endpoint, EndpointStore
from gateway.notify.messages import Attempt, Message, MessageStore, shard_of
from gateway.notify.schedule import DISABLE_AFTER, SUCCESS_WITHIN_SECONDS, next_delay
from gateway.notify.transport import SendResult, post
from gateway.signing.standard import sign_standard

log = logging.getLogger("waybill.notify")

USER_AGENT = "Waybill-Webhooks/1.0"
DEADLINE_MARGIN = 2.0  # seconds kept after the last attempt, to record it


class Counter(Protocol):
    """Emits a metric: name, value."""

    def __call__(self, name: str, value: float = 1) -> None: ...


class Sender(Protocol):
    """Sends one request (:func:`gateway.notify.transport.post`, or a test's)."""

    def __call__(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        policy: AddressPolicy,
        timeout: float,
    ) -> SendResult: ...


class EventDocs(Protocol):
    """Reads an event's stored document (``None`` once it expired or was erased)."""

    def __call__(self, message: Message) -> str | None: ...


def signed_headers(
    message_id: str, timestamp: int, body: bytes, secrets: list[str]
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, one ``v1,`` signature per secret."""
    signatures = " ".join(sign_standard(s, message_id, timestamp, body) for s in secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


@dataclass
class Notifier:
    """Attempts messages and records what happened."""

    endpoints: EndpointStore
    messages: MessageStore
    event_docs: EventDocs
    policy: AddressPolicy
    clock: Callable[[], datetime]
    count: Counter
    audit: Auditor
    send: Sender = post
    timing: Counter = lambda name, value=1: None
    retry_scale: float = 1.0  # tests and local demos shrink the schedule; AWS never does
    timeout: float = SUCCESS_WITHIN_SECONDS  # success is a 2xx within this (tests shorten it)

    def attempt(
        self,
        message: Message,
        endpoint: Endpoint | None,
        *,
        trigger: str,
        event_doc: str | None = None,
        written_at: datetime | None = None,
    ) -> Message:
        """Try ``message`` once now (or pause or drop it) and store the outcome.

        ``written_at`` (when the stream says the change was written) makes a success
        count its latency: the time from the write to the endpoint's 2xx.
        """
        if endpoint is None:
            return self.messages.record(message, None, "dropped")
        if not endpoint.enabled:
            return self.messages.record(message, None, "paused")
        doc = event_doc if event_doc is not None else self.event_docs(message)
        now = self.clock()
        if doc is None:  # the event expired or its shipment was erased: nothing to send
            attempt = Attempt(now, None, 0, "event_gone", trigger)
            return self.messages.record(message, attempt, "failed")
        body = message.body(doc)
        secrets = self.endpoints.signing_secrets(endpoint, now)
        headers = signed_headers(message.id, int(now.timestamp()), body, secrets)
        result = self.send(endpoint.url, body, headers, policy=self.policy, timeout=self.timeout)
        attempt = Attempt(now, result.status, round(result.latency_ms), result.error, trigger)
        if result.ok:
            if written_at is not None:  # from the write to the endpoint's answer
                waited = (now - written_at).total_seconds() * 1000 + result.latency_ms
                self.timing("NotificationLatency", max(waited, 0.0))
            return self._delivered(message, endpoint, attempt)
        return self._failed(message, endpoint, attempt, result)

    def has_time(self, deadline: float | None) -> bool:
        """Whether an attempt started now ends before ``deadline`` (``time.monotonic()``)."""
        return deadline is None or time.monotonic() + self.timeout + DEADLINE_MARGIN < deadline

    def defer(self, message: Message) -> Message:
        """Leave a message to the sweeper: due now, no attempt made."""
        return self.messages.record(
            message, None, "pending", due_at=self.clock(), spread=shard_of(message.id)
        )

    def _delivered(self, message: Message, endpoint: Endpoint, attempt: Attempt) -> Message:
        self.endpoints.mark_healthy(endpoint)
        stored = self.messages.record(message, attempt, "delivered")
        self.count("NotificationsDelivered")
        return stored

    def _failed(
        self, message: Message, endpoint: Endpoint, attempt: Attempt, result: SendResult
    ) -> Message:
        self.count("NotificationAttemptsFailed")
        now = attempt.at
        if result.status == 410:
            self.disable(endpoint, "gone", now)
            return self.messages.record(message, attempt, "failed")
        if endpoint.failing_since is not None and now - endpoint.failing_since >= DISABLE_AFTER:
            self.disable(endpoint, "failing", now)
            return self.messages.record(message, attempt, "paused")
        self.endpoints.mark_failing(endpoint, now)
        if attempt.trigger == "resend" and message.state != "pending":
            return self.messages.record(message, attempt, "failed")
        delay = next_delay(message.attempt_count + 1, result.retry_after, self.retry_scale)
        if delay is None:
            return self.messages.record(message, attempt, "failed")
        due = now + timedelta(seconds=delay)
        return self.messages.record(
            message, attempt, "pending", due_at=due, spread=shard_of(message.id)
        )

    def disable(self, endpoint: Endpoint, reason: str, now: datetime) -> Endpoint:
        """Turn an endpoint off for ``reason``, with a metric, a log line and an audit entry."""
        disabled = self.endpoints.set_enabled(endpoint, False, reason)
        self.count("EndpointsDisabled")
        log.warning(
            "endpoint disabled",
            extra={"tenant": endpoint.tenant, "endpoint": endpoint.id, "reason": reason},
        )
        self.audit.record(
            AuditEvent(endpoint.tenant, "endpoint", now, code=f"disabled.{reason}.{endpoint.id}")
        )
        return disabled
