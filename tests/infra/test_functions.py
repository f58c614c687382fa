"""Function policies: runtime and wiring, managed logs, least-privilege roles, canary alias."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pulumi
import pytest

from gateway.aws.secrets import stack_prefix
from gateway.notify.sweeper import LEASE
from gateway.store.due_index import DUE_INDEX_NAME
from gateway.store.index import INDEX_NAME
from infra.functions import Functions
from infra.secrets import PartnerSecrets
from infra.settings import StackSettings
from infra.table import Table
from tests.infra.conftest import ACCOUNT, REGION
from tests.infra.helpers import TENANTS, as_json, named, resources_of

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
NAMES = ("ingest", "query", "authorizer", "notify", "sweeper", "poller", "console")
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/waybill-dev-{{}}:*"
SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:waybill/dev/"
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:waybill-dev-notify-dlq"
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
COMMON = {"logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt"} | XRAY
STREAM = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
ALLOWED = {
    "ingest": COMMON
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "secretsmanager:GetSecretValue",
        "kms:GenerateDataKey",
    },
    "query": COMMON
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",  # no BatchWriteItem: refused reads are not audited
        "secretsmanager:GetSecretValue",
    },
    "authorizer": COMMON | {"dynamodb:GetItem", "secretsmanager:GetSecretValue"},
    "notify": COMMON
    | STREAM
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "sqs:SendMessage",
    },
    "sweeper": COMMON
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
    },
    "poller": COMMON
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",  # the lease of a due shard, given back
        "dynamodb:BatchGetItem",  # no BatchWriteItem: a poll audits nothing
        "secretsmanager:GetSecretValue",
    },
    # the console's pages and actions: the cursor key and its credential's secret; the
    # tenants' secrets, read and rotated (a new version's data key, through Secrets Manager)
    "console": COMMON
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",  # a parked copy, replayed
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "kms:GenerateDataKey",
    },
}
API_SLOTS = [f"{SECRETS}*/*.api", f"{SECRETS}*/*.api-??????"]


def deploy(check: Any, **overrides: Any) -> Any:
    """Build the components for ``dev`` and run ``check(functions, arns)`` once all exist."""
    settings = StackSettings.for_stack("dev", **overrides)
    table = Table("t", settings)
    secrets = PartnerSecrets("s", settings, TENANTS, table.kms_key)
    code = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
    functions = Functions("f", settings, table, secrets, code, TENANTS)
    return pulumi.Output.all(
        table.arn,
        table.kms_key.arn,
        secrets.cursor_key_secret.arn,
        table.stream_arn,
        secrets.console_credential_secret.arn,
        *(alias.arn for alias in functions.aliases.values()),
    ).apply(lambda arns: check(functions, arns))


def policy(function: str) -> dict[str, Any]:
    document: dict[str, Any] = as_json(
        named("aws:iam/rolePolicy:RolePolicy", f"f-{function}-policy").inputs["policy"]
    )
    return document


def allows(document: dict[str, Any], action: str, resource: str) -> bool:
    """IAM evaluation without conditions: an explicit Deny wins, else any Allow."""
    matching = [
        s["Effect"]
        for s in document["Statement"]
        if action in s["Action"] and any(fnmatchcase(resource, r) for r in s["Resource"])
    ]
    return "Allow" in matching and "Deny" not in matching


@pulumi.runtime.test
def test_functions_run_arm64_python312_with_their_handlers_and_limits() -> Any:
    def check(functions: Functions, _: list[str]) -> None:
        expected = {
            # a refresh's token and tracking calls (a resend: 15 s)
            "ingest": ("gateway.aws.handler.lambda_handler", 20, 512),
            "query": ("gateway.aws.handler.lambda_handler", 10, 512),
            "authorizer": ("gateway.aws.authorizer.authorizer_handler", 5, 256),
            "notify": ("gateway.aws.notify.stream_handler", 60, 512),
            "sweeper": ("gateway.aws.notify.sweep_handler", LEASE.total_seconds(), 512),
            "poller": ("gateway.aws.poll.poll_handler", 300, 512),
            "console": ("gateway.aws.console.console_handler", 20, 512),  # as ingest's
        }
        assert set(functions.functions) == set(expected)
        for name, (handler, timeout, memory) in expected.items():
            inputs = named(FUNCTION, f"f-{name}").inputs
            assert inputs["name"] == f"waybill-dev-{name}"
            assert (inputs["runtime"], inputs["architectures"]) == ("python3.12", ["arm64"])
            assert (inputs["handler"], inputs["timeout"]) == (handler, timeout)
            assert inputs["memorySize"] == memory
            assert inputs["publish"] is True
            assert inputs["tracingConfig"] == {"mode": "Active"}
            if name == "poller":  # one pass at a time
                assert inputs["reservedConcurrentExecutions"] == 1
            else:
                assert "reservedConcurrentExecutions" not in inputs

    return deploy(check)


@pulumi.runtime.test
def test_environment_names_the_table_the_secrets_prefix_and_the_cursor_key() -> Any:
    def check(_: Functions, arns: list[str]) -> None:
        cursor_arn = arns[2]
        for name in NAMES:
            env = named(FUNCTION, f"f-{name}").inputs["environment"]["variables"]
            assert env["TABLE_NAME"] == "waybill-dev"
            assert env["SECRETS_PREFIX"] == stack_prefix("dev")
            assert env["POWERTOOLS_SERVICE_NAME"] == "waybill-dev"  # metrics per stack
            assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Waybill"
            assert env["LOG_LEVEL"] == "INFO"
            reads = name in ("ingest", "query", "console")  # the console: its session key
            assert env.get("CURSOR_KEY_SECRET") == (cursor_arn if reads else None)

    return deploy(check)


@pulumi.runtime.test
def test_the_endpoint_functions_name_the_key_of_endpoint_secrets_and_refuse_insecure_urls() -> Any:
    def check(_: Functions, arns: list[str]) -> None:
        key_arn = arns[1]
        for name in NAMES:
            env = named(FUNCTION, f"f-{name}").inputs["environment"]["variables"]
            if name == "authorizer":  # neither calls out nor opens a secret
                assert "NOTIFY_KEY_ID" not in env and "NOTIFY_ALLOW_INSECURE" not in env
                continue
            assert env["NOTIFY_ALLOW_INSECURE"] == "false", name  # endpoints and carriers
            if name == "poller":  # calls carriers, never opens an endpoint secret
                assert "NOTIFY_KEY_ID" not in env
                continue
            assert env["NOTIFY_KEY_ID"] == key_arn, name  # without it, sealing fails closed

    return deploy(check)


@pulumi.runtime.test
def test_a_test_stack_may_allow_insecure_endpoints() -> Any:
    settings = StackSettings.for_stack("ci", allow_insecure_endpoints=True)
    table = Table("t", settings)
    secrets = PartnerSecrets("s", settings, TENANTS, table.kms_key)
    code = pulumi.AssetArchive({"gateway/__init__.py": pulumi.StringAsset("")})
    functions = Functions("f", settings, table, secrets, code, TENANTS)

    def check(_: Any) -> None:
        for name in ("ingest", "query", "notify", "sweeper", "poller"):
            env = named(FUNCTION, f"f-{name}").inputs["environment"]["variables"]
            assert env["NOTIFY_ALLOW_INSECURE"] == "true", name

    return pulumi.Output.all(*(a.arn for a in functions.aliases.values())).apply(check)


@pulumi.runtime.test
def test_each_function_logs_to_its_own_managed_group_with_the_stack_retention() -> Any:
    def check(functions: Functions, _: list[str]) -> None:
        groups = resources_of("aws:cloudwatch/logGroup:LogGroup")
        assert len(groups) == 7 and set(functions.log_groups) == set(functions.functions)
        for name in functions.functions:
            group = named("aws:cloudwatch/logGroup:LogGroup", f"f-{name}-logs").inputs
            assert group["name"] == f"/aws/lambda/waybill-dev-{name}"
            assert group["retentionInDays"] == 90
            logging = named(FUNCTION, f"f-{name}").inputs["loggingConfig"]
            assert logging["logGroup"] == group["name"]
            # Lambda's own START/END/REPORT lines are INFO: filtered out (log cost)
            assert (logging["logFormat"], logging["systemLogLevel"]) == ("JSON", "WARN")

    return deploy(check, log_retention_days=90)


@pulumi.runtime.test
def test_each_role_allows_exactly_the_actions_its_code_calls() -> Any:
    def check(functions: Functions, _: list[str]) -> None:
        assert len(resources_of("aws:iam/role:Role")) == 7 == len(functions.roles)
        for name, expected in ALLOWED.items():
            statements = policy(name)["Statement"]
            actions = {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}
            assert actions == expected, name
            assert not any("*" in a for s in statements for a in s["Action"])

    return deploy(check)


@pulumi.runtime.test
def test_every_resource_is_an_expected_arn_and_xray_is_the_only_wildcard() -> Any:
    def check(_: Functions, arns: list[str]) -> None:
        table_arn, key_arn, cursor_arn, stream_arn, console_arn = arns[:5]
        for name in ALLOWED:
            expected = {
                LOGS.format(name),
                table_arn,
                key_arn,
                f"{table_arn}/index/{INDEX_NAME}",
                f"{table_arn}/index/{DUE_INDEX_NAME}",
                f"{SECRETS}*",
                f"{SECRETS}plan_keys/*",
                f"{SECRETS}ops_console/*",  # ingest's Deny
                f"{SECRETS}*/*",  # the console: the tenants' secrets
                cursor_arn,
                console_arn,
                stream_arn,
                DLQ,
                *API_SLOTS,
            }
            for statement in policy(name)["Statement"]:
                if statement["Resource"] == ["*"]:
                    assert set(statement["Action"]) == XRAY
                    continue
                assert set(statement["Resource"]) <= expected, statement
                if any(a.startswith("logs:") for a in statement["Action"]):
                    assert statement["Resource"] == [LOGS.format(name)]  # its own group only
                if any(a.startswith("kms:") for a in statement["Action"]):
                    assert statement["Resource"] == [key_arn]
                    assert statement["Condition"]["StringEquals"], statement  # never bare
                if set(statement["Action"]) & STREAM:
                    assert name == "notify" and statement["Resource"] == [stream_arn]
                if "sqs:SendMessage" in statement["Action"]:
                    assert name == "notify" and statement["Resource"] == [DLQ]
                if set(statement["Resource"]) & set(API_SLOTS):
                    assert name == "poller" and statement["Resource"] == API_SLOTS

    return deploy(check)


@pulumi.runtime.test
def test_the_cmk_is_used_directly_only_for_the_endpoint_secrets_data_key() -> Any:
    context = {"kms:EncryptionContext:waybill": "endpoint-secrets"}

    def check(_: Functions, arns: list[str]) -> None:
        key_arn = arns[1]
        for name in ALLOWED:
            kms = [s for s in policy(name)["Statement"] if s["Action"][0].startswith("kms:")]
            via = [s for s in kms if "kms:ViaService" in s["Condition"]["StringEquals"]]
            direct = [s for s in kms if s not in via]
            rotates = [["kms:GenerateDataKey"]] if name == "console" else []
            assert [s["Action"] for s in via] == [["kms:Decrypt"], *rotates], name
            if rotates:  # a rotated secret's new version, encrypted through Secrets Manager
                through = via[1]["Condition"]["StringEquals"]["kms:ViaService"]
                assert through == f"secretsmanager.{REGION}.amazonaws.com"
            services = set(via[0]["Condition"]["StringEquals"]["kms:ViaService"])
            reads_secrets = name in ("ingest", "query", "authorizer", "poller", "console")
            assert services == {f"dynamodb.{REGION}.amazonaws.com"} | (
                {f"secretsmanager.{REGION}.amazonaws.com"} if reads_secrets else set()
            ), name
            actions = {
                "ingest": ["kms:Decrypt", "kms:GenerateDataKey"],  # seals the first secret
                "notify": ["kms:Decrypt"],  # opens secrets, never seals one
                "sweeper": ["kms:Decrypt"],
                "console": ["kms:Decrypt"],  # a resend signs with the endpoint's secret
            }.get(name)
            if actions is None:
                assert direct == [], name
                continue
            (statement,) = direct
            assert statement["Action"] == actions and statement["Resource"] == [key_arn]
            assert statement["Condition"] == {"StringEquals": context}, name

    return deploy(check)


@pulumi.runtime.test
def test_secret_access_is_split_between_partner_keys_plan_keys_and_cursor_key() -> Any:
    read = "secretsmanager:GetSecretValue"
    partner = f"{SECRETS}acme/shippo-AbC123"
    plan_key = f"{SECRETS}plan_keys/acme-XyZ789"
    api = f"{SECRETS}globex/ups.api-Zx9Yw8"

    def check(_: Functions, arns: list[str]) -> None:
        cursor_arn = arns[2]
        ingest, query, authorizer = policy("ingest"), policy("query"), policy("authorizer")
        assert allows(ingest, read, partner) and allows(ingest, read, f"{SECRETS}cursor_key-Q1w2E3")
        assert allows(ingest, read, api)  # a manual refresh calls the carrier
        assert not allows(ingest, read, plan_key)  # the explicit Deny
        poller = policy("poller")  # the carriers' API credentials, nothing else
        assert allows(poller, read, api) and allows(poller, read, f"{SECRETS}globex/ups.api")
        for other in (
            partner,
            plan_key,
            cursor_arn,
            f"{SECRETS}globex/ups-Zx9Yw8",
            f"{SECRETS}globex/ups.oauth-Zx9Yw8",
            f"{SECRETS}globex/ups.apix-Zx9Yw8",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:waybill/prod/globex/ups.api-Zx9Yw8",
        ):
            assert not allows(poller, read, other), other
        assert not allows(query, read, api) and not allows(authorizer, read, api)
        assert allows(authorizer, read, plan_key)
        assert not allows(authorizer, read, partner)
        assert not allows(authorizer, read, cursor_arn)
        assert allows(query, read, cursor_arn)
        assert not allows(query, read, partner) and not allows(query, read, plan_key)
        console_arn = arns[4]  # the credential's digest: the console's, never ingest's
        console = policy("console")
        assert allows(console, read, console_arn) and allows(console, read, cursor_arn)
        rotate = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")
        for action in (read, *rotate):  # a tenant page lists them; rotate rotates them
            assert allows(console, action, partner) and allows(console, action, api), action
            assert not allows(console, action, plan_key), action
        for action in rotate:  # never its own credential, nor the cursor key
            assert not allows(console, action, console_arn), action
            assert not allows(console, action, cursor_arn), action
        assert not allows(ingest, read, console_arn)
        assert not allows(ingest, read, f"{SECRETS}ops_console/credential-AbC123")
        for function in ("query", "authorizer", "poller"):
            assert not allows(policy(function), read, console_arn), function

    return deploy(check)


def leading_keys(function: str, action: str) -> list[str]:
    """The key prefixes ``function`` may use ``action`` on, on the table itself."""
    found: list[str] = []
    for statement in policy(function)["Statement"]:
        if f"dynamodb:{action}" not in statement["Action"]:
            continue
        if not all(r.endswith(":t-table") for r in statement["Resource"]):
            continue  # an index
        condition = statement["Condition"]["ForAllValues:StringLike"]
        found += condition["dynamodb:LeadingKeys"]
    return found


def index_partitions(function: str, statement: dict[str, Any]) -> list[str]:
    """The index partitions an index statement of ``function`` allows ([]: any)."""
    condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
    return list(condition.get("dynamodb:LeadingKeys", []))


def due_partitions(function: str) -> list[str]:
    """The due-index partitions ``function`` may Query."""
    return [
        p
        for s in policy(function)["Statement"]
        if any(r.endswith(f"/index/{DUE_INDEX_NAME}") for r in s["Resource"])
        for p in index_partitions(function, s)
    ]


def index_queries(function: str) -> list[str]:
    """The indexes ``function`` may Query."""
    return [
        r.rsplit("/index/", 1)[1]
        for s in policy(function)["Statement"]
        for r in s["Resource"]
        if "/index/" in r
    ]


@pulumi.runtime.test
def test_every_table_statement_is_scoped_to_key_prefixes_and_no_one_reaches_api_keys() -> Any:
    def check(_: Functions, __: list[str]) -> None:
        for function in ALLOWED:
            for statement in policy(function)["Statement"]:
                if not any(a.startswith("dynamodb:") for a in statement["Action"]):
                    continue
                if set(statement["Action"]) <= STREAM:
                    continue
                if any("/index/" in r for r in statement["Resource"]):
                    assert statement["Action"] == ["dynamodb:Query"], function
                    assert index_partitions(function, statement) in (
                        [],
                        ["DUE#*"],
                        ["POLL#*"],
                        ["TRK#*"],  # the console: trackers by state, nothing else
                        ["DUE#*", "POLL#*"],  # the console: counts of what is due
                    )
                    continue
                prefixes = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                assert prefixes, function
                if function != "authorizer":
                    assert "APIKEY#*" not in prefixes, function
        assert leading_keys("authorizer", "GetItem") == ["APIKEY#*"]
        assert leading_keys("query", "UpdateItem") == ["L#*"]  # it only counts requests

    return deploy(check)


@pulumi.runtime.test
def test_notify_and_sweeper_reach_only_endpoints_messages_shipments_audit_and_the_data_key() -> Any:
    def check(_: Functions, __: list[str]) -> None:
        for function in ("notify", "sweeper"):
            every = {
                p
                for action in ("Query", "GetItem", "PutItem", "UpdateItem", "DeleteItem")
                for p in leading_keys(function, action)
            } | set(
                leading_keys(function, "BatchGetItem") + leading_keys(function, "BatchWriteItem")
            )
            assert every <= {"N#*", "M#*", "S#*", "A#*", "K#notify"}, function
            assert not {"APIKEY#*", "P#*", "L#*"} & every, function
            assert "K#notify" not in leading_keys(function, "PutItem")  # never replaces the key
            assert leading_keys(function, "DeleteItem") == []
        assert leading_keys("notify", "Query") == ["N#*"]  # a tenant's endpoints, nothing else
        assert leading_keys("sweeper", "Query") == []
        assert leading_keys("notify", "PutItem") == ["M#*"]
        assert leading_keys("sweeper", "BatchGetItem") == ["M#*"]

    return deploy(check)


@pulumi.runtime.test
def test_poller_reaches_only_shipments_budgets_check_logs_and_its_leases() -> Any:
    """Trackers and the write path of events live in shipment partitions; besides, the
    poller writes the day's check logs, spends the budgets and leases the due shards."""

    def check(_: Functions, __: list[str]) -> None:
        every = {
            p
            for action in ("Query", "GetItem", "PutItem", "UpdateItem", "BatchGetItem")
            for p in leading_keys("poller", action)
        }
        assert every == {"S#*", "Q#*", "CHK#*#*#????-??-??", "LEASE#poll"}
        # events, pages and the day's check log (never a hard-cap counter, L#{t}#{day}#{n})
        assert leading_keys("poller", "PutItem") == ["S#*", "CHK#*#*#????-??-??"]
        assert leading_keys("poller", "Query") == ["S#*"]
        assert leading_keys("poller", "BatchWriteItem") == []  # a poll audits nothing
        assert leading_keys("poller", "DeleteItem") == ["LEASE#poll"]  # a shard's lease
        for function in ("ingest", "query"):  # the trackers API: refresh spends, usage reads
            assert "Q#*" in leading_keys(function, "GetItem"), function
        assert "Q#*" in leading_keys("ingest", "UpdateItem")
        assert "Q#*" not in leading_keys("query", "UpdateItem")

    return deploy(check)


