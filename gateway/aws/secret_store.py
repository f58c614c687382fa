"""Partner key sets in AWS Secrets Manager for ops: the methods of ``LocalSecretStore``.

``waybill secrets … --stack NAME`` edits the secrets the Lambda reads through
:class:`~gateway.aws.secrets.SecretsManagerProvider`, named once in
:mod:`gateway.aws.secrets` (``waybill/{stack}/{tenant}/{carrier}``), with the same
pure :mod:`gateway.tenancy.keysets` functions. Reads always ask for ``AWSCURRENT``. A change
is a compare-and-swap: the new value is put under a private staging label, then
``AWSCURRENT`` is moved to it *from the version that was read*; if someone else
changed the secret meanwhile, that move fails and the change is redone on the
newer value, so two operators never lose each other's rotation. A secret the stack
has not created yet is created here.

Example (moto):
    >>> from datetime import UTC, datetime
    >>> from moto import mock_aws
    >>> import boto3
    >>> now = datetime(2025, 1, 1, tzinfo=UTC)
    >>> with mock_aws():
    ...     client = boto3.client("secretsmanager", region_name="us-west-2")
    ...     store = SecretsManagerStore.for_stack("dev", client)
    ...     _ = store.set("demo", "easypost", "s3cr3t-value", now=now)
    ...     [carrier for carrier, _ in store.list("demo")]
    ['easypost']
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gateway.aws.secrets import SecretsManagerNames, console_credential_secret_id, stack_prefix
from gateway.tenancy.keyset_store import K, KeySetStore
from gateway.tenancy.keysets import KeySet

CURRENT = "AWSCURRENT"
STAGING_LABEL = "WAYBILL_NEXT"
"""The label a new version waits under until ``AWSCURRENT`` is moved to it."""
_ATTEMPTS = 3


class SecretStoreError(Exception):
    """An AWS call failed or kept conflicting; the message names the secret, never a value."""


class SecretsManagerStore(SecretsManagerNames, KeySetStore):
    """Key sets by (tenant, carrier) in Secrets Manager, under ``prefix``."""

    def __init__(self, prefix: str, client: Any | None = None) -> None:
        self.prefix = prefix
        self._client = client

    @classmethod
    def for_stack(cls, stack: str, client: Any | None = None) -> SecretsManagerStore:
        """The store of a stack's secrets (``waybill/{stack}/``)."""
        return cls(stack_prefix(stack), client)

    def get(self, tenant: str, carrier: str) -> KeySet | None:
        """The current key set of (tenant, carrier), if any."""
        return self._read(self.secret_id(tenant, carrier))[0]

    def list(self, tenant: str) -> builtins.list[tuple[str, KeySet]]:
        """Every (carrier, key set) of a tenant, sorted; secrets with no value are skipped."""
        start = self.secret_id(tenant, "")
        found = []
        with _aws_errors(start + "*"):
            pages = self.client.get_paginator("list_secrets").paginate(
                Filters=[{"Key": "name", "Values": [start]}]
            )
            names = [s["Name"] for page in pages for s in page["SecretList"]]
        for name in names:
            target = name[len(start) :]
            if not name.startswith(start) or not target or "/" in target:
                continue  # the name filter is a prefix match on words, not on our layout
            keyset = self._read(name)[0]
            if keyset is not None:
                found.append((target, keyset))
        return sorted(found, key=lambda pair: pair[0])

    def _read(self, name: str) -> tuple[KeySet | None, str | None]:
        """The current key set and its version id; ``(None, None)`` when there is no value."""
        with _aws_errors(name):
            try:
                response = self.client.get_secret_value(SecretId=name, VersionStage=CURRENT)
            except self.client.exceptions.ResourceNotFoundException:
                return None, None
        try:
            return KeySet.model_validate_json(response["SecretString"]), response["VersionId"]
        except ValueError:
            raise SecretStoreError(f"{name}: the current value is not a key set") from None

    def _change(self, tenant: str, carrier: str, change: Callable[[KeySet | None], K]) -> K:
        name = self.secret_id(tenant, carrier)
        for _ in range(_ATTEMPTS):
            old, version = self._read(name)
            updated = change(old)
            if updated is None or self._write(name, updated.model_dump_json(), version):
                return updated
        raise SecretStoreError(f"{name}: changed by someone else meanwhile; try again")

    def _write(self, name: str, body: str, version: str | None) -> bool:
        """Make ``body`` current if ``version`` still is; False when another change won."""
        client = self.client
        with _aws_errors(name):
            if version is None:
                try:
                    client.create_secret(Name=name, SecretString=body, Description=_DESCRIPTION)
                    return True
                except client.exceptions.ResourceExistsException:
                    if self._read(name)[1] is not None:
                        return False  # someone else gave it a value meanwhile
                    client.put_secret_value(SecretId=name, SecretString=body)  # stack-made, empty
                    return True
            new = client.put_secret_value(
                SecretId=name,
                SecretString=body,
                ClientRequestToken=str(uuid.uuid4()),
                VersionStages=[STAGING_LABEL],
            )
            try:
                client.update_secret_version_stage(
                    SecretId=name,
                    VersionStage=CURRENT,
                    MoveToVersionId=new["VersionId"],
                    RemoveFromVersionId=version,
                )
            except client.exceptions.InvalidParameterException:
                return False  # AWSCURRENT moved since it was read
        return True


_DESCRIPTION = "Waybill partner key set (JSON); managed with `waybill secrets`"
CONSOLE_DESCRIPTION = "Waybill ops console credential digest; set with `waybill console credential`"


def put_console_credential(stack: str, record: str, client: Any | None = None) -> str:
    """Make ``record`` (a credential's digest record) the stack's console credential,
    creating the secret when the stack has not; the secret's name."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    name = console_credential_secret_id(stack_prefix(stack))
    with _aws_errors(name):
        try:
            client.put_secret_value(SecretId=name, SecretString=record)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=name, SecretString=record, Description=CONSOLE_DESCRIPTION)
    return name


def read_console_credential(stack: str, client: Any | None = None) -> str | None:
    """The stack's console credential record, or None while it has no value."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    name = console_credential_secret_id(stack_prefix(stack))
    with _aws_errors(name):
        try:
            answer = client.get_secret_value(SecretId=name, VersionStage=CURRENT)
        except client.exceptions.ResourceNotFoundException:
            return None
    return str(answer.get("SecretString") or "") or None


@contextmanager
def _aws_errors(name: str) -> Iterator[None]:
    """Turn botocore failures into :class:`SecretStoreError` naming the secret and the code."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        raise SecretStoreError(f"{name}: {detail}") from None
    except BotoCoreError as exc:
        raise SecretStoreError(f"{name}: {exc}") from None
