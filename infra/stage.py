"""Stage ``api`` of the REST API and its logging: the access and execution log groups and
the per-method settings. API Gateway writes the logs with the account's CloudWatch role,
which the bootstrap stack sets once per account and region (:mod:`infra.account`).

- JSON access logs (:data:`ACCESS_LOG_FORMAT`), X-Ray, throttling for every method
  (``*/*``), execution logs at ``ERROR`` and **no** data trace (it would log
  ``x-api-key``).
- **No** detailed (per-method) CloudWatch metrics: they are custom metrics, 45 of them
  ($13.50 a month per stack); the stage-level ``AWS/ApiGateway`` metrics (``ApiName`` and
  ``Stage`` dimensions) the alarms and the dashboard read are published without them.
- An X-Ray sampling rule for the stage (:data:`XRAY_RESERVOIR` a second, then
  :func:`xray_fixed_rate`) instead of the default 1/s + 5 %. API Gateway makes the
  sampling decision and the functions it invokes follow it (Lambda's own sampling, for the
  scheduled and stream functions, cannot be configured).

Every resource is a child of ``parent``, the :class:`infra.api.Api` component.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import pulumi
import pulumi_aws as aws

from infra.settings import StackSettings

STAGE = "api"  # URLs: …/api/webhooks/…, …/api/v1/shipments
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "resource": "$context.resourcePath",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "tenant": "$context.authorizer.tenant",
    "apiKeyId": "$context.identity.apiKeyId",
    "error": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
    "integrationError": "$context.integration.error",
    "wafResponse": "$context.wafResponseCode",
}
"""Never ``$context.identity.apiKey``: that is the key's value."""
XRAY_RESERVOIR = 1
"""Traced requests a second before the fixed rate applies."""
XRAY_RULE_PRIORITY = 1000  # below the default rule (10000), so ours applies first
XRAY_RULE_NAME_MAX = 32


def xray_fixed_rate(stack: str) -> float:
    """The share of requests traced beyond the reservoir: 5 % in dev, 1 % elsewhere."""
    return 0.05 if stack == "dev" else 0.01


def xray_service_name(stack: str) -> str:
    """The X-Ray service name of the stage: ``{rest API name}/{stage}``."""
    return f"waybill-{stack}/{STAGE}"


def xray_rule_name(stack: str) -> str:
    """``waybill-{stack}``; ``ValueError`` when longer than X-Ray allows (32)."""
    rule = f"waybill-{stack}"
    if len(rule) > XRAY_RULE_NAME_MAX:
        raise ValueError(f"X-Ray sampling rule name {rule!r} is longer than 32 characters")
    return rule


class Staged(NamedTuple):
    """The stage and the log group of its access logs."""

    stage: aws.apigateway.Stage
    access_logs: aws.cloudwatch.LogGroup


def build_stage(
    name: str,
    settings: StackSettings,
    rest_api: aws.apigateway.RestApi,
    deployment: aws.apigateway.Deployment,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> Staged:
    """Stage :data:`STAGE` with access logs, X-Ray (and its sampling rule) and per-method
    throttling."""
    child = pulumi.ResourceOptions(parent=parent)
    access_logs = aws.cloudwatch.LogGroup(
        f"{name}-access-logs",
        name=f"/aws/apigateway/waybill-{settings.stack}/access",
        retention_in_days=settings.log_retention_days,
        tags=tags,
        opts=child,
    )
    execution_logs = aws.cloudwatch.LogGroup(  # created by API Gateway otherwise, forever
        f"{name}-execution-logs",
        name=pulumi.Output.concat("API-Gateway-Execution-Logs_", rest_api.id, f"/{STAGE}"),
        retention_in_days=settings.log_retention_days,
        tags=tags,
        opts=child,
    )
    stage = aws.apigateway.Stage(
        f"{name}-stage",
        rest_api=rest_api.id,
        deployment=deployment.id,
        stage_name=STAGE,
        xray_tracing_enabled=True,
        access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
            destination_arn=access_logs.arn,
            format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
        ),
        tags=tags,
        opts=child,
    )
    aws.apigateway.MethodSettings(
        f"{name}-method-settings",
        rest_api=rest_api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings=aws.apigateway.MethodSettingsSettingsArgs(
            metrics_enabled=False,  # per-method metrics cost; stage-level ones remain
            logging_level="ERROR",
            data_trace_enabled=False,
            throttling_rate_limit=settings.stage_rate_limit,
            throttling_burst_limit=settings.stage_burst_limit,
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[execution_logs]),
    )
    aws.xray.SamplingRule(
        f"{name}-xray-sampling",
        rule_name=xray_rule_name(settings.stack),
        priority=XRAY_RULE_PRIORITY,
        version=1,
        reservoir_size=XRAY_RESERVOIR,
        fixed_rate=xray_fixed_rate(settings.stack),
        service_name=xray_service_name(settings.stack),
        service_type="AWS::ApiGateway::Stage",
        host="*",
        http_method="*",
        url_path="*",
        resource_arn="*",
        tags=tags,
        opts=child,
    )
    return Staged(stage, access_logs)
