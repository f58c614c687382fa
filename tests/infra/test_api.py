"""Tenant edge policies: every ``/v1`` route exists behind the right alias and authorizer,
plans apply; the carriers' routes are the webhook edge's (``test_webhook_edge.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest

from gateway.api.app import build_resolver
from gateway.aws.authorizer import API_RESOURCES
from gateway.routes import ROUTES as GATEWAY_ROUTES
from gateway.routes import Endpoint
from gateway.tenancy.plans import load_plans, plans_file
from gateway.tenancy.tenants import TenantConfig
from infra import api as api_module
from infra import routes
from infra.api import Api
from infra.functions import Functions
from infra.secrets import PartnerSecrets
from infra.settings import StackSettings
from infra.stage import STAGE, xray_rule_name
from infra.table import Table
from tests.infra.helpers import as_json, named, one, resources_of

TENANTS = {
    "acme": TenantConfig(id="acme", name="Acme", plan="free", carriers={"easypost": {}}),
    "globex": TenantConfig(id="globex", name="Globex", plan="pro", carriers={"ups": {}}),
}
METHOD = "aws:apigateway/method:Method"
RESOURCE = "aws:apigateway/resource:Resource"
INTEGRATION = "aws:apigateway/integration:Integration"
PERMISSION = "aws:lambda/permission:Permission"
CONSOLE_ROUTES = {
    ("ANY", "/console"),
    ("ANY", "/console/login"),
    ("GET", "/console/static/{file}"),
    ("ANY", "/console/{proxy+}"),
}
GUARDED = ("ANY", "/console/{proxy+}")  # behind the console's own authorizer


def build_stack(
    settings: StackSettings | None = None, tenants: Mapping[str, TenantConfig] = TENANTS
) -> tuple[Api, Functions, Table]:
    """Table, secrets and functions as the program wires them, then the API."""
    settings = settings or StackSettings.for_stack("dev")
    table = Table("table", settings)
    secrets = PartnerSecrets("secrets", settings, tenants.values(), table.kms_key)
    code = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
    functions = Functions("functions", settings, table, secrets, code, tenants.values())
    api = Api("api", settings, functions, tenants, load_plans(plans_file()))
    return api, functions, table


def ready(api: Api, *more: pulumi.Output[Any]) -> pulumi.Output[list[Any]]:
    """Resolves after the last resources of the API are registered."""
    plans = [p.id for p in api.usage_plans.values()]
    waf = [api.web_acl.id] if api.web_acl else []
    return pulumi.Output.all(api.stage.id, api.rest_api.execution_arn, *plans, *waf, *more)


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the Lambda's resolver, in API Gateway's syntax."""
    app = build_resolver(SimpleNamespace(limits=None))  # type: ignore[arg-type]
    found = app._static_routes + app._dynamic_routes
    return {(r.method, r.path.replace("<", "{").replace(">", "}")) for r in found}


def deployed_methods() -> dict[tuple[str, str], Any]:
    """(method, full path) → recorded Method, rebuilt from the recorded resource tree."""
    parts = {
        f"{r.name}-id": (r.inputs["parentId"], r.inputs["pathPart"]) for r in resources_of(RESOURCE)
    }

    def path(resource_id: str) -> str:
        if resource_id == "root-id":
            return ""
        parent, part = parts[resource_id]
        return f"{path(parent)}/{part}"

    return {(m.inputs["httpMethod"], path(m.inputs["resourceId"])): m for m in resources_of(METHOD)}


def rest_app_routes() -> set[tuple[str, str]]:
    """The resolver's routes less the carriers' (which the webhook edge serves)."""
    carriers = {(r.method, r.path) for r in GATEWAY_ROUTES if r.auth == "carrier"}
    assert carriers == {
        ("POST", "/webhooks/{tenant}/{carrier}"),
        ("POST", "/oauth/{tenant}/{carrier}/token"),
    }
    return app_routes() - carriers


