"""CPU per delivery of the ingest pipeline before the store, per adapter fixture.

For every webhook adapter and every body fixture in ``tests/fixtures/<adapter>/``, the
fixture is signed as the carrier would (the adapter's own ``sign``, a freshly generated
secret of the scheme's form), then timed through the same ``Pipeline`` steps
``ingest`` runs before the store: route (tenant, adapter, content type) → verify over
the raw bytes → parse → normalise + fingerprint (+ the body hash used as the delivery
key when the carrier sends no id). No I/O: the tenant and the key set are in memory.

The figure is a ratio to HMAC-SHA256 over the same body + constant-time compare +
``json.loads`` of it, timed interleaved in the same process (CPU time, median of
rounds). Target ≤ 3x. Run: ``.venv/bin/python -m bench.pipeline_cpu``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

from bench.report import Measure, print_rows
from bench.timing import DEFAULT_BUDGET_NS, compare_calls
from gateway.carriers.adapter import Adapter, Delivery
from gateway.carriers.discovery import Registry, load_adapters
from gateway.ingest.pipeline import Pipeline
from gateway.models import CanonicalEvent
from gateway.signing.spec import split_signed
from gateway.tenancy.keysets import KeySet, generate_secret, new_keyset
from gateway.tenancy.tenants import TenantConfig
from gateway.testkit.fixtures import body_paths, carrier_headers

SECTION = "pipeline_cpu"
TARGET = 3.0
TENANT = "bench"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class MemorySecrets:
    """The key sets in memory, as the Secrets Manager provider holds them once cached."""

    keysets: dict[tuple[str, str], KeySet]

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        keyset = self.keysets.get((tenant, carrier))
        return keyset.valid_secrets(now) if keyset else []


@dataclass(frozen=True)
class Case:
    """One signed fixture delivery and the steps to time."""

    name: str
    delivery: Delivery
    secret: bytes
    parses: bool  # False: the body is authentic but unreadable (the pipeline parks it)


def signed_delivery(adapter: Adapter, path: Path, secret: str) -> Delivery:
    """The fixture's exact bytes with the carrier's headers and signature, as the edge builds it."""
    body = path.read_bytes()
    extra = carrier_headers(path)
    headers, query = split_signed(extra | adapter.sign(body, secret, NOW.timestamp()))
    folded = {k.lower(): (v,) for k, v in headers.items()}
    folded.setdefault("content-type", (adapter.content_types[0],))
    return Delivery(
        tenant=TENANT,
        carrier=adapter.id,
        body=body,
        headers=folded,
        received_at=NOW,
        query=query,
        path=f"/webhooks/{TENANT}/{adapter.id}",
    )


def build(registry: Registry | None = None) -> tuple[Pipeline, list[Case]]:
    """A store-less pipeline and one signed case per webhook adapter fixture."""
    registry = registry or load_adapters()
    adapters = [a for _, a in sorted(registry.adapters.items()) if a.webhook]
    tenant = TenantConfig.model_validate(
        {"id": TENANT, "name": "Bench", "carriers": {a.id: {} for a in adapters}}
    )
    secrets = {a.id: generate_secret(a.scheme.secret_form) for a in adapters}
    pipeline = Pipeline(
        adapters=registry,
        tenants={TENANT: tenant}.get,
        secrets=MemorySecrets(
            {(TENANT, a.id): new_keyset(secrets[a.id], now=NOW) for a in adapters}
        ),
        store=cast(Any, None),  # never reached: the store is not part of this figure
        parking=cast(Any, None),
        count=lambda name, value=1: None,
    )
    cases = []
    for adapter in adapters:
        for path in body_paths(adapter.id):
            delivery = signed_delivery(adapter, path, secrets[adapter.id])
            name = f"{adapter.id}/{path.name.removesuffix('.json')}"
            parses = prepare(pipeline, delivery)  # raises if the signature does not verify
            cases.append(Case(name, delivery, secrets[adapter.id].encode(), parses))
    return pipeline, cases


def prepare(pipeline: Pipeline, delivery: Delivery) -> bool:
    """What ``Pipeline.ingest`` does before the store; False when the body is unreadable."""
    tenant, adapter = pipeline.authenticate(delivery)
    try:
        parsed = pipeline.read(tenant, adapter, delivery).parsed
    except Exception:  # the pipeline parks it: storage, not timed here
        return False
    if parsed.ignored is None and parsed.delivery_id is None:
        hashlib.sha256(delivery.body).hexdigest()  # the delivery key
    return True


def reference(body: bytes, key: bytes) -> Callable[[], object]:
    """HMAC-SHA256 over ``body`` + constant-time compare + ``json.loads(body)``."""
    expected = hmac.new(key, body, hashlib.sha256).digest()

    def run() -> object:
        hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), expected)
        return json.loads(body)

    return run


def pydantic_floor(pipeline: Pipeline, delivery: Delivery) -> Callable[[], object] | None:
    """Only validating the delivery's events and locations from plain data; None if none."""
    tenant, adapter = pipeline.authenticate(delivery)
    try:
        events = pipeline.read(tenant, adapter, delivery).events
    except Exception:
        return None
    payloads = [event.model_dump() for event in events]
    if not payloads:
        return None
    return lambda: [CanonicalEvent.model_validate(payload) for payload in payloads]


def _rows(
    pipeline: Pipeline, cases: list[Case], rounds: int, budget_ns: int
) -> Iterator[tuple[Measure, float | None]]:
    """Each fixture's row, and its pydantic floor ratio (``None`` without events)."""
    for case in cases:
        subject = partial(prepare, pipeline, case.delivery)
        base = reference(case.delivery.body, case.secret)
        result = compare_calls(subject, base, rounds=rounds, budget_ns=budget_ns)
        models = pydantic_floor(pipeline, case.delivery)
        floor = None
        if models is not None:
            floor = compare_calls(models, base, rounds=rounds, budget_ns=budget_ns).ratio
        note = (
            f"{result.subject_ns / 1000:.1f} µs vs {result.reference_ns / 1000:.1f} µs, "
            f"{len(case.delivery.body)} B"
            + ("" if floor is None else f", models alone {floor:.2f}x")
            + ("" if case.parses else ", unreadable: parked")
        )
        yield Measure(SECTION, case.name, result.ratio, "x", target=TARGET, note=note), floor


def measure(*, rounds: int = 15, budget_ns: int = DEFAULT_BUDGET_NS) -> list[Measure]:
    """One row per fixture (ratio to HMAC + json.loads), then the max and the median."""
    pipeline, cases = build()
    measured = list(_rows(pipeline, cases, rounds, budget_ns))
    rows = [row for row, _ in measured]
    floors = [floor for _, floor in measured if floor is not None]
    ratios = [row.value for row in rows]
    worst = max(rows, key=lambda row: row.value)
    summary = [
        Measure(SECTION, "all fixtures: max", worst.value, "x", target=TARGET, note=worst.name),
        Measure(
            SECTION,
            "all fixtures: median",
            statistics.median(ratios),
            "x",
            target=TARGET,
            note=f"{len(rows)} fixtures, {rounds} rounds each",
        ),
        Measure(
            SECTION,
            "floor: event models alone, median",
            statistics.median(floors) if floors else 0.0,
            "x",
            note="CanonicalEvent+Location validation only, same reference; no target",
        ),
    ]
    return rows + summary


def main() -> None:
    """Print the table."""
    print_rows(measure())


if __name__ == "__main__":
    main()
