"""Tenant key policies: one key per label, bound to its tier's plan, stored hashed, kept secret."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

from gateway.aws.api_keys import api_key_pk, gateway_key_name
from gateway.aws.secrets import plan_key_secret_id
from gateway.tenancy.apikeys import digest
from gateway.tenancy.plans import load_plans, plans_file
from gateway.tenancy.tenants import TenantConfig
from infra.settings import StackSettings
from infra.table import Table
from infra.tenant_keys import TenantKeys
from tests.infra.conftest import PASSWORD, fake_password
from tests.infra.helpers import named, resources_of

API_KEY = "aws:apigateway/apiKey:ApiKey"
PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
ITEM = "aws:dynamodb/tableItem:TableItem"
SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TENANTS = {
    "acme": TenantConfig(id="acme", name="Acme", plan="free"),
    "globex": TenantConfig(id="globex", name="Globex", plan="pro"),
    "initech": TenantConfig(id="initech", name="Initech", plan="standard"),
}
LABELS = {"globex": ["", "2026-12"]}


def build(labels: dict[str, list[str]] = LABELS) -> TenantKeys:
    settings = StackSettings.for_stack("dev", api_key_labels=labels)
    plans = load_plans(plans_file())
    usage_plans = {tier: aws.apigateway.UsagePlan(f"plan-{tier}") for tier in plans}
    return TenantKeys("keys", settings, TENANTS, plans, usage_plans, Table("t", settings))


def done(keys: TenantKeys) -> pulumi.Output[Any]:
    """Resolves once every resource of ``keys`` is registered."""
    per_label = [*keys.bindings.values(), *keys.items.values()]
    resources = [r for labels in per_label for r in labels.values()]
    resources += [*keys.plan_key_secrets.values(), *keys.plan_key_versions.values()]
    return pulumi.Output.all(*(r.id for r in resources))


def value_of(tenant: str, label: str) -> str:
    suffix = f"/{label}" if label else ""
    return "wb_" + fake_password(f"keys-{tenant}{suffix}-value")


@pulumi.runtime.test
def test_each_tenant_has_one_key_per_label_bound_to_the_plan_of_its_tier() -> Any:
    keys = build()

    def check(_: Any) -> None:
        expected = {
            gateway_key_name("dev", "acme"): "free",
            gateway_key_name("dev", "globex"): "pro",
            gateway_key_name("dev", "globex") + "/2026-12": "pro",
            gateway_key_name("dev", "initech"): "standard",
        }
        api_keys = {k.inputs["name"]: k for k in resources_of(API_KEY)}
        assert set(api_keys) == set(expected)
        bindings = resources_of(PLAN_KEY)
        assert len(bindings) == len(expected)
        for key_name, tier in expected.items():
            key = api_keys[key_name]
            tenant = key_name.split("-")[2].split("/")[0]
            assert key.inputs["tags"] == {"waybill:stack": "dev", "waybill:tenant": tenant}
            bound = [b for b in bindings if b.inputs["keyId"] == f"{key.name}-id"]
            assert [b.inputs["usagePlanId"] for b in bound] == [f"plan-{tier}-id"]
            assert bound[0].inputs["keyType"] == "API_KEY"

    return done(keys).apply(check)


@pulumi.runtime.test
def test_key_values_are_wb_plus_43_url_safe_random_characters_and_secret() -> Any:
    keys = build()

    def check(_: Any) -> None:
        passwords = resources_of(PASSWORD)
        assert len(passwords) == 4
        for password in passwords:
            inputs = password.inputs
            assert inputs["length"] == 43
            assert inputs["special"] and inputs["overrideSpecial"] == "-_"
            assert inputs["upper"] and inputs["lower"] and inputs["numeric"]
        key = named(API_KEY, "keys-globex/2026-12-key").inputs["value"]
        assert is_rpc_secret(key)
        assert unwrap_rpc_secret(key) == value_of("globex", "2026-12")

    return done(keys).apply(check)


@pulumi.runtime.test
def test_the_table_item_holds_the_digest_and_prefix_never_the_value() -> Any:
    keys = build()

    def check(_: Any) -> None:
        items = resources_of(ITEM)
        assert len(items) == 4
        for tenant, label in (("acme", ""), ("globex", ""), ("globex", "2026-12")):
            suffix = f"/{label}" if label else ""
            record = named(ITEM, f"keys-{tenant}{suffix}-item").inputs
            assert (record["hashKey"], record["rangeKey"]) == ("pk", "sk")
            assert record["tableName"] == "waybill-dev"
            text = unwrap_rpc_secret(record["item"])
            value = value_of(tenant, label)
            assert value not in text and value[3:] not in text
            item = json.loads(text)
            assert item["pk"]["S"] == api_key_pk(digest(value))
            assert item["tenant"]["S"] == tenant
            assert item["prefix"]["S"] == value[:8]

    return done(keys).apply(check)


@pulumi.runtime.test
def test_the_plan_key_secret_holds_the_last_labels_key_encrypted_with_the_cmk() -> Any:
    keys = build()

    def check(_: Any) -> None:
        secrets = {s.inputs["name"]: s for s in resources_of(SECRET)}
        assert set(secrets) == {plan_key_secret_id("waybill/dev/", t) for t in TENANTS}
        cmk = named("aws:kms/key:Key", "t-key")
        for secret in secrets.values():
            assert secret.inputs["kmsKeyId"].endswith(f":{cmk.name}")  # the mock's ARN of it
        for tenant, last in (("acme", ""), ("globex", "2026-12"), ("initech", "")):
            version = named(VERSION, f"keys-{tenant}-plan-key-value").inputs
            assert version["secretId"] == f"keys-{tenant}-plan-key-id"
            assert is_rpc_secret(version["secretString"])
            assert unwrap_rpc_secret(version["secretString"]) == value_of(tenant, last)

    return done(keys).apply(check)


@pulumi.runtime.test
def test_removing_a_label_removes_exactly_that_key() -> Any:
    keys = build({"globex": ["2026-12"]})

    def check(_: Any) -> None:
        names = {k.inputs["name"] for k in resources_of(API_KEY)}
        assert gateway_key_name("dev", "globex") not in names
        assert gateway_key_name("dev", "globex") + "/2026-12" in names
        version = named(VERSION, "keys-globex-plan-key-value").inputs
        assert unwrap_rpc_secret(version["secretString"]) == value_of("globex", "2026-12")

    return done(keys).apply(check)


@pulumi.runtime.test
def test_a_tenant_of_a_tier_without_a_usage_plan_is_refused_before_any_key() -> Any:
    settings = StackSettings.for_stack("dev")
    plans = load_plans(plans_file())
    usage_plans = {"free": aws.apigateway.UsagePlan("plan-free")}
    table = Table("t", settings)
    with pytest.raises(ValueError, match="no usage plan for tier 'pro'"):
        TenantKeys("k", settings, TENANTS, plans, usage_plans, table)

    def check(_: Any) -> None:
        assert resources_of(PASSWORD) == [] and resources_of(API_KEY) == []

    return pulumi.Output.all(table.name, usage_plans["free"].id).apply(check)
