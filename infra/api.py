"""The edge: API Gateway REST (regional), its authorizer, stage, usage plans and optional WAF.

- Key source ``AUTHORIZER``: the REQUEST authorizer returns the tenant's plan key as
  ``usageIdentifierKey``, so carrier traffic is metered under the tenant's plan too.
- Authorizer result TTL **0** (see :mod:`gateway.aws.authorizer`). API Gateway accepts a REQUEST
  authorizer with *no* identity source when caching is off (API reference, ``Authorizer.
  identitySource``: "When the authorization caching is not enabled, this property is
  optional"), but the Terraform-bridged provider cannot send one: ``identity_source``
  has the schema default ``method.request.header.Authorization`` and an empty string
  counts as unset (terraform-provider-aws#12069). That default would 401 every webhook
  and every ``/v1`` call without invoking the authorizer, so the identity source is a
  stage variable the stage always sets (:data:`infra.stage.IDENTITY_STAGE_VARIABLE`):
  present on every request, and with TTL 0 it keys no cache.
- Stage ``api`` with its logs and API Gateway's CloudWatch role: :mod:`infra.stage`.
- One usage plan per tier of ``plans.toml``; a web ACL with a per-IP rate rule when
  ``waf_rate_limit`` is set (:func:`infra.edge_guards.build_waf`).
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
from infra.stage import IDENTITY_STAGE_VARIABLE, build_stage

IDENTITY_SOURCE = f"stageVariables.{IDENTITY_STAGE_VARIABLE}"
FIRST_METHOD = {"ingest": "POST", "query": "GET"}
"""The method whose invoke permission keeps the function's plain name (``…-invoke-ingest``);
another method's is ``…-invoke-ingest-delete``: renaming a permission would replace it,
and the API would be refused by its function during the deployment."""


def route_methods() -> list[tuple[str, str]]:
    """(function, HTTP method) of every route, once each: what each alias is invoked for."""
    return sorted({(routes.function_of(r), r.method) for r in routes.ROUTES})


class Api(pulumi.ComponentResource):
    """The REST API and everything between a request and the Lambda aliases."""

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
            description=f"Waybill {settings.stack}: carrier webhooks and the tenant API",
            api_key_source="AUTHORIZER",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            tags=tags,
            opts=child,
        )
        authorizer = aws.apigateway.Authorizer(
            f"{name}-authorizer",
            name=f"waybill-{settings.stack}-tenant",
            rest_api=self.rest_api.id,
            type="REQUEST",
            authorizer_uri=functions.authorizer.invoke_arn,
            authorizer_result_ttl_in_seconds=0,
            identity_source=IDENTITY_SOURCE,
            opts=child,
        )
        self._permissions(name, functions, authorizer)
        built = routes.build_routes(
            name,
            self.rest_api,
            authorizer,
            {"ingest": functions.ingest, "query": functions.query},
            self,
        )
        built += edge_guards.build_gateway_responses(name, self.rest_api, self)
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.rest_api.id,
            description=f"routes {routes.fingerprint()[:12]}",
            triggers={"routes": routes.fingerprint(), "identity": IDENTITY_SOURCE},
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

    def _permissions(
        self, name: str, functions: Functions, authorizer: aws.apigateway.Authorizer
    ) -> None:
        """Each alias may be invoked by this API only, for the methods of its routes (and the
        authorizer by its authorizer)."""
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
        aws.lambda_.Permission(
            f"{name}-invoke-authorizer",
            action="lambda:InvokeFunction",
            function=functions.authorizer.function_name,
            qualifier=functions.authorizer.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(execution_arn, "/authorizers/", authorizer.id),
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
