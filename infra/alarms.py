"""What each alarm of :class:`infra.observability.Observability` watches, and its threshold.

Every alarm treats missing data as not breaching (the counters below are absent, not
zero, when nothing happens):

- ``api-5xx-rate``: 5XXError / Count of the REST stage (``/v1``) over 5 min above 5 %
  (with at least :data:`MIN_REQUESTS` requests: one 5xx among three night-time requests
  is no outage; the Lambda error alarms still catch it).
- ``webhooks-5xx-rate``: the same for the webhook edge's HTTP API (``5xx`` / ``Count``,
  dimensions ``ApiId`` and ``Stage``): ingest could not store, or failed.
- ``unhandled-errors``: ``UnhandledError`` at least once in 5 minutes. The handler's
  catch-all answers an unexpected exception with a 500, so Lambda's ``Errors`` stays 0
  and a lone 500 is below the rate alarm's floor: the catch-all counts it, and one is a
  bug (the log line ``unhandled error`` has the traceback).
- ``authorizer-failed``: ``AuthorizerFailed`` at least once in 5 minutes: the authorizer
  could not decide (DynamoDB or Secrets Manager unreachable, a tenant without a
  usage-plan key, a bug) and API Gateway answered 500. The authorizer has **no**
  ``lambda-errors`` alarm: a refusal (401) must raise ``Unauthorized``, a Lambda function
  error, so its ``Errors`` counts every bad key and unknown tenant; refusals are counted
  apart as ``AuthorizerRefused`` (on the dashboard, not alarmed).
- ``lambda-errors-{fn}`` / ``lambda-throttles-{fn}``: any, per function (no errors alarm
  for the authorizer, above).
- ``api-throttled``: sustained HTTP 429s. API Gateway has no throttling metric (a 429
  is folded into 4XXError with every 401 and 404), so a metric filter on each edge's
  access log counts ``status = 429``: usage-plan rate and quota, route and stage
  throttling, the WAF and the app's quota and hard cap alike. Alarm when above
  :data:`THROTTLED_PER_5_MIN` for 15 minutes: a single burst is the plan working;
  sustained, a tenant has outgrown its tier.
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

Polling (``docs/runbook.md``, "Polling on AWS"):

- ``lambda-errors-poller``: a pass failed (storage trouble, or it ran out of time): the
  trackers it had claimed are due again when their leases end. The poller has **no**
  throttles alarm: its reserved concurrency is 1, so the schedule's invocations are
  throttled by design whenever a pass runs past the minute.
- ``trackers-overdue``: ``TrackersOverdue`` (trackers due more than five minutes ago, as
  the last pass counted them) above 0 in each of three consecutive 5-minute periods: the
  poller is falling behind. The count is emitted at the end of a pass and only when
  non-zero (a pass that catches up emits nothing, which reads as not breaching); a pass
  lasts at most the function's five minutes and the next starts on the following minute,
  so a poller that stays behind reports in every 5-minute period.
- ``poll-budget-exhausted``: ``PollBudgetExhausted`` at least once in the last 24 hours (a
  day of 5-minute periods, one breaching is enough): a tenant's daily budget for a
  carrier ran out and its trackers wait for 00:00 UTC. A warning: it stays in alarm for a
  day after the last exhaustion, and says so once.
- ``polls-failed-rate``: ``PollsFailed`` / (``PollsMade`` + ``PollsFailed``) above
  :data:`POLLS_FAILED_PERCENT` % for 15 minutes (with at least :data:`MIN_POLLS` of them
  per 5 minutes): a carrier's API (or its credentials) is failing for many trackers.
  ``PollsFailed`` counts the trackers of checks that failed as a whole, ``PollsMade`` the
  requests of checks that were answered: the ratio is an estimate, high only when most
  checks fail.
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
from infra.webhook_edge import STAGE as WEBHOOK_STAGE
from infra.webhook_edge import WebhookEdge

PERIOD = 300
MIN_REQUESTS = 10
API_5XX_PERCENT = 5.0
THROTTLED_PER_5_MIN = 100.0
OVERDUE_PERIODS = 3  # of PERIOD: 15 minutes
DAY_PERIODS = 86_400 // PERIOD  # CloudWatch's longest range for periods under an hour
POLLS_FAILED_PERCENT = 25.0
MIN_POLLS = 20
NO_THROTTLES_ALARM = frozenset({"poller"})
"""Functions throttled by design (reserved concurrency 1 under a one-minute schedule)."""
NO_ERRORS_ALARM = frozenset({"authorizer"})
"""Functions whose Lambda ``Errors`` include normal answers (the authorizer's 401s): they
count their own failures instead (:func:`failure_alarm_specs`)."""
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
    datapoints: int | None = None  # breaching periods of ``periods`` that alarm (None: all)


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
    webhooks: WebhookEdge,
    functions: Functions,
    table: Table,
    throttled: tuple[str, str],
    notify: Notify,
) -> dict[str, AlarmSpec]:
    """Every alarm of the stack by key; ``throttled`` is the access logs' 429 metric."""
    stage = {"ApiName": api.rest_api.name, "Stage": STAGE}
    webhook_stage = {"ApiId": webhooks.http_api.id, "Stage": WEBHOOK_STAGE}
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
        "webhooks-5xx-rate": AlarmSpec(
            f"more than {API_5XX_PERCENT:g} % of webhook deliveries answered 5xx over 5 minutes",
            API_5XX_PERCENT,
            queries=(
                _metric("errors", "AWS/ApiGateway", "5xx", webhook_stage),
                _metric("requests", "AWS/ApiGateway", "Count", webhook_stage),
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
        **failure_alarm_specs(app),
        **poll_alarm_specs(app),
    }
    for key, function in sorted(functions.functions.items()):
        dimensions = {"FunctionName": function.name}
        for metric in ("Errors", "Throttles"):
            if metric == "Throttles" and key in NO_THROTTLES_ALARM:
                continue
            if metric == "Errors" and key in NO_ERRORS_ALARM:
                continue
            specs[f"lambda-{metric.lower()}-{key}"] = AlarmSpec(
                f"the {key} function reported {metric.lower()}",
                0,
                metric=("AWS/Lambda", metric, dimensions),
            )
    return specs


def failure_alarm_specs(app: dict[str, Any]) -> dict[str, AlarmSpec]:
    """Failures that Lambda's ``Errors`` misses or misreads, counted by the code itself."""
    return {
        "unhandled-errors": AlarmSpec(
            "the API answered an unexpected exception with a 500 (one is a bug: see the "
            "'unhandled error' log line for the traceback)",
            0,
            metric=(APP_NAMESPACE, "UnhandledError", app),
        ),
        "authorizer-failed": AlarmSpec(
            "the authorizer failed to decide and API Gateway answered 500 (DynamoDB or "
            "Secrets Manager unreachable, a tenant without a plan key, a bug); "
            "refusals (401) are AuthorizerRefused, not alarmed",
            0,
            metric=(APP_NAMESPACE, "AuthorizerFailed", app),
        ),
    }


def poll_alarm_specs(app: dict[str, Any]) -> dict[str, AlarmSpec]:
    """The poller's alarms on its own metrics (``app``: the stack's ``service`` dimension)."""
    # a period where every check failed has no PollsMade at all: missing counts as 0
    rate = f"IF(made + failed >= {MIN_POLLS}, 100 * failed / (made + failed), 0)"
    return {
        "trackers-overdue": AlarmSpec(
            "trackers were overdue by more than 5 minutes for 15 minutes: the poller is "
            "falling behind (see the runbook, Polling on AWS)",
            0,
            metric=(APP_NAMESPACE, "TrackersOverdue", app),
            periods=OVERDUE_PERIODS,
            statistic="Maximum",  # a count taken at the end of each pass
        ),
        "poll-budget-exhausted": AlarmSpec(
            "warning: a tenant's daily poll budget for a carrier ran out in the last 24 hours "
            "(its trackers wait for 00:00 UTC; see the runbook, Polling on AWS)",
            0,
            metric=(APP_NAMESPACE, "PollBudgetExhausted", app),
            periods=DAY_PERIODS,
            datapoints=1,
        ),
        "polls-failed-rate": AlarmSpec(
            f"more than {POLLS_FAILED_PERCENT:g} % of tracker checks failed for 15 minutes "
            "(see the runbook, Polling on AWS)",
            POLLS_FAILED_PERCENT,
            queries=(
                _metric("polls_made", APP_NAMESPACE, "PollsMade", app),
                _metric("polls_failed", APP_NAMESPACE, "PollsFailed", app),
                Query(id="made", expression="FILL(polls_made, 0)", return_data=False),
                Query(id="failed", expression="FILL(polls_failed, 0)", return_data=False),
                Query(id="rate", expression=rate, label="failed checks %", return_data=True),
            ),
            periods=OVERDUE_PERIODS,
        ),
    }
