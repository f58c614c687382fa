"""Tenant API keys: generated, registered with API Gateway and the table, metered per tier.

For every tenant and each of its labels (``waybill:apiKeyLabels``, default one unlabelled
key) the stack creates, as :mod:`gateway.aws.api_keys` describes:

- a ``RandomPassword`` of 43 characters over ``[A-Za-z0-9_-]`` (258 bits); the key value
  is ``wb_`` + it, kept in the state as a Pulumi secret and never in a plain output;
- the API Gateway key ``waybill-{stack}-{tenant}`` (``…/{label}`` for a labelled one),
  tagged ``waybill:stack``/``waybill:tenant``, bound to the usage plan of the tenant's tier;
- the table item ``APIKEY#{sha256}`` (:func:`~gateway.aws.api_keys.api_key_item`): the
  digest, never the value; ``created_at`` is the key's creation date as API Gateway
  reports it, so it does not change on a later ``pulumi up``;
- one secret ``waybill/{stack}/plan_keys/{tenant}`` holding the value of the tenant's
  *last* label: the key the authorizer returns as ``usageIdentifierKey``.

Rotation (as ``waybill keys issue --stack`` tells ops): append a label, ``pulumi up``, hand
the new key over, remove the old label, ``pulumi up``: its item is deleted, so it is refused
within seconds (:data:`~gateway.aws.api_keys.KEY_CACHE_SECONDS`). Append new labels *last*:
the plan key then moves to the new key at the first ``up`` and stays put at the second.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from gateway.aws.api_keys import api_key_item, gateway_key_name
from gateway.aws.secrets import plan_key_secret_id
from gateway.tenancy.apikeys import DISPLAY_PREFIX_CHARS, KEY_PREFIX, digest
from gateway.tenancy.plans import Plan
from gateway.tenancy.tenants import TenantConfig
from infra.settings import StackSettings
from infra.table import Table

KEY_CHARS = 43
"""Random characters after ``wb_``: as many as ``secrets.token_urlsafe(32)`` gives."""


def key_name(stack: str, tenant: str, label: str) -> str:
    """The API Gateway key name of a tenant's key: ``waybill-{stack}-{tenant}[/{label}]``."""
    return gateway_key_name(stack, tenant) + (f"/{label}" if label else "")


def key_value(password: pulumi.Output[str]) -> pulumi.Output[str]:
    """The API key value (``wb_`` + the password), a Pulumi secret."""
    return pulumi.Output.secret(password.apply(lambda p: KEY_PREFIX + p))


def key_item(value: str, tenant: str, created_at: str | None) -> str:
    """The table item of a key, as the JSON ``TableItem`` expects: digest and prefix only."""
    return json.dumps(
        api_key_item(digest(value), tenant, value[:DISPLAY_PREFIX_CHARS], created_at or "")
    )


class TenantKeys(pulumi.ComponentResource):
    """Every tenant's API keys, their table items and usage-plan bindings, and plan keys."""

    key_ids: dict[str, dict[str, pulumi.Output[str]]]
    key_values: dict[str, dict[str, pulumi.Output[str]]]
    bindings: dict[str, dict[str, aws.apigateway.UsagePlanKey]]
    items: dict[str, dict[str, aws.dynamodb.TableItem]]
    plan_key_secrets: dict[str, aws.secretsmanager.Secret]
    plan_key_versions: dict[str, aws.secretsmanager.SecretVersion]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        tenants: Mapping[str, TenantConfig],
        plans: Mapping[str, Plan],
        usage_plans: Mapping[str, aws.apigateway.UsagePlan],
        table: Table,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:TenantKeys", name, None, opts)
        self.key_ids, self.key_values, self.bindings, self.items = {}, {}, {}, {}
        self.plan_key_secrets, self.plan_key_versions = {}, {}
        for tenant_id, tenant in sorted(tenants.items()):  # all checked before any key is made
            if tenant.plan not in plans or tenant.plan not in usage_plans:
                raise ValueError(f"tenant {tenant_id}: no usage plan for tier {tenant.plan!r}")
        for tenant_id, tenant in sorted(tenants.items()):
            labels = settings.labels_for(tenant_id)
            ids, values, bindings, items = {}, {}, {}, {}
            for label in labels:
                values[label], key, items[label] = self._key(
                    name, settings, tenant_id, label, table
                )
                ids[label] = key.id
                bindings[label] = aws.apigateway.UsagePlanKey(
                    f"{_ident(name, tenant_id, label)}-plan",
                    key_id=key.id,
                    key_type="API_KEY",
                    usage_plan_id=usage_plans[tenant.plan].id,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            self.key_ids[tenant_id], self.key_values[tenant_id] = ids, values
            self.bindings[tenant_id], self.items[tenant_id] = bindings, items
            # the authorizer hands out the last key: it must be bound before it is published
            last = labels[-1]
            self._plan_key(name, settings, tenant_id, values[last], table, bindings[last])
        self.register_outputs({"key_ids": self.key_ids})

    def _key(
        self, name: str, settings: StackSettings, tenant: str, label: str, table: Table
    ) -> tuple[pulumi.Output[str], aws.apigateway.ApiKey, aws.dynamodb.TableItem]:
        ident, child = _ident(name, tenant, label), pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(
            f"{ident}-value",
            length=KEY_CHARS,
            upper=True,
            lower=True,
            numeric=True,
            special=True,
            override_special="-_",
            opts=child,
        )
        value = key_value(password.result)
        key = aws.apigateway.ApiKey(
            f"{ident}-key",
            name=key_name(settings.stack, tenant, label),
            description=f"Waybill {settings.stack}: API key of tenant {tenant}",
            enabled=True,
            value=value,
            tags={"waybill:stack": settings.stack, "waybill:tenant": tenant},
            opts=child,
        )
        item = aws.dynamodb.TableItem(
            f"{ident}-item",
            table_name=table.name,
            hash_key="pk",
            range_key="sk",
            item=pulumi.Output.all(value, key.created_date).apply(
                lambda args: key_item(args[0], tenant, args[1])
            ),
            opts=child,
        )
        return value, key, item

    def _plan_key(
        self,
        name: str,
        settings: StackSettings,
        tenant: str,
        value: pulumi.Output[str],
        table: Table,
        binding: aws.apigateway.UsagePlanKey,
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            f"{name}-{tenant}-plan-key",
            name=plan_key_secret_id(settings.prefix, tenant),
            description=f"Waybill {settings.stack}: usage-plan key of tenant {tenant}",
            kms_key_id=table.kms_key.arn,
            # a copy of a value the stack owns: no recovery window, so a re-added tenant
            # can take the name again at once
            recovery_window_in_days=0,
            tags={"waybill:stack": settings.stack, "waybill:tenant": tenant},
            opts=child,
        )
        self.plan_key_versions[tenant] = aws.secretsmanager.SecretVersion(
            f"{name}-{tenant}-plan-key-value",
            secret_id=secret.id,
            secret_string=value,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[binding]),
        )
        self.plan_key_secrets[tenant] = secret


def _ident(name: str, tenant: str, label: str) -> str:
    """Resource names per (tenant, label); ``/`` cannot occur in a tenant id or a label."""
    return f"{name}-{tenant}" + (f"/{label}" if label else "")
