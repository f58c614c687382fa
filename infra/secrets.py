"""Partner key-set secrets (created empty) and the cursor key secret (with a random value).

Layout (names from :mod:`gateway.aws.secrets`): one secret per (tenant, carrier) declared
in the tenant files, enabled or not (disabling a carrier must not schedule its keys for
deletion), ``waybill/{stack}/{tenant}/{carrier}``, created **without a version**: values
are set by ``waybill secrets set … --stack``, which puts a value into a secret the stack
made (``gateway/aws/secret_store.py``). Plan keys (``…/plan_keys/{tenant}``) belong to
``infra/tenant_keys.py``, not here.

Optional slots (``shippo.hmac``, ``ups.oauth``: every ``*_SLOT`` an in-tree adapter
module names) are created too, empty, and so is the API credentials slot
``{carrier}.api`` of every carrier a tenant polls (``[carriers.<id>.polling]``: the
poller and a manual refresh read the carrier's tracking API credentials from it, set with
``waybill secrets set TENANT ups.api --value CLIENT_ID:CLIENT_SECRET --stack NAME``).
``GetSecretValue`` on a secret with no ``AWSCURRENT`` version raises
``ResourceNotFoundException``, exactly what a missing secret raises;
:class:`gateway.aws.secrets.SecretsManagerProvider` maps it to "no secret" (an unset
``shippo.hmac`` keeps the HMAC header optional, an unset ``ups.api`` makes a check fail
with ``credentials_missing``) and the CLI's store maps it to "no value yet" and then
puts one. So an empty slot is "not set", and the
stack owns its encryption, recovery window and deletion like every other secret.

Encryption: the stack's CMK (the table's key), so key use is audited in CloudTrail and
revocable in one place; every reader needs ``kms:Decrypt`` on it via Secrets Manager
(the roles in :mod:`infra.roles` have it; an operator running ``waybill secrets`` needs
``kms:Decrypt`` and ``kms:GenerateDataKey`` on it). Recovery window 30 days in prod; none
elsewhere (forced deletion, so a destroyed dev or staging stack can be re-created at once).

Cost, 100 tenants x 5 carriers (us-east-1 prices: $0.40/secret/month, $0.05/10k calls):
500 secrets = $200.00/month (+$0.40 the cursor key, +$0.40 per slot created). Calls: a
warm ingest container reads a (tenant, carrier) at most once per 300 s cache period,
i.e. ≤ 8,640 calls/month per container and pair that receives traffic. Worst case (every
pair busy around the clock, 4 warm containers): 17.3 M calls = $86/month; typical (a
third of the pairs active at a time, 2 containers): 2.9 M = $14/month. Each call also
costs one KMS Decrypt ($0.03/10k: $8-52/month), with the AWS-managed key as well; the
CMK itself is shared with the table ($1/month). Query containers read only the cursor
key, once per cold start.

Cheaper layouts, rejected: *one secret per tenant* ($40/month, 5x fewer calls) loses
per-carrier IAM scoping and audit, makes rotating one carrier a rewrite of all of the
tenant's keys (compare-and-swap conflicts across carriers, one bad write breaks every
carrier) and changes the code's naming contract. *SSM SecureString* (free storage, free
standard-throughput calls) has no staging labels (the CLI's compare-and-swap rotation
relies on them), a 4 KB standard limit and a 40 TPS account-wide read limit that
cold-start bursts would share with everything else. $2 per tenant-month buys isolation
per partner.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from gateway.api.cursors import MIN_KEY_BYTES
from gateway.aws.secrets import console_credential_secret_id, secret_id
from gateway.tenancy.tenants import TenantConfig
from infra.settings import StackSettings

API_SLOT = "api"
"""The slot of a carrier's tracking API credentials (``Polling.slot`` of every adapter)."""
CURSOR_KEY_NAME = "cursor_key"
CURSOR_KEY_CHARS = 2 * MIN_KEY_BYTES  # gateway.api.cursors keys with the text's own bytes
"""Days a deleted prod secret can be restored; other stacks delete theirs at once."""


