"""A tenant's notification endpoints: what they want, whether they are on, their secrets.

One item per endpoint under ``N#{tenant}`` (one Query lists a tenant's endpoints, and the
notifier reads them once per stream batch and tenant, so a change applies to the next
batch). Secrets are generated here (``whsec_`` + 24 random bytes, as Svix does), shown
once, and stored sealed (:mod:`gateway.notify.sealing`); a rotation keeps the previous
secret valid until its grace ends, so a receiver that rolls its secret late never
rejects a message.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.errors import GatewayError, NotFoundError
from gateway.models import Status, instant_text, parse_instant_text, utc_text
from gateway.notify.sealing import Sealer
from gateway.store.capacity import CapacityMeter
from gateway.store.conditional import conditional_write
from gateway.store.errors import store_errors
from gateway.store.keys import endpoint_pk, endpoint_sk

STATUS_CHANGED = "shipment.status_changed"
EVENT_ADDED = "shipment.event_added"
MESSAGE_TYPES = (STATUS_CHANGED, EVENT_ADDED)
MAX_ENDPOINTS = 20
ENDPOINT_ID = re.compile(r"ep_[a-z2-7]{16}")  # what new_endpoint_id makes
MAX_GRACE = timedelta(days=7)
DEFAULT_GRACE = timedelta(days=1)
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


class EndpointLimitError(GatewayError):
    """A tenant has as many endpoints as it may have."""

    status, code = 409, "endpoint_limit"


class EndpointChangedError(GatewayError):
    """The endpoint changed (or went) between reading and writing it: read it again."""

    status, code = 409, "endpoint_changed"


def new_secret() -> str:
    """A fresh signing secret, as Standard Webhooks receivers expect it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_endpoint_id() -> str:
    """An opaque endpoint id."""
    return "ep_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


@dataclass(frozen=True)
class SealedSecret:
    """One signing secret, sealed; ``until`` is when a rotated-out secret stops signing."""

    sealed: bytes
    until: datetime | None = None


