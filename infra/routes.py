"""The REST API's surface: routes, API Gateway's own answers and the WAF rule.

:data:`ROUTES` mirrors the resolver in :mod:`gateway.handler` (a test compares the two):
a POST goes to the ingest alias, a GET to the query alias. A route is *public* (no
authorizer, no API key) only when the authorizer has no tenant for it
(:mod:`gateway.authorizer`: webhooks and OAuth by path, ``/v1`` by ``x-api-key``): the
others require the REQUEST authorizer and an API key, which API Gateway takes from the
authorizer's ``usageIdentifierKey`` (key source ``AUTHORIZER``) to apply the tenant's plan.

:data:`GATEWAY_RESPONSES` gives the answers API Gateway writes itself (the authorizer's
refusals, throttling, quota, unknown routes) the app's JSON error body, and so does the
optional web ACL (:func:`build_waf`) when its per-IP rate rule blocks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.settings import StackSettings

WAF_RULE = "per-ip-rate"
WAF_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class Route:
    """One method of the API: ``path`` in API Gateway's ``{param}`` syntax."""

    method: str
    path: str
    public: bool = False

    @property
    def function(self) -> str:
        """The alias serving the route: ``ingest`` for writes, ``query`` for reads."""
        return "ingest" if self.method == "POST" else "query"


ROUTES: tuple[Route, ...] = (
    Route("POST", "/webhooks/{tenant}/{carrier}"),
    Route("POST", "/oauth/{tenant}/{carrier}/token"),
    Route("POST", "/v1/events"),
    Route("GET", "/v1/shipments"),
    Route("GET", "/v1/shipments/{tracking_number}"),
    Route("GET", "/v1/shipments/{tracking_number}/events"),
    Route("GET", "/v1/shipments/{tracking_number}/locations"),
    Route("GET", "/healthz", public=True),
    Route("GET", "/openapi.json", public=True),
)


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


def fingerprint() -> str:
    """Changes whenever the routes or the gateway responses change: the redeploy trigger."""
    data = {
        "routes": [asdict(r) for r in ROUTES],
        "responses": {k: asdict(v) for k, v in sorted(GATEWAY_RESPONSES.items())},
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def resource_name(path: str) -> str:
    """A Pulumi name for a path: ``/v1/shipments/{n}/events`` → ``v1-shipments-n-events``."""
    return path.strip("/").replace("/", "-").replace("{", "").replace("}", "") or "root"


def build_routes(
    name: str,
    rest_api: aws.apigateway.RestApi,
    authorizer: aws.apigateway.Authorizer,
    aliases: Mapping[str, aws.lambda_.Alias],
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """Resources, methods and AWS_PROXY integrations of :data:`ROUTES`; what a deployment needs."""
    child = pulumi.ResourceOptions(parent=parent)
    resources: dict[str, pulumi.Output[str]] = {"": rest_api.root_resource_id}
    built: list[pulumi.Resource] = []
    for path in sorted({p for r in ROUTES for p in _prefixes(r.path)}, key=len):
        head, _, part = path.rpartition("/")
        resource = aws.apigateway.Resource(
            f"{name}-{resource_name(path)}",
            rest_api=rest_api.id,
            parent_id=resources[head],
            path_part=part,
            opts=child,
        )
        resources[path] = resource.id
    for route in ROUTES:
        ident = f"{name}-{route.method.lower()}-{resource_name(route.path)}"
        method = aws.apigateway.Method(
            ident,
            rest_api=rest_api.id,
            resource_id=resources[route.path],
            http_method=route.method,
            authorization="NONE" if route.public else "CUSTOM",
            authorizer_id=None if route.public else authorizer.id,
            api_key_required=not route.public,
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{ident}-integration",
            rest_api=rest_api.id,
            resource_id=resources[route.path],
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=aliases[route.function].invoke_arn,
            opts=child,
        )
        built += [method, integration]
    return built


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


def _prefixes(path: str) -> list[str]:
    """``/a/b/c`` → ``["/a", "/a/b", "/a/b/c"]``."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