@pulumi.runtime.test
def test_only_query_reads_the_status_index_the_sweeper_and_the_poller_their_due_partitions() -> Any:
    def check(_: Functions, __: list[str]) -> None:
        assert index_queries("query") == [INDEX_NAME]
        assert index_queries("sweeper") == [DUE_INDEX_NAME]
        assert index_queries("poller") == [DUE_INDEX_NAME]
        assert due_partitions("sweeper") == ["DUE#*"]  # messages
        assert due_partitions("poller") == ["POLL#*"]  # trackers
        for function in ("ingest", "authorizer", "notify"):
            assert index_queries(function) == [], function
        assert "K#notify" not in leading_keys("query", "GetItem")  # GETs never open a secret

    return deploy(check)


@pulumi.runtime.test
def test_only_notify_reads_the_stream_and_sends_to_its_dead_letter_queue() -> Any:
    def check(_: Functions, arns: list[str]) -> None:
        stream_arn = arns[3]
        for function in ALLOWED:
            document = policy(function)
            reads = all(allows(document, a, stream_arn) for a in STREAM)
            sends = allows(document, "sqs:SendMessage", DLQ)
            assert reads is sends is (function == "notify"), function

    return deploy(check)


@pulumi.runtime.test
def test_live_alias_points_at_the_new_version_without_a_canary() -> Any:
    def check(functions: Functions, _: list[str]) -> None:
        assert {
            functions.ingest,
            functions.query,
            functions.authorizer,
            functions.notify,
            functions.sweeper,
            functions.poller,
            functions.console,
        } == set(functions.aliases.values())
        for alias in resources_of(ALIAS):
            assert alias.inputs["name"] == "live"
            assert alias.inputs["functionVersion"] == "1"  # the mock's published version
            assert not alias.inputs.get("routingConfig")

    return deploy(check)


