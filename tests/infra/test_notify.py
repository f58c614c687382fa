"""Notification triggers: the stream's mapping (filters, batching, bisect, retries, DLQ) and
the sweeper's schedule, as policies; the filters evaluated on sample stream records."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from gateway.notify.stream import read_records
from gateway.notify.sweeper import LEASE
from gateway.store.keys import (
    NOTIFY_KEY_ITEM,
    audit_pk,
    endpoint_pk,
    endpoint_sk,
    message_pk,
    page_sk,
    parked_pk,
    shipment_pk,
    state_sk,
)
from infra.functions import SPECS
from infra.notify import STREAM_FILTERS, Notify
from infra.settings import StackSettings
from tests.infra.filters import check_pattern, matches, passes
from tests.infra.helpers import one, resources_of
from tests.infra.test_api import build_stack

MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
ASYNC = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def build() -> pulumi.Output[list[Any]]:
    """The notification resources of a dev stack; resolves once they are registered."""
    settings = StackSettings.for_stack("dev")
    api, functions, table = build_stack(settings)
    notify = Notify("notify", settings, table, functions)
    ready = pulumi.Output.all(
        notify.stream_mapping.id,
        notify.sweep_rule.arn,
        notify.dead_letter_queue.arn,
        table.stream_arn,
        functions.notify.arn,
        functions.sweeper.arn,
        functions.role_policies["notify"].id,
        api.stage.id,
    )
    return ready


@pulumi.runtime.test
def test_the_stream_mapping_batches_bisects_retries_a_bounded_time_then_dead_letters() -> Any:
    ready = build()

    def check(values: list[Any]) -> None:
        _, _, dlq_arn, stream_arn, notify_alias, *_ = values
        mapping = one(MAPPING).inputs
        assert mapping["eventSourceArn"] == stream_arn
        assert mapping["functionName"] == notify_alias  # the live alias, not $LATEST
        assert mapping["startingPosition"] == "LATEST"
        assert mapping["batchSize"] == 100
        assert 0 < mapping["maximumBatchingWindowInSeconds"] <= 2
        assert mapping["bisectBatchOnFunctionError"] is True
        assert 0 < mapping["maximumRetryAttempts"] <= 10  # bounded (-1 would be forever)
        assert mapping["maximumRetryAttempts"] >= 7  # halving 100 records 7 times isolates 1
        assert 60 <= mapping["maximumRecordAgeInSeconds"] <= 6 * 3600  # never -1 (forever)
        assert mapping["destinationConfig"] == {"onFailure": {"destinationArn": dlq_arn}}
        assert "functionResponseTypes" not in mapping  # the handler reports no partial batch

    return ready.apply(check)


@pulumi.runtime.test
def test_the_mapping_waits_for_the_role_and_the_queue_lambda_checks_at_creation(
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Creating a mapping fails unless the role can already read the stream and send to the
    queue: both are its explicit dependencies."""
    seen: list[Any] = []
    real = aws.lambda_.EventSourceMapping

    def spy(name: str, *args: Any, opts: pulumi.ResourceOptions, **kwargs: Any) -> Any:
        seen.extend(opts.depends_on or [])  # type: ignore[arg-type]
        return real(name, *args, opts=opts, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(aws.lambda_, "EventSourceMapping", spy)
    ready = build()

    def check(_: Any) -> None:
        names = {resource._name for resource in seen}
        assert names == {"functions-notify-policy", "notify-dlq"}

    return ready.apply(check)


@pulumi.runtime.test
def test_the_mapping_filters_are_the_documented_patterns_of_the_two_notifying_writes() -> Any:
    ready = build()

    def check(_: Any) -> None:
        filters = one(MAPPING).inputs["filterCriteria"]["filters"]
        patterns = [json.loads(f["pattern"]) for f in filters]
        assert patterns == list(STREAM_FILTERS)
        assert 1 <= len(patterns) <= 5  # Lambda's default quota of filters per mapping
        for pattern in patterns:
            check_pattern(pattern)
            assert len(json.dumps(pattern)) < 4096

    return ready.apply(check)


@pulumi.runtime.test
def test_the_dead_letter_queue_is_encrypted_and_keeps_messages_14_days() -> Any:
    ready = build()

    def check(_: Any) -> None:
        queue = one(QUEUE).inputs
        assert queue["name"] == "waybill-dev-notify-dlq"
        assert queue["sqsManagedSseEnabled"] is True
        assert queue["messageRetentionSeconds"] == 14 * 86_400
        assert "redrivePolicy" not in queue  # the last stop: nothing moves on from here

    return ready.apply(check)


@pulumi.runtime.test
def test_the_sweeper_runs_every_minute_on_an_eventbridge_rule_allowed_to_invoke_it_only() -> Any:
    ready = build()

    def check(values: list[Any]) -> None:
        rule_arn, sweeper_alias = values[1], values[5]
        rule = one(RULE).inputs
        assert rule["scheduleExpression"] == "rate(1 minute)"
        assert rule["name"] == "waybill-dev-sweep"
        target = one(TARGET).inputs
        assert target["rule"] == rule["name"] and target["arn"] == sweeper_alias
        permission = [p.inputs for p in resources_of(PERMISSION) if p.name == "notify-sweep-invoke"]
        assert permission == [
            {
                "action": "lambda:InvokeFunction",
                "function": "waybill-dev-sweeper",
                "qualifier": "live",
                "principal": "events.amazonaws.com",
                "sourceArn": rule_arn,
            }
        ]

    return ready.apply(check)


@pulumi.runtime.test
def test_a_failed_sweep_is_not_retried_by_lambda_the_next_minute_sweeps_again() -> Any:
    ready = build()

    def check(_: Any) -> None:
        config = one(ASYNC).inputs
        assert (config["functionName"], config["qualifier"]) == ("waybill-dev-sweeper", "live")
        assert config["maximumRetryAttempts"] == 0
        assert config["maximumEventAgeInSeconds"] <= 60

    return ready.apply(check)


def test_a_sweep_never_outlives_the_lease_on_the_messages_it_claimed() -> None:
    assert SPECS["sweeper"].timeout <= LEASE.total_seconds()
    assert SPECS["notify"].timeout >= 3 * 15  # three rounds of 8 parallel 15-second attempts


# -- the filters, on sample records (the replay test runs them on moto's real stream) --


def _record(name: str, pk: str, sk: str, **attributes: str) -> dict[str, Any]:
    image = {"pk": {"S": pk}, "sk": {"S": sk}} | {k: {"S": v} for k, v in attributes.items()}
    dynamodb: dict[str, Any] = {"Keys": {"pk": image["pk"], "sk": image["sk"]}}
    if name != "REMOVE":
        dynamodb["NewImage"] = image
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


SHIPMENT = shipment_pk("acme", "1Z999")
EVENT_SK = "E#2026-01-02T03:04:05.000000Z#ev_1"
NOTIFYING = {
    "event inserted": _record("INSERT", SHIPMENT, EVENT_SK, carrier="ups", doc="{}"),
    "first state (moved)": _record("INSERT", SHIPMENT, state_sk("ups"), moved="ev_1"),
    "state moved": _record("MODIFY", SHIPMENT, state_sk("ups"), moved="ev_2", status="delivered"),
}
SILENT = {
    "state kept its status": _record("MODIFY", SHIPMENT, state_sk("ups"), status="in_transit"),
    "event expired": _record("REMOVE", SHIPMENT, EVENT_SK),
    "state erased": _record("REMOVE", SHIPMENT, state_sk("ups")),
    "fingerprint page": _record("INSERT", SHIPMENT, page_sk("ups", 1)),
    "parked delivery": _record("INSERT", parked_pk("acme", "ab12"), "ab12#ups"),
    "audit window": _record("INSERT", audit_pk("acme", "2026-01-02", "3"), "x"),
    "api key": _record("INSERT", "APIKEY#0f3a", "APIKEY"),
    "counter": _record("MODIFY", "L#acme#2026-01-02#1", "L"),
    "endpoint": _record("INSERT", endpoint_pk("acme"), endpoint_sk("ep_1"), moved="x"),
    "message": _record("MODIFY", message_pk("acme", "ep_1", 3), "msg_1"),
    "data key": _record("INSERT", NOTIFY_KEY_ITEM["pk"]["S"], NOTIFY_KEY_ITEM["sk"]["S"]),
    "not a shipment, E# sort key": _record("INSERT", "X#acme", EVENT_SK),
    "not a shipment, C# sort key, moved": _record("MODIFY", "X#acme", state_sk("ups"), moved="e"),
}


@pytest.mark.parametrize("name", sorted(NOTIFYING))
def test_the_filters_pass_the_records_that_notify(name: str) -> None:
    record = NOTIFYING[name]
    assert passes(STREAM_FILTERS, record)
    assert read_records([record])[0]  # the handler acts on it


@pytest.mark.parametrize("name", sorted(SILENT))
def test_the_filters_drop_every_other_write(name: str) -> None:
    record = SILENT[name]
    assert not passes(STREAM_FILTERS, record)
    assert read_records([record])[0] == []  # and the handler would have skipped it anyway


def test_the_matcher_follows_the_documented_rules() -> None:
    record = {"dynamodb": {"NewImage": {"a": {"S": "S#x"}, "n": {"N": "3"}}}}
    assert matches({"dynamodb": {"NewImage": {"a": {"S": [{"prefix": "S#"}]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"a": {"S": [{"prefix": "E#"}]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"a": {"S": ["S#x", "other"]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"b": {"S": [{"exists": False}]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"b": {"S": [{"exists": True}]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"n": {"S": [{"exists": True}]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"n": {"N": ["3"]}}}}, record)
    assert not matches({"eventName": ["INSERT"]}, record)
    bad: dict[str, Any]
    for bad in (
        {"dynamodb": {"NewImage": {"a": {"S": {"prefix": "S#"}}}}},  # a leaf must be a list
        {"dynamodb": {"NewImage": {"a": {"S": [{"suffix": "x"}]}}}},  # not used here
        {"dynamodb": {}},
    ):
        with pytest.raises(ValueError):
            check_pattern(bad)
