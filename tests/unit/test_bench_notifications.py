"""The notification cost model's arithmetic, by hand."""

from __future__ import annotations

import pytest

from bench.notifications import NotifyAssumptions, _cost
from bench.pricing import load_prices


def test_each_service_is_priced_per_million_notifications() -> None:
    a = NotifyAssumptions(batch_records=100, records_per_message=2, endpoint_ms=400,
                          parallel_sends=8, memory_gb=0.5)  # fmt: skip
    rows = {row.name.split(": ")[1]: row.value for row in _cost(2.0, 0.5, a)}
    prices = load_prices()
    assert rows["DynamoDB writes"] == pytest.approx(2 * prices["dynamodb"]["wru_per_million"])
    assert rows["DynamoDB reads"] == pytest.approx(0.5 * prices["dynamodb"]["rru_per_million"])
    # 50 messages a batch: 20,000 invocations of 50 x 0.4 s / 8 = 2.5 s at 0.5 GB
    assert rows["Lambda requests"] == pytest.approx(20_000 * 0.2 / 1e6)
    assert rows["Lambda duration"] == pytest.approx(
        20_000 * 2.5 * 0.5 * prices["lambda"]["arm_gb_second"]
    )
    parts = [value for name, value in rows.items() if name != "total"]
    assert rows["total"] == pytest.approx(sum(parts))
