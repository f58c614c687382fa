"""The hot-partition simulation's mechanics on tiny inputs (not whether targets are met)."""

from __future__ import annotations

from dataclasses import replace

from bench.partition_ledger import Ledger, write_units
from bench.partition_sim import CARRIERS, KINDS, START, Simulation, Workload
from gateway.models import Status
from gateway.store.index import INDEX_NAME, INDEX_PK, index_keys

QUIET = Workload(rate=0, seconds=1, shipments=10, containers=1, burst_every=0, searches=0, gets=0)


def only(kind: str) -> tuple[float, ...]:
    return tuple(float(k == kind) for k in KINDS)


def test_the_ledger_reports_the_busiest_second_of_the_hottest_key_and_its_share() -> None:
    ledger = Ledger()
    ledger.add("write", "table", "a", 3.0)
    ledger.add("write", "table", "b", 2.0)
    ledger.second = 1
    ledger.add("write", "table", "b", 2.0)
    ledger.add("read", "table", "c", 9.0)
    hot = ledger.hottest("write", "table")
    assert (hot.key, hot.units, hot.share) == ("a", 3.0, 3 / 7)
    assert ledger.total("write", "table") == 7.0 and ledger.total("write", "table", "b") == 4.0
    assert ledger.hottest("write", INDEX_NAME).units == 0.0


def test_write_units_are_one_per_started_kilobyte() -> None:
    assert write_units({"pk": {"S": "x"}}) == 1.0
    assert write_units({"pk": {"S": "x" * 1022}}) == 1.0  # 2 + 1022 bytes
    assert write_units({"pk": {"S": "x" * 1023}}) == 2.0


def test_a_new_event_writes_event_and_state_on_its_shipment_and_no_audit_item_of_its_own() -> None:
    ledger = Simulation(replace(QUIET, rate=10, mix=only("new"))).run()
    assert ledger.total("write", "table", "S#") == 10 * 2.0  # ~1 KB event + state update
    assert ledger.total("write", "table", "A#acme#2026-11-22#") == 1.0  # the window, once
    assert ledger.total("write", "table", "L#") == 0.0  # under 50 requests: not flushed yet
    assert ledger.total("write", INDEX_NAME) == 0.0  # the status is kept
    assert ledger.total("read", "table", "S#") == 10 * 1.0  # the state read


def test_accepted_deliveries_cost_the_audit_two_puts_per_minute_whatever_the_rate() -> None:
    ledger = Simulation(replace(QUIET, rate=100, seconds=11, mix=only("new"))).run()
    assert ledger.total("write", "table", "S#") == 1100 * 2.0
    # 11:59:50-12:00:00: the 11:59 window put when it opens and when it closes (count
    # 1,000), the 12:00 window put when it opens; none of the 1,100 deliveries has its own.
    assert ledger.total("write", "table", "A#acme#2026-11-22#") == 3.0
    audit = [
        (second, units) for (_, _, key, second), units in ledger.cells.items() if key[:2] == "A#"
    ]
    assert sorted(audit) == [(0, 1.0), (10, 1.0), (10, 1.0)]  # the first second, and 12:00:00


def test_the_hard_cap_counter_is_added_once_per_50_requests_and_retries_write_nothing() -> None:
    ledger = Simulation(replace(QUIET, rate=100, mix=only("retry"))).run()
    assert ledger.total("write", "table", "L#acme#2026-11#") == 2.0
    assert ledger.total("write", "table", "S#") == 0.0
    assert ledger.total("write", "table", "A#") == 1.0  # the minute's window item, once
    assert ledger.hottest("read", "table", "L#").units == 0.5 * 1  # each shard read once


def test_a_status_change_moves_the_entry_between_the_two_statuses_partitions() -> None:
    sim = Simulation(replace(QUIET, rate=3, shipments=1, mix=only("change")))
    sim.status = [Status.IN_TRANSIT]
    ledger = sim.run()
    # in_transit -> out_for_delivery (2) -> delivered (2); a new shipment enters info_received (1)
    assert ledger.total("write", INDEX_NAME) == 5.0
    number, carrier = f"1Z{0:016d}", CARRIERS[0]
    ofd = index_keys("acme", number, carrier, Status.OUT_FOR_DELIVERY, START)[INDEX_PK]["S"]
    assert ledger.hottest("write", INDEX_NAME) == (ofd, 2.0, 2 / 5)  # put, then deleted


def test_a_bulk_push_into_one_status_puts_one_entry_per_shipment_in_its_shards() -> None:
    work = replace(QUIET, shipments=40, burst_every=1, burst_shipments=40, burst_batch=40)
    sim = Simulation(replace(work, burst_status=Status.OUT_FOR_DELIVERY))
    sim.status = [Status.IN_TRANSIT] * 40
    ledger = sim.run()
    assert ledger.total("write", INDEX_NAME, "acme#out_for_delivery#") == 40.0
    assert ledger.total("write", INDEX_NAME, "acme#in_transit#") == 40.0  # the old entries
    assert ledger.total("write", "table", "A#") == 1.0  # one POST, one audit window put
    assert sim.status == [Status.OUT_FOR_DELIVERY] * 40


def test_the_simulation_is_deterministic() -> None:
    work = replace(QUIET, rate=50, seconds=2, shipments=20, containers=3, searches=2, gets=5)
    assert Simulation(work).run().cells == Simulation(work).run().cells