def test_infra_routes_are_the_routes_of_the_lambda_but_the_carriers() -> None:
    assert {(r.method, r.path) for r in routes.ROUTES} == rest_app_routes()


def test_only_routes_the_authorizer_has_no_tenant_for_are_public() -> None:
    for route in routes.ROUTES:
        assert routes.is_public(route) is not (route.path in API_RESOURCES), route
    assert {r.path for r in routes.ROUTES if routes.is_public(r)} == {"/healthz", "/openapi.json"}


@pulumi.runtime.test
def test_every_route_is_deployed_and_integrated_with_its_alias() -> Any:
    api, functions, _ = build_stack()

    def check(values: list[Any]) -> None:
        ingest, query, console = values[-3:]
        methods = deployed_methods()
        assert set(methods) == rest_app_routes() | CONSOLE_ROUTES
        integrations = {
            (i.inputs["resourceId"], i.inputs["httpMethod"]): i for i in resources_of(INTEGRATION)
        }
        for (verb, path), method in methods.items():
            integration = integrations[(method.inputs["resourceId"], verb)].inputs
            assert (integration["type"], integration["integrationHttpMethod"]) == (
                "AWS_PROXY",
                "POST",
            )
            if (verb, path) in CONSOLE_ROUTES:
                assert integration["uri"] == console, path
                continue
            assert integration["uri"] == (query if verb == "GET" else ingest), path

    invoked = (functions.ingest.invoke_arn, functions.query.invoke_arn)
    return ready(api, *invoked, functions.console.invoke_arn).apply(check)


def test_the_console_routes_are_not_the_tenant_apis() -> None:
    """Not in gateway/routes.py's table (the handler's resolver, the OpenAPI document)."""
    assert set(routes.CONSOLE_ROUTES) == CONSOLE_ROUTES
    assert not {path for _, path in CONSOLE_ROUTES} & {r.path for r in GATEWAY_ROUTES}


@pulumi.runtime.test
def test_every_method_but_the_public_ones_needs_the_authorizer_and_an_api_key() -> Any:
    api, _, _ = build_stack()

    def check(_: Any) -> None:
        authorizer = named("aws:apigateway/authorizer:Authorizer", "api-authorizer")
        console = named("aws:apigateway/authorizer:Authorizer", "api-console-authorizer")
        for (verb, path), method in deployed_methods().items():
            inputs = method.inputs
            if (verb, path) == GUARDED:  # every page and action: the console's authorizer
                assert inputs["authorization"] == "CUSTOM" and not inputs.get("apiKeyRequired")
                assert inputs["authorizerId"] == f"{console.name}-id"
            elif path in {"/healthz", "/openapi.json"} or (verb, path) in CONSOLE_ROUTES:
                # public, or the console's login form, stylesheet and redirect
                assert inputs["authorization"] == "NONE" and not inputs.get("apiKeyRequired")
                assert not inputs.get("authorizerId"), (verb, path)
            else:
                assert inputs["authorization"] == "CUSTOM", (verb, path)
                assert inputs["authorizerId"] == f"{authorizer.name}-id", (verb, path)
                assert inputs["apiKeyRequired"] is True, (verb, path)

    return ready(api).apply(check)


@pulumi.runtime.test
def test_keys_come_from_a_request_authorizer_cached_on_the_api_key() -> Any:
    api, functions, _ = build_stack()

    def check(values: list[Any]) -> None:
        rest = one("aws:apigateway/restApi:RestApi").inputs
        assert rest["apiKeySource"] == "AUTHORIZER"
        assert rest["endpointConfiguration"]["types"] == "REGIONAL"
        authorizer = named("aws:apigateway/authorizer:Authorizer", "api-authorizer").inputs
        assert authorizer["type"] == "REQUEST"
        assert authorizer["authorizerResultTtlInSeconds"] == 300
        assert authorizer["authorizerUri"] == values[-2]
        # the cache key is the API key, which carries the tenant
        assert authorizer["identitySource"] == "method.request.header.x-api-key"
        assert "variables" not in one("aws:apigateway/stage:Stage").inputs
        # the console's: the console function, no cache (a session may end any time), an
        # identity source always present (a request without cookies still reaches it)
        console = named("aws:apigateway/authorizer:Authorizer", "api-console-authorizer").inputs
        assert (console["type"], console["authorizerUri"]) == ("REQUEST", values[-1])
        assert console["authorizerResultTtlInSeconds"] == 0
        assert console["identitySource"] == "context.httpMethod"

    invoked = (functions.authorizer.invoke_arn, functions.console.invoke_arn)
    return ready(api, *invoked).apply(check)


