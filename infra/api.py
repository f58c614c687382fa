"""The tenant edge: API Gateway REST (regional) for ``/v1``, its authorizer, stage, usage
plans and optional WAF.

Only the routes tenants call with ``x-api-key`` (and the public ``/healthz`` and
``/openapi.json``) and the ops console's (``/console``, no API key; its pages and actions
behind the console's own authorizer, :data:`infra.routes.CONSOLE_ROUTES`) are here; carrier
webhooks and the OAuth token endpoint are on the webhook edge (:mod:`infra.webhook_edge`,
an HTTP API with no authorizer).

- Key source ``AUTHORIZER``: the REQUEST authorizer returns the tenant's plan key as
  ``usageIdentifierKey``, so every ``/v1`` call is metered under the tenant's plan.
- The authorizer's identity source is :data:`IDENTITY_SOURCE` (``x-api-key``), its
  result cached :data:`AUTHORIZER_TTL_SECONDS`: the answer depends on the key only (its
  policy allows every ``/v1`` method of the stage), so one Lambda invocation serves a
  key's calls for five minutes. A request without the header is refused 401 by API
  Gateway without invoking anything. :func:`check_authorizer_cache` refuses a cache on an
  identity source that does not carry the tenant (a path template, a stage variable):
  it would serve one tenant's answer to another.
- The console authorizer (REQUEST, the console function's
  :func:`gateway.aws.console.authorize`) caches nothing (:data:`CONSOLE_AUTHORIZER_TTL`):
  a session ends at logout, expiry or a credential reset, and a cached Allow would outlive
  it. Its identity source is :data:`CONSOLE_IDENTITY_SOURCE`, the method (always there),
  so API Gateway calls it for a request without cookies too (the console then answers
  with its login form) instead of refusing it with a JSON 401.
- Stage ``api`` with its logs: :mod:`infra.stage`; the account-level CloudWatch role of
  API Gateway is the bootstrap stack's (:mod:`infra.account`).
- One usage plan per tier of ``plans.toml``; a web ACL with a per-IP rate rule when
  ``waf_rate_limit`` is set (:func:`infra.edge_guards.build_waf`): on this edge only, so
  a carrier posting for many tenants from a few addresses is never blocked by it.
- The deployment is re-made whenever anything it serves changes: the routes and gateway
  responses, the authorizer's inputs and the integrations' targets
  (:func:`deployment_triggers`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from gateway.tenancy.plans import Plan
from gateway.tenancy.tenants import TenantConfig
from infra import edge_guards, routes
from infra.functions import Functions
from infra.settings import StackSettings
from infra.stage import build_stage

IDENTITY_SOURCE = "method.request.header.x-api-key"
AUTHORIZER_TTL_SECONDS = 300
CONSOLE_IDENTITY_SOURCE = "context.httpMethod"
CONSOLE_AUTHORIZER_TTL = 0
TENANT_IDENTITY_SOURCES = frozenset({IDENTITY_SOURCE})
"""Identity sources whose value determines the tenant: the only ones a cache may key on."""
FIRST_METHOD = {"ingest": "POST", "query": "GET"}
"""The method whose invoke permission keeps the function's plain name (``…-invoke-ingest``);
another method's is ``…-invoke-ingest-delete``: renaming a permission would replace it,
and the API would be refused by its function during the deployment."""


def check_authorizer_cache(identity_source: str, ttl_seconds: int) -> None:
    """``ValueError`` when an authorizer would cache its answers under a key that does not
    carry the tenant: a cached allow for tenant A would then admit (and meter) tenant B.

    >>> check_authorizer_cache("method.request.header.x-api-key", 300)
    >>> check_authorizer_cache("context.resourcePath", 300)
    Traceback (most recent call last):
    ...
    ValueError: authorizer cache keyed on 'context.resourcePath', which does not carry the tenant
    """
    sources = {s.strip() for s in identity_source.split(",") if s.strip()}
    if ttl_seconds > 0 and not sources & TENANT_IDENTITY_SOURCES:
        raise ValueError(
            f"authorizer cache keyed on {identity_source!r}, which does not carry the tenant"
        )


def route_methods() -> list[tuple[str, str]]:
    """(function, HTTP method) of every REST route, once each: what each alias is invoked for."""
    return sorted({(routes.function_of(r), r.method) for r in routes.ROUTES})


def deployment_triggers(
    authorizers: tuple[aws.apigateway.Authorizer, aws.apigateway.Authorizer],
    aliases: Mapping[str, aws.lambda_.Alias],
) -> dict[str, pulumi.Input[str]]:
    """What a deployment renders: a change to any of them makes a new one."""
    return {
        "routes": routes.fingerprint(),
        "authorizer": pulumi.Output.json_dumps(
            [
                [a.authorizer_uri, a.identity_source, a.authorizer_result_ttl_in_seconds, a.type]
                for a in authorizers
            ]
        ),
        "integrations": pulumi.Output.json_dumps(
            {function: alias.invoke_arn for function, alias in sorted(aliases.items())}
        ),
    }


class Api(pulumi.ComponentResource):
    """The REST API and everything between a ``/v1`` request and the Lambda aliases."""

    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    base_url: pulumi.Output[str]
    usage_plans: dict[str, aws.apigateway.UsagePlan]
    access_logs: aws.cloudwatch.LogGroup
    web_acl: aws.wafv2.WebAcl | None

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        functions: Functions,
        tenants: Mapping[str, TenantConfig],
        plans: Mapping[str, Plan],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:Api", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"waybill:stack": settings.stack}
        unknown = sorted({t.plan for t in tenants.values()} - set(plans))
        if unknown:
            raise ValueError(f"tenants name tiers missing from plans.toml: {unknown}")
        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest",
            name=f"waybill-{settings.stack}",
            description=f"Waybill {settings.stack}: the tenant API",
            api_key_source="AUTHORIZER",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            tags=tags,
            opts=child,
        )
        authorizers = (
            self._authorizer(f"{name}-authorizer", settings, "tenant", functions.authorizer),
            self._authorizer(f"{name}-console-authorizer", settings, "console", functions.console),
        )
        aliases = {
            "ingest": functions.ingest,
            "query": functions.query,
            routes.CONSOLE: functions.console,
        }
        self._permissions(name, functions, authorizers)
        built = routes.build_routes(name, self.rest_api, authorizers, aliases, self)
        built += edge_guards.build_gateway_responses(name, self.rest_api, self)
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.rest_api.id,
            description=f"routes {routes.fingerprint()[:12]}",
            triggers=deployment_triggers(authorizers, aliases),
            opts=pulumi.ResourceOptions(parent=self, depends_on=built),
        )
        self.stage, self.access_logs = build_stage(
            name, settings, self.rest_api, deployment, tags, self
        )
        self.base_url = self.stage.invoke_url
        self.usage_plans = {
            tier: self._usage_plan(name, settings, tier, plan, tags)
            for tier, plan in sorted(plans.items())
        }
        self.web_acl = edge_guards.build_waf(name, settings, self.stage, tags, self)
        self.register_outputs({"base_url": self.base_url, "rest_api_id": self.rest_api.id})

    def _authorizer(
        self, name: str, settings: StackSettings, kind: str, alias: aws.lambda_.Alias
    ) -> aws.apigateway.Authorizer:
        """A REQUEST authorizer of this API: the tenant API's (cached on the API key) or
        the console's (no cache)."""
        ttl, source = (
            (AUTHORIZER_TTL_SECONDS, IDENTITY_SOURCE)
            if kind == "tenant"
            else (CONSOLE_AUTHORIZER_TTL, CONSOLE_IDENTITY_SOURCE)
        )
        check_authorizer_cache(source, ttl)
        return aws.apigateway.Authorizer(
            name,
            name=f"waybill-{settings.stack}-{kind}",
            rest_api=self.rest_api.id,
            type="REQUEST",
            authorizer_uri=alias.invoke_arn,
            authorizer_result_ttl_in_seconds=ttl,
            identity_source=source,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _permissions(
        self,
        name: str,
        functions: Functions,
        authorizers: tuple[aws.apigateway.Authorizer, aws.apigateway.Authorizer],
    ) -> None:
        """Each alias may be invoked by this API only, for the methods of its routes (the
        console's for its paths and as its authorizer, the authorizer by its authorizer)."""
        authorizer, console_authorizer = authorizers
        execution_arn = self.rest_api.execution_arn
        aliases = {"ingest": functions.ingest, "query": functions.query}
        for function, method in route_methods():
            suffix = "" if FIRST_METHOD[function] == method else f"-{method.lower()}"
            aws.lambda_.Permission(
                f"{name}-invoke-{function}{suffix}",
                action="lambda:InvokeFunction",
                function=aliases[function].function_name,
                qualifier=aliases[function].name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(execution_arn, f"/*/{method}/*"),
                opts=pulumi.ResourceOptions(parent=self),
            )
        for suffix, path in (("", "/console"), ("-proxy", "/console/*")):
            aws.lambda_.Permission(  # every method (ANY) of the console's two routes
                f"{name}-invoke-console{suffix}",
                action="lambda:InvokeFunction",
                function=functions.console.function_name,
                qualifier=functions.console.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(execution_arn, f"/*/*{path}"),
                opts=pulumi.ResourceOptions(parent=self),
            )
        for ident, alias, by in (
            ("authorizer", functions.authorizer, authorizer),
            ("console-authorizer", functions.console, console_authorizer),
        ):
            aws.lambda_.Permission(  # invoked as an authorizer, by that authorizer only
                f"{name}-invoke-{ident}",
                action="lambda:InvokeFunction",
                function=alias.function_name,
                qualifier=alias.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(execution_arn, "/authorizers/", by.id),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _usage_plan(
        self, name: str, settings: StackSettings, tier: str, plan: Plan, tags: dict[str, str]
    ) -> aws.apigateway.UsagePlan:
        """The usage plan of one tier, bound to the stage: its rate, burst and quota."""
        return aws.apigateway.UsagePlan(
            f"{name}-plan-{tier}",
            name=f"waybill-{settings.stack}-{tier}",
            description=f"Waybill {settings.stack}: tier {tier} ({plan.describe()})",
            api_stages=[
                aws.apigateway.UsagePlanApiStageArgs(
                    api_id=self.rest_api.id, stage=self.stage.stage_name
                )
            ],
            throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                rate_limit=plan.rate, burst_limit=plan.burst
            ),
            quota_settings=aws.apigateway.UsagePlanQuotaSettingsArgs(
                limit=plan.quota, period=plan.quota_period.upper()
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
