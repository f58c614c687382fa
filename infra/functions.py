"""The seven Lambda functions, their log groups, roles and ``live`` aliases.

``ingest`` and ``query`` run the same handler (it serves every route); API Gateway sends
POST and DELETE routes to ``ingest`` and GET routes to ``query``, so each gets only the
permissions of its routes (:mod:`infra.roles`). ``notify`` reads the table's stream and
``sweeper`` sends the retries that are due (:mod:`infra.notify` wires their triggers);
``poller`` checks the trackers that are due with the carriers' tracking APIs
(:mod:`infra.poll` wires its schedule); ``console`` serves the ops console's pages and
actions (``/console`` on the tenant edge, :mod:`infra.routes`) and answers as the
console's authorizer too (:mod:`infra.api`). Every function is
arm64/python3.12, published on each change, traced with X-Ray (Active: the only cost is
X-Ray's sampled traces, and a cold start or a slow DynamoDB call is then visible per
request), and logs to a log group created first, with the stack's retention, so Lambda
never creates an unmanaged one.

Reserved concurrency is set for the poller only, to 1: one pass at a time per stack.
A pass checks up to 10,000 trackers, so one is enough; and a second pass at the same time
would buy nothing but waste: it would query the same due keys and find their shards
leased by the running pass (each refused lease a billed write), and the carriers' pace
(at most ``concurrency`` requests in flight per carrier, the slowdown after a 429 or
5xx) is kept per process, so two containers would call a carrier twice as hard and
ignore each other's ``Retry-After``.
While a pass runs past the minute, the schedule's next invocation is throttled and
dropped (the next minute's starts a pass anyway). The other functions have none: API
Gateway's stage and usage-plan throttles already bound the load, and a reservation
carves capacity out of the account's shared pool (Lambda keeps at least 10 unreserved: a
new account, whose limit is 10, must ask for more before the poller's 1 can be
reserved).

The ``live`` alias is what API Gateway, the stream's event source mapping and the
schedule invoke. With ``waybill:stableVersion`` set, the API functions' alias stays on
that version and sends ``waybill:canaryWeight`` of the traffic to the version this
deployment published (a canary; weight 0 pins it: a rollback); without it, and always
for ``notify``, ``sweeper``, ``poller`` and ``console``, it points at the new version.

Timeouts: ``ingest`` :data:`INGEST_TIMEOUT` (a manual tracker refresh bounds all its
carrier calls by :data:`gateway.poll.poller.REFRESH_WITHIN`, 8 s, so it answers well
within API Gateway's 29 s and records its check; a resend waits for one attempt, which
may take 15 s);
``notify`` 60 s (attempts take at most 15 s and run 8 at a time: a batch whose messages
all time out gets 3 rounds, and what a timed-out batch did is kept: its retry skips the
messages already attempted); ``sweeper`` exactly the lease a sweep takes on the messages
it claims (:data:`gateway.notify.sweeper.LEASE`), so no run outlives its claims and a
message is never sent by two runs at once; ``poller`` :data:`POLLER_TIMEOUT`, five
minutes: a pass stops claiming trackers when its deadline is near (a check's
:data:`~gateway.poll.client.CALL_TIMEOUT` and a margin before it) and the next minute's
pass carries on.

Endpoint secrets: every function that serves the endpoint API or sends messages gets
``NOTIFY_KEY_ID`` (the stack's CMK, which wraps their data key) and
``NOTIFY_ALLOW_INSECURE`` (``waybill:allowInsecureEndpoints``: test stacks only, never
on dev, staging or prod). Every function that calls out gets the latter: the carriers'
tracking APIs are called through the notifier's transport, under the same address
policy (https only, public addresses only), by the poller and by ``ingest`` (a manual
refresh); the poller opens no endpoint secret, so it gets no ``NOTIFY_KEY_ID``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gateway.aws.functions import ALIAS as ALIAS  # infra.notify and infra.poll read it here
from gateway.aws.functions import FUNCTIONS, function_name
from gateway.notify.sweeper import LEASE
from gateway.tenancy.tenants import TenantConfig
from infra.roles import Scope, lambda_role, policy_document
from infra.secrets import PartnerSecrets
from infra.settings import StackSettings
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
AUTHORIZER_MEMORY_MB = 256
TRACING = True
SERVICE_HANDLER = "gateway.aws.handler.lambda_handler"
INGEST_TIMEOUT = 20
NOTIFY_TIMEOUT = 60
SWEEPER_TIMEOUT = int(LEASE.total_seconds())
POLLER_TIMEOUT = 300
POLLER_CONCURRENCY = 1
CONSOLE_HANDLER = "gateway.aws.console.console_handler"
CONSOLE_TIMEOUT = INGEST_TIMEOUT  # its actions call carriers and endpoints, as the API's writes


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the functions."""

    handler: str
    timeout: int
    memory_mb: int | None  # None: the stack's waybill:lambdaMemoryMb
    reads_cursor_key: bool
    notifies: bool = False  # serves the endpoint API or sends messages: NOTIFY_* settings
    calls_out: bool = False  # calls endpoints or carriers: NOTIFY_ALLOW_INSECURE
    reserved_concurrency: int | None = None


