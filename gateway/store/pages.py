"""A Query's pages, one after another: metered, its errors mapped, bounded.

Example::

    total = sum(int(page.get("Count", 0)) for page in query_pages(client, request, meter))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors

MAX_PAGES = 100
"""Pages one call reads at most (each covers up to 1 MB): a bound, not a limit hit in use."""


def query_pages(
    client: Any, request: dict[str, Any], meter: CapacityMeter, max_pages: int = MAX_PAGES
) -> Iterator[dict[str, Any]]:
    """Each answer of ``request`` (a Query), following ``LastEvaluatedKey``; every page's
    consumed capacity goes to ``meter``."""
    request = request | {"ReturnConsumedCapacity": "TOTAL"}
    for _ in range(max_pages):
        with store_errors():
            answer = client.query(**request)
        meter.add_read(answer)
        yield answer
        if "LastEvaluatedKey" not in answer:
            return
        request = request | {"ExclusiveStartKey": answer["LastEvaluatedKey"]}
