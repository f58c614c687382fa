"""Measured write units of the audit per outcome, on Amazon DynamoDB Local.

Run: ``.venv/bin/python -m bench.audit_costs``. One row per scenario (section ``units``);
the bound is that of gateway/audit/windows.py, asserted in
tests/integration/test_audit_erase_dynamodb_local.py: at most 2 WCU per counted window
(tenant, outcome, code, carrier, minute, process), whatever the traffic. Every outcome,
accepted and parked included, is counted so: no outcome costs a write per request.
"""

from __future__ import annotations

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
TABLE = "bench-audit"
SECTION = "units"
WINDOW_BOUND = 2.0  # write units per counted window and process, whatever the traffic


def _scenario(
    client: object, label: str, event: AuditEvent, requests: int, bound: float
) -> Measure:
    """``requests`` outcomes on a fresh auditor, flushed per request, then the window closed."""
    clock = [NOW]
    audit = DynamoAudit(client, TABLE, {"acme": ACME}.get, clock=lambda: clock[0])
    for _ in range(requests):
        audit.record(event)
        audit.flush()  # the end of each invocation
    clock[0] = NOW + timedelta(minutes=1)
    audit.flush()  # the window closes at the next minute's first request
    note = f"{requests} request(s)"
    return Measure(SECTION, f"audit: {label}", audit.meter.write_units, "WCU", bound, note)


def measure() -> list[Measure]:
    """Each scenario on a fresh auditor over one in-memory DynamoDB Local."""
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, TABLE)
        rows = []
        kinds = (
            ("accepted", "events"),
            ("parked", "unparseable"),
            ("duplicate", "delivery"),
            ("rejected", "signature_mismatch"),
        )
        for outcome, code in kinds:
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
