"""Alarms, the dashboard and the monthly budget, all reporting to one SNS topic.

Every alarm (specified in :mod:`infra.alarms`) has the topic as alarm *and* OK action; the
``api-throttled`` alarm reads a metric filter on both edges' access logs (the REST
stage's and the webhook HTTP API's), created here.

The topic is not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the
AWS-managed SNS key, and alarm messages carry no secret. An e-mail subscription (when
``alarm_email`` is set) must be confirmed from the mail. The budget counts the costs
tagged ``waybill:stack`` = this stack (``waybill:budgetScope`` ``stack``, the default):
the tag must be activated as a cost allocation tag once per account, or the budget sees
nothing (``docs/deploy.md``, first deployment); ``account`` counts the whole account.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import dashboard
from infra.alarms import PERIOD, AlarmSpec, alarm_specs
from infra.api import Api
from infra.functions import Functions
from infra.notify import Notify
from infra.settings import StackSettings
from infra.table import Table
from infra.webhook_edge import WebhookEdge

BUDGET_ACTUAL_PERCENT = 80.0
BUDGET_FORECAST_PERCENT = 100.0
THROTTLED_PATTERN = '{ $.status = "429" }'
"""The access log writes ``$context.status`` quoted (:data:`infra.stage.ACCESS_LOG_FORMAT`):
a string, which a numeric comparison (``= 429``) never matches."""


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
        webhooks: WebhookEdge,
        functions: Functions,
        table: Table,
        notify: Notify,
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
        for edge, logs in (("", api.access_logs), ("webhooks-", webhooks.access_logs)):
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{edge}http-429",
                name=f"{prefix}-{edge}http-429",
                log_group_name=logs.name,
                pattern=THROTTLED_PATTERN,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    namespace=throttled[0], name=throttled[1], value="1", default_value="0"
                ),
                opts=child,
            )
        specs = alarm_specs(settings, api, webhooks, functions, table, throttled, notify)
        self.alarms = {key: self._alarm(name, prefix, key, spec) for key, spec in specs.items()}
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=prefix,
            dashboard_body=dashboard.body(settings, api, functions, table, notify),
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
                statistic=spec.statistic,
            )
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{key}",
            name=f"{prefix}-{key}",
            alarm_description=spec.description,
            comparison_operator="GreaterThanThreshold",
            threshold=spec.threshold,
            evaluation_periods=spec.periods,
            datapoints_to_alarm=spec.datapoints or spec.periods,
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
            cost_filters=budget_filters(settings),
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


def budget_filters(settings: StackSettings) -> list[aws.budgets.BudgetCostFilterArgs] | None:
    """The stack's own costs (its ``waybill:stack`` tag), unless the scope is the account."""
    if settings.budget_scope == "account":
        return None
    tag = f"user:waybill:stack${settings.stack}"
    return [aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[tag])]


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
