"""Measured write units of the audit per outcome, on Amazon DynamoDB Local.

Run: ``.venv/bin/python -m bench.audit_costs``. One row per scenario (section ``units``);
the bounds are those of gateway/audit/windows.py, asserted in
tests/integration/test_audit_erase_dynamodb_local.py: 1 WCU per accepted or newly
parked request, at most 2 WCU per counted window (outcome, minute, process).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bench.report import Measure, print_rows
from gateway.audit.outcomes import AuditEvent
from gateway.audit.windows import DynamoAudit
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.store.table import ensure_table
from gateway.tenancy.tenants import CarrierOptions, TenantConfig

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
ACME = TenantConfig(id="acme", name="Acme", carriers={"easypost": CarrierOptions()})
NUMBERS = tuple(f"9400100000000000{i:06d}" for i in range(10))
TABLE = "bench-audit"
SECTION = "units"
WINDOW_BOUND = 2.0  # write units per counted window and process, whatever the traffic


def _scenario(
    client: object, label: str, event: AuditEvent, requests: int, bound: float
) -> Measure:
    """``requests`` outcomes on a fresh auditor, flushed per request, then the window closed."""
    clock = [NOW]
    audit = DynamoAudit(client, TABLE, {"acme": ACME}.get, clock=lambda: clock[0])
    for index in range(requests):
        audit.record(replace(event, request_id=f"r{index}"))
        audit.flush()  # the end of each invocation
    clock[0] = NOW + timedelta(minutes=1)
    audit.flush()  # the window closes at the next minute's first request
    note = f"{requests} request(s)"
    return Measure(SECTION, f"audit: {label}", audit.meter.write_units, "WCU", bound, note)


def measure() -> list[Measure]:
    """Each scenario on a fresh auditor over one in-memory DynamoDB Local."""
    accepted = AuditEvent(
        "acme", "accepted", NOW, carrier="easypost", itemised=True, accepted=1,
        duplicates=29, tracking_numbers=NUMBERS,
    )  # fmt: skip
    parked = AuditEvent("acme", "parked", NOW, code="unparseable", itemised=True, ref="ab12")
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, TABLE)
        rows = [
            _scenario(client, "accepted (10 tracking numbers)", accepted, 1, 1.0),
            _scenario(client, "accepted, 100 deliveries", accepted, 100, 100.0),
            _scenario(client, "parked (new copy)", parked, 1, 1.0),
        ]
        for outcome, code in (("duplicate", "delivery"), ("rejected", "signature_mismatch")):
            event = AuditEvent("acme", outcome, NOW, code=code, carrier="easypost")
            rows.append(_scenario(client, f"{outcome}, 1 in a minute", event, 1, WINDOW_BOUND))
            rows.append(
                _scenario(client, f"{outcome}, 1000 in a minute", event, 1000, WINDOW_BOUND)
            )
    return rows


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
