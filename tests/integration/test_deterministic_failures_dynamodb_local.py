"""A deterministic failure writes nothing, and is never reported as a storage outage.

On Amazon DynamoDB Local (its key and item limits are AWS's): every item a delivery
would write is built and checked before the first write, so an item DynamoDB would
refuse, or text that cannot be encoded, fails the whole delivery with nothing stored
(no event listed without its shipment); DynamoDB's own refusal of a request as invalid
is :class:`~gateway.errors.UnstorableError` (ingest parks the delivery: 202), while a
throttle or an unreachable table stays a retryable 503.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adapters import easypost
from gateway.api.app import make_handler
from gateway.errors import StoreUnavailableError, UnstorableError
from gateway.models import CanonicalEvent
from gateway.services import build_services
from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore
from gateway.store.keys import shipment_pk
from gateway.testkit.events import make_event
from gateway.testkit.fixtures import FIXTURES
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SECRET = "easypost-deterministic-secret"


def items_of(client: Any, table: str, tenant: str, number: str) -> list[dict[str, Any]]:
    response = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": shipment_pk(tenant, number)}},
        ConsistentRead=True,
    )
    return list(response["Items"])


def oversize(event: CanonicalEvent) -> CanonicalEvent:
    return event.model_copy(update={"carrier_text": "x" * 450_000})


def invalid_text(event: CanonicalEvent) -> CanonicalEvent:
    return event.model_copy(update={"signed_by": "J. \ud800 Doe"})


@pytest.mark.parametrize("spoil", [oversize, invalid_text], ids=["oversize", "invalid_text"])
def test_one_unstorable_event_writes_nothing_for_any_shipment_of_the_delivery(
    client: Any, table: str, spoil: Callable[[CanonicalEvent], CanonicalEvent]
) -> None:
    store = DynamoStore(client, table, CapacityMeter())
    first = [make_event(i, tracking_number="DET0000001") for i in range(3)]
    second = [make_event(i, tracking_number="DET0000002") for i in range(3)]
    batch = [*first, *second[:2], spoil(second[2])]
    with pytest.raises(UnstorableError):
        store.record(batch, delivery_key="d-1", now=NOW, retention_days=30)
    assert store.meter.write_units == 0
    assert items_of(client, table, "acme", "DET0000001") == []
    assert items_of(client, table, "acme", "DET0000002") == []
    result = store.record(first, delivery_key="d-2", now=NOW, retention_days=30)
    assert len(result.accepted) == 3  # the shipment the refusal spared was not half-written


class RefusingClient:
    """The real client, except that the ``n``-th ``PutItem`` gets the given error code."""

    def __init__(self, client: Any, code: str, n: int = 2) -> None:
        self._client, self._code, self._left = client, code, n

    def put_item(self, **request: Any) -> Any:
        self._left -= 1
        if self._left == 0:
            error = {"Error": {"Code": self._code, "Message": "refused"}}
            raise ClientError(error, "PutItem")  # type: ignore[arg-type]
        return self._client.put_item(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def harness(client: Any, table: str) -> Harness:
    secrets = DictSecrets({("acme", "easypost"): [SECRET]})
    services = build_services(
        dynamodb=client,
        table_name=table,
        tenants_dir=TENANTS_DIR,
        secrets=secrets,
        count=lambda name, value=1: None,
        clock=lambda: NOW,
    )
    return Harness(make_handler(services), services, secrets, {})


def post_easypost(gw: Harness) -> Any:
    body = (FIXTURES / "easypost" / "event_tracker_updated_full_history.json").read_bytes()
    headers = easypost.ADAPTER.sign(body, SECRET, NOW.timestamp())
    headers["content-type"] = "application/json"
    return gw.call("POST", "/webhooks/acme/easypost", body=body, headers=headers)


def test_dynamodb_refusing_a_request_as_invalid_parks_the_delivery(client: Any, table: str) -> None:
    gw = harness(RefusingClient(client, "ValidationException"), table)
    reply = post_easypost(gw)
    assert (reply.status, reply.body["parked"]) == (202, True)
    parked = gw.services.pipeline.parking.list("acme")
    assert "storage refused the request as invalid" in parked[0].reason


def test_a_throttled_write_is_still_a_retryable_503(client: Any, table: str) -> None:
    gw = harness(RefusingClient(client, "ProvisionedThroughputExceededException"), table)
    reply = post_easypost(gw)
    assert (reply.status, reply.body["error"]["code"]) == (503, "store_unavailable")
    assert gw.services.pipeline.parking.list("acme") == []
    assert post_easypost(harness(client, table)).status == 200  # the retry stores it all


def test_the_store_maps_refusals_by_what_they_mean(client: Any, table: str) -> None:
    store = DynamoStore(RefusingClient(client, "ValidationException", n=1), table)
    with pytest.raises(UnstorableError):
        store.record([make_event(0)], delivery_key="d", now=NOW, retention_days=30)
    store = DynamoStore(RefusingClient(client, "ThrottlingException", n=1), table)
    with pytest.raises(StoreUnavailableError):
        store.record([make_event(1)], delivery_key="d", now=NOW, retention_days=30)
