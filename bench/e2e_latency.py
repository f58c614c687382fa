"""Local end-to-end latency and throughput through a real ``waybill serve``, over a baseline.

``waybill serve --in-memory`` runs as a subprocess (its own DynamoDB Local, uvicorn, the
Lambda handler) with a temporary state dir and one tenant, ``bench``, on a plan tier
``bench`` from a plans file given with ``WAYBILL_PLANS_FILE`` (rate 10 000/s, so the
local edge never throttles the run). Worker threads with keep-alive ``httpx`` clients
send signed EasyPost deliveries of one new event each, then the same deliveries again
(carrier retries), then ``GET /v1/shipments/{n}`` with an API key. The baseline is a
bare boto3 PutItem + consistent GetItem of a copy of a stored event item, against the
same DynamoDB Local, from the same process. Phases alternate (baseline, new, duplicate,
GET; twice per concurrency) so that drift cancels; ratios are gateway / baseline.

Run: ``.venv/bin/python -m bench.e2e_latency [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from bench.load import Call, LoadResult, MakeWorker, percentile, run_load
from bench.report import Measure, print_rows
from bench.served import ServedGateway
from gateway.store.table import DEFAULT_TABLE_NAME as TABLE

SECTION = "e2e_local"
REQUESTS, QUICK_REQUESTS = 300, 10  # per phase
ROUNDS = 2  # phases of each kind per concurrency, interleaved
CONCURRENCY = (1, 8)
WARMUP, QUICK_WARMUP = 60, 5
BUDGET_S = 70.0  # measured phases share it (each stops early past its share); setup ~10 s
TARGET_P50_RATIO = 2.0
TENANT = "bench"
FIXTURE = Path("tests/fixtures/easypost/event_tracker_updated_full_history.json")
KINDS = ("new-event POST", "duplicate POST", "GET shipment")
BASELINE = "baseline put+get"

Request = tuple[str, str, bytes | None, dict[str, str]]


def _deliveries(secret: str, count: int, tag: str) -> list[Request]:
    """``count`` signed EasyPost deliveries, each a new tracking number with one event."""
    from gateway.carriers.discovery import load_adapters
    from gateway.signing.spec import split_signed

    adapter = load_adapters().get("easypost")
    assert adapter is not None
    template = json.loads((Path(__file__).resolve().parents[1] / FIXTURE).read_bytes())
    template["result"]["tracking_details"] = template["result"]["tracking_details"][-1:]
    requests: list[Request] = []
    for index in range(count):
        template["id"] = f"evt_{uuid.uuid4().hex}"
        template["result"]["tracking_code"] = f"BENCH{tag}{index:06d}"
        body = json.dumps(template, separators=(",", ":")).encode()
        headers, _ = split_signed(adapter.sign(body, secret, time.time()))
        headers["Content-Type"] = "application/json"
        requests.append(("POST", f"/webhooks/{TENANT}/easypost", body, headers))
    return requests


def _gets(deliveries: Sequence[Request], api_key: str) -> list[Request]:
    """A shipment query for each delivery's tracking number."""
    numbers = [json.loads(body or b"")["result"]["tracking_code"] for _, _, body, _ in deliveries]
    return [("GET", f"/v1/shipments/{n}", None, {"x-api-key": api_key}) for n in numbers]


def _check(kind: str, reply: httpx.Response) -> None:
    """Raise unless the reply is what ``kind`` must get (each POST new, each retry a retry)."""
    ok = reply.status_code == 200
    if ok and kind != KINDS[2]:
        body = reply.json()
        ok = body["accepted"] == 1 if kind == KINDS[0] else body["duplicate_delivery"] is True
    if not ok:
        raise RuntimeError(f"{kind}: {reply.status_code} {reply.text[:120]}")


def _http_worker(url: str, kind: str, requests: Sequence[Request]) -> MakeWorker:
    @contextmanager
    def make() -> Iterator[Call]:
        with httpx.Client(base_url=url, timeout=10.0) as client:

            def call(index: int) -> None:
                method, path, body, headers = requests[index]
                _check(kind, client.request(method, path, content=body, headers=headers))

            yield call

    return make


def _ddb_worker(endpoint: str, items: Sequence[dict[str, Any]]) -> MakeWorker:
    from gateway.local.wiring import local_dynamodb

    @contextmanager
    def make() -> Iterator[Call]:
        client = local_dynamodb(endpoint)  # the gateway's own client configuration

        def call(index: int) -> None:
            item = items[index]
            client.put_item(TableName=TABLE, Item=item)
            key = {"pk": item["pk"], "sk": item["sk"]}
            client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)

        try:
            yield call
        finally:
            client.close()

    return make