def adapter_slots(carrier: str) -> tuple[str, ...]:
    """The optional slots an in-tree adapter names (``*_SLOT`` constants), sorted.

    >>> adapter_slots("shippo"), adapter_slots("no_such_partner")
    (('hmac',), ())
    """
    if importlib.util.find_spec(f"adapters.{carrier}") is None:
        return ()  # a generic partner: no module, no slots
    module = importlib.import_module(f"adapters.{carrier}")
    values = (getattr(module, attr) for attr in dir(module) if attr.endswith("_SLOT"))
    return tuple(sorted(v for v in values if isinstance(v, str)))


def polled_carriers(tenant: TenantConfig) -> list[str]:
    """The carriers ``tenant`` declares ``[carriers.<id>.polling]`` for, enabled or not
    (disabling a carrier must not schedule its credentials for deletion), sorted."""
    return sorted(c for c, options in tenant.carriers.items() if options.polling is not None)


def secret_targets(tenants: Iterable[TenantConfig]) -> list[tuple[str, str]]:
    """Every ``(tenant, carrier[.slot])`` the stack creates a secret for, sorted."""
    targets = set()
    for tenant in tenants:
        for carrier in tenant.carriers:
            targets.add((tenant.id, carrier))
            targets.update((tenant.id, f"{carrier}.{slot}") for slot in adapter_slots(carrier))
        targets.update((tenant.id, f"{carrier}.{API_SLOT}") for carrier in polled_carriers(tenant))
    return sorted(targets)


class PartnerSecrets(pulumi.ComponentResource):
    """The stack's partner secrets (empty), its cursor key secret and the ops console
    credential's secret (empty: ``waybill console credential --reset --stack NAME`` puts
    the credential's digest in it)."""

    secret_arns: dict[str, pulumi.Output[str]]
    cursor_key_secret: aws.secretsmanager.Secret
    console_credential_secret: aws.secretsmanager.Secret
    cursor_key_version: aws.secretsmanager.SecretVersion
    prefix: str

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        tenants: Iterable[TenantConfig],
        kms_key: aws.kms.Key,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:PartnerSecrets", name, None, opts)
        self.prefix = settings.prefix
        # Outside prod no recovery window by default (forced deletion): a stack destroyed
        # and re-created within the window would find its secrets' names still taken.
        recovery_days = settings.secret_recovery_days
        self.secret_arns = {}
        for tenant, target in secret_targets(tenants):
            secret_name = secret_id(self.prefix, tenant, target)
            secret = aws.secretsmanager.Secret(
                f"{name}-{tenant}-{target}",
                name=secret_name,
                description=f"Waybill key set of {tenant}/{target}: set with `waybill secrets`",
                kms_key_id=kms_key.arn,
                recovery_window_in_days=recovery_days,
                tags={"waybill:stack": settings.stack, "waybill:tenant": tenant},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.secret_arns[secret_name] = secret.arn
        self.cursor_key_secret = aws.secretsmanager.Secret(
            f"{name}-cursor-key",
            name=f"{self.prefix}{CURSOR_KEY_NAME}",
            description="Waybill page-cursor HMAC key (changing it invalidates open cursors)",
            kms_key_id=kms_key.arn,
            recovery_window_in_days=recovery_days,
            tags={"waybill:stack": settings.stack},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.console_credential_secret = aws.secretsmanager.Secret(
            f"{name}-console-credential",
            name=console_credential_secret_id(self.prefix),
            description="Waybill ops console credential digest: `waybill console credential`",
            kms_key_id=kms_key.arn,
            recovery_window_in_days=recovery_days,
            tags={"waybill:stack": settings.stack},
            opts=pulumi.ResourceOptions(parent=self),
        )
        key = random.RandomPassword(
            f"{name}-cursor-key-value",
            length=CURSOR_KEY_CHARS,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        value: pulumi.Output[str] = pulumi.Output.secret(key.result)
        self.cursor_key_version = aws.secretsmanager.SecretVersion(
            f"{name}-cursor-key-version",
            secret_id=self.cursor_key_secret.id,
            secret_string=value,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"secret_arns": self.secret_arns, "cursor_key_arn": self.cursor_key_secret.arn}
        )
