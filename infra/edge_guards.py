"""The edge's own refusals: API Gateway's gateway responses and the optional WAF rule.

:data:`GATEWAY_RESPONSES` gives the answers API Gateway writes itself (the authorizer's
refusals, throttling, quota, unknown routes) the app's JSON error body, and so does the
optional web ACL (:func:`build_waf`) when its per-IP rate rule blocks. Both are children
of ``parent``, the :class:`infra.api.Api` component.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.settings import StackSettings

WAF_RULE = "per-ip-rate"
WAF_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class GatewayAnswer:
    """A gateway response: status, the app's error code and message, extra headers."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def template(self) -> str:
        """The JSON body, ``{"error": {"code": …, "message": …}}`` as the app writes it."""
        return json.dumps({"error": {"code": self.code, "message": self.message}})


GATEWAY_RESPONSES: Mapping[str, GatewayAnswer] = {
    "UNAUTHORIZED": GatewayAnswer(401, "unauthenticated", "missing or unknown API key or tenant"),
    "ACCESS_DENIED": GatewayAnswer(403, "forbidden", "not allowed"),
    "INVALID_API_KEY": GatewayAnswer(403, "forbidden", "no usage plan for this tenant"),
    "MISSING_AUTHENTICATION_TOKEN": GatewayAnswer(404, "not_found", "no such route"),
    "THROTTLED": GatewayAnswer(
        429, "rate_limited", "rate limit of the plan exceeded", (("Retry-After", "1"),)
    ),
    "QUOTA_EXCEEDED": GatewayAnswer(
        429, "quota_exceeded", "quota of the plan exceeded", (("Retry-After", "3600"),)
    ),
    "REQUEST_TOO_LARGE": GatewayAnswer(413, "payload_too_large", "body too large"),
    "AUTHORIZER_FAILURE": GatewayAnswer(500, "internal_error", "authorization failed; retry"),
    "AUTHORIZER_CONFIGURATION_ERROR": GatewayAnswer(
        500, "internal_error", "authorization failed; retry"
    ),
}
"""Retry-After is static here: 1 s for the token bucket; for a quota, an hour (the window
ends at the next UTC day or month, which a gateway response cannot compute). An
authorizer failure of ours (DynamoDB, Secrets Manager) stays a 500, which carriers retry,
with the handler's ``internal_error`` code."""


def build_gateway_responses(
    name: str, rest_api: aws.apigateway.RestApi, parent: pulumi.Resource
) -> list[pulumi.Resource]:
    """The :data:`GATEWAY_RESPONSES`, JSON like the app's errors."""
    return [
        aws.apigateway.Response(
            f"{name}-response-{kind.lower().replace('_', '-')}",
            rest_api_id=rest_api.id,
            response_type=kind,
            status_code=str(answer.status),
            response_templates={"application/json": answer.template()},
            response_parameters={
                f"gatewayresponse.header.{header}": f"'{value}'" for header, value in answer.headers
            },
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for kind, answer in GATEWAY_RESPONSES.items()
    ]


def build_waf(
    name: str,
    settings: StackSettings,
    stage: aws.apigateway.Stage,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.wafv2.WebAcl | None:
    """A regional web ACL on ``stage``: at most ``waf_rate_limit`` requests per IP per 5 min."""
    if settings.waf_rate_limit is None:
        return None
    answer = GatewayAnswer(429, "rate_limited", "too many requests from this address")
    metric = f"waybill-{settings.stack}"
    block = aws.wafv2.WebAclRuleActionBlockArgs(
        custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
            response_code=answer.status, custom_response_body_key=answer.code
        )
    )
    rate = aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
        limit=settings.waf_rate_limit,
        aggregate_key_type="IP",
        evaluation_window_sec=WAF_WINDOW_SECONDS,
    )
    acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        name=metric,
        scope="REGIONAL",
        default_action=aws.wafv2.WebAclDefaultActionArgs(
            allow=aws.wafv2.WebAclDefaultActionAllowArgs()
        ),
        custom_response_bodies=[
            aws.wafv2.WebAclCustomResponseBodyArgs(
                key=answer.code, content=answer.template(), content_type="APPLICATION_JSON"
            )
        ],
        rules=[
            aws.wafv2.WebAclRuleArgs(
                name=WAF_RULE,
                priority=0,
                action=aws.wafv2.WebAclRuleActionArgs(block=block),
                statement=aws.wafv2.WebAclRuleStatementArgs(rate_based_statement=rate),
                visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                    **_visibility(f"{metric}-{WAF_RULE}")
                ),
            )
        ],
        visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(**_visibility(metric)),
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.wafv2.WebAclAssociation(
        f"{name}-waf-stage",
        resource_arn=stage.arn,
        web_acl_arn=acl.arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return acl


def _visibility(metric: str) -> dict[str, Any]:
    """CloudWatch metrics and sampled requests on, for the ACL and for its rule."""
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric,
        "sampled_requests_enabled": True,
    }
