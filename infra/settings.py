"""Per-stack settings: every ``waybill:*`` config value, typed, defaulted and validated once.

Components receive a :class:`StackSettings` and never read ``pulumi.Config`` themselves,
so a test can build settings directly. A bad value raises ``ValueError`` naming the key.

Example:
    >>> s = StackSettings.for_stack("dev")
    >>> s.deletion_protection, s.labels_for("acme")
    (False, ('',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import pulumi

from gateway.aws.functions import API_FUNCTIONS
from gateway.aws.secrets import stack_prefix
from gateway.tenancy.tenants import is_tenant_id

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "us-west-2"
SAFE_STACKS = frozenset({"dev", "staging", "prod"})
"""Stacks that may never allow http or private-address notification endpoints."""
DEFAULT_LABELS: tuple[str, ...] = ("",)
"""One unlabelled API key per tenant when ``waybill:apiKeyLabels`` does not name it."""
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)
"""The retention periods CloudWatch Logs accepts."""
_T = TypeVar("_T")
_LABEL = re.compile(r"[a-z0-9-]*")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
BUDGET_SCOPES = frozenset({"stack", "account"})
"""``stack``: the budget counts costs tagged ``waybill:stack`` with this stack's name (the
tag must be activated for cost allocation, docs/deploy.md); ``account``: the whole account."""
PROD_SECRET_RECOVERY_DAYS = 30


def notify_dlq_name(stack: str) -> str:
    """The SQS queue receiving the stream batches the notifier gave up on."""
    return f"waybill-{stack}-notify-dlq"


def _frozen_labels(raw: Mapping[str, Any]) -> Mapping[str, tuple[str, ...]]:
    labels: dict[str, tuple[str, ...]] = {}
    for tenant, values in raw.items():
        if isinstance(values, str) or not isinstance(values, list | tuple):
            raise ValueError(f"waybill:apiKeyLabels.{tenant}: must be a list of labels")
        labels[str(tenant)] = tuple(str(v) for v in values)
    return MappingProxyType(labels)


def _default(value: _T | None, default: _T) -> _T:
    return default if value is None else value


def _parse_versions(text: str) -> dict[str, str]:
    """``"7"`` (every function) or ``"ingest=7,query=7,authorizer=5"``, as a full map.

    >>> _parse_versions("ingest=7,query=8,authorizer=2")["query"]
    '8'
    """
    if text.isdigit():
        return dict.fromkeys(API_FUNCTIONS, text)
    pairs = dict(part.strip().partition("=")[::2] for part in text.split(","))
    if sorted(pairs) != sorted(API_FUNCTIONS) or not all(v.isdigit() for v in pairs.values()):
        raise ValueError(
            "waybill:stableVersion: a version number, or one per function: "
            + ",".join(f"{name}=N" for name in API_FUNCTIONS)
        )
    return pairs


@dataclass(frozen=True)
class StackSettings:
    """The validated configuration of one stack (see ``Pulumi.<stack>.yaml``)."""

    stack: str
    region: str = DEFAULT_REGION
    alarm_email: str | None = None
    monthly_budget_usd: float = 50.0
    log_retention_days: int = 30
    deletion_protection: bool = False
    protect: bool = False
    secret_recovery_days: int = 0
    allowed_account_ids: tuple[str, ...] = ()
    budget_scope: str = "stack"
    waf_rate_limit: int | None = None
    stage_rate_limit: float = 200.0
    stage_burst_limit: int = 400
    lambda_memory_mb: int = 512
    canary_weight: float = 0.0
    stable_version: str | None = None
    allow_insecure_endpoints: bool = False
    api_key_labels: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Not a config key: the Lambda package carries the repository's tenants/, and the
    # stack must create keys and secrets for exactly those (tests point it elsewhere).
    tenants_dir: Path = REPO_ROOT / "tenants"

    def __post_init__(self) -> None:
        try:
            stack_prefix(self.stack)
        except ValueError as exc:
            raise ValueError(f"stack name: {exc}") from None
        if not 0 <= self.canary_weight < 1:
            raise ValueError("waybill:canaryWeight: must be in [0, 1)")
        if self.canary_weight > 0 and not self.stable_version:
            raise ValueError("waybill:stableVersion: required when waybill:canaryWeight > 0")
        if self.stable_version is not None:
            _parse_versions(self.stable_version)
        if self.allow_insecure_endpoints and self.stack in SAFE_STACKS:
            raise ValueError(
                f"waybill:allowInsecureEndpoints: must be false on {self.stack} "
                f"(allowed only on test stacks, never on {', '.join(sorted(SAFE_STACKS))})"
            )
        for tenant, labels in self.api_key_labels.items():
            if not is_tenant_id(tenant):
                raise ValueError(f"waybill:apiKeyLabels: {tenant!r} is not a tenant id")
            bad = [label for label in labels if not _LABEL.fullmatch(label)]
            if bad or not labels or len(set(labels)) != len(labels):
                raise ValueError(
                    f"waybill:apiKeyLabels.{tenant}: labels must be distinct [a-z0-9-]"
                )
        self._check_positive()
        self._check_account()

    def _check_account(self) -> None:
        bad = [a for a in self.allowed_account_ids if not _ACCOUNT_ID.fullmatch(a)]
        if bad:
            raise ValueError(f"aws:allowedAccountIds: not 12-digit account ids: {bad}")
        if self.budget_scope not in BUDGET_SCOPES:
            raise ValueError(f"waybill:budgetScope: one of {sorted(BUDGET_SCOPES)}")
        if self.secret_recovery_days != 0 and not 7 <= self.secret_recovery_days <= 30:
            raise ValueError("waybill:secretRecoveryDays: 0 (forced deletion) or 7 to 30")

    def _check_positive(self) -> None:
        checks = {
            "monthlyBudgetUsd": self.monthly_budget_usd,
            "logRetentionDays": self.log_retention_days,
            "stageRateLimit": self.stage_rate_limit,
            "stageBurstLimit": self.stage_burst_limit,
            "lambdaMemoryMb": self.lambda_memory_mb,
        }
        if self.waf_rate_limit is not None:
            checks["wafRateLimit"] = self.waf_rate_limit
        for key, value in checks.items():
            if value <= 0:
                raise ValueError(f"waybill:{key}: must be positive")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"waybill:logRetentionDays: one of {sorted(LOG_RETENTION_DAYS)} (CloudWatch)"
            )
        if not 128 <= self.lambda_memory_mb <= 10240:
            raise ValueError("waybill:lambdaMemoryMb: must be in [128, 10240]")

    @property
    def prefix(self) -> str:
        """The stack's Secrets Manager prefix: ``waybill/{stack}/``."""
        return stack_prefix(self.stack)

    @property
    def is_prod(self) -> bool:
        """True for the production stack."""
        return self.stack == "prod"

    @property
    def service(self) -> str:
        """The Powertools service of this stack's functions: the metrics' ``service``
        dimension, so that stacks sharing an account and region never mix their metrics."""
        return f"waybill-{self.stack}"

    @property
    def notify_dlq_name(self) -> str:
        """The SQS queue that receives the stream batches the notifier gave up on."""
        return notify_dlq_name(self.stack)

    def stable_version_for(self, function: str) -> str | None:
        """The version ``function``'s alias stays on; ``None``: the newly published one.

        Set with a canary weight, the alias keeps it and sends the weight to the new
        version; set alone (weight 0), it pins the alias there: the rollback. Only the
        functions behind API Gateway (:data:`~gateway.aws.functions.API_FUNCTIONS`) are
        steered; the background ones always take the new version.
        """
        if self.stable_version is None or function not in API_FUNCTIONS:
            return None
        return _parse_versions(self.stable_version)[function]

    def labels_for(self, tenant: str) -> tuple[str, ...]:
        """The API key labels of ``tenant``: configured, else one unlabelled key."""
        return self.api_key_labels.get(tenant, DEFAULT_LABELS)

    @classmethod
    def for_stack(cls, stack: str, **overrides: Any) -> StackSettings:
        """Defaults for ``stack`` (deletion protection, ``protect`` and a secret recovery
        window in prod), with ``overrides``."""
        prod = stack == "prod"
        values: dict[str, Any] = {
            "deletion_protection": prod,
            "protect": prod,
            "secret_recovery_days": PROD_SECRET_RECOVERY_DAYS if prod else 0,
            **overrides,
        }
        if "api_key_labels" in values:
            values["api_key_labels"] = _frozen_labels(values["api_key_labels"])
        return cls(stack=stack, **values)

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> StackSettings:
        """Read the ``waybill:*`` (and ``aws:region``, ``aws:allowedAccountIds``) config of
        the current stack. ``aws:allowedAccountIds`` is required: the AWS provider then
        refuses to touch any other account, and the program checks it too."""
        config = config or pulumi.Config("waybill")
        stack = pulumi.get_stack()
        aws_config = pulumi.Config("aws")
        accounts = aws_config.get_object("allowedAccountIds")
        if not accounts or not isinstance(accounts, list):
            raise ValueError(
                "aws:allowedAccountIds: required, the account(s) this stack may deploy to "
                "(pulumi config set --path 'aws:allowedAccountIds[0]' 123456789012)"
            )
        prod = stack == "prod"
        deletion = config.get_bool("deletionProtection")
        protect = config.get_bool("protect")
        recovery = config.get_int("secretRecoveryDays")
        labels = config.get_object("apiKeyLabels")
        if labels is not None and not isinstance(labels, Mapping):
            raise ValueError("waybill:apiKeyLabels: must be a map of tenant -> [labels]")
        return cls.for_stack(
            stack,
            region=aws_config.get("region") or DEFAULT_REGION,
            allowed_account_ids=tuple(str(a) for a in accounts),
            protect=prod if protect is None else protect,
            secret_recovery_days=(PROD_SECRET_RECOVERY_DAYS if prod else 0)
            if recovery is None
            else recovery,
            budget_scope=config.get("budgetScope") or "stack",
            alarm_email=config.get("alarmEmail") or None,
            monthly_budget_usd=_default(config.get_float("monthlyBudgetUsd"), 50.0),
            log_retention_days=_default(config.get_int("logRetentionDays"), 30),
            deletion_protection=prod if deletion is None else deletion,
            waf_rate_limit=config.get_int("wafRateLimit"),
            stage_rate_limit=_default(config.get_float("stageRateLimit"), 200.0),
            stage_burst_limit=_default(config.get_int("stageBurstLimit"), 400),
            lambda_memory_mb=_default(config.get_int("lambdaMemoryMb"), 512),
            canary_weight=_default(config.get_float("canaryWeight"), 0.0),
            stable_version=config.get("stableVersion") or None,
            allow_insecure_endpoints=bool(config.get_bool("allowInsecureEndpoints")),
            api_key_labels=labels or {},
        )
