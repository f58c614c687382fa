"""Partner key sets in Secrets Manager (moto): AWSCURRENT, cache, fail closed, fail loud."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.aws.secrets import SecretsManagerProvider
from gateway.tenancy.keysets import new_keyset, rotate

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-west-2")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reads_current_and_unexpired_previous(client: Any) -> None:
    keyset = rotate(
        new_keyset("old-secret", now=NOW), "new-secret", now=NOW, grace=timedelta(hours=1)
    )
    client.create_secret(Name="waybill/acme/easypost", SecretString=keyset.model_dump_json())
    provider = SecretsManagerProvider(client=client)
    assert provider.valid_secrets("acme", "easypost", NOW) == ["new-secret", "old-secret"]
    assert provider.valid_secrets("acme", "easypost", NOW + timedelta(hours=2)) == ["new-secret"]


def test_a_missing_secret_or_value_yields_nothing(client: Any) -> None:
    client.create_secret(Name="waybill/acme/aftership")  # created by the stack, no value yet
    provider = SecretsManagerProvider(client=client)
    assert provider.valid_secrets("acme", "aftership", NOW) == []
    assert provider.valid_secrets("acme", "nothing-here", NOW) == []


def test_a_new_version_is_seen_after_the_cache_expires(client: Any) -> None:
    name = "waybill/acme/easypost"
    client.create_secret(Name=name, SecretString=new_keyset("first", now=NOW).model_dump_json())
    clock = Clock()
    provider = SecretsManagerProvider(client=client, cache_seconds=300, monotonic=clock)
    assert provider.valid_secrets("acme", "easypost", NOW) == ["first"]
    client.put_secret_value(
        SecretId=name, SecretString=new_keyset("second", now=NOW).model_dump_json()
    )
    clock.now = 299
    assert provider.valid_secrets("acme", "easypost", NOW) == ["first"]  # cached
    clock.now = 301
    assert provider.valid_secrets("acme", "easypost", NOW) == ["second"]


def test_tenants_are_keyed_apart(client: Any) -> None:
    client.create_secret(
        Name="waybill/acme/easypost", SecretString=new_keyset("a", now=NOW).model_dump_json()
    )
    provider = SecretsManagerProvider(client=client)
    assert provider.valid_secrets("globex", "easypost", NOW) == []


def test_other_failures_raise_so_the_delivery_is_retried(client: Any) -> None:
    client.create_secret(Name="waybill/acme/easypost", SecretString="{not json")
    provider = SecretsManagerProvider(client=client)
    with pytest.raises(ValueError):
        provider.valid_secrets("acme", "easypost", NOW)
