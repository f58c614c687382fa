"""Least-privilege execution roles: one per function, each allowing only what its code calls.

DynamoDB access is a table of (action → key prefixes), read off the code paths each
function serves (``gateway/store``, ``gateway/notify``, ``gateway/tenancy/limits.py``,
``gateway/audit/windows.py``, ``gateway/aws/api_keys.py``) and replayed against these
policies by ``tests/infra/test_replay.py``, and scoped with ``dynamodb:LeadingKeys`` to
the items of those prefixes (prefixes taken from the key functions, so they cannot drift):

- ingest (POST and DELETE routes: webhooks, OAuth token, ``/v1/events``, the endpoint
  API's writes): shipment and parked items, the hard-cap counters, audit items, a
  tenant's endpoints and their messages, the data key item; never an API key item,
  never an index.
- query (GET ``/v1/*``): ``Query`` of shipments, endpoints and messages and of the status
  index, batch reads of shipments and counters, counter updates (the hard cap), and
  reading one endpoint; no audit writes (refused reads are not audited).
- authorizer: ``GetItem`` of API key items.
- notify (the table's stream): a tenant's endpoints, shipment items (states, event
  documents), messages, the data key item, audit writes; and the stream itself, and
  ``sqs:SendMessage`` to its dead-letter queue (the event source mapping's on-failure
  destination is sent with the function's role).
- sweeper (every minute): ``Query`` of the due index only, messages, endpoints, event
  documents, the data key item, audit writes.

Secrets: ingest reads ``waybill/{stack}/*`` but is explicitly denied ``plan_keys/*``;
query reads only the cursor key; the authorizer only ``plan_keys/*``; notify and the
sweeper none. ``kms:Decrypt`` on the stack's CMK through DynamoDB (and Secrets Manager
for the functions that read secrets: both decrypt on behalf of the caller). The
endpoint secrets' data key is the one direct use of the CMK, only with its encryption
context: ingest may generate it (the first endpoint seals its secret) and decrypt it;
notify and the sweeper only decrypt it (they open secrets, never seal one). X-Ray writes
need ``Resource: "*"``: the only wildcard.
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
from gateway.notify.sealing import ENCRYPTION_CONTEXT
from gateway.store.due_index import DUE_INDEX_NAME
from gateway.store.index import INDEX_NAME
from gateway.store.keys import (
    NOTIFY_KEY_ITEM,
    audit_pk,
    endpoint_pk,
    message_pk,
    parked_pk,
    shipment_pk,
)
from gateway.tenancy.limits import counter_key
from infra.settings import notify_dlq_name

Statement = dict[str, Any]


def _prefix(key: str) -> str:
    return key.split("#", 1)[0] + "#*"


SHIPMENTS = _prefix(shipment_pk("t", "n"))
PARKED = _prefix(parked_pk("t", "0"))
COUNTERS = _prefix(counter_key("t", "d", 0)["pk"]["S"])
AUDIT = _prefix(audit_pk("t", "d", "0"))
API_KEYS = _prefix(api_key_pk("0"))
ENDPOINTS = _prefix(endpoint_pk("t"))
MESSAGES = _prefix(message_pk("t", "e", 0))
DATA_KEY = NOTIFY_KEY_ITEM["pk"]["S"]  # one item: no wildcard

TABLE_ACCESS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "ingest": {
        # a shipment's state and pages (the write path); a tenant's endpoints (the limit
        # on create); an endpoint's messages (delete, enable, recover)
        "Query": (SHIPMENTS, ENDPOINTS, MESSAGES),
        # a racing writer's event; an already parked body; an endpoint; a message to
        # resend; the data key
        "GetItem": (SHIPMENTS, PARKED, ENDPOINTS, MESSAGES, DATA_KEY),
        # events and pages (conditional), parked deliveries, a new endpoint, the data key
        "PutItem": (SHIPMENTS, PARKED, ENDPOINTS, DATA_KEY),
        # shipment states, hard-cap counters, endpoints, message states
        "UpdateItem": (SHIPMENTS, COUNTERS, ENDPOINTS, MESSAGES),
        "DeleteItem": (ENDPOINTS,),
        "BatchGetItem": (SHIPMENTS, COUNTERS),  # events a racing writer stored; the cap
        "BatchWriteItem": (AUDIT,),  # the audit
    },
    "query": {
        "Query": (SHIPMENTS, ENDPOINTS, MESSAGES),  # and the status index (INDEX_ACCESS)
        "GetItem": (ENDPOINTS,),  # the endpoint whose messages are listed
        "BatchGetItem": (SHIPMENTS, COUNTERS),  # search hits' states; hard-cap total
        "UpdateItem": (COUNTERS,),  # no audit: refused reads are not audited
    },
    "authorizer": {"GetItem": (API_KEYS,)},
    "notify": {
        "Query": (ENDPOINTS,),  # a tenant's endpoints, once per batch
        # a state or event document not in the batch; a message that exists already;
        # the data key
        "GetItem": (SHIPMENTS, MESSAGES, DATA_KEY),
        "PutItem": (MESSAGES,),  # a new message (conditional)
        "UpdateItem": (MESSAGES, ENDPOINTS),  # attempt outcomes; failing since, disable
        "BatchWriteItem": (AUDIT,),  # an endpoint disabled
    },
    "sweeper": {
        "BatchGetItem": (MESSAGES,),  # the due messages (the index holds keys only)
        "UpdateItem": (MESSAGES, ENDPOINTS),  # claims and outcomes; failing since, disable
        "GetItem": (SHIPMENTS, ENDPOINTS, DATA_KEY),  # event documents, endpoints, data key
        "BatchWriteItem": (AUDIT,),
    },
}
"""Per function: each DynamoDB action its code calls on the table → the key prefixes it
touches (``dynamodb:LeadingKeys``)."""
INDEX_ACCESS: Mapping[str, tuple[str, ...]] = {
    "query": (INDEX_NAME,),  # search by status
    "sweeper": (DUE_INDEX_NAME,),  # what is due (KEYS_ONLY, sharded partitions DUE#n)
}
"""Per function: the indexes it may ``Query`` (no other index, no other action)."""
KMS_DATA_KEY: Mapping[str, tuple[str, ...]] = {
    "ingest": ("kms:Decrypt", "kms:GenerateDataKey"),
    "notify": ("kms:Decrypt",),
    "sweeper": ("kms:Decrypt",),
}
"""Per function: its direct calls to the CMK for the endpoint secrets' data key."""
READS_SECRETS = ("ingest", "query", "authorizer")
STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
STREAM_READERS = ("notify",)
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
    stream_arn: str

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

    @property
    def notify_dlq_arn(self) -> str:
        """The notifier's dead-letter queue (named by the stack, so known before it exists)."""
        return self.arn("sqs", notify_dlq_name(self.stack))


