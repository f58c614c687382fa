"""Partner key sets in AWS Secrets Manager, read through a short in-process cache.

One secret per (tenant, carrier), named ``{prefix}{tenant}/{carrier}``, whose value
is the JSON of a :class:`~gateway.tenancy.keysets.KeySet`. The value is always read with
``VersionStage="AWSCURRENT"``. A secret that does not exist yields no secrets (the
delivery then fails closed with 401); any other failure raises, and the pipeline
answers a retryable 503.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from gateway.tenancy.keysets import MIN_GRACE, KeySet

CACHE_SECONDS = 300
"""How long a key set is cached; rotation grace periods must outlive it."""
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def stack_prefix(stack: str) -> str:
    """The secret-name prefix of a stack (its Lambdas' ``SECRETS_PREFIX``); ``ValueError`` if bad.

    >>> secret_id(stack_prefix("prod"), "demo", "shippo.hmac")
    'waybill/prod/demo/shippo.hmac'
    """
    if not _STACK_NAME.fullmatch(stack):
        raise ValueError(f"{stack!r} is not a stack name (letters, digits, '-', '_', '.')")
    return f"waybill/{stack}/"


def secret_id(prefix: str, tenant: str, carrier: str) -> str:
    """The name of a (tenant, carrier) key set: ``{prefix}{tenant}/{carrier}``."""
    return f"{prefix}{tenant}/{carrier}"


def plan_key_secret_id(prefix: str, tenant: str) -> str:
    """The name of a tenant's usage-plan key value: ``{prefix}plan_keys/{tenant}``.

    ``plan_keys`` has an underscore, which no tenant id has, so it never names a key set.
    """
    return f"{prefix}plan_keys/{tenant}"


def console_credential_secret_id(prefix: str) -> str:
    """The secret holding the ops console credential's digest: ``{prefix}ops_console/credential``
    (its value is the record of :func:`gateway.console.credential.new_credential`).
    ``ops_console`` has an underscore, which no tenant id has, so it never names a key set."""
    return f"{prefix}ops_console/credential"


class SecretsManagerNames:
    """What the Lambda's reader and the CLI's store share: the key-set names under
    ``prefix``, and a Secrets Manager client made on first use."""

    prefix: str
    _client: Any | None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def secret_id(self, tenant: str, carrier: str) -> str:
        """The Secrets Manager name of a (tenant, carrier) key set."""
        return secret_id(self.prefix, tenant, carrier)


class SecretsManagerProvider(SecretsManagerNames):
    """A :class:`~gateway.tenancy.keysets.SecretsProvider` backed by Secrets Manager."""

    def __init__(
        self,
        *,
        prefix: str = "waybill/",
        client: Any | None = None,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if timedelta(seconds=cache_seconds) >= MIN_GRACE:
            raise ValueError("the secrets cache must be shorter than keysets.MIN_GRACE")
        self.prefix = prefix
        self._client = client
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, KeySet | None]] = {}

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