@pulumi.runtime.test
@pytest.mark.parametrize(
    ("stable", "weights"),
    [("7", {"1": 0.1}), ("ingest=7,query=7,authorizer=1", None)],
)
def test_canary_keeps_the_stable_version_and_weights_the_new_one(
    stable: str, weights: dict[str, float] | None
) -> Any:
    def check(_: Functions, __: list[str]) -> None:
        for name in ("ingest", "query", "authorizer"):
            alias = named(ALIAS, f"f-{name}-alias").inputs
            kept = "1" if weights is None and name == "authorizer" else "7"
            assert alias["functionVersion"] == kept
            routing = alias["routingConfig"].get("additionalVersionWeights") or {}
            assert routing == ({} if kept == "1" else {"1": 0.1})
        # no canary: a batch is not a request; the console follows every deployment
        for name in ("notify", "sweeper", "poller", "console"):
            alias = named(ALIAS, f"f-{name}-alias").inputs
            assert alias["functionVersion"] == "1" and not alias.get("routingConfig")

    return deploy(check, canary_weight=0.1, stable_version=stable)


@pulumi.runtime.test
def test_a_stable_version_without_weight_pins_the_alias_for_a_rollback() -> Any:
    def check(_: Functions, __: list[str]) -> None:
        for name in ("ingest", "query", "authorizer"):
            alias = named(ALIAS, f"f-{name}-alias").inputs
            assert alias["functionVersion"] == "6"
            assert not alias["routingConfig"].get("additionalVersionWeights")

    return deploy(check, stable_version="6")
