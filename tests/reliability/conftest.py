"""Fixtures shared by the reliability suites: the real handler over DynamoDB Local.

- ``ddb``: a client for the session's DynamoDB Local (``dynamodb_local_endpoint``,
  ``tests/conftest.py``), with standard SDK retries as in production.
- ``reliability_table``: one table per test module (with its index and TTL), deleted
  afterwards. Tests sharing it keep apart by using fresh tracking numbers
  (``carrier_retry.fresh_number``).
- ``local_gateway``: ``local_gateway(clock=, wrap_client=, wrap_secrets=, client=)``
  builds a :class:`~gateway.testkit.harness.Harness` (``make_handler`` over
  ``build_services``) on that table, with every partner secret of
  ``carrier_retry.PARTNER_SECRETS`` set for ``carrier_retry.TENANT``. ``client`` replaces
  ``ddb``; the wrappers see the real client and secrets provider and return what the
  services use instead (see ``faults.py``); ``Harness.secrets`` stays the plain
  in-memory provider.
- ``converged``: ``converged(harness, number, events)`` asserts, through the query API,
  that the shipment holds exactly those events (each once, in time order) and the
  state of the latest one.

Sign and post a delivery with ``carrier_retry.post(harness, carrier, body, now=...)``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from gateway.api.app import make_handler
from gateway.local.wiring import local_dynamodb
from gateway.models import CanonicalEvent
from gateway.services import build_services
from gateway.store.table import ensure_table
from gateway.tenancy.keysets import SecretsProvider
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness
from tests.reliability.carrier_retry import PARTNER_SECRETS, TENANT, ordering

LocalGateway = Callable[..., Harness]


def _unchanged(value: Any) -> Any:
    return value


@pytest.fixture(scope="module")
def ddb(dynamodb_local_endpoint: str) -> Any:
    """A DynamoDB Local client (standard retries, bounded timeouts)."""
    return local_dynamodb(dynamodb_local_endpoint)


@pytest.fixture(scope="module")
def reliability_table(ddb: Any) -> Iterator[str]:
    """A table for the whole module; tests keep apart by tracking number."""
    name = f"waybill-rel-{uuid.uuid4().hex[:12]}"
    ensure_table(ddb, name)
    yield name
    ddb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def local_gateway(ddb: Any, reliability_table: str) -> LocalGateway:
    """A factory of handlers over the module's table (see the module docstring)."""

    def build(
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wrap_client: Callable[[Any], Any] = _unchanged,
        wrap_secrets: Callable[[DictSecrets], SecretsProvider] = _unchanged,
        client: Any = None,
    ) -> Harness:
        secrets = DictSecrets({(TENANT, c): [s] for c, s in PARTNER_SECRETS.items()})
        counts: Counter[str] = Counter()
        services = build_services(
            dynamodb=wrap_client(client or ddb),
            table_name=reliability_table,
            tenants_dir=TENANTS_DIR,
            secrets=wrap_secrets(secrets),
            count=lambda name, value=1: counts.update({name: int(value)}),
            clock=clock,
        )
        return Harness(make_handler(services), services, secrets, counts)

    return build


def history(harness: Harness, number: str, *, page: int = 7) -> list[dict[str, Any]]:
    """Every event of a shipment through ``GET /v1/shipments/{n}/events``, page by page."""
    found: list[dict[str, Any]] = []
    query = f"limit={page}"
    for _ in range(1000):  # bounded: far more pages than any test stores
        reply = harness.call("GET", f"/v1/shipments/{number}/events?{query}", tenant=TENANT)
        assert reply.status == 200, reply
        found.extend(reply.body["events"])
        if reply.body["next_cursor"] is None:
            return found
        query = urlencode({"limit": page, "cursor": reply.body["next_cursor"]})
    raise AssertionError("history did not end")


def assert_converged(harness: Harness, number: str, events: Iterable[CanonicalEvent]) -> None:
    """The shipment holds exactly ``events`` (each once, in time order) and the state of the
    latest one (``occurred_at``, then status precedence), as the query API serves them."""
    distinct = {e.event_id: e for e in events}
    latest = max(distinct.values(), key=ordering)
    reply = harness.call("GET", f"/v1/shipments/{number}", tenant=TENANT)
    assert reply.status == 200, reply
    (state,) = reply.body["shipments"]
    assert state["status"] == latest.status.value, (state, latest)
    assert datetime.fromisoformat(state["last_event_at"]) == latest.occurred_at
    assert state["event_count"] == len(distinct)
    listed = history(harness, number)
    ids = [e["event_id"] for e in listed]
    assert sorted(ids) == sorted(distinct), "history is every event, each once"
    times = [datetime.fromisoformat(e["occurred_at"]) for e in listed]
    assert times == sorted(times), "history in event-time order"


@pytest.fixture(scope="session")
def converged() -> Callable[[Harness, str, Iterable[CanonicalEvent]], None]:
    """``converged(harness, number, events)``: see :func:`assert_converged`."""
    return assert_converged
