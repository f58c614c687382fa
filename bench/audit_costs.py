"""Measured write units of the audit per outcome, on Amazon DynamoDB Local.

Run: ``.venv/bin/python -m bench.audit_costs``. Prints one row per scenario; the same
bounds are asserted in tests/integration/test_audit_erase_dynamodb_local.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gateway.audit import AuditEvent
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.store import ensure_table
from gateway.store.audit_log import DynamoAudit
from gateway.tenants import CarrierOptions, TenantConfig

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
ACME = TenantConfig(id="acme", name="Acme", carriers={"easypost": CarrierOptions()})
NUMBERS = tuple(f"9400100000000000{i:06d}" for i in range(10))


def main() -> None:
    """Each scenario on a fresh auditor: requests recorded, flushed per request."""
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, "bench-audit")
        rows: list[tuple[str, int, float]] = []

        def measure(label: str, event: AuditEvent, requests: int) -> None:
            clock = [NOW]
            audit = DynamoAudit(client, "bench-audit", {"acme": ACME}.get, clock=lambda: clock[0])
            for index in range(requests):
                audit.record(replace(event, request_id=f"r{index}"))
                audit.flush()  # the end of each invocation
            clock[0] = NOW + timedelta(minutes=1)
            audit.flush()  # the window closes at the next minute's first request
            rows.append((label, requests, audit.meter.write_units))

        accepted = AuditEvent(
            "acme", "accepted", NOW, carrier="easypost", itemised=True, accepted=1,
            duplicates=29, tracking_numbers=NUMBERS,
        )  # fmt: skip
        measure("accepted (10 tracking numbers)", accepted, 1)
        measure("accepted, 100 deliveries", accepted, 100)
        parked = AuditEvent("acme", "parked", NOW, code="unparseable", itemised=True, ref="ab12")
        measure("parked (new copy)", parked, 1)
        for outcome, code in (("duplicate", "delivery"), ("rejected", "signature_mismatch")):
            event = AuditEvent("acme", outcome, NOW, code=code, carrier="easypost")
            measure(f"{outcome}, 1 in a minute", event, 1)
            measure(f"{outcome}, 1000 in a minute", event, 1000)
        print(f"{'scenario':<36} {'requests':>8} {'WCU':>6}")
        for label, requests, units in rows:
            print(f"{label:<36} {requests:>8} {units:>6.1f}")


if __name__ == "__main__":
    main()