def _statement(
    effect: str, actions: list[str], resources: list[str], condition: Statement | None = None
) -> Statement:
    statement: Statement = {"Effect": effect, "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def table_statements(function: str, scope: Scope) -> list[Statement]:
    """The function's DynamoDB statements: one per distinct set of key prefixes, then its
    index queries."""
    by_prefixes: dict[tuple[str, ...], list[str]] = {}
    for action, prefixes in TABLE_ACCESS[function].items():
        by_prefixes.setdefault(prefixes, []).append(f"dynamodb:{action}")
    statements = []
    for prefixes, actions in by_prefixes.items():
        leading = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(prefixes)}}
        statements.append(_statement("Allow", actions, [scope.table_arn], leading))
    indexes = INDEX_ACCESS.get(function, ())
    if indexes:
        resources = [f"{scope.table_arn}/index/{name}" for name in indexes]
        statements.append(_statement("Allow", ["dynamodb:Query"], resources))
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
    if function == "authorizer":
        return [_statement("Allow", read, [scope.plan_keys()])]
    return []


def key_statements(function: str, scope: Scope) -> list[Statement]:
    """The CMK: via the services that decrypt for the caller, and the data key directly."""
    services = ("dynamodb", "secretsmanager") if function in READS_SECRETS else ("dynamodb",)
    via = [f"{service}.{scope.region}.amazonaws.com" for service in services]
    statements = [
        _statement(
            "Allow", ["kms:Decrypt"], [scope.kms_key_arn], {"StringEquals": {"kms:ViaService": via}}
        )
    ]
    direct = KMS_DATA_KEY.get(function)
    if direct:
        context = {f"kms:EncryptionContext:{k}": v for k, v in ENCRYPTION_CONTEXT.items()}
        statements.append(
            _statement("Allow", list(direct), [scope.kms_key_arn], {"StringEquals": context})
        )
    return statements


def notify_statements(function: str, scope: Scope) -> list[Statement]:
    """The stream (read by the event source mapping as the function) and its DLQ."""
    if function not in STREAM_READERS:
        return []
    return [
        _statement("Allow", list(STREAM_ACTIONS), [scope.stream_arn]),
        _statement("Allow", ["sqs:SendMessage"], [scope.notify_dlq_arn]),
    ]


def policy_document(function: str, scope: Scope, log_group: str, *, tracing: bool) -> Statement:
    """The complete inline policy of ``function``'s role."""
    statements = [
        _statement(
            "Allow",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [scope.arn("logs", f"log-group:{log_group}:*")],
        ),
        *table_statements(function, scope),
        *secret_statements(function, scope),
        *key_statements(function, scope),
        *notify_statements(function, scope),
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
