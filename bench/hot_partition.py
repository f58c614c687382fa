"""Hot partitions: the units landing on each partition key, per simulated second.

One tenant at ``rate`` single-shipment webhook deliveries a second over ``shipments``
active shipments, plus a carrier's bulk push (``burst_shipments`` full histories in
POSTs of ``burst_batch``, FedEx/17TRACK style) every ``burst_every`` seconds, status
searches and shipment GETs. Every key comes from gateway itself: ``shipment_pk``
(events, states), ``index_keys``/``index_partition`` (the sharded status index), and the
real :class:`~gateway.tenancy.limits.UsageLimits`, :class:`~gateway.audit.windows.DynamoAudit`
(fed by ``delivery_outcomes``: every outcome, accepted included, counted in minute
windows, so the audit's units follow containers x outcome kinds, not the delivery rate)
and :class:`~gateway.store.parked.ParkingLot`, one per simulated Lambda container,
writing to a recording client instead of DynamoDB. Units:
an event item's size through the real codec (1 WCU for a ~1 KB event, as
bench.store_costs measures), a state update 1, an index entry put or delete 1 (a status
change costs the index 2, bench.query_costs). Deterministic (seeded). Target: DynamoDB's
1,000 WRU/s (3,000 RRU/s) per partition.

Run: ``.venv/bin/python -m bench.hot_partition`` (a few seconds of CPU). Scenarios:
``steady`` (5,000 deliveries/s for 20 s from 11:59:50, so the audit's minute windows
close inside; a 1,000-shipment bulk push every 10 s; 1 % parked) and ``ofd wave``
(10,000 in-transit shipments pushed out for delivery in one second). Rows per key family:
the hottest key's units in its busiest second, its share of the window's units, and
the headroom to 1,000 WRU/s.
"""

from __future__ import annotations

from dataclasses import replace

from bench.partition_ledger import Ledger
from bench.partition_sim import Simulation, Workload
from bench.report import Measure, print_rows
from gateway.models import Status
from gateway.store.index import INDEX_NAME

SECTION = "hot_partition"

SCENARIOS = {
    "steady": Workload(),
    "ofd wave": replace(  # 10,000 in-transit shipments pushed out for delivery at once
        Workload(), seconds=3, burst_every=60, burst_shipments=10_000,
        burst_status=Status.OUT_FOR_DELIVERY,
    ),
}  # fmt: skip


FAMILIES = (
    ("table", "S#", "shipment"),
    ("table", "A#", "audit"),
    ("table", "L#", "quota and hard-cap counter"),
    ("table", "P#", "parked"),
    (INDEX_NAME, "", INDEX_NAME),
)


def _rows(name: str, work: Workload, ledger: Ledger) -> list[Measure]:
    """Per key family the hottest key's WRU in its busiest second; reads; mean totals."""
    rows: list[Measure] = []
    for where, family, label in (("table", "", "table"), *FAMILIES):
        hot = ledger.hottest("write", where, family)
        room = f"; headroom x{1000 / hot.units:.2f}" if hot.units else ""
        note = f"{hot.key} ({hot.share:.1%} of {where} WRU){room}"
        rows.append(
            Measure(SECTION, f"{name}: {label} hottest key", hot.units, "WRU/s", 1000.0, note)
        )
    for where in ("table", INDEX_NAME):
        hot = ledger.hottest("read", where)
        note = f"{hot.key} ({hot.share:.1%} of {where} RRU)"
        rows.append(
            Measure(
                SECTION, f"{name}: {where} hottest key, reads", hot.units, "RRU/s", 3000.0, note
            )
        )
        mean = ledger.total("write", where) / work.seconds
        rows.append(Measure(SECTION, f"{name}: {where} total, mean", mean, "WRU/s"))
    return rows


def measure() -> list[Measure]:
    """Each scenario of :data:`SCENARIOS`, simulated."""
    rows: list[Measure] = []
    for name, work in SCENARIOS.items():
        rows += _rows(name, work, Simulation(work).run())
    return rows


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
