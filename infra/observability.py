"""Alarms, the dashboard and the monthly budget, all reporting to one SNS topic.

Every alarm has the topic as alarm *and* OK action and treats missing data as not
breaching (the counters below are absent, not zero, when nothing happens):

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
- ``parked``: ``DeliveriesParked`` > 0. The design has **no SQS queue and so no DLQ**: a
  delivery whose body cannot be parsed is parked *in the table* and answered 202
  (durably parked), and ops replay it with ``waybill parked replay``. Parked deliveries
  are what a DLQ depth alarm would watch.
- ``dynamodb-throttles``: read + write throttle events of the table.

The topic is not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the
AWS-managed SNS key, and alarm messages carry no secret. An e-mail subscription (when
``alarm_email`` is set) must be confirmed from the mail. The budget is the account's
whole cost (a tag filter only works once the tag is activated for cost allocation, and
silently sees nothing before): run a stack per account, or read it as an upper bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import dashboard
from infra.api import STAGE, Api
from infra.functions import Functions
from infra.settings import StackSettings
from infra.table import Table

PERIOD = 300
MIN_REQUESTS = 10
API_5XX_PERCENT = 5.0
THROTTLED_PER_5_MIN = 100.0
BUDGET_ACTUAL_PERCENT = 80.0
BUDGET_FORECAST_PERCENT = 100.0
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


def _metric(qid: str, namespace: str, name: str, dimensions: Any) -> Query:
    return Query(
        id=qid,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=name, dimensions=dimensions, period=PERIOD, stat="Sum"
        ),
    )


class Observability(pulumi.ComponentResource):
    """The alarm topic, every alarm, the dashboard and the budget of one stack."""

    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]
    budget: aws.budgets.Budget

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        api: Api,
        functions: Functions,
        table: Table,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"waybill-{settings.stack}"
        self.topic = aws.sns.Topic(f"{name}-alarms", name=f"{prefix}-alarms", opts=child)
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=self.topic.arn,
            policy=_topic_policy(self.topic),
            opts=child,
        )
        if settings.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=settings.alarm_email,
                opts=child,
            )
        throttled = dashboard.throttled_metric(settings.stack)
        aws.cloudwatch.LogMetricFilter(
            f"{name}-http-429",
            name=f"{prefix}-http-429",
            log_group_name=api.access_logs.name,
            pattern="{ $.status = 429 }",
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                namespace=throttled[0], name=throttled[1], value="1", default_value="0"
            ),
            opts=child,
        )
        self.alarms = {
            key: self._alarm(name, prefix, key, spec)
            for key, spec in _specs(settings, api, functions, table, throttled).items()
        }
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=prefix,
            dashboard_body=dashboard.body(settings, api, functions, table),
            opts=child,
        )
        self.dashboard_url = self.dashboard.dashboard_name.apply(
            lambda board: (
                f"https://{settings.region}.console.aws.amazon.com/cloudwatch/home"
                f"?region={settings.region}#dashboards/dashboard/{board}"
            )
        )
        self.budget = self._budget(name, settings, prefix)
        self.register_outputs({"topic_arn": self.topic.arn, "dashboard_url": self.dashboard_url})

    def _alarm(
        self, name: str, prefix: str, key: str, spec: AlarmSpec
    ) -> aws.cloudwatch.MetricAlarm:
        single: dict[str, Any] = {}
        if spec.metric is not None:
            namespace, metric_name, dimensions = spec.metric
            single = dict(
                namespace=namespace,
                metric_name=metric_name,
                dimensions=dimensions,
                period=PERIOD,
                statistic="Sum",
            )
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{key}",
            name=f"{prefix}-{key}",
            alarm_description=spec.description,
            comparison_operator="GreaterThanThreshold",
            threshold=spec.threshold,
            evaluation_periods=spec.periods,
            datapoints_to_alarm=spec.periods,
            metric_queries=list(spec.queries) or None,
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
            **single,
        )

    def _budget(self, name: str, settings: StackSettings, prefix: str) -> aws.budgets.Budget:
        emails = [settings.alarm_email] if settings.alarm_email else None
        return aws.budgets.Budget(
            f"{name}-budget",
            name=f"{prefix}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{settings.monthly_budget_usd:.2f}",
            limit_unit="USD",
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                    notification_type=kind,
                    subscriber_email_addresses=emails,
                    subscriber_sns_topic_arns=[self.topic.arn],
                )
                for kind, percent in (
                    ("ACTUAL", BUDGET_ACTUAL_PERCENT),
                    ("FORECASTED", BUDGET_FORECAST_PERCENT),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )


def _specs(
    settings: StackSettings,
    api: Api,
    functions: Functions,
    table: Table,
    throttled: tuple[str, str],
) -> dict[str, AlarmSpec]:
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


def _topic_policy(topic: aws.sns.Topic) -> pulumi.Output[str]:
    """CloudWatch alarms and AWS Budgets of this account may publish; nothing else."""
    account = aws.get_caller_identity_output().account_id
    return pulumi.Output.all(topic.arn, account).apply(
        lambda values: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AlarmsAndBudgets",
                        "Effect": "Allow",
                        "Principal": {
                            "Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
                        },
                        "Action": "sns:Publish",
                        "Resource": values[0],
                        "Condition": {"StringEquals": {"aws:SourceAccount": values[1]}},
                    }
                ],
            }
        )
    )
