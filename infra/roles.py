"""Least-privilege execution roles: one per function, each allowing only what its code calls.

DynamoDB access is a table of (action → key prefixes), read off the code paths each
function serves (``gateway/store``, ``gateway/tenancy/limits.py``, ``gateway/audit/windows.py``,
``gateway/aws/api_keys.py``), and scoped with ``dynamodb:LeadingKeys`` to the items of
those prefixes (prefixes taken from the key functions, so they cannot drift):

- ingest (POST webhooks, OAuth token, ``/v1/events``): shipment and parked items, the
  hard-cap counters and audit items; never an API key item, never the index.
- query (GET ``/v1/*``): ``Query`` on the table and the status index, batch reads of
  shipments and counters, counter updates (the hard cap) and audit writes only.
- authorizer: ``GetItem`` of API key items.

Secrets: ingest reads ``waybill/{stack}/*`` but is explicitly denied ``plan_keys/*``;
query reads only the cursor key; the authorizer only ``plan_keys/*``. ``kms:Decrypt`` on
the stack's CMK only through DynamoDB and Secrets Manager (both decrypt on behalf of the
caller). X-Ray writes need ``Resource: "*"``: the only wildcard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from gateway.aws.api_keys import api_key_pk
from gateway.aws.secrets import plan_key_secret_id, stack_prefix
from gateway.store.keys import audit_pk, parked_pk, shipment_pk
from gateway.tenancy.limits import counter_key

Statement = dict[str, Any]


def _prefix(key: str) -> str:
    return key.split("#", 1)[0] + "#*"


SHIPMENTS = _prefix(shipment_pk("t", "n"))
PARKED = _prefix(parked_pk("t", "0"))
COUNTERS = _prefix(counter_key("t", "d", 0)["pk"]["S"])
AUDIT = _prefix(audit_pk("t", "d", "0"))
API_KEYS = _prefix(api_key_pk("0"))

TABLE_ACCESS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "ingest": {
        "GetItem": (SHIPMENTS, PARKED),  # states before an update; an already parked body
        "PutItem": (SHIPMENTS, PARKED),  # events (conditional), parked deliveries
        "UpdateItem": (SHIPMENTS, COUNTERS),  # shipment states, hard-cap counters
        "BatchGetItem": (COUNTERS,),  # the day's hard-cap total
        "BatchWriteItem": (AUDIT,),  # the audit
    },
    "query": {
        "Query": (),  # () = any item, on the table and the status index
        "BatchGetItem": (SHIPMENTS, COUNTERS),  # search hits' states; hard-cap total
        "UpdateItem": (COUNTERS,),
        "BatchWriteItem": (AUDIT,),
    },
    "authorizer": {"GetItem": (API_KEYS,)},
}
"""Per function: each DynamoDB action its code calls → the key prefixes it touches."""
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


@dataclass(frozen=True)
class Scope:
    """The resolved names and ARNs a policy refers to."""

    partition: str
    region: str
    account: str
    stack: str
    table_arn: str
    kms_key_arn: str
    cursor_key_arn: str

    def arn(self, service: str, resource: str) -> str:
        """``arn:{partition}:{service}:{region}:{account}:{resource}``."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def secrets(self, pattern: str) -> str:
        """The ARN pattern of this stack's secrets named ``waybill/{stack}/{pattern}``."""
        return self.arn("secretsmanager", f"secret:{stack_prefix(self.stack)}{pattern}")

    def plan_keys(self) -> str:
        """The ARN pattern of the stack's usage-plan key secrets."""
        pattern = plan_key_secret_id(stack_prefix(self.stack), "*")
        return self.arn("secretsmanager", f"secret:{pattern}")


def _statement(
    effect: str, actions: list[str], resources: list[str], condition: Statement | None = None
) -> Statement:
    statement: Statement = {"Effect": effect, "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def table_statements(function: str, scope: Scope) -> list[Statement]:
    """The function's DynamoDB statements: one per distinct set of key prefixes."""
    by_prefixes: dict[tuple[str, ...], list[str]] = {}
    for action, prefixes in TABLE_ACCESS[function].items():
        by_prefixes.setdefault(prefixes, []).append(f"dynamodb:{action}")
    statements = []
    for prefixes, actions in by_prefixes.items():
        if not prefixes:
            resources = [scope.table_arn, f"{scope.table_arn}/index/*"]
            statements.append(_statement("Allow", actions, resources))
            continue
        leading = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(prefixes)}}
        statements.append(_statement("Allow", actions, [scope.table_arn], leading))
    return statements


def secret_statements(function: str, scope: Scope) -> list[Statement]:
    """Which secrets the function may read (and, for ingest, which it may not)."""
    read = ["secretsmanager:GetSecretValue"]
    if function == "ingest":
        return [
            _statement("Allow", read, [scope.secrets("*")]),
            _statement("Deny", read, [scope.plan_keys()]),
        ]
    if function == "query":
        return [_statement("Allow", read, [scope.cursor_key_arn])]
    return [_statement("Allow", read, [scope.plan_keys()])]


def policy_document(function: str, scope: Scope, log_group: str, *, tracing: bool) -> Statement:
    """The complete inline policy of ``function``'s role."""
    via = [f"{service}.{scope.region}.amazonaws.com" for service in ("dynamodb", "secretsmanager")]
    statements = [
        _statement(
            "Allow",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [scope.arn("logs", f"log-group:{log_group}:*")],
        ),
        *table_statements(function, scope),
        *secret_statements(function, scope),
        _statement(
            "Allow",
            ["kms:Decrypt"],
            [scope.kms_key_arn],
            {"StringEquals": {"kms:ViaService": via}},
        ),
    ]
    if tracing:
        statements.append(_statement("Allow", list(XRAY_ACTIONS), ["*"]))
    return {"Version": "2012-10-17", "Statement": statements}


def lambda_role(
    name: str, policy: pulumi.Input[str], parent: pulumi.Resource
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role Lambda may assume, with ``policy`` as its only (inline) policy."""
    assume = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=json.dumps(assume),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=role),
    )
    return role, role_policy
