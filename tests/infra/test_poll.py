"""Polling on AWS: the poller's schedule, its function's limits, the carriers' credential
slots, the tracker routes' wiring and the outbound policy for carrier calls."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from adapters import ups
from gateway.aws.secrets import secret_id, stack_prefix
from gateway.carriers.discovery import load_adapters
from gateway.poll.client import CALL_TIMEOUT
from gateway.poll.poller import DEADLINE_MARGIN, REFRESH_WITHIN
from gateway.poll.trackers import LEASE
from gateway.routes import ROUTES
from gateway.tenancy.tenants import TenantConfig, load_tenants
from infra import alarms, routes
from infra.functions import SPECS
from infra.poll import Poll, refused_api_urls
from infra.secrets import API_SLOT, PartnerSecrets
from infra.settings import REPO_ROOT, SAFE_STACKS, StackSettings
from tests.infra.helpers import TENANTS, one, resources_of
from tests.infra.test_api import build_stack

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
ASYNC = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
SECRET = "aws:secretsmanager/secret:Secret"
POLLED = TenantConfig(
    id="initech",
    name="Initech",
    carriers={
        "ups": {"polling": {"daily_budget": 500}},
        "fedex": {"enabled": False, "polling": {"daily_budget": 100}},  # kept, disabled
        "easypost": {},  # pushes only: no API slot
    },
)


def build(
    settings: StackSettings | None = None, tenants: list[TenantConfig] | None = None
) -> tuple[Poll, pulumi.Output[list[Any]]]:
    settings = settings or StackSettings.for_stack("dev")
    _, functions, _ = build_stack(settings)
    poll = Poll("poll", settings, functions, tenants or [POLLED])
    ready = pulumi.Output.all(
        poll.rule.arn, poll.target.id, functions.poller.arn, functions.role_policies["poller"].id
    )
    return poll, ready


@pulumi.runtime.test
def test_the_poller_runs_every_minute_on_an_eventbridge_rule_allowed_to_invoke_it_only() -> Any:
    _, ready = build()

    def check(values: list[Any]) -> None:
        rule_arn, _, poller_alias, _ = values
        rule = one(RULE).inputs
        assert rule["scheduleExpression"] == "rate(1 minute)"
        assert rule["name"] == "waybill-dev-poll"
        target = one(TARGET).inputs
        assert target["rule"] == rule["name"] and target["arn"] == poller_alias  # live alias
        assert target["targetId"] == "poller"
        permissions = [p.inputs for p in resources_of(PERMISSION) if p.name == "poll-invoke"]
        assert permissions == [
            {
                "action": "lambda:InvokeFunction",
                "function": "waybill-dev-poller",
                "qualifier": "live",
                "principal": "events.amazonaws.com",
                "sourceArn": rule_arn,
            }
        ]

    return ready.apply(check)


@pulumi.runtime.test
def test_a_failed_or_throttled_pass_is_not_retried_the_next_minute_runs_one() -> Any:
    _, ready = build()

    def check(_: Any) -> None:
        config = one(ASYNC).inputs
        assert (config["functionName"], config["qualifier"]) == ("waybill-dev-poller", "live")
        assert config["maximumRetryAttempts"] == 0
        assert config["maximumEventAgeInSeconds"] <= 60  # never a late pass behind a long one

    return ready.apply(check)


def test_a_pass_fits_its_function_and_its_claims() -> None:
    poller = SPECS["poller"]
    assert poller.handler == "gateway.aws.poll.poll_handler"
    assert poller.reserved_concurrency == 1  # one pass at a time per stack
    assert poller.calls_out and not poller.notifies  # carriers, never an endpoint secret
    # a pass stops claiming a check's timeout and a margin before its deadline: leave it
    # room for several chunks, within Lambda's 15 minutes
    assert poller.timeout >= 10 * (CALL_TIMEOUT + DEADLINE_MARGIN)
    assert poller.timeout <= 900
    # a pass lasts no longer than one period of the overdue alarm, so a poller that stays
    # behind reports overdue trackers in every period
    assert poller.timeout <= alarms.PERIOD
    assert LEASE.total_seconds() > CALL_TIMEOUT + DEADLINE_MARGIN


def test_the_tracker_routes_are_wired_to_the_functions_with_their_grants() -> None:
    trackers = [r for r in ROUTES if r.tag == "trackers"]
    assert trackers, "the trackers API is gone from gateway/routes.py"
    for route in trackers:
        expected = "query" if route.method == "GET" else "ingest"
        assert routes.function_of(route) == expected, route
    refresh = [r for r in trackers if r.path.endswith("/refresh")]
    assert refresh and {routes.function_of(r) for r in refresh} == {"ingest"}
    # a manual refresh bounds its carrier calls: ingest lives through them and records it
    assert SPECS["ingest"].timeout >= REFRESH_WITHIN + DEADLINE_MARGIN
    assert SPECS["ingest"].calls_out  # under the stack's address policy


@pulumi.runtime.test
def test_every_polled_carrier_gets_an_empty_api_credentials_slot() -> Any:
    key = aws.kms.Key("key")
    secrets = PartnerSecrets("s", StackSettings.for_stack("dev"), [*TENANTS, POLLED], key)

    def check(_: Any) -> None:
        names = {r.inputs["name"] for r in resources_of(SECRET)}
        prefix = stack_prefix("dev")
        api_slots = {n for n in names if n.endswith(f".{API_SLOT}")}
        assert api_slots == {
            secret_id(prefix, "initech", "ups.api"),
            secret_id(prefix, "initech", "fedex.api"),  # disabled, but its keys are kept
        }
        assert secret_id(prefix, "initech", "ups.oauth") in names  # the adapter's own slot
        assert len(resources_of("aws:secretsmanager/secretVersion:SecretVersion")) == 1

    return pulumi.Output.all(
        key.arn, secrets.cursor_key_version.id, *secrets.secret_arns.values()
    ).apply(check)


@pulumi.runtime.test
def test_the_real_tenant_files_get_an_api_slot_for_every_polled_carrier() -> Any:
    tenants = load_tenants(REPO_ROOT / "tenants")
    key = aws.kms.Key("key")
    secrets = PartnerSecrets("s", StackSettings.for_stack("dev"), list(tenants.values()), key)
    polled = [(t.id, c) for t in tenants.values() for c, o in t.carriers.items() if o.polling]

    def check(_: Any) -> None:
        names = {r.inputs["name"] for r in resources_of(SECRET)}
        for tenant, carrier in polled:
            assert secret_id(stack_prefix("dev"), tenant, f"{carrier}.api") in names

    return pulumi.Output.all(*secrets.secret_arns.values()).apply(check)


def test_every_adapter_that_polls_reads_its_credentials_from_the_api_slot() -> None:
    polling = [a for a in load_adapters().adapters.values() if a.polling is not None]
    assert ups.ADAPTER.polling is not None and polling
    assert {a.polling.slot for a in polling if a.polling} == {API_SLOT}


def test_carrier_urls_the_address_policy_refuses_are_found() -> None:
    tenant = TenantConfig(
        id="acme",
        name="Acme",
        carriers={
            "ups": {"polling": {"daily_budget": 1, "api_base_url": "http://127.0.0.1:8099/ups"}},
            "fedex": {"polling": {"daily_budget": 1, "api_base_url": "https://10.0.0.7/fedex"}},
            "easypost": {"polling": {"daily_budget": 1, "api_base_url": "https://api.test/ep"}},
            "ship24": {"polling": {"daily_budget": 1}},  # the carrier's own API
            "seventeentrack": {
                "enabled": False,
                "polling": {"daily_budget": 1, "api_base_url": "http://127.0.0.1/17"},
            },
        },
    )
    refused = refused_api_urls([tenant], allow_insecure=False)
    assert [(t, c) for t, c, _, _ in refused] == [("acme", "fedex"), ("acme", "ups")]
    assert all("https" in why or "private" in why for *_, why in refused)
    assert refused_api_urls([tenant], allow_insecure=True) == []  # a test stack only


@pytest.mark.parametrize("stack", sorted(SAFE_STACKS))
def test_no_real_stack_may_call_carriers_over_http_or_private_addresses(stack: str) -> None:
    with pytest.raises(ValueError, match="allowInsecureEndpoints"):
        StackSettings.for_stack(stack, allow_insecure_endpoints=True)


@pulumi.runtime.test
def test_the_stack_warns_about_polled_carriers_it_will_refuse_to_call(
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warned.append(message))
    demo = load_tenants(REPO_ROOT / "tenants")["demo"]
    _, ready = build(tenants=[demo])

    def check(_: Any) -> None:
        expected = refused_api_urls([demo], allow_insecure=False)
        assert len(warned) == len(expected)
        for (tenant, carrier, url, _), message in zip(expected, warned, strict=True):
            assert f"tenant {tenant}" in message and url in message and carrier in message

    return ready.apply(check)


@pytest.mark.parametrize("value", ["false", None])
def test_the_poller_built_from_a_real_stacks_environment_refuses_http_and_private_carriers(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """What the function's environment gives (``NOTIFY_ALLOW_INSECURE=false`` on every real
    stack, see test_functions) is the policy the carrier client calls under; unset is
    refused too."""
    from gateway.aws.handler import services_from_environment
    from gateway.errors import GatewayError

    monkeypatch.setenv("TABLE_NAME", "waybill-dev")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("CURSOR_KEY", "k" * 64)
    monkeypatch.delenv("NOTIFY_KEY_ID", raising=False)
    if value is None:
        monkeypatch.delenv("NOTIFY_ALLOW_INSECURE", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_ALLOW_INSECURE", value)
    policy = services_from_environment().trackers.poller.client.policy
    assert policy.allow_insecure is False
    for url in ("http://api.ups.com", "https://127.0.0.1:8099/ups", "https://10.1.2.3/x"):
        with pytest.raises(GatewayError):
            policy.check_url(url)
    policy.check_url("https://onlinetools.ups.com")
