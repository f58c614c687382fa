"""The polling bench's pure parts, by hand: the schedule's ideal, the fleet, what each
DynamoDB call is for, the shared units' model and the cost model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bench.polling import (
    MIX,
    MeteredClient,
    Overheads,
    PollAssumptions,
    PollProfile,
    Units,
    component,
    cost_rows,
    fixed_monthly,
    groups_per_pass,
    ideal_checks,
    monthly_checks,
    monthly_cost,
    pass_ms,
    plan_fleet,
    shared_wu,
    status_at,
    wu_breakdown,
)
from bench.pricing import load_prices
from gateway.models import Status
from gateway.poll.checks import log_pk
from gateway.poll.trackers import PASS_LEASE_KEY, tracker_key
from gateway.store.keys import budget_key, shipment_pk, state_sk
from gateway.testkit.carrier_api import SimEvent

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_the_ideal_follows_the_status_the_carrier_shows_at_each_check() -> None:
    moving = [SimEvent(Status.INFO_RECEIVED, hours(-20)), SimEvent(Status.IN_TRANSIT, hours(-1))]
    assert ideal_checks(moving, T0, hours(6)) == [T0, hours(2), hours(4)]
    # out for delivery every 30 min until the delivery is seen, then no more
    out = [
        *moving,
        SimEvent(Status.OUT_FOR_DELIVERY, hours(0.5)),
        SimEvent(Status.DELIVERED, hours(1.6)),
    ]
    assert ideal_checks(out, T0, hours(6)) == [T0, hours(2)]  # in transit at 8:00: 2 h
    assert ideal_checks(out, hours(0.5), hours(6)) == [hours(0.5), hours(1), hours(1.5), hours(2)]
    # pre-transit (unknown number or label only): once a day
    assert ideal_checks([], T0, hours(30)) == [T0, hours(24)]
    assert ideal_checks(moving[:1], T0, hours(5)) == [T0]
    # an exception every hour, the tenant's override wins
    stuck = [SimEvent(Status.EXCEPTION, hours(-1))]
    assert len(ideal_checks(stuck, T0, hours(3))) == 3
    assert len(ideal_checks(stuck, T0, hours(3), overrides={"exception": 1800})) == 6
    assert ideal_checks(moving, hours(6), hours(6)) == []


def test_status_at_is_the_latest_event_by_then() -> None:
    events = [SimEvent(Status.IN_TRANSIT, hours(1)), SimEvent(Status.INFO_RECEIVED, hours(0))]
    assert status_at(events, hours(-1)) is Status.UNKNOWN
    assert status_at(events, hours(0.5)) is Status.INFO_RECEIVED
    assert status_at(events, hours(1)) is Status.IN_TRANSIT


def test_the_fleet_has_the_stated_mix_and_its_changes_fall_in_the_window() -> None:
    window, ramp = timedelta(hours=5), timedelta(hours=2)
    fleet = plan_fleet(1000, T0, window, ramp)
    assert len(fleet) == 1000
    assert fleet == plan_fleet(1000, T0, window, ramp)  # seeded
    cohorts = {name: sum(p.cohort == name for p in fleet) for name, _ in MIX}
    assert sum(p.cohort == "budgeted" for p in fleet) == 50
    assert cohorts["pre-transit, unknown to the carrier"] == 95
    assert sum(cohorts.values()) == 950
    assert len({(p.carrier, p.number) for p in fleet}) == 1000
    for plan in fleet:
        assert T0 <= plan.added_at <= T0 + ramp
        assert all(e.at < T0 + window for e in plan.events)
        later = [e for e in plan.events if e.at > plan.added_at]
        assert all(e.at >= plan.added_at + timedelta(minutes=15) for e in later)
        if plan.events:  # the carrier knows something when the tracker is added
            assert any(e.at <= plan.added_at for e in plan.events)
        if plan.cohort.endswith("delivered"):
            assert status_at(plan.events, T0 + window) is Status.DELIVERED


def test_each_call_is_put_down_to_what_it_was_for() -> None:
    def recent(added: int) -> dict[str, Any]:
        return {"Attributes": {"recent": {"L": [{"M": {"added": {"N": str(added)}}}]}}}

    tracker = {"Key": tracker_key("acme", "1Z999", "ups")}
    state = {"Key": {"pk": {"S": shipment_pk("acme", "1Z999")}, "sk": {"S": state_sk("ups")}}}
    lease = {"Key": PASS_LEASE_KEY}
    budget = {"Key": budget_key("acme", "ups", "2026-03-02")}
    log = {"Item": {"pk": {"S": log_pk("acme", "ups", "2026-03-02")}, "checks": {"L": []}}}
    assert component("update_item", tracker, recent(0)) == "completion, quiet"
    assert component("update_item", tracker, recent(2)) == "completion, news"
    assert component("put_item", {"Item": tracker["Key"]}, {}) == "tracker add"
    assert component("update_item", state, {}) == "events + state"
    assert component("update_item", lease, {}) == "pass lease"
    assert component("delete_item", lease, {}) == "pass lease"
    assert component("update_item", budget, {}) == "budget"
    assert component("get_item", budget, {}) == "budget"
    assert component("put_item", log, {}) == "check log"
    assert component("query", {"IndexName": "due", "Limit": 200}, {}) == "due query"
    assert component("query", {"IndexName": "due", "Limit": 1000}, {}) == "due count"
    assert component("query", {}, {}) == "shipment read"
    assert component("batch_get_item", {}, {}) == "due trackers read"


class FakeDynamo:
    """Answers as DynamoDB Local does with ``ReturnConsumedCapacity=INDEXES``."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        if request.get("ConditionExpression") == "fails":
            error = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}
            raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]
        capacity = {"CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0}}
        capacity["GlobalSecondaryIndexes"] = {"due": {"CapacityUnits": 2.0}}
        added = {"recent": {"L": [{"M": {"added": {"N": "0"}}}]}}
        return {"ConsumedCapacity": capacity, "Attributes": added}

    def query(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        return {"ConsumedCapacity": {"CapacityUnits": 0.0}, "Items": []}


def test_the_metered_client_counts_units_by_component_table_and_index() -> None:
    fake = FakeDynamo()
    client = MeteredClient(fake)
    tracker = {"Key": tracker_key("acme", "1Z999", "ups")}
    client.update_item(**tracker, ReturnConsumedCapacity="TOTAL")
    assert fake.asked[-1]["ReturnConsumedCapacity"] == "INDEXES"
    with pytest.raises(ClientError):
        client.update_item(**tracker, ConditionExpression="fails")
    client.query(ConsistentRead=True)  # an empty Query: AWS bills its minimum
    client.query()
    units = client.take()
    assert units.write["completion, quiet"] == 3.0
    assert units.table_write["completion, quiet"] == 1.0
    assert units.index_write["completion, quiet"] == 2.0
    assert units.failed["completion, quiet"] == 1.0
    assert units.billed("completion, quiet") == 4.0
    assert units.read["shipment read"] == 1.5
    assert units.calls["completion, quiet"] == 2
    assert client.take().calls == {}


def test_the_write_units_of_a_check_are_broken_down_by_what_was_written() -> None:
    units = Units()
    units.write["completion, quiet"] = units.table_write["completion, quiet"] = 10.0
    units.write["completion, quiet"] += 20.0
    units.index_write["completion, quiet"] = 20.0
    units.write["completion, news"] = 30.0
    units.write["events + state"] = 40.0
    units.write["check log"], units.write["budget"], units.write["pass lease"] = 6.0, 4.0, 8.0
    units.failed["budget"] = 2.0
    parts = wu_breakdown(units, quiet=10, news=10)
    assert parts["quiet: tracker item"] == 1.0
    assert parts["quiet: due-index move"] == 2.0
    assert parts["news: tracker item + indexes"] == 3.0
    assert parts["news: events + state"] == 4.0
    assert (parts["check log share"], parts["budget share"]) == (0.3, 0.3)
    assert parts["pass lease share"] == 0.4


def test_shared_units_are_paid_per_busy_pass_and_per_group() -> None:
    assert groups_per_pass(1, [0.25, 0.75]) == pytest.approx(1.0)
    assert groups_per_pass(0, [1.0]) == 0.0
    assert groups_per_pass(10_000, [0.5, 0.3, 0.2]) == pytest.approx(3.0)  # every group busy
    assert groups_per_pass(2, [0.5, 0.5]) == pytest.approx(1.5)  # 2 x (1 - 1/4)
    o = Overheads(per_pass=2.0, per_group=3.0)
    assert shared_wu([1.0], [1.0], o) == pytest.approx(5.0)  # one pass, one group
    # many checks a pass: the lease's 2 WU + one group's 3 WU shared by 1,000 checks
    assert shared_wu([1000.0], [1.0], o) == pytest.approx(5 / 1000)
    assert shared_wu([0.0, 1.0], [1.0], o) == pytest.approx(5.0)  # an idle pass pays nothing
    assert shared_wu([], [1.0], o) == 0.0


def profile(**changes: float) -> PollProfile:
    values = dict(quiet_per_day=10.0, news_per_day=0.8, wru_quiet=4.0, wru_news=10.0, rru=4.0,
                  ddb_calls=5.0, requests=1.0, cpu_ms=5.0, wall_ms=20.0, request_bytes=300.0,
                  tracker_bytes=600.0, log_bytes=150.0, add_wru=3.0, idle_rru=8.0,
                  idle_calls=16.0)  # fmt: skip
    return PollProfile(**(values | changes))


def test_the_monthly_cost_of_1000_trackers_by_hand() -> None:
    a = PollAssumptions(cpu_scale=2.0, rtt_ms=5.0, carrier_ms=380.0, parallel=4.0, safety=1.0,
                        tracker_life_days=5.0, retention_days=30.0, trackers=1000.0)  # fmt: skip
    p = profile()
    prices = load_prices()
    assert pass_ms(5.0, 5.0, 1.0, a) == pytest.approx(10 + (25 + 380) / 4)
    quiet, news = monthly_checks(p, a)
    assert quiet == pytest.approx(300_000)
    assert news == pytest.approx(30_000)  # 0.8 with news + a first check per 5 days
    cost = monthly_cost(p, prices, a)
    adds = 6_000  # 1,000 trackers x 30 days / 5-day lives
    writes = 300_000 * 4 + 30_000 * 10 + adds * 3
    assert cost["DynamoDB writes"] == pytest.approx(
        writes * prices["dynamodb"]["wru_per_million"] / 1e6
    )
    assert cost["DynamoDB reads"] == pytest.approx(
        330_000 * 4 * prices["dynamodb"]["rru_per_million"] / 1e6
    )
    seconds = 330_000 * pass_ms(5.0, 5.0, 1.0, a) / 1000
    assert cost["Lambda duration"] == pytest.approx(
        seconds * 0.5 * prices["lambda"]["arm_gb_second"]
    )
    stored = (1000 * 700 + adds * 700 + 330_000 * 150) / 1e9  # live, retired, logs: 30 days
    table = prices["dynamodb"]["storage_gb_month"] + prices["dynamodb"]["pitr_gb_month"]
    index = 1000 * 220 / 1e9 * prices["dynamodb"]["storage_gb_month"]
    assert cost["DynamoDB storage + PITR"] == pytest.approx(stored * table + index)
    sent = 330_000 * 300 / 1e9 * prices["data_transfer"]["out_gb"]
    assert cost["data transfer out (requests)"] == pytest.approx(sent)
    fixed = fixed_monthly(p, prices, a)
    assert fixed["Lambda requests"] == pytest.approx(43_200 * 0.2 / 1e6)
    assert fixed["idle Queries"] == pytest.approx(
        43_200 * 8 * prices["dynamodb"]["rru_per_million"] / 1e6
    )
    assert fixed["EventBridge"] == 0.0
    rows = {row.name: row.value for row in cost_rows(p, a)}
    assert rows["$/1,000 trackers/month: total"] == pytest.approx(sum(cost.values()))
    assert rows["$ per 1,000 shipments tracked"] == pytest.approx(sum(cost.values()) / 6)
    assert rows["$/month fixed: a pass a minute"] == pytest.approx(sum(fixed.values()))
