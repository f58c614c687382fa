"""The whole stack, wired from its settings: what ``pulumi up`` runs (see ``__main__.py``).

Table → partner secrets (and the polled carriers' API credential slots) → functions → the
two edges (webhooks on an HTTP API, ``/v1`` on REST) → tenant keys → notifications (the
stream's mapping, its dead-letter queue, the sweep schedule) → polling (the poller's
schedule) → observability, from the tenant files and ``plans.toml`` the Lambda reads too.
The account's API Gateway settings are the bootstrap stack's (:mod:`infra.account`).
Before anything is registered, the account the provider runs as must be one of
``aws:allowedAccountIds`` (:func:`check_account`). Stack outputs:

- ``base_url`` (the tenant API), ``webhook_base_url``, ``webhook_urls`` (``{tenant:
  {carrier: url}}`` for every enabled carrier that receives webhooks: not ``canonical``,
  which is ``POST /v1/events``), ``table_name``, ``dashboard_url``;
- ``api_key_ids``: ``{tenant: {key name: id}}`` (the names ``waybill keys list --stack``
  shows: a label is the part after ``/``);
- ``api_key_values``: the same with the values, a Pulumi **secret** (``pulumi stack output
  api_key_values --show-secrets`` to hand a key over).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from gateway.tenancy.plans import load_plans, plans_file
from gateway.tenancy.tenants import TenantConfig, load_tenants
from infra.api import Api
from infra.functions import Functions
from infra.notify import Notify
from infra.observability import Observability
from infra.poll import Poll
from infra.secrets import PartnerSecrets
from infra.settings import StackSettings
from infra.table import Table
from infra.tenant_keys import TenantKeys, key_name
from infra.webhook_edge import WebhookEdge, webhook_carriers


def webhook_urls(
    base_url: pulumi.Output[str], tenants: Mapping[str, TenantConfig]
) -> pulumi.Output[dict[str, dict[str, str]]]:
    """``{tenant: {carrier: url}}`` under ``base_url``."""
    carriers = {tenant_id: webhook_carriers(t) for tenant_id, t in sorted(tenants.items())}
    return base_url.apply(
        lambda url: {
            tenant: {c: f"{url.rstrip('/')}/webhooks/{tenant}/{c}" for c in names}
            for tenant, names in carriers.items()
            if names
        }
    )


def check_account(settings: StackSettings) -> pulumi.Output[str]:
    """The account the provider runs as; the deployment fails when it is not allowed."""

    def allowed(account: str) -> str:
        if settings.allowed_account_ids and account not in settings.allowed_account_ids:
            raise ValueError(
                f"stack {settings.stack} may deploy to {list(settings.allowed_account_ids)}, "
                f"not to account {account} (aws:allowedAccountIds)"
            )
        return account

    return aws.get_caller_identity_output().account_id.apply(allowed)


def _by_key_name(
    settings: StackSettings, per_label: Mapping[str, Mapping[str, pulumi.Output[str]]]
) -> dict[str, dict[str, pulumi.Output[str]]]:
    return {
        tenant: {key_name(settings.stack, tenant, label): value for label, value in labels.items()}
        for tenant, labels in per_label.items()
    }


def main(settings: StackSettings | None = None, code: pulumi.Archive | None = None) -> None:
    """Register the stack of ``settings`` (default: the current stack's config)."""
    settings = settings or StackSettings.from_config()
    tenants = load_tenants(settings.tenants_dir)
    plans = load_plans(plans_file())
    strays = sorted(set(settings.api_key_labels) - set(tenants))
    if strays:
        raise ValueError(f"waybill:apiKeyLabels names tenants with no tenant file: {strays}")
    if code is None:
        from infra.package import lambda_archive  # builds the zip: slow, and only for real runs

        code = lambda_archive()
    account = check_account(settings)
    table = Table("table", settings)
    secrets = PartnerSecrets("secrets", settings, tenants.values(), table.kms_key)
    functions = Functions("functions", settings, table, secrets, code, tenants.values())
    api = Api("api", settings, functions, tenants, plans)
    webhooks = WebhookEdge("webhooks", settings, functions, tenants, plans)
    keys = TenantKeys("keys", settings, tenants, plans, api.usage_plans, table)
    notify = Notify("notify", settings, table, functions)
    Poll("poll", settings, functions, tenants.values())
    observability = Observability(
        "observability", settings, api, webhooks, functions, table, notify
    )
    pulumi.export("account", account)
    pulumi.export("base_url", api.base_url)
    pulumi.export("webhook_base_url", webhooks.base_url)
    pulumi.export("webhook_urls", webhook_urls(webhooks.base_url, tenants))
    pulumi.export("api_key_ids", _by_key_name(settings, keys.key_ids))
    pulumi.export("api_key_values", pulumi.Output.secret(_by_key_name(settings, keys.key_values)))
    pulumi.export("table_name", table.name)
    pulumi.export("dashboard_url", observability.dashboard_url)
