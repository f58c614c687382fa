"""The webhook edge: an API Gateway HTTP API for carrier webhooks and the OAuth token endpoint.

The carrier's signature *is* the authentication, so this edge has no authorizer, no API
key and no usage plan (``../shared/DESIGN.md``, "Request flow"):

- **one route per tenant** and kind, generated from ``tenants/``: ``POST
  /webhooks/acme/{carrier}`` for a tenant with a carrier that receives webhooks, and
  ``POST /oauth/acme/{carrier}/token`` for one with a carrier that fetches tokens from us
  (option ``oauth_client_id``). A tenant not in ``tenants/`` has no route: API Gateway
  answers 404 without invoking anything;
- each route is **throttled at its tenant's plan** (``rate`` and ``burst`` of
  ``plans.toml``, :func:`route_throttles`), so a stranger who knows a webhook URL can at
  most spend that route's rate. Quotas and the daily hard cap count **verified**
  deliveries only, inside ingest (:mod:`gateway.tenancy.limits`);
- payload format **1.0**: the ingest handler receives the same proxy event as from REST
  (the path is the request's, the tenant a literal segment of it);
- the ``$default`` stage, deployed automatically: its URL has no stage segment, and a
  route added or changed is live at the next ``pulumi up`` with no deployment resource;
  the stage's default route settings carry the stack-wide throttle, detailed (per-route)
  metrics off;
- JSON access logs (:data:`ACCESS_LOG_FORMAT`, no header and no body).

HTTP APIs have no gateway responses: API Gateway's own 404 and 429 here are its bodies
(``{"message": "Not Found"}``, ``{"message": "Too Many Requests"}``) with no
``Retry-After``; carriers retry on the status alone. Route limits: 300 routes per API by
default (a quota AWS raises on request), so up to ~150 tenants with both kinds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gateway.api.oauth import CLIENT_ID_OPTION
from gateway.carriers.discovery import load_adapters
from gateway.tenancy.plans import Plan
from gateway.tenancy.tenants import TenantConfig
from infra.functions import Functions
from infra.settings import StackSettings

STAGE = "$default"
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "route": "$context.routeKey",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "error": "$context.error.message",
    "integrationError": "$context.integrationErrorMessage",
}
"""What one access log line of the webhook edge holds (``status`` is written quoted, a
string: the 429 filter compares it as one)."""
INTEGRATION_TIMEOUT_MS = 29_000  # the most an HTTP API waits (ingest answers within 20 s)


@dataclass(frozen=True)
class Throttle:
    """A route's token bucket: ``rate`` requests a second, ``burst`` at once."""

    rate: float
    burst: int


def webhook_carriers(tenant: TenantConfig) -> list[str]:
    """The tenant's enabled carriers that receive webhooks: adapters with ``webhook`` set
    and the tenant file's generic partners (``canonical`` is ``POST /v1/events``)."""
    adapters = load_adapters().adapters
    return [
        carrier
        for carrier in tenant.enabled_carriers()
        if tenant.carriers[carrier].generic is not None
        or (carrier in adapters and adapters[carrier].webhook)
    ]


def oauth_carriers(tenant: TenantConfig) -> list[str]:
    """The tenant's enabled carriers that fetch a token from us (``oauth_client_id``)."""
    return [
        carrier
        for carrier in tenant.enabled_carriers()
        if tenant.carriers[carrier].options.get(CLIENT_ID_OPTION)
    ]


def tenant_route_keys(tenant: TenantConfig) -> list[str]:
    """The route keys (``METHOD path``) of one tenant: none for a tenant with no carrier
    that calls us, so its paths are 404 at the edge."""
    keys = []
    if webhook_carriers(tenant):
        keys.append(f"POST /webhooks/{tenant.id}/{{carrier}}")
    if oauth_carriers(tenant):
        keys.append(f"POST /oauth/{tenant.id}/{{carrier}}/token")
    return keys


def route_throttles(
    tenants: Mapping[str, TenantConfig], plans: Mapping[str, Plan]
) -> dict[str, Throttle]:
    """Every route key of the edge with its tenant's plan rate and burst.

    ``ValueError`` for a tenant whose plan is not in ``plans``.
    """
    throttles: dict[str, Throttle] = {}
    for tenant_id, tenant in sorted(tenants.items()):
        plan = plans.get(tenant.plan)
        if plan is None:
            raise ValueError(f"tenant {tenant_id!r} names plan {tenant.plan!r}, not in plans.toml")
        for key in tenant_route_keys(tenant):
            throttles[key] = Throttle(plan.rate, plan.burst)
    return throttles


def resource_name(route_key: str) -> str:
    """A Pulumi name for a route key: ``POST /webhooks/acme/{carrier}`` → ``webhooks-acme``."""
    path = route_key.split(" ", 1)[1]
    parts = [p for p in path.strip("/").split("/") if not p.startswith("{")]
    return "-".join(parts)


class WebhookEdge(pulumi.ComponentResource):
    """The HTTP API, its per-tenant routes and throttles, the stage and its access logs."""

    http_api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    base_url: pulumi.Output[str]
    access_logs: aws.cloudwatch.LogGroup
    throttles: dict[str, Throttle]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        functions: Functions,
        tenants: Mapping[str, TenantConfig],
        plans: Mapping[str, Plan],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:WebhookEdge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"waybill:stack": settings.stack}
        self.throttles = route_throttles(tenants, plans)
        self.http_api = aws.apigatewayv2.Api(
            f"{name}-http",
            name=f"waybill-{settings.stack}-webhooks",
            description=f"Waybill {settings.stack}: carrier webhooks and OAuth tokens",
            protocol_type="HTTP",
            tags=tags,
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-ingest",
            api_id=self.http_api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=functions.ingest.arn,
            payload_format_version="1.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=child,
        )
        target = pulumi.Output.concat("integrations/", integration.id)
        routes = [
            aws.apigatewayv2.Route(
                f"{name}-route-{resource_name(key)}",
                api_id=self.http_api.id,
                route_key=key,
                target=target,
                opts=child,
            )
            for key in self.throttles
        ]
        aws.lambda_.Permission(
            f"{name}-invoke-ingest",
            action="lambda:InvokeFunction",
            function=functions.ingest.function_name,
            qualifier=functions.ingest.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.http_api.execution_arn, "/*/POST/*"),
            opts=child,
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/waybill-{settings.stack}/webhooks",
            retention_in_days=settings.log_retention_days,
            tags=tags,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.http_api.id,
            name=STAGE,
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=settings.stage_rate_limit,
                throttling_burst_limit=settings.stage_burst_limit,
                detailed_metrics_enabled=False,
            ),
            route_settings=[
                aws.apigatewayv2.StageRouteSettingArgs(
                    route_key=key,
                    throttling_rate_limit=throttle.rate,
                    throttling_burst_limit=throttle.burst,
                )
                for key, throttle in self.throttles.items()
            ],
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn,
                format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        self.base_url = self.http_api.api_endpoint
        self.register_outputs({"base_url": self.base_url, "api_id": self.http_api.id})