@pytest.mark.parametrize(
    "source", ["context.resourcePath", "stageVariables.authorizer", "method.request.path.tenant"]
)
def test_a_cache_on_an_identity_source_without_the_tenant_is_refused(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """A cached allow keyed on something every tenant shares would admit (and meter)
    another tenant's request: the program refuses to build such an authorizer."""
    monkeypatch.setattr(api_module, "IDENTITY_SOURCE", source)
    with pytest.raises(ValueError, match="does not carry the tenant"):
        build_stack()
    api_module.check_authorizer_cache(source, 0)  # no cache: any source is harmless


@pulumi.runtime.test
def test_lambda_permissions_name_this_api_and_only_its_methods() -> Any:
    api, _, _ = build_stack()
    methods = {(routes.function_of(r), r.method) for r in routes.ROUTES}

    def check(values: list[Any]) -> None:
        execution_arn = values[1]
        authorizer = named("aws:apigateway/authorizer:Authorizer", "api-authorizer")
        console = named("aws:apigateway/authorizer:Authorizer", "api-console-authorizer")
        permissions = {p.name: p.inputs for p in resources_of(PERMISSION)}
        expected = {
            "api-invoke-authorizer": (
                "waybill-dev-authorizer",
                f"{execution_arn}/authorizers/{authorizer.name}-id",
            ),
            "api-invoke-console-authorizer": (
                "waybill-dev-console",
                f"{execution_arn}/authorizers/{console.name}-id",
            ),
        }
        for suffix, path in (("", "/console"), ("-proxy", "/console/*")):  # every method
            expected[f"api-invoke-console{suffix}"] = (
                "waybill-dev-console",
                f"{execution_arn}/*/*{path}",
            )
        for function, method in methods:  # the first deployments' names are kept
            first = (function, method) in {("ingest", "POST"), ("query", "GET")}
            suffix = "" if first else f"-{method.lower()}"
            expected[f"api-invoke-{function}{suffix}"] = (
                f"waybill-dev-{function}",
                f"{execution_arn}/*/{method}/*",
            )
        assert set(permissions) == set(expected)
        for name, (function, source_arn) in expected.items():
            permission = permissions[name]
            assert permission["principal"] == "apigateway.amazonaws.com"
            assert permission["action"] == "lambda:InvokeFunction"
            assert permission["function"] == function and permission["qualifier"] == "live"
            assert permission["sourceArn"] == source_arn

    return ready(api).apply(check)


@pulumi.runtime.test
def test_a_delete_route_gets_the_ingest_alias_invoked_for_delete(
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Every method a route table has reaches its alias (a DELETE would otherwise be refused
    by Lambda: API Gateway's permission names the method)."""
    extra = Endpoint("DELETE", "/v1/things/{id}", "deleteThing", "tenant API", "key")
    monkeypatch.setattr(routes, "ROUTES", (*routes.ROUTES, extra))
    api, _, _ = build_stack()

    def check(values: list[Any]) -> None:
        deletes = [
            p.inputs
            for p in resources_of(PERMISSION)
            if p.inputs["sourceArn"].endswith("/DELETE/*")
        ]
        assert [p["function"] for p in deletes] == ["waybill-dev-ingest"]
        assert deletes[0]["sourceArn"] == f"{values[1]}/*/DELETE/*"

    return ready(api).apply(check)


@pulumi.runtime.test
def test_stage_throttles_logs_json_and_traces() -> Any:
    settings = StackSettings.for_stack("dev", stage_rate_limit=42.0, stage_burst_limit=84)
    api, _, _ = build_stack(settings)

    def check(_: Any) -> None:
        stage = one("aws:apigateway/stage:Stage").inputs
        assert stage["stageName"] == STAGE and stage["xrayTracingEnabled"] is True
        log_group = [
            g
            for g in resources_of("aws:cloudwatch/logGroup:LogGroup")
            if g.name == "api-access-logs"
        ]
        assert log_group[0].inputs["retentionInDays"] == settings.log_retention_days
        logs = stage["accessLogSettings"]
        assert logs["destinationArn"].endswith(":api-access-logs")
        fields = json.loads(logs["format"])
        for field in ("requestId", "ip", "method", "path", "status", "latencyMs", "error"):
            assert fields[field].startswith("$context."), field
        assert fields["tenant"] == "$context.authorizer.tenant"
        assert "$context.identity.apiKey" not in fields.values()  # the key's value itself
        method_settings = one("aws:apigateway/methodSettings:MethodSettings").inputs
        assert method_settings["methodPath"] == "*/*"
        values = method_settings["settings"]
        assert values["throttlingRateLimit"] == 42.0 and values["throttlingBurstLimit"] == 84
        assert values["loggingLevel"] == "ERROR" and values["dataTraceEnabled"] is False
        # no detailed (per-method, custom) metrics; the stage-level ones need no setting
        assert values["metricsEnabled"] is False
        # the account's CloudWatch role is the bootstrap stack's, never an app stack's
        assert resources_of("aws:apigateway/account:Account") == []

    return ready(api).apply(check)


@pytest.mark.parametrize(("stack", "rate"), [("dev", 0.05), ("staging", 0.01), ("prod", 0.01)])
@pulumi.runtime.test
def test_each_stack_samples_its_stage_with_its_own_xray_rule(stack: str, rate: float) -> Any:
    api, _, _ = build_stack(StackSettings.for_stack(stack))

    def check(_: Any) -> None:
        rule = one("aws:xray/samplingRule:SamplingRule").inputs
        assert rule["ruleName"] == f"waybill-{stack}" and len(rule["ruleName"]) <= 32
        assert rule["reservoirSize"] == 1 and rule["fixedRate"] == rate
        assert rule["priority"] < 10000  # the default rule's priority: ours applies first
        # the stage's X-Ray service name is "{rest API name}/{stage}"
        rest_api = one("aws:apigateway/restApi:RestApi").inputs["name"]
        assert rule["serviceName"] == f"{rest_api}/{STAGE}"
        assert rule["serviceType"] == "AWS::ApiGateway::Stage"
        for key in ("host", "httpMethod", "urlPath", "resourceArn"):
            assert rule[key] == "*", key
        assert rule["version"] == 1

    return ready(api).apply(check)


def test_a_stack_name_too_long_for_an_xray_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        xray_rule_name("a-very-long-stack-name-for-xray")


@pulumi.runtime.test
def test_one_usage_plan_per_tier_with_the_limits_of_plans_toml() -> Any:
    api, _, _ = build_stack()
    plans = load_plans(plans_file())

    def check(_: Any) -> None:
        deployed = {
            p.inputs["name"]: p.inputs for p in resources_of("aws:apigateway/usagePlan:UsagePlan")
        }
        assert set(deployed) == {f"waybill-dev-{tier}" for tier in plans}
        assert set(api.usage_plans) == set(plans)
        for tier, plan in plans.items():
            usage = deployed[f"waybill-dev-{tier}"]
            assert usage["throttleSettings"] == {"rateLimit": plan.rate, "burstLimit": plan.burst}
            quota = usage["quotaSettings"]
            assert (quota["limit"], quota["period"]) == (plan.quota, plan.quota_period.upper())
            assert usage["apiStages"] == [{"apiId": "api-rest-id", "stage": STAGE}]

    return ready(api).apply(check)


@pytest.mark.parametrize("limit", [None, 20_000])
@pulumi.runtime.test
def test_a_web_acl_exists_iff_configured_and_rate_limits_per_ip(limit: int | None) -> Any:
    api, _, _ = build_stack(StackSettings.for_stack("dev", waf_rate_limit=limit))

    def check(values: list[Any]) -> None:
        acls = resources_of("aws:wafv2/webAcl:WebAcl")
        associations = resources_of("aws:wafv2/webAclAssociation:WebAclAssociation")
        if limit is None:
            assert acls == [] and associations == [] and api.web_acl is None
            return
        acl = acls[0].inputs
        assert len(acls) == 1 and acl["scope"] == "REGIONAL"
        (rule,) = acl["rules"]
        rate = rule["statement"]["rateBasedStatement"]
        assert (rate["limit"], rate["aggregateKeyType"]) == (limit, "IP")
        assert rule["action"]["block"]["customResponse"]["responseCode"] == 429
        (association,) = associations
        assert association.inputs["resourceArn"] == values[-1]  # the stage's ARN

    return ready(api, api.stage.arn).apply(check)


@pulumi.runtime.test
def test_gateway_refusals_and_throttling_answer_json_like_the_app() -> Any:
    api, _, _ = build_stack()

    def check(_: Any) -> None:
        responses = {
            r.inputs["responseType"]: r.inputs
            for r in resources_of("aws:apigateway/response:Response")
        }
        expected = {
            "UNAUTHORIZED": (401, "unauthenticated"),
            "ACCESS_DENIED": (403, "forbidden"),
            "THROTTLED": (429, "rate_limited"),
            "QUOTA_EXCEEDED": (429, "quota_exceeded"),
            "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),
        }
        for kind, (status, code) in expected.items():
            response = responses[kind]
            assert response["statusCode"] == str(status)
            body = as_json(response["responseTemplates"]["application/json"])
            assert set(body) == {"error"} and body["error"]["code"] == code
            assert body["error"]["message"]
        for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
            assert "gatewayresponse.header.Retry-After" in responses[kind]["responseParameters"]

    return ready(api).apply(check)


@pulumi.runtime.test
def test_the_deployment_is_replaced_when_the_routes_change(monkeypatch: pytest.MonkeyPatch) -> Any:
    api, functions, _ = build_stack()
    before = routes.fingerprint()

    def check(values: list[Any]) -> None:
        triggers = one("aws:apigateway/deployment:Deployment").inputs["triggers"]
        assert triggers["routes"] == before
        # the authorizer's inputs and the integrations' targets are fingerprinted too
        uri, ingest, query, console = values[-4:]
        assert json.loads(triggers["authorizer"]) == [
            [uri, "method.request.header.x-api-key", 300, "REQUEST"],
            [console, "context.httpMethod", 0, "REQUEST"],
        ]
        assert json.loads(triggers["integrations"]) == {
            "ingest": ingest,
            "query": query,
            "console": console,
        }
        monkeypatch.setattr(
            routes,
            "ROUTES",
            (*routes.ROUTES, Endpoint("GET", "/v1/new", "newThing", "tenant API", "key")),
        )
        assert routes.fingerprint() != before
        changed = routes.fingerprint()
        monkeypatch.setattr(routes, "CONSOLE_ROUTES", (("ANY", "/console"),))
        assert routes.fingerprint() != changed  # the console's routes are fingerprinted too

    invoked = (functions.authorizer.invoke_arn, functions.ingest.invoke_arn)
    return ready(api, *invoked, functions.query.invoke_arn, functions.console.invoke_arn).apply(
        check
    )


@pulumi.runtime.test
def test_a_tenant_of_an_unknown_tier_is_refused() -> Any:
    stray = {"x": TenantConfig.model_construct(id="x", name="X", plan="gold", carriers={})}
    with pytest.raises(ValueError, match="gold"):
        build_stack(tenants=stray)
    return pulumi.Output.from_input(None)  # the decorator awaits what was registered