SPECS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec(SERVICE_HANDLER, INGEST_TIMEOUT, None, True, True, True),
    "query": FunctionSpec(SERVICE_HANDLER, 10, None, True, True, True),
    "authorizer": FunctionSpec(
        "gateway.aws.authorizer.authorizer_handler", 5, AUTHORIZER_MEMORY_MB, False
    ),
    "notify": FunctionSpec(
        "gateway.aws.notify.stream_handler", NOTIFY_TIMEOUT, None, False, True, True
    ),
    "sweeper": FunctionSpec(
        "gateway.aws.notify.sweep_handler", SWEEPER_TIMEOUT, None, False, True, True
    ),
    "poller": FunctionSpec(
        "gateway.aws.poll.poll_handler",
        POLLER_TIMEOUT,
        None,
        False,
        calls_out=True,
        reserved_concurrency=POLLER_CONCURRENCY,
    ),
    # the cursor key: the console's session key is derived from it; its actions resend
    # messages (NOTIFY_*) and refresh trackers (they call out)
    "console": FunctionSpec(CONSOLE_HANDLER, CONSOLE_TIMEOUT, None, True, True, True),
}
assert tuple(SPECS) == FUNCTIONS


class Functions(pulumi.ComponentResource):
    """``ingest``, ``query``, ``authorizer``, ``notify``, ``sweeper``, ``poller`` and
    ``console``, each behind its ``live`` alias.

    ``tenants`` is accepted for the program's wiring but not used: the functions read
    the tenant files packaged in ``code``.
    """

    ingest: aws.lambda_.Alias
    query: aws.lambda_.Alias
    authorizer: aws.lambda_.Alias
    notify: aws.lambda_.Alias
    sweeper: aws.lambda_.Alias
    poller: aws.lambda_.Alias
    console: aws.lambda_.Alias
    functions: dict[str, aws.lambda_.Function]
    aliases: dict[str, aws.lambda_.Alias]
    roles: dict[str, aws.iam.Role]
    role_policies: dict[str, aws.iam.RolePolicy]
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
            table.stream_arn,
            secrets.console_credential_secret.arn,
        ).apply(lambda values: Scope(values[0], values[1], values[2], settings.stack, *values[3:]))
        self._environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": table.name,
            "SECRETS_PREFIX": secrets.prefix,
            "POWERTOOLS_SERVICE_NAME": settings.service,
            **RUNTIME_ENVIRONMENT,
        }
        self._cursor_key_arn = secrets.cursor_key_secret.arn
        self._notify_environment: dict[str, pulumi.Input[str]] = {
            "NOTIFY_KEY_ID": table.kms_key.arn
        }
        self._outbound_environment: dict[str, pulumi.Input[str]] = {
            "NOTIFY_ALLOW_INSECURE": "true" if settings.allow_insecure_endpoints else "false"
        }
        self.functions, self.aliases, self.roles, self.log_groups = {}, {}, {}, {}
        self.role_policies = {}
        for function, spec in SPECS.items():
            self._function(f"{name}-{function}", function, spec)
        self.ingest = self.aliases["ingest"]
        self.query = self.aliases["query"]
        self.authorizer = self.aliases["authorizer"]
        self.notify = self.aliases["notify"]
        self.sweeper = self.aliases["sweeper"]
        self.poller = self.aliases["poller"]
        self.console = self.aliases["console"]
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
        if spec.notifies:
            environment.update(self._notify_environment)
        if spec.calls_out:
            environment.update(self._outbound_environment)
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
            reserved_concurrent_executions=spec.reserved_concurrency,
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
        self.role_policies[function] = role_policy
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
