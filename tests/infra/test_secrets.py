"""Secret policies: one empty secret per (tenant, carrier), a random cursor key, the CMK."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from gateway.api.cursors import MIN_KEY_BYTES
from gateway.aws.secrets import secret_id, stack_prefix
from gateway.tenancy.tenants import TenantConfig, load_tenants
from infra.secrets import PartnerSecrets
from infra.settings import REPO_ROOT, StackSettings
from tests.infra.helpers import TENANTS, named, one, resources_of

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def build(stack: str = "dev", tenants: list[TenantConfig] = TENANTS) -> PartnerSecrets:
    return PartnerSecrets("s", StackSettings.for_stack(stack), tenants, aws.kms.Key("key"))


STACK_OWN = {f"{stack_prefix('dev')}cursor_key", f"{stack_prefix('dev')}ops_console/credential"}
"""The stack's own secrets, whatever its tenants."""


def partner_names() -> set[str]:
    return {r.inputs["name"] for r in resources_of(SECRET)} - STACK_OWN


@pulumi.runtime.test
def test_one_secret_per_tenant_carrier_named_as_the_code_reads_it() -> Any:
    secrets = build()

    def check(_: Any) -> None:
        prefix = stack_prefix("dev")
        expected = {
            secret_id(prefix, "acme", "easypost"),
            secret_id(prefix, "acme", "shippo"),
            secret_id(prefix, "acme", "shippo.hmac"),  # the adapter's optional slot
            secret_id(prefix, "globex", "ups"),
            secret_id(prefix, "globex", "ups.oauth"),
            secret_id(prefix, "globex", "fedex"),  # disabled, but its keys are kept
        }
        assert partner_names() == expected
        assert set(secrets.secret_arns) == expected
        assert secrets.prefix == prefix

    return pulumi.Output.all(*secrets.secret_arns.values()).apply(check)


@pulumi.runtime.test
def test_partner_secrets_have_no_value_only_the_cursor_key_does() -> Any:
    secrets = build()

    def check(_: Any) -> None:
        version = one(VERSION)  # the only SecretVersion: no partner value in the stack
        assert version.inputs["secretId"] == "s-cursor-key-id"  # the mock's id of that secret

    return pulumi.Output.all(secrets.cursor_key_version.id, *secrets.secret_arns.values()).apply(
        check
    )


@pulumi.runtime.test
def test_cursor_key_is_a_random_secret_long_enough_for_the_codec() -> Any:
    secrets = build()

    def check(_: Any) -> None:
        password = one("random:index/randomPassword:RandomPassword").inputs
        assert password["length"] >= 2 * MIN_KEY_BYTES
        assert password["special"] is False  # plain text, read as the key's bytes
        assert named(SECRET, "s-cursor-key").inputs["name"] == "waybill/dev/cursor_key"
        console = named(SECRET, "s-console-credential").inputs
        assert console["name"] == "waybill/dev/ops_console/credential"

    return secrets.cursor_key_version.id.apply(check)


@pulumi.runtime.test
def test_cursor_key_value_is_a_pulumi_secret() -> Any:
    secrets = build()

    def check(_: Any) -> None:
        value = one(VERSION).inputs["secretString"]
        assert is_rpc_secret(value)  # encrypted in the state, masked in every output

    return secrets.cursor_key_version.id.apply(check)


@pytest.mark.parametrize(("stack", "days"), [("dev", 0), ("staging", 0), ("prod", 30)])
@pulumi.runtime.test
def test_every_secret_uses_the_cmk_and_only_prod_keeps_a_recovery_window(
    stack: str, days: int
) -> Any:
    """Outside prod, 0 (forced deletion): a destroyed stack can be re-created at once."""
    key = aws.kms.Key("key")
    secrets = PartnerSecrets("s", StackSettings.for_stack(stack), TENANTS, key)

    def check(arns: list[str]) -> None:
        # six partner secrets, the cursor key and the console credential (no value)
        assert len(resources_of(SECRET)) == 8
        for secret in resources_of(SECRET):
            assert secret.inputs["kmsKeyId"] == arns[0]
            assert secret.inputs["recoveryWindowInDays"] == days, secret.name
            assert secret.inputs["name"].startswith(f"waybill/{stack}/")
        assert named(SECRET, "s-cursor-key").inputs["recoveryWindowInDays"] == days

    made = (secrets.cursor_key_secret.arn, secrets.console_credential_secret.arn)
    return pulumi.Output.all(key.arn, *made, *secrets.secret_arns.values()).apply(check)


@pulumi.runtime.test
def test_the_real_tenant_files_get_a_secret_for_every_declared_carrier() -> Any:
    tenants = load_tenants(REPO_ROOT / "tenants")
    secrets = build(tenants=list(tenants.values()))

    def check(_: Any) -> None:
        names = partner_names()
        for tenant in tenants.values():
            for carrier in tenant.carriers:
                assert secret_id(stack_prefix("dev"), tenant.id, carrier) in names
        assert len(resources_of(VERSION)) == 1

    return pulumi.Output.all(secrets.cursor_key_version.id, *secrets.secret_arns.values()).apply(
        check
    )
