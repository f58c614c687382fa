"""Tenant API keys on AWS: where the authorizer looks them up, and how the stack names them.

Three things per tenant, all created by the stack (never by hand):

- the **API Gateway key** ``waybill-{stack}-{tenant}`` (or ``…/{label}`` for a second
  key during a rotation), tagged ``waybill:stack`` and ``waybill:tenant``, attached to
  the usage plan of the tenant's tier; its value is ``wb_`` + 43 URL-safe characters;
- a **DynamoDB item** per key, ``pk = APIKEY#{sha256 hex of the value}``, ``sk = APIKEY``,
  with ``tenant``, ``prefix`` (8-character display prefix), ``created_at`` and, once
  revoked, ``revoked_at`` (see :func:`api_key_item`); a missing or revoked item is refused;
- a **Secrets Manager secret** ``{prefix}plan_keys/{tenant}`` holding the value of the
  tenant's current usage-plan key (plain text), which the authorizer returns as
  ``usageIdentifierKey`` for every request of the tenant, webhooks included.

Example:
    >>> gateway_key_name("prod", "demo")
    'waybill-prod-demo'
    >>> item = api_key_item(digest("wb_example"), "demo", "wb_examp", "2025-01-01T00:00:00Z")
    >>> item["pk"]["S"][:19], item["sk"]["S"], item["tenant"]["S"]
    ('APIKEY#d4f77be260e3', 'APIKEY', 'demo')
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway.aws.secrets import CACHE_SECONDS, plan_key_secret_id
from gateway.tenancy.apikeys import KEY_PREFIX, digest

KEY_CACHE_SECONDS = 5.0
"""How long a key → tenant answer is reused in one container: revocation lag on AWS."""
PLAN_KEY_CACHE_SECONDS = float(CACHE_SECONDS)
"""How long a plan key value is reused (it changes only when the stack rotates it)."""
API_KEY_SK = "APIKEY"
_MAX_KEY_CHARS = 256
_MAX_CACHED = 4096


def api_key_pk(sha256_hex: str) -> str:
    """Partition key of the item mapping a key digest to its tenant."""
    return f"APIKEY#{sha256_hex}"


def api_key_item(sha256_hex: str, tenant: str, prefix: str, created_at: str) -> dict[str, Any]:
    """The DynamoDB item (low-level JSON) the stack writes for one API key."""
    return {
        "pk": {"S": api_key_pk(sha256_hex)},
        "sk": {"S": API_KEY_SK},
        "tenant": {"S": tenant},
        "prefix": {"S": prefix},
        "created_at": {"S": created_at},
    }


class _Ttl:
    """A small time-bounded memo; cleared whole when it grows past a bound."""

    def __init__(self, seconds: float, monotonic: Callable[[], float]) -> None:
        self.seconds, self.monotonic = seconds, monotonic
        self.entries: dict[str, tuple[float, str | None]] = {}

    def get(self, key: str, load: Callable[[], str | None]) -> str | None:
        hit = self.entries.get(key)
        if hit is not None and self.monotonic() - hit[0] < self.seconds:
            return hit[1]
        value = load()
        if len(self.entries) >= _MAX_CACHED:
            self.entries.clear()  # random keys sprayed at /v1 must not grow memory
        self.entries[key] = (self.monotonic(), value)
        return value


class DynamoApiKeys:
    """Callable ``presented key → tenant | None``, from the key's digest item in DynamoDB."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.table_name = client, table_name
        self._cache = _Ttl(cache_seconds, monotonic)

    def __call__(self, plaintext: str) -> str | None:
        if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > _MAX_KEY_CHARS:
            return None
        wanted = digest(plaintext)
        return self._cache.get(wanted, lambda: self._load(wanted))

    def _load(self, sha256_hex: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": api_key_pk(sha256_hex)}, "sk": {"S": API_KEY_SK}},
            ConsistentRead=True,  # a revocation is seen by the next read, not "eventually"
        ).get("Item")
        if not item or "revoked_at" in item:
            return None
        tenant = item.get("tenant", {}).get("S")
        return tenant if isinstance(tenant, str) and tenant else None


class PlanKeys:
    """Callable ``tenant → usage-plan key value | None`` from Secrets Manager (cached).

    A missing secret is not cached, so a stack that creates it later is seen at once.
    """

    def __init__(
        self,
        client: Any,
        prefix: str,
        *,
        cache_seconds: float = PLAN_KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.prefix = client, prefix
        self._cache = _Ttl(cache_seconds, monotonic)

    def __call__(self, tenant: str) -> str | None:
        value = self._cache.get(tenant, lambda: self._load(tenant))
        if value is None:
            self._cache.entries.pop(tenant, None)
        return value

    def _load(self, tenant: str) -> str | None:
        try:
            response = self.client.get_secret_value(
                SecretId=plan_key_secret_id(self.prefix, tenant), VersionStage="AWSCURRENT"
            )
        except self.client.exceptions.ResourceNotFoundException:
            return None
        value = str(response.get("SecretString") or "").strip()
        return value or None


def gateway_key_name(stack: str, tenant: str) -> str:
    """The API Gateway key name of a tenant in a stack (``/{label}`` may follow)."""
    return f"waybill-{stack}-{tenant}"


def tenant_gateway_keys(client: Any, stack: str, tenant: str) -> list[dict[str, Any]]:
    """The tenant's API Gateway keys (never their values), oldest first.

    ``nameQuery`` is a prefix match, so ``demo`` would also find ``demo-eu``: only the
    exact name or ``name/label`` is kept, and the tags, when set, must agree.
    """
    name = gateway_key_name(stack, tenant)
    pages = client.get_paginator("get_api_keys").paginate(nameQuery=name, includeValues=False)
    keys = []
    for item in (item for page in pages for item in page.get("items", [])):
        key_name, tags = str(item.get("name", "")), item.get("tags") or {}
        mine = key_name == name or key_name.startswith(name + "/")
        tagged = (tags.get("waybill:stack", stack), tags.get("waybill:tenant", tenant))
        if mine and tagged == (stack, tenant):
            keys.append(item)
    return sorted(keys, key=lambda k: (str(k.get("createdDate", "")), str(k.get("name", ""))))
