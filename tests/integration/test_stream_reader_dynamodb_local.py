"""``waybill serve``'s stream reader on Amazon DynamoDB Local: a busy stream is polled back
to back, so the table and its shards are described at most once a second, and the
records written meanwhile are still read from the shards it knows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gateway.local import streams
from gateway.local.streams import StreamReader
from gateway.local.wiring import local_streams

pytestmark = pytest.mark.integration


class Counted:
    """A client that counts the calls of one operation and passes everything on."""

    def __init__(self, inner: Any, operation: str) -> None:
        self.inner, self.operation, self.calls = inner, operation, 0

    def __getattr__(self, name: str) -> Any:
        if name == self.operation:
            self.calls += 1
        return getattr(self.inner, name)


def test_a_busy_stream_is_described_once_a_second_and_every_record_is_read(
    client: Any, table: str, dynamodb_local_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(streams.time, "monotonic", lambda: now[0])
    seen: list[Mapping[str, Any]] = []
    counted = Counted(client, "describe_table")
    reader = StreamReader(counted, local_streams(dynamodb_local_endpoint), table, seen.extend)
    reader.skip_to_latest()
    before = counted.calls
    for number in range(5):
        item = {"pk": {"S": f"S#t#{number}"}, "sk": {"S": "C#ups"}}
        client.put_item(TableName=table, Item=item)
        reader.poll()
    assert counted.calls - before <= 1  # one description for five polls within the second
    assert len(seen) == 5  # every write read from the shard already known
    now[0] += streams.LIST_EVERY
    reader.poll()
    assert counted.calls - before == 2  # described again once the second has passed