def _baseline_items(endpoint: str, number: str, count: int) -> list[dict[str, Any]]:
    """Copies of the event item the gateway stored for ``number``, under fresh keys."""
    from gateway.local.wiring import local_dynamodb
    from gateway.store.keys import shipment_pk

    found = local_dynamodb(endpoint).query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues={":pk": {"S": shipment_pk(TENANT, number)}, ":e": {"S": "E#"}},
    )["Items"]
    stored = found[0]
    tag = uuid.uuid4().hex[:8]
    return [stored | {"pk": {"S": f"B#{tag}#{i}"}} for i in range(count)]


def measure(quick: bool = False) -> list[Measure]:
    """Run every phase against a fresh ``waybill serve``; one row per figure."""
    per_phase = QUICK_REQUESTS if quick else REQUESTS
    warmup = QUICK_WARMUP if quick else WARMUP
    results: dict[tuple[int, str], LoadResult] = {}
    with (
        TemporaryDirectory(prefix="waybill-bench-") as tmp,
        ServedGateway(Path(tmp), TENANT) as served,
    ):
        warm = _deliveries(served.secret, warmup, "W")
        for kind, requests in zip(KINDS, (warm, warm, _gets(warm, served.api_key)), strict=True):
            run_load(_http_worker(served.url, kind, requests), count=warmup, workers=1)
        number = json.loads(warm[0][2] or b"")["result"]["tracking_code"]
        rounds = [(workers, round_) for workers in CONCURRENCY for round_ in range(ROUNDS)]
        items = _baseline_items(served.endpoint, number, warmup + per_phase * len(rounds))
        run_load(_ddb_worker(served.endpoint, items[:warmup]), count=warmup, workers=1)
        deadline = time.monotonic() + BUDGET_S
        for done, (workers, round_) in enumerate(rounds):
            share = (deadline - time.monotonic()) / (len(rounds) - done) / (1 + len(KINDS))
            batch = items[warmup + done * per_phase :][:per_phase]
            for kind, result in _round(served, workers, f"{workers}R{round_}", batch, share):
                results.setdefault((workers, kind), LoadResult()).merge(result)
    return _rows(results, _item_size(items[0]))


def _round(
    served: ServedGateway, workers: int, tag: str, items: list[dict[str, Any]], share: float
) -> Iterator[tuple[str, LoadResult]]:
    """One phase of each kind (about ``share`` seconds each, at least 1 s).

    The retries and the queries are for the deliveries the new-event phase sent.
    """
    baseline = _ddb_worker(served.endpoint, items)
    yield BASELINE, run_load(baseline, count=len(items), workers=workers, timeout=max(1, share))
    new = _deliveries(served.secret, len(items), tag)
    for kind in KINDS:
        requests = _gets(new, served.api_key) if kind == KINDS[2] else new
        make = _http_worker(served.url, kind, requests)
        result = run_load(make, count=len(new), workers=workers, timeout=max(1, share))
        new = new[: result.attempted] if kind == KINDS[0] else new
        yield kind, result


def _item_size(item: dict[str, Any]) -> int:
    from gateway.store.capacity import item_bytes

    return item_bytes(item)


def _rows(results: dict[tuple[int, str], LoadResult], item_size: int) -> list[Measure]:
    """Latency (ms), ratio to the baseline (x) and throughput (req/s) per kind and concurrency."""
    rows: list[Measure] = []

    def add(name: str, value: float, unit: str, **extra: Any) -> None:
        rows.append(Measure(SECTION, name, round(value, 3), unit, **extra))

    for workers in CONCURRENCY:
        base = results[(workers, BASELINE)]
        base_p50, base_p99 = percentile(base.latencies, 50), percentile(base.latencies, 99)
        for kind in (BASELINE, *KINDS):
            got, name = results[(workers, kind)], f"{kind} c={workers}"
            p50, p99 = percentile(got.latencies, 50), percentile(got.latencies, 99)
            note = f"p99 {p99 * 1000:.3g} ms, n={got.completed}, err={got.errors}"
            note += f", item {item_size} B" if kind == BASELINE else ""
            add(f"{name} p50", p50 * 1000, "ms", note=note)
            if kind != BASELINE:
                add(f"{name} p50/baseline", _ratio(p50, base_p50), "x", target=TARGET_P50_RATIO)
                add(f"{name} p99/baseline", _ratio(p99, base_p99), "x")
            share = _ratio(got.throughput, base.throughput)
            note = f"{share:.2f} of baseline; {got.first_error}".rstrip("; ")
            add(f"{name} throughput", got.throughput, "req/s", note=note)
    return rows


def _ratio(value: float, base: float) -> float:
    return value / base if base else 0.0


def main(argv: Sequence[str] | None = None) -> None:
    """Print the rows (``--quick``: a few requests per phase, for the test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke run)")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    print_rows(measure(quick=args.quick))
    print(f"({(datetime.now(UTC) - started).total_seconds():.1f} s)")


if __name__ == "__main__":
    main()
