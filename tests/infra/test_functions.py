"""Function policies: runtime and wiring, managed logs, least-privilege roles, canary alias."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pulumi
import pytest

from gateway.aws.secrets import stack_prefix
from infra.functions import Functions
from infra.secrets import PartnerSecrets
from infra.settings import StackSettings
from infra.table import Table
from tests.infra.conftest import ACCOUNT, REGION
from tests.infra.helpers import TENANTS, as_json, named, resources_of

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/waybill-dev-{{}}:*"
SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:waybill/dev/"
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
COMMON = {"logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt"} | XRAY
ALLOWED = {
    "ingest": COMMON
    | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "secretsmanager:GetSecretValue",
    },
    "query": COMMON
    | {
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "secretsmanager:GetSecretValue",
    },
    "authorizer": COMMON | {"dynamodb:GetItem", "secretsmanager:GetSecretValue"},
}


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
            "ingest": ("gateway.aws.handler.lambda_handler", 10, 512),
            "query": ("gateway.aws.handler.lambda_handler", 10, 512),
            "authorizer": ("gateway.aws.authorizer.authorizer_handler", 5, 256),
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
            assert "reservedConcurrentExecutions" not in inputs

    return deploy(check)


@pulumi.runtime.test
def test_environment_names_the_table_the_secrets_prefix_and_the_cursor_key() -> Any:
    def check(_: Functions, arns: list[str]) -> None:
        cursor_arn = arns[2]
        for name in ("ingest", "query", "authorizer"):
            env = named(FUNCTION, f"f-{name}").inputs["environment"]["variables"]
            assert env["TABLE_NAME"] == "waybill-dev"
            assert env["SECRETS_PREFIX"] == stack_prefix("dev")
            assert env["POWERTOOLS_SERVICE_NAME"] == "waybill-dev"  # metrics per stack
            assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Waybill"
            assert env["LOG_LEVEL"] == "INFO"
            assert env.get("CURSOR_KEY_SECRET") == (None if name == "authorizer" else cursor_arn)

    return deploy(check)


@pulumi.runtime.test
def test_each_function_logs_to_its_own_managed_group_with_the_stack_retention() -> Any:
    def check(functions: Functions, _: list[str]) -> None:
        groups = resources_of("aws:cloudwatch/logGroup:LogGroup")
        assert len(groups) == 3 and set(functions.log_groups) == set(functions.functions)
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
        assert len(resources_of("aws:iam/role:Role")) == 3 == len(functions.roles)
        for name, expected in ALLOWED.items():
            statements = policy(name)["Statement"]
            actions = {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}
            assert actions == expected, name
            assert not any("*" in a for s in statements for a in s["Action"])

    return deploy(check)


@pulumi.runtime.test
def test_every_resource_is_an_expected_arn_and_xray_is_the_only_wildcard() -> Any:
    def check(_: Functions, arns: list[str]) -> None:
        table_arn, key_arn, cursor_arn = arns[:3]
        for name in ALLOWED:
            expected = {
                LOGS.format(name),
                table_arn,
                key_arn,
                f"{table_arn}/index/*",
                f"{SECRETS}*",
                f"{SECRETS}plan_keys/*",
                cursor_arn,
            }
            for statement in policy(name)["Statement"]:
                if statement["Resource"] == ["*"]:
                    assert set(statement["Action"]) == XRAY
                    continue
                assert set(statement["Resource"]) <= expected, statement
                if any(a.startswith("logs:") for a in statement["Action"]):
                    assert statement["Resource"] == [LOGS.format(name)]  # its own group only
                if statement["Action"] == ["kms:Decrypt"]:
                    assert statement["Resource"] == [key_arn]
                    assert "kms:ViaService" in statement["Condition"]["StringEquals"]

    return deploy(check)


@pulumi.runtime.test
def test_secret_access_is_split_between_partner_keys_plan_keys_and_cursor_key() -> Any:
    read = "secretsmanager:GetSecretValue"
    partner = f"{SECRETS}acme/shippo-AbC123"
    plan_key = f"{SECRETS}plan_keys/acme-XyZ789"

    def check(_: Functions, arns: list[str]) -> None:
        cursor_arn = arns[2]
        ingest, query, authorizer = policy("ingest"), policy("query"), policy("authorizer")
        assert allows(ingest, read, partner) and allows(ingest, read, f"{SECRETS}cursor_key-Q1w2E3")
        assert not allows(ingest, read, plan_key)  # the explicit Deny
        assert allows(authorizer, read, plan_key)
        assert not allows(authorizer, read, partner)
        assert not allows(authorizer, read, cursor_arn)
        assert allows(query, read, cursor_arn)
        assert not allows(query, read, partner) and not allows(query, read, plan_key)

    return deploy(check)


@pulumi.runtime.test
def test_item_level_scoping_keeps_ingest_and_query_away_from_api_keys() -> Any:
    def leading_keys(function: str) -> list[list[str] | None]:
        return [
            s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            for s in policy(function)["Statement"]
            if any(a.startswith("dynamodb:") for a in s["Action"])
            and s["Action"] != ["dynamodb:Query"]
        ]

    def check(_: Functions, __: list[str]) -> None:
        for function in ("ingest", "query"):
            for prefixes in leading_keys(function):
                assert prefixes and "APIKEY#*" not in prefixes, function
        assert leading_keys("authorizer") == [["APIKEY#*"]]
        writes = [s for s in policy("query")["Statement"] if "dynamodb:UpdateItem" in s["Action"]]
        assert [s["Condition"]["ForAllValues:StringLike"] for s in writes] == [
            {"dynamodb:LeadingKeys": ["L#*"]}  # the query path only counts requests
        ]

    return deploy(check)


@pulumi.runtime.test
def test_live_alias_points_at_the_new_version_without_a_canary() -> Any:
    def check(functions: Functions, _: list[str]) -> None:
        assert {functions.ingest, functions.query, functions.authorizer} == set(
            functions.aliases.values()
        )
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

    return deploy(check, canary_weight=0.1, stable_version=stable)


@pulumi.runtime.test
def test_a_stable_version_without_weight_pins_the_alias_for_a_rollback() -> Any:
    def check(_: Functions, __: list[str]) -> None:
        for name in ("ingest", "query", "authorizer"):
            alias = named(ALIAS, f"f-{name}-alias").inputs
            assert alias["functionVersion"] == "6"
            assert not alias["routingConfig"].get("additionalVersionWeights")

    return deploy(check, stable_version="6")