@dataclass(frozen=True)
class Endpoint:
    """A tenant's endpoint. Empty ``statuses`` or ``carriers`` mean every one."""

    tenant: str
    id: str
    url: str
    created_at: datetime
    description: str = ""
    types: tuple[str, ...] = (STATUS_CHANGED,)
    statuses: tuple[str, ...] = ()
    carriers: tuple[str, ...] = ()
    enabled: bool = True
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    secrets: tuple[SealedSecret, ...] = field(default=(), repr=False)

    def wants(self, message_type: str, status: Status, carrier: str) -> bool:
        """Whether a message of this type, status and carrier is for this endpoint."""
        return (
            message_type in self.types
            and (not self.statuses or status.value in self.statuses)
            and (not self.carriers or carrier in self.carriers)
        )

    @property
    def context(self) -> str:
        """What its sealed secrets are bound to."""
        return f"{self.tenant}/{self.id}"

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the secrets."""
        return {
            "id": self.id,
            "url": self.url,
            "description": self.description,
            "types": list(self.types),
            "statuses": list(self.statuses),
            "carriers": list(self.carriers),
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "created_at": utc_text(self.created_at),
        }


def _item(endpoint: Endpoint) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": endpoint_pk(endpoint.tenant)},
        "sk": {"S": endpoint_sk(endpoint.id)},
        "url": {"S": endpoint.url},
        "description": {"S": endpoint.description},
        "types": {"L": [{"S": t} for t in endpoint.types]},
        "statuses": {"L": [{"S": s} for s in endpoint.statuses]},
        "carriers": {"L": [{"S": c} for c in endpoint.carriers]},
        "enabled": {"BOOL": endpoint.enabled},
        "created_at": {"S": instant_text(endpoint.created_at)},
        "secrets": {"L": [_secret_value(s) for s in endpoint.secrets]},
    }
    if endpoint.disabled_reason:
        item["disabled_reason"] = {"S": endpoint.disabled_reason}
    if endpoint.failing_since:
        item["failing_since"] = {"S": instant_text(endpoint.failing_since)}
    return item


def _secret_value(secret: SealedSecret) -> dict[str, Any]:
    value: dict[str, Any] = {"sealed": {"B": secret.sealed}}
    if secret.until is not None:
        value["until"] = {"S": instant_text(secret.until)}
    return {"M": value}


def endpoint_from_item(tenant: str, item: dict[str, Any]) -> Endpoint:
    """Rebuild an endpoint from its item."""

    def texts(name: str) -> tuple[str, ...]:
        return tuple(v["S"] for v in item.get(name, {}).get("L", []))

    keys = []
    for value in item.get("secrets", {}).get("L", []):
        entry = value["M"]
        until = entry.get("until", {}).get("S")
        expiry = parse_instant_text(until) if until else None
        keys.append(SealedSecret(bytes(entry["sealed"]["B"]), expiry))
    failing = item.get("failing_since", {}).get("S")
    return Endpoint(
        tenant=tenant,
        id=item["sk"]["S"].removeprefix("N#"),
        url=item["url"]["S"],
        created_at=parse_instant_text(item["created_at"]["S"]),
        description=item.get("description", {}).get("S", ""),
        types=texts("types"),
        statuses=texts("statuses"),
        carriers=texts("carriers"),
        enabled=item.get("enabled", {}).get("BOOL", True),
        disabled_reason=item.get("disabled_reason", {}).get("S"),
        failing_since=parse_instant_text(failing) if failing else None,
        secrets=tuple(keys),
    )


class EndpointStore:
    """Endpoints in the table; secrets sealed by ``sealer``."""

    def __init__(self, client: Any, table: str, sealer: Sealer, meter: CapacityMeter) -> None:
        self.client, self.table, self.sealer, self.meter = client, table, sealer, meter

    def for_tenant(self, tenant: str) -> list[Endpoint]:
        """Every endpoint of ``tenant`` (one Query; a tenant has at most 20)."""
        with store_errors():
            answer = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": endpoint_pk(tenant)}},
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(answer)
        return [endpoint_from_item(tenant, item) for item in answer.get("Items", [])]

    def get(self, tenant: str, endpoint_id: str) -> Endpoint:
        """One endpoint; :class:`NotFoundError` when the tenant has none by that id."""
        with store_errors():
            answer = self.client.get_item(
                TableName=self.table,
                Key=self._key(tenant, endpoint_id),
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(answer)
        if "Item" not in answer:
            raise NotFoundError("no such endpoint")
        return endpoint_from_item(tenant, answer["Item"])

    def create(
        self,
        tenant: str,
        url: str,
        *,
        now: datetime,
        description: str = "",
        types: Sequence[str] = (STATUS_CHANGED,),
        statuses: Sequence[str] = (),
        carriers: Sequence[str] = (),
    ) -> tuple[Endpoint, str]:
        """A new endpoint and its secret (the only time the secret is returned)."""
        if len(self.for_tenant(tenant)) >= MAX_ENDPOINTS:
            raise EndpointLimitError(f"a tenant has at most {MAX_ENDPOINTS} endpoints")
        endpoint = Endpoint(
            tenant=tenant,
            id=new_endpoint_id(),
            url=url,
            created_at=now,
            description=description,
            types=tuple(types),
            statuses=tuple(statuses),
            carriers=tuple(carriers),
        )
        secret = new_secret()
        endpoint = replace(endpoint, secrets=(self._seal(endpoint, secret),))
        self._put(endpoint, "attribute_not_exists(pk)")
        return endpoint, secret

    def rotate(self, endpoint: Endpoint, grace: timedelta, now: datetime) -> tuple[Endpoint, str]:
        """A new current secret; the current one signs too until ``now + grace``.

        Guarded by the secrets read, so two rotations at once cannot lose a secret.
        """
        secret = new_secret()
        kept = [s for s in endpoint.secrets[1:] if s.until is not None and s.until > now]
        previous = replace(endpoint.secrets[0], until=now + grace) if endpoint.secrets else None
        keys = (self._seal(endpoint, secret), *([previous] if previous else []), *kept)
        self._update(
            endpoint,
            "SET secrets = :new",
            {":new": {"L": [_secret_value(s) for s in keys]}, ":old": _item(endpoint)["secrets"]},
            "secrets = :old",
        )
        return replace(endpoint, secrets=keys), secret

    def set_enabled(self, endpoint: Endpoint, enabled: bool, reason: str | None = None) -> Endpoint:
        """Turn an endpoint on (clearing why it was off and its failure streak) or off."""
        if enabled:
            self._update(
                endpoint,
                "SET enabled = :on REMOVE disabled_reason, failing_since",
                {":on": {"BOOL": True}},
            )
            return replace(endpoint, enabled=True, disabled_reason=None, failing_since=None)
        why = reason or "disabled"
        self._update(
            endpoint,
            "SET enabled = :off, disabled_reason = :why",
            {":off": {"BOOL": False}, ":why": {"S": why}},
        )
        return replace(endpoint, enabled=False, disabled_reason=why)

    def mark_failing(self, endpoint: Endpoint, now: datetime) -> None:
        """Start the endpoint's failure streak, unless one is running."""
        if endpoint.failing_since is None:
            self._update(
                endpoint,
                "SET failing_since = if_not_exists(failing_since, :now)",
                {":now": {"S": instant_text(now)}},
            )

    def mark_healthy(self, endpoint: Endpoint) -> None:
        """End the endpoint's failure streak (no write when there is none)."""
        if endpoint.failing_since is not None:
            self._update(endpoint, "REMOVE failing_since", {})

    def delete(self, tenant: str, endpoint_id: str) -> None:
        """Remove an endpoint; :class:`NotFoundError` when there is none."""
        request = {
            "Key": self._key(tenant, endpoint_id),
            "ConditionExpression": "attribute_exists(pk)",
        }
        self._write(self.client.delete_item, request, NotFoundError("no such endpoint"))

    def signing_secrets(self, endpoint: Endpoint, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, then those still in their grace."""
        valid = [s for s in endpoint.secrets if s.until is None or s.until > now]
        return [self.sealer.open(s.sealed, endpoint.context).decode() for s in valid]

    def _seal(self, endpoint: Endpoint, secret: str) -> SealedSecret:
        return SealedSecret(self.sealer.seal(secret.encode(), endpoint.context))

    def _key(self, tenant: str, endpoint_id: str) -> dict[str, Any]:
        return {"pk": {"S": endpoint_pk(tenant)}, "sk": {"S": endpoint_sk(endpoint_id)}}

    def _update(
        self,
        endpoint: Endpoint,
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
    ) -> None:
        """Change some attributes of an endpoint that still exists."""
        request: dict[str, Any] = {
            "Key": self._key(endpoint.tenant, endpoint.id),
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(filter(None, ["attribute_exists(pk)", condition])),
        }
        if values:
            request["ExpressionAttributeValues"] = values
        changed = EndpointChangedError("the endpoint was changed or removed meanwhile")
        self._write(self.client.update_item, request, changed)

    def _put(self, endpoint: Endpoint, condition: str) -> None:
        request = {"Item": _item(endpoint), "ConditionExpression": condition}
        self._write(self.client.put_item, request, NotFoundError("no such endpoint"))

    def _write(
        self, call: Callable[..., dict[str, Any]], request: dict[str, Any], refused: GatewayError
    ) -> None:
        """One conditional write, metered; ``refused`` is raised when its condition fails."""
        billed = request.get("Item") or request["Key"]
        if (
            conditional_write(self.meter, call, {"TableName": self.table, **request}, billed=billed)
            is None
        ):
            raise refused
