"""Root test configuration: AWS points nowhere real, and one shared DynamoDB Local.

Only what every suite needs lives here; suites add their own ``conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

# Nothing in the tests may reach real AWS: dummy credentials, a fixed region, no profile.
os.environ["AWS_DEFAULT_REGION"] = "us-west-2"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """The endpoint URL of one in-memory DynamoDB Local shared by the whole session.

    Started on first use (a free port, ~3 s), stopped at the end of the session. Tests
    share it: give each table a unique name.
    """
    from gateway.local.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal(in_memory=True) as ddb:
        yield ddb.endpoint_url


@pytest.fixture
def client(dynamodb_local_endpoint: str) -> Any:
    """A low-level DynamoDB client for the session's DynamoDB Local."""
    from gateway.local.wiring import local_dynamodb

    return local_dynamodb(dynamodb_local_endpoint)


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    """A fresh table (with its index and TTL) of its own, deleted afterwards."""
    from gateway.store.table import ensure_table

    name = f"waybill-{uuid.uuid4().hex[:12]}"
    ensure_table(client, name)
    yield name
    client.delete_table(TableName=name)


def _hypothesis_profile() -> None:
    """In CI (``CI=true``) property tests are derandomized: a run is reproducible."""
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI", "").lower() == "true":
        settings.load_profile("ci")


_hypothesis_profile()
