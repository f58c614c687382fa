"""What each alarm of :class:`infra.observability.Observability` watches, and its threshold.

Every alarm treats missing data as not breaching (the counters below are absent, not
zero, when nothing happens):

- ``api-5xx-rate``: 5XXError / Count of the stage over 5 min above 5 % (with at least
  :data:`MIN_REQUESTS` requests: one 5xx among three night-time requests is no outage;
  the Lambda error alarms still catch it).
- ``lambda-errors-{fn}`` / ``lambda-throttles-{fn}``: any, per function.
- ``api-throttled``: sustained HTTP 429s. API Gateway REST has no throttling metric (a 429
  is folded into 4XXError with every 401 and 404), so a metric filter on the stage's
  access log counts ``status = 429``: usage-plan rate and quota, stage throttling, the
  WAF and the app's hard cap alike. Alarm when above :data:`THROTTLED_PER_5_MIN` for 15
  minutes: a single burst is the plan working; sustained, a tenant has outgrown its tier.
- ``hard-cap``: ``Rejected_hard_cap_reached`` (the handler counts each refused error
  code): the daily hard cap fired, i.e. the usage plan leaked or a client runs away.
- ``parked``: ``DeliveriesParked`` > 0. Deliveries go through **no SQS queue and so no
  DLQ**: a delivery whose body cannot be parsed is parked *in the table* and answered 202
  (durably parked), and ops replay it with ``waybill parked replay``. Parked deliveries
  are what a DLQ depth alarm would watch. (The one DLQ is the notifier's, below.)
- ``dynamodb-throttles``: read + write throttle events of the table.
- ``notify-dlq``: the notifier's dead-letter queue holds a message (its largest
  ``ApproximateNumberOfMessagesVisible`` over 5 min > 0): the event source mapping gave
  up on a batch of stream records (retries or record age exhausted), so some changes
  were not notified. It stays in alarm until the message is dealt with: see
  ``docs/runbook.md``, "Notifications".
- ``endpoints-disabled``: ``EndpointsDisabled`` > 0: an endpoint answered 410 or failed
  for five days and was turned off (a tenant's problem first, but worth a look: a wave
  of them is ours).
- ``lambda-errors-notify`` / ``-sweeper`` come with every function (below): a notify
  error is a batch that will be retried (storage trouble, or a timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from infra.api import Api
from infra.functions import Functions
from infra.notify import Notify
from infra.settings import StackSettings
from infra.stage import STAGE
from infra.table import Table

PERIOD = 300
MIN_REQUESTS = 10
API_5XX_PERCENT = 5.0
THROTTLED_PER_5_MIN = 100.0
APP_NAMESPACE = "Waybill"
Query = aws.cloudwatch.MetricAlarmMetricQueryArgs


@dataclass(frozen=True)
class AlarmSpec:
    """What one alarm watches: a single metric, or metric math over ``queries``."""

    description: str
    threshold: float
    metric: tuple[str, str, dict[str, Any]] | None = None  # namespace, name, dimensions
    queries: tuple[Query, ...] = ()
    periods: int = 1
    statistic: str = "Sum"  # of ``metric``; a gauge (a queue's depth) takes Maximum


def _metric(qid: str, namespace: str, name: str, dimensions: Any) -> Query:
    return Query(
        id=qid,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=name, dimensions=dimensions, period=PERIOD, stat="Sum"
        ),
    )


def alarm_specs(
    settings: StackSettings,
    api: Api,
    functions: Functions,
    table: Table,
    throttled: tuple[str, str],
    notify: Notify,
) -> dict[str, AlarmSpec]:
    """Every alarm of the stack by key; ``throttled`` is the access log's 429 metric."""
    stage = {"ApiName": api.rest_api.name, "Stage": STAGE}
    app = {"service": settings.service}  # the handler's Powertools service, per stack
    rate = f"IF(requests >= {MIN_REQUESTS}, 100 * errors / requests, 0)"
    specs = {
        "api-5xx-rate": AlarmSpec(
            f"more than {API_5XX_PERCENT:g} % of API requests answered 5xx over 5 minutes",
            API_5XX_PERCENT,
            queries=(
                _metric("errors", "AWS/ApiGateway", "5XXError", stage),
                _metric("requests", "AWS/ApiGateway", "Count", stage),
                Query(id="rate", expression=rate, label="5xx %", return_data=True),
            ),
        ),
        "api-throttled": AlarmSpec(
            f"more than {THROTTLED_PER_5_MIN:g} HTTP 429 per 5 minutes, for 15 minutes",
            THROTTLED_PER_5_MIN,
            metric=(*throttled, {}),
            periods=3,
        ),
        "hard-cap": AlarmSpec(
            "the daily hard cap refused requests: a usage plan leaked or a client runs away",
            0,
            metric=(APP_NAMESPACE, "Rejected_hard_cap_reached", app),
        ),
        "parked": AlarmSpec(
            "deliveries were parked (authentic but unreadable): fix, then waybill parked replay",
            0,
            metric=(APP_NAMESPACE, "DeliveriesParked", app),
        ),
        "dynamodb-throttles": AlarmSpec(
            "the table throttled reads or writes",
            0,
            queries=(
                _metric("reads", "AWS/DynamoDB", "ReadThrottleEvents", {"TableName": table.name}),
                _metric("writes", "AWS/DynamoDB", "WriteThrottleEvents", {"TableName": table.name}),
                Query(id="throttles", expression="reads + writes", return_data=True),
            ),
        ),
        "notify-dlq": AlarmSpec(
            "stream records were not notified (the notifier gave up on a batch): "
            "see the runbook, Notifications",
            0,
            metric=(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": notify.dead_letter_queue.name},
            ),
            statistic="Maximum",
        ),
        "endpoints-disabled": AlarmSpec(
            "notification endpoints were disabled (410 Gone, or failing for 5 days)",
            0,
            metric=(APP_NAMESPACE, "EndpointsDisabled", app),
        ),
    }
    for key, function in sorted(functions.functions.items()):
        dimensions = {"FunctionName": function.name}
        for metric in ("Errors", "Throttles"):
            specs[f"lambda-{metric.lower()}-{key}"] = AlarmSpec(
                f"the {key} function reported {metric.lower()}",
                0,
                metric=("AWS/Lambda", metric, dimensions),
            )
    return specs
