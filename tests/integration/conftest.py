"""Fixtures shared by the suites that run on Amazon DynamoDB Local."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.local.wiring import local_dynamodb
from gateway.store.table import ensure_table


@pytest.fixture
def client(dynamodb_local_endpoint: str) -> Any:
    """A low-level DynamoDB client for the session's DynamoDB Local."""
    return local_dynamodb(dynamodb_local_endpoint)


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    """A fresh table (with its index and TTL) of its own, deleted afterwards."""
    name = f"waybill-{uuid.uuid4().hex[:12]}"
    ensure_table(client, name)
    yield name
    client.delete_table(TableName=name)
