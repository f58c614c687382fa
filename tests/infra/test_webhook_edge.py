"""The webhook edge: one route per tenant, throttled at its plan, no authorizer, ingest behind."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pulumi
import pytest

from gateway.tenancy.plans import load_plans, plans_file
from gateway.tenancy.tenants import TenantConfig, load_tenants
from infra import program, webhook_edge
from infra.settings import REPO_ROOT, StackSettings
from infra.webhook_edge import WebhookEdge, route_throttles
from tests.infra.helpers import one, resources_of
from tests.infra.test_api import build_stack

ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
CODE = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
TENANTS = {
    "acme": TenantConfig(id="acme", name="Acme", plan="free", carriers={"easypost": {}}),
    "globex": TenantConfig(
        id="globex",
        name="Globex",
        plan="pro",
        carriers={"ups": {"options": {"oauth_client_id": "globex-ups"}}, "canonical": {}},
    ),
    "initech": TenantConfig(id="initech", name="Initech", plan="free", carriers={"canonical": {}}),
}


def expected_from_files(tenants_dir: Path) -> dict[str, tuple[float, int]]:
    """What the routes must be, read straight from the tenant files and ``plans.toml``."""
    plans = tomllib.loads(plans_file().read_text())
    expected = {}
    for tenant in load_tenants(tenants_dir).values():
        raw = tomllib.loads((tenants_dir / f"{tenant.id}.toml").read_text())
        plan = plans[raw.get("plan", "standard")]
        if webhook_edge.webhook_carriers(tenant):
            expected[f"POST /webhooks/{tenant.id}/{{carrier}}"] = (plan["rate"], plan["burst"])
    return expected


def deployed_throttles() -> dict[str, tuple[float, int]]:
    stage = one(STAGE).inputs
    settings = {s["routeKey"]: s for s in stage["routeSettings"]}
    return {
        key: (s["throttlingRateLimit"], s["throttlingBurstLimit"]) for key, s in settings.items()
    }


@pulumi.runtime.test
def test_the_routes_and_their_throttles_are_those_of_tenants_and_plans_toml(
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """The real ``tenants/`` and ``plans.toml``, deployed by the real program."""
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    program.main(StackSettings.for_stack("dev"), CODE)
    expected = expected_from_files(REPO_ROOT / "tenants")

    def check(_: Any) -> None:
        routes = {r.inputs["routeKey"] for r in resources_of(ROUTE)}
        webhook_routes = {k for k in routes if k.startswith("POST /webhooks/")}
        assert webhook_routes == set(expected) and expected
        assert {k: v for k, v in deployed_throttles().items() if k in expected} == expected

    return pulumi.Output.all(*exported.values()).apply(check)


def build(settings: StackSettings | None = None) -> WebhookEdge:
    settings = settings or StackSettings.for_stack("dev")
    _, functions, _ = build_stack(settings, TENANTS)
    return WebhookEdge("webhooks", settings, functions, TENANTS, load_plans(plans_file()))


def ready(edge: WebhookEdge, *more: Any) -> pulumi.Output[list[Any]]:
    return pulumi.Output.all(edge.stage.id, edge.http_api.execution_arn, *more)


@pulumi.runtime.test
def test_one_route_per_tenant_and_kind_and_none_for_a_tenant_no_carrier_calls() -> Any:
    edge = build()
    plans = load_plans(plans_file())

    def check(_: Any) -> None:
        routes = {r.inputs["routeKey"]: r.inputs for r in resources_of(ROUTE)}
        assert set(routes) == {
            "POST /webhooks/acme/{carrier}",
            "POST /webhooks/globex/{carrier}",
            "POST /oauth/globex/{carrier}/token",  # globex's UPS fetches tokens from us
        }  # initech only submits canonical events with an API key: no route, a 404
        for route in routes.values():
            assert route.get("authorizationType", "NONE") == "NONE"
            assert "authorizerId" not in route and not route.get("apiKeyRequired")
        assert deployed_throttles() == {
            "POST /webhooks/acme/{carrier}": (plans["free"].rate, plans["free"].burst),
            "POST /webhooks/globex/{carrier}": (plans["pro"].rate, plans["pro"].burst),
            "POST /oauth/globex/{carrier}/token": (plans["pro"].rate, plans["pro"].burst),
        }

    return ready(edge).apply(check)


@pulumi.runtime.test
def test_ingest_receives_payload_1_0_and_only_this_api_may_invoke_it() -> Any:
    edge = build()
    _, functions, _ = build_stack(StackSettings.for_stack("dev"), TENANTS)

    def check(values: list[Any]) -> None:
        execution_arn, ingest_arn = values[1], values[2]
        integration = one("aws:apigatewayv2/integration:Integration").inputs
        assert integration["integrationType"] == "AWS_PROXY"
        assert integration["payloadFormatVersion"] == "1.0"  # the handler's REST-shaped event
        assert integration["integrationUri"] == ingest_arn  # the live alias
        assert integration["timeoutMilliseconds"] <= 29_000
        routes = resources_of(ROUTE)
        assert {r.inputs["target"] for r in routes} == {"integrations/webhooks-ingest-id"}
        (permission,) = [
            p.inputs
            for p in resources_of("aws:lambda/permission:Permission")
            if p.name == "webhooks-invoke-ingest"
        ]
        assert permission["sourceArn"] == f"{execution_arn}/*/POST/*"
        assert (permission["function"], permission["qualifier"]) == ("waybill-dev-ingest", "live")

    return ready(edge, functions.ingest.arn).apply(check)


@pulumi.runtime.test
def test_the_default_stage_deploys_itself_logs_json_and_keeps_the_stack_throttle() -> Any:
    settings = StackSettings.for_stack("dev", stage_rate_limit=42.0, stage_burst_limit=84)
    edge = build(settings)

    def check(_: Any) -> None:
        stage = one(STAGE).inputs
        assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
        default = stage["defaultRouteSettings"]
        assert (default["throttlingRateLimit"], default["throttlingBurstLimit"]) == (42.0, 84)
        assert default["detailedMetricsEnabled"] is False  # per-route metrics are custom ones
        logs = stage["accessLogSettings"]
        assert logs["destinationArn"].endswith(":webhooks-access-logs")
        fields = json.loads(logs["format"])
        assert fields["status"] == "$context.status" and fields["route"] == "$context.routeKey"
        assert not any("header" in v or "body" in v for v in fields.values())

    return ready(edge).apply(check)


def test_a_tenant_on_a_plan_missing_from_plans_toml_is_refused() -> None:
    stray = {"xx": TenantConfig.model_construct(id="xx", name="X", plan="gold", carriers={})}
    with pytest.raises(ValueError, match="gold"):
        route_throttles(stray, load_plans(plans_file()))
