"""Partner key sets in AWS Secrets Manager, read through a short in-process cache.

One secret per (tenant, carrier), named ``{prefix}{tenant}/{carrier}``, whose value
is the JSON of a :class:`~gateway.keysets.KeySet`. The value is always read with
``VersionStage="AWSCURRENT"``. A secret that does not exist yields no secrets (the
delivery then fails closed with 401); any other failure raises, and the pipeline
answers a retryable 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.keysets import KeySet

CACHE_SECONDS = 300
"""How long a key set is cached; rotation grace periods must outlive it."""


class SecretsManagerProvider:
    """A :class:`~gateway.keysets.SecretsProvider` backed by Secrets Manager."""

    def __init__(
        self,
        *,
        prefix: str = "waybill/",
        client: Any | None = None,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self._client = client
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, KeySet | None]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def secret_id(self, tenant: str, carrier: str) -> str:
        """The Secrets Manager name of a (tenant, carrier) key set."""
        return f"{self.prefix}{tenant}/{carrier}"

    def keyset(self, tenant: str, carrier: str) -> KeySet | None:
        """The key set, from the cache when fresh."""
        name = self.secret_id(tenant, carrier)
        cached = self._cache.get(name)
        if cached is not None and self._monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            response = self.client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
            keyset: KeySet | None = KeySet.model_validate_json(response["SecretString"])
        except self.client.exceptions.ResourceNotFoundException:
            keyset = None
        self._cache[name] = (self._monotonic(), keyset)
        return keyset

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        """Current and unexpired previous secrets; empty when none is set."""
        keyset = self.keyset(tenant, carrier)
        return keyset.valid_secrets(now) if keyset else []
