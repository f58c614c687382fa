"""What tenants (the API) and ops (the CLI) do with notifications, in one place.

Register, list, remove, rotate, disable and enable endpoints; list an endpoint's
messages with their attempts; resend one message now; recover every failed message
since a time. The stream handler and the sweeper are reached from here too, so the
Lambda entry points, the local runtime and the API share one object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.audit.outcomes import AuditEvent
from gateway.errors import BadRequestError
from gateway.models import Status
from gateway.notify.delivery import Notifier
from gateway.notify.endpoints import (
    DEFAULT_GRACE,
    MAX_GRACE,
    MESSAGE_TYPES,
    STATUS_CHANGED,
    Endpoint,
)
from gateway.notify.messages import Message, MessageChangedError
from gateway.notify.stream import StreamNotifier
from gateway.notify.sweeper import sweep

MAX_URL_CHARS = 2048
MAX_PAGE = 100


class EndpointSpec(BaseModel):
    """A new endpoint, as the API and the CLI take it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_CHARS,
        examples=["https://shop.example.com/hooks/waybill"],
        description="where messages are posted (https, a public address, in deployed stacks)",
    )
    description: str = Field(default="", max_length=256, description="for the tenant's eyes")
    types: tuple[str, ...] = Field(
        default=(STATUS_CHANGED,),
        min_length=1,
        description="the message types it receives (default: status changes only)",
        json_schema_extra={"items": {"type": "string", "enum": list(MESSAGE_TYPES)}},
    )
    statuses: tuple[Status, ...] = Field(
        default=(), description="only shipments in these statuses (default: all)"
    )
    carriers: tuple[str, ...] = Field(
        default=(), max_length=50, description="only these carriers' shipments (default: all)"
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(MESSAGE_TYPES))
        if unknown:
            raise ValueError(
                f"unknown message type {unknown[0]!r}; known: {', '.join(MESSAGE_TYPES)}"
            )
        return tuple(dict.fromkeys(value))

    @field_validator("carriers")
    @classmethod
    def _carrier_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for carrier in value:
            if not carrier or len(carrier) > 64 or not carrier.replace("_", "").isalnum():
                raise ValueError("a carrier is an adapter id such as 'ups' or 'easypost'")
        return tuple(dict.fromkeys(value))


@dataclass
class Notifications:
    """The notification service (see the module docstring)."""

    notifier: Notifier
    stream: StreamNotifier

    def create_endpoint(self, tenant: str, spec: EndpointSpec) -> tuple[Endpoint, str]:
        """Register an endpoint; its secret is returned here only."""
        self.notifier.policy.check_url(spec.url)
        endpoint, secret = self.notifier.endpoints.create(
            tenant,
            spec.url,
            now=self.notifier.clock(),
            description=spec.description,
            types=spec.types,
            statuses=tuple(s.value for s in spec.statuses),
            carriers=spec.carriers,
        )
        self._audit(tenant, "created", endpoint.id)
        return endpoint, secret

    def endpoints(self, tenant: str) -> list[Endpoint]:
        """A tenant's endpoints."""
        return sorted(self.notifier.endpoints.for_tenant(tenant), key=lambda e: e.created_at)

    def endpoint(self, tenant: str, endpoint_id: str) -> Endpoint:
        """One endpoint (404 when the tenant has none by that id)."""
        return self.notifier.endpoints.get(tenant, endpoint_id)

    def delete_endpoint(self, tenant: str, endpoint_id: str) -> int:
        """Remove an endpoint and drop its unsent messages; how many were dropped."""
        self.notifier.endpoints.get(tenant, endpoint_id)
        self.notifier.endpoints.delete(tenant, endpoint_id)
        self._audit(tenant, "deleted", endpoint_id)
        return self._move(tenant, endpoint_id, ("sending", "pending", "paused"), "dropped")

    def rotate_secret(
        self, tenant: str, endpoint_id: str, grace_seconds: int | None = None
    ) -> tuple[Endpoint, str]:
        """A new secret; the old one signs too for ``grace_seconds`` (default a day)."""
        grace = DEFAULT_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
        if not timedelta(0) <= grace <= MAX_GRACE:
            raise BadRequestError("grace_seconds is between 0 and 604800 (7 days)")
        endpoint = self.notifier.endpoints.get(tenant, endpoint_id)
        rotated, secret = self.notifier.endpoints.rotate(endpoint, grace, self.notifier.clock())
        self._audit(tenant, "rotated", endpoint_id)
        return rotated, secret

    def set_enabled(self, tenant: str, endpoint_id: str, enabled: bool) -> Endpoint:
        """Disable an endpoint (its messages wait), or enable it (they are sent)."""
        endpoint = self.notifier.endpoints.get(tenant, endpoint_id)
        changed = self.notifier.endpoints.set_enabled(
            endpoint, enabled, None if enabled else "by request"
        )
        self._audit(tenant, "enabled" if enabled else "disabled", endpoint_id)
        if enabled:
            self._move(tenant, endpoint_id, ("paused",), "pending")
        return changed

    def messages(
        self, tenant: str, endpoint_id: str, *, state: str | None, limit: int, before: str | None
    ) -> list[Message]:
        """An endpoint's messages, newest first."""
        self.notifier.endpoints.get(tenant, endpoint_id)
        limit = max(1, min(limit, MAX_PAGE))
        return self.notifier.messages.newest(
            tenant, endpoint_id, state=state, limit=limit, before=before
        )

    def resend(self, tenant: str, endpoint_id: str, message_id: str) -> Message:
        """Send one message again now; the message with this attempt recorded."""
        endpoint = self.notifier.endpoints.get(tenant, endpoint_id)
        message = self.notifier.messages.get(tenant, endpoint_id, message_id)
        return self.notifier.attempt(message, endpoint, trigger="resend")

    def recover(self, tenant: str, endpoint_id: str, since: datetime) -> int:
        """Queue every message whose last attempt failed at or after ``since`` for one more."""
        self.notifier.endpoints.get(tenant, endpoint_id)
        return self._move(tenant, endpoint_id, ("failed",), "pending", since=since)

    def handle_stream(
        self, records: Iterable[Mapping[str, Any]], deadline: float | None = None
    ) -> int:
        """One batch of the table's stream (see :mod:`gateway.notify.stream`)."""
        return self.stream.handle(records, deadline)

    def sweep(self, deadline: float | None = None) -> int:
        """Attempt what is due (see :mod:`gateway.notify.sweeper`)."""
        return sweep(self.notifier, deadline=deadline)

    def _move(
        self,
        tenant: str,
        endpoint_id: str,
        states: tuple[str, ...],
        to: str,
        since: datetime | None = None,
    ) -> int:
        now = self.notifier.clock()
        moved = 0
        for message in self.notifier.messages.each(tenant, endpoint_id, states):
            if since is not None and not (message.attempts and message.attempts[-1].at >= since):
                continue
            due = now if to == "pending" else None
            try:
                self.notifier.messages.record(message, None, to, due_at=due, spread=moved)
            except MessageChangedError:  # an attempt changed it meanwhile: its outcome stands
                continue
            moved += 1
        return moved

    def _audit(self, tenant: str, action: str, endpoint_id: str) -> None:
        event = AuditEvent(
            tenant, "endpoint", self.notifier.clock(), code=f"{action}.{endpoint_id}"
        )
        self.notifier.audit.record(event)
