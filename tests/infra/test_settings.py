"""Stack settings: documented defaults, prod's stricter ones, and refusals naming the key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime.config import CONFIG

from infra.settings import REPO_ROOT, StackSettings

ACCOUNTS = '["123456789012"]'


@pytest.fixture
def config() -> Iterator[Any]:
    """Set ``waybill:*`` config for one test, then restore what was there."""
    saved = dict(CONFIG.get())

    def set_config(*, accounts: str | None = ACCOUNTS, **values: str) -> None:
        found = {f"waybill:{k}": v for k, v in values.items()}
        if accounts is not None:
            found["aws:allowedAccountIds"] = accounts
        pulumi.runtime.set_all_config(found)

    yield set_config
    pulumi.runtime.set_all_config(saved)


def test_defaults_from_an_empty_config(config: Any) -> None:
    config()
    settings = StackSettings.from_config()
    assert settings.stack == "dev"  # the mocks' stack
    assert settings.region == "us-west-2"
    assert settings.alarm_email is None
    assert (settings.monthly_budget_usd, settings.log_retention_days) == (50.0, 30)
    assert settings.deletion_protection is False
    assert settings.waf_rate_limit is None
    assert (settings.stage_rate_limit, settings.stage_burst_limit) == (200.0, 400)
    assert settings.lambda_memory_mb == 512
    assert (settings.canary_weight, settings.stable_version) == (0.0, None)
    assert settings.allow_insecure_endpoints is False  # https and public addresses only
    assert settings.notify_dlq_name == "waybill-dev-notify-dlq"
    assert settings.labels_for("acme") == ("",)  # one unlabelled key per tenant
    assert settings.tenants_dir == REPO_ROOT / "tenants"
    assert settings.prefix == "waybill/dev/"
    assert settings.allowed_account_ids == ("123456789012",)
    assert (settings.protect, settings.secret_recovery_days) == (False, 0)
    assert settings.budget_scope == "stack"


@pytest.mark.parametrize("accounts", [None, "[]"])
def test_a_stack_without_its_allowed_accounts_is_refused(config: Any, accounts: str | None) -> None:
    """Without ``aws:allowedAccountIds`` a stack could be deployed into whatever account
    the operator's credentials name."""
    config(accounts=accounts)
    with pytest.raises(ValueError, match="aws:allowedAccountIds"):
        StackSettings.from_config()


def test_protect_and_the_secret_recovery_window_come_from_config_not_the_name(
    config: Any,
) -> None:
    config(protect="true", secretRecoveryDays="7", budgetScope="account")
    settings = StackSettings.from_config()  # the mocks' stack is dev
    assert (settings.protect, settings.secret_recovery_days) == (True, 7)
    assert settings.budget_scope == "account"
    prod = StackSettings.for_stack("prod")
    assert (prod.protect, prod.secret_recovery_days) == (True, 30)


def test_config_values_are_read_and_typed(config: Any) -> None:
    config(
        alarmEmail="ops@example.com",
        logRetentionDays="90",
        deletionProtection="true",
        wafRateLimit="1000",
        canaryWeight="0.1",
        stableVersion="7",
        apiKeyLabels='{"acme": ["ci", "prod-app"]}',
    )
    settings = StackSettings.from_config()
    assert settings.alarm_email == "ops@example.com"
    assert settings.log_retention_days == 90
    assert settings.deletion_protection is True
    assert settings.waf_rate_limit == 1000
    assert settings.canary_weight == 0.1
    assert settings.stable_version_for("query") == "7"
    assert settings.labels_for("acme") == ("ci", "prod-app")
    assert settings.labels_for("globex") == ("",)


def test_prod_defaults_to_deletion_protection() -> None:
    assert StackSettings.for_stack("prod").deletion_protection is True
    assert StackSettings.for_stack("staging").deletion_protection is False


def test_stable_version_per_function() -> None:
    settings = StackSettings.for_stack(
        "dev", canary_weight=0.2, stable_version="ingest=7,query=8,authorizer=3"
    )
    assert [settings.stable_version_for(f) for f in ("ingest", "query", "authorizer")] == [
        "7",
        "8",
        "3",
    ]
    pinned = StackSettings.for_stack("dev", stable_version="7")  # no canary: a rollback pin
    assert pinned.stable_version_for("ingest") == "7"
    assert StackSettings.for_stack("dev").stable_version_for("ingest") is None


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"stack": "bad/stack"}, "stack name"),
        ({"canary_weight": 1.0, "stable_version": "3"}, "waybill:canaryWeight"),
        ({"canary_weight": -0.1}, "waybill:canaryWeight"),
        ({"canary_weight": 0.1}, "waybill:stableVersion"),
        ({"canary_weight": 0.1, "stable_version": "v7"}, "waybill:stableVersion"),
        ({"stable_version": "ingest=7,query=7"}, "waybill:stableVersion"),
        ({"api_key_labels": {"acme": ["CI"]}}, "waybill:apiKeyLabels.acme"),
        ({"api_key_labels": {"acme": ["a b"]}}, "waybill:apiKeyLabels.acme"),
        ({"api_key_labels": {"acme": ["x", "x"]}}, "waybill:apiKeyLabels.acme"),
        ({"api_key_labels": {"acme": "ci"}}, "waybill:apiKeyLabels.acme"),
        ({"api_key_labels": {"../x": ["ci"]}}, "waybill:apiKeyLabels"),
        ({"log_retention_days": 31}, "waybill:logRetentionDays"),
        ({"lambda_memory_mb": 64}, "waybill:lambdaMemoryMb"),
        ({"waf_rate_limit": 0}, "waybill:wafRateLimit"),
        ({"allowed_account_ids": ("12345",)}, "aws:allowedAccountIds"),
        ({"budget_scope": "org"}, "waybill:budgetScope"),
        ({"secret_recovery_days": 3}, "waybill:secretRecoveryDays"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    stack = overrides.pop("stack", "dev")
    with pytest.raises(ValueError, match=key):
        StackSettings.for_stack(stack, **overrides)


def test_a_non_map_label_config_is_refused(config: Any) -> None:
    config(apiKeyLabels='["ci"]')
    with pytest.raises(ValueError, match="waybill:apiKeyLabels"):
        StackSettings.from_config()


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_insecure_endpoints_are_refused_on_the_real_stacks(stack: str) -> None:
    with pytest.raises(ValueError, match="waybill:allowInsecureEndpoints"):
        StackSettings.for_stack(stack, allow_insecure_endpoints=True)


def test_a_test_stack_may_allow_insecure_endpoints_from_its_config(config: Any) -> None:
    assert StackSettings.for_stack("ci-1", allow_insecure_endpoints=True).allow_insecure_endpoints
    config(allowInsecureEndpoints="true")  # the mocks' stack is dev: refused, naming the key
    with pytest.raises(ValueError, match="waybill:allowInsecureEndpoints"):
        StackSettings.from_config()
    config(allowInsecureEndpoints="false")
    assert StackSettings.from_config().allow_insecure_endpoints is False


def test_the_background_functions_are_never_pinned_by_a_stable_version() -> None:
    settings = StackSettings.for_stack("dev", canary_weight=0.2, stable_version="7")
    assert settings.stable_version_for("ingest") == "7"
    assert settings.stable_version_for("notify") is None
    assert settings.stable_version_for("sweeper") is None
