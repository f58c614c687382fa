"""The three Lambda functions, their log groups, roles and ``live`` aliases.

``ingest`` and ``query`` run the same handler (it serves every route); API Gateway sends
POST routes to ``ingest`` and GET routes to ``query``, so each gets only the permissions
of its routes (:mod:`infra.roles`). Every function is arm64/python3.12, published on
each change, traced with X-Ray (Active: the only cost is X-Ray's sampled traces, and a
cold start or a slow DynamoDB call is then visible per request), and logs to a log
group created first, with the stack's retention, so Lambda never creates an unmanaged
one. Reserved concurrency is not set: API Gateway's stage and usage-plan throttles
already bound the load, and a reservation would carve capacity out of the account's
shared pool (new accounts have too little to reserve any).

The ``live`` alias is what API Gateway invokes. With ``waybill:stableVersion`` set it
stays on that version and sends ``waybill:canaryWeight`` of the traffic to the version
this deployment published (a canary; weight 0 pins it: a rollback); without it, it
points at the new version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gateway.tenancy.tenants import TenantConfig
from infra.roles import Scope, lambda_role, policy_document
from infra.secrets import PartnerSecrets
from infra.settings import FUNCTIONS, StackSettings
from infra.table import Table

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
RUNTIME_ENVIRONMENT = {
    "POWERTOOLS_METRICS_NAMESPACE": "Waybill",
    "LOG_LEVEL": "INFO",
    # pydantic scans every installed distribution for plugins at first use; we use none
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
}
"""The stack-independent environment of every function (bench/cold_init.py uses it too)."""
ALIAS = "live"
AUTHORIZER_MEMORY_MB = 256
TRACING = True
SERVICE_HANDLER = "gateway.aws.handler.lambda_handler"


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the three functions."""

    handler: str
    timeout: int
    memory_mb: int | None  # None: the stack's waybill:lambdaMemoryMb
    reads_cursor_key: bool


SPECS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec(SERVICE_HANDLER, 10, None, True),
    "query": FunctionSpec(SERVICE_HANDLER, 10, None, True),
    "authorizer": FunctionSpec(
        "gateway.aws.authorizer.authorizer_handler", 5, AUTHORIZER_MEMORY_MB, False
    ),
}
assert tuple(SPECS) == FUNCTIONS


def function_name(stack: str, function: str) -> str:
    """The deployed name of a function: ``waybill-{stack}-{function}``."""
    return f"waybill-{stack}-{function}"


class Functions(pulumi.ComponentResource):
    """``ingest``, ``query`` and ``authorizer``, each behind its ``live`` alias.

    ``tenants`` is accepted for the program's wiring but not used: the functions read
    the tenant files packaged in ``code``.
    """

    ingest: aws.lambda_.Alias
    query: aws.lambda_.Alias
    authorizer: aws.lambda_.Alias
    functions: dict[str, aws.lambda_.Function]
    aliases: dict[str, aws.lambda_.Alias]
    roles: dict[str, aws.iam.Role]
    log_groups: dict[str, aws.cloudwatch.LogGroup]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        table: Table,
        secrets: PartnerSecrets,
        code: pulumi.Archive,
        tenants: Iterable[TenantConfig] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:Functions", name, None, opts)
        self._settings, self._code = settings, code
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self._scope = pulumi.Output.all(
            aws.get_partition_output(opts=invoke).partition,
            aws.get_region_output(opts=invoke).region,
            aws.get_caller_identity_output(opts=invoke).account_id,
            table.arn,
            table.kms_key.arn,
            secrets.cursor_key_secret.arn,
        ).apply(lambda values: Scope(values[0], values[1], values[2], settings.stack, *values[3:]))
        self._environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": table.name,
            "SECRETS_PREFIX": secrets.prefix,
            "POWERTOOLS_SERVICE_NAME": settings.service,
            **RUNTIME_ENVIRONMENT,
        }
        self._cursor_key_arn = secrets.cursor_key_secret.arn
        self.functions, self.aliases, self.roles, self.log_groups = {}, {}, {}, {}
        for function, spec in SPECS.items():
            self._function(f"{name}-{function}", function, spec)
        self.ingest = self.aliases["ingest"]
        self.query = self.aliases["query"]
        self.authorizer = self.aliases["authorizer"]
        self.register_outputs(
            {f"{function}_alias_arn": alias.arn for function, alias in self.aliases.items()}
        )

    def _function(self, resource: str, function: str, spec: FunctionSpec) -> None:
        settings = self._settings
        deployed = function_name(settings.stack, function)
        log_group = aws.cloudwatch.LogGroup(
            f"{resource}-logs",
            name=f"/aws/lambda/{deployed}",
            retention_in_days=settings.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = self._scope.apply(
            lambda scope: json.dumps(
                policy_document(function, scope, f"/aws/lambda/{deployed}", tracing=TRACING)
            )
        )
        role, role_policy = lambda_role(resource, policy, self)
        environment: dict[str, pulumi.Input[str]] = dict(self._environment)
        if spec.reads_cursor_key:
            environment["CURSOR_KEY_SECRET"] = self._cursor_key_arn
        lambda_function = aws.lambda_.Function(
            resource,
            name=deployed,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=spec.handler,
            code=self._code,
            role=role.arn,
            memory_size=spec.memory_mb or settings.lambda_memory_mb,
            timeout=spec.timeout,
            publish=True,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(
                mode="Active" if TRACING else "PassThrough"
            ),
            # JSON lets Lambda filter: its START/END/REPORT lines (INFO) are dropped, which
            # is ~330 bytes of log ingestion per invocation; errors still come through,
            # and Duration stays in the Lambda metrics. EMF lines carry no level: INFO, kept.
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                system_log_level="WARN",
                application_log_level="INFO",
                log_group=log_group.name,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy]),
        )
        self.functions[function] = lambda_function
        self.roles[function] = role
        self.log_groups[function] = log_group
        self.aliases[function] = self._alias(resource, function, lambda_function)

    def _alias(
        self, resource: str, function: str, lambda_function: aws.lambda_.Function
    ) -> aws.lambda_.Alias:
        stable = self._settings.stable_version_for(function)
        weight = self._settings.canary_weight
        if stable is None:
            version: pulumi.Input[str] = lambda_function.version
            routing: pulumi.Input[aws.lambda_.AliasRoutingConfigArgs] | None = None
        else:  # the new version gets `weight`, unless it is the stable one or pinned (0)
            version = stable
            routing = lambda_function.version.apply(
                lambda new: aws.lambda_.AliasRoutingConfigArgs(
                    additional_version_weights={new: weight} if new != stable and weight else {}
                )
            )
        return aws.lambda_.Alias(
            f"{resource}-alias",
            name=ALIAS,
            function_name=lambda_function.name,
            function_version=version,
            routing_config=routing,
            opts=pulumi.ResourceOptions(parent=self),
        )
