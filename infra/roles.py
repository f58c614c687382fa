"""Least-privilege execution roles: one per function, each allowing only what its code calls.

DynamoDB access is a table of (action → key prefixes), read off the code paths each
function serves (``gateway/store``, ``gateway/notify``, ``gateway/poll``,
``gateway/tenancy/limits.py``, ``gateway/audit/windows.py``, ``gateway/aws/api_keys.py``)
and replayed against these policies by ``tests/infra/test_replay.py``, and scoped with
``dynamodb:LeadingKeys`` to the items of those prefixes (prefixes taken from the key
functions, so they cannot drift):

- ingest (POST and DELETE routes: webhooks, OAuth token, ``/v1/events``, the endpoint
  API's and the trackers API's writes): shipment and parked items (trackers live in the
  shipment's partition), the hard-cap counters, the poll budget counters and the day's
  check log (a manual refresh spends the budget and logs its check), audit items, a
  tenant's endpoints and their messages, the data key item; never an API key item,
  never an index.
- query (GET ``/v1/*``): ``Query`` of shipments, endpoints and messages and of the status
  index (which lists trackers too), batch reads of shipments and counters, counter
  updates (the hard cap), reading one endpoint, one tracker and a poll budget counter;
  no audit writes (refused reads are not audited).
- authorizer: ``GetItem`` of API key items.
- notify (the table's stream): a tenant's endpoints, shipment items (states, event
  documents), messages, the data key item, audit writes; and the stream itself, and
  ``sqs:SendMessage`` to its dead-letter queue (the event source mapping's on-failure
  destination is sent with the function's role).
- sweeper (every minute): ``Query`` of the due index's message partitions only, messages,
  endpoints, event documents, the data key item, audit writes.
- poller (every minute): ``Query`` of the due index's tracker partitions only, the
  leases of its shards (one ``LEASE#poll`` partition), tracker items and the write path
  of events (both in shipment partitions), the day's check logs (``PutItem`` only), the
  poll budget counters; no audit (a poll stores no delivery), no endpoint, no message.
- console (the ops console's pages and actions): ``Query`` of shipments, parked
  deliveries, the audit's windows, endpoints, messages and check logs; reading one
  tracker, endpoint, message, poll budget or the data key; batch reads of shipments,
  messages, the usage counters (read only) and its login throttle's windows; the write
  path of a replay and a refresh (shipment items, the check log, the poll budget), a
  parked copy deleted once replayed, endpoint and message states (enable, disable,
  resend, recover), the audit (a replay's outcomes), its change audit (``CH#``, each
  action) and its login throttle (``CL#``); the status index's tracker partitions
  (``TRK#``) and the due index's partitions (counts of what is due); never an API key
  item, a usage counter write or a Scan.

Secrets: ingest reads ``waybill/{stack}/*`` but is explicitly denied ``plan_keys/*`` and
``ops_console/*`` (the console credential's digest); query reads only the cursor key; the
authorizer only ``plan_keys/*``; the poller only the carriers' API credential slots
(``waybill/{stack}/{tenant}/{carrier}.api``); the console the cursor key (its session
key is derived from it), its credential's secret, and the tenants' secrets
(``waybill/{stack}/*/*``), which it may also rotate (``PutSecretValue`` and
``UpdateSecretVersionStage``, with ``kms:GenerateDataKey`` through Secrets Manager for
the new version: Secrets Manager calls KMS itself, so moto's replay cannot show that
grant used), but never a plan key, and never writing its own credential or the cursor
key; notify and the sweeper none.
``kms:Decrypt`` on the stack's CMK through DynamoDB (and Secrets Manager for the functions
that read secrets: both decrypt on behalf of the caller). The endpoint secrets' data key
is the one direct use of the CMK, only with its encryption context: ingest may generate
it (the first endpoint seals its secret) and decrypt it; notify and the sweeper only
decrypt it (they open secrets, never seal one), as the console does (a resend signs);
the poller never touches it. X-Ray writes need ``Resource: "*"``: the only wildcard.

The due index's statements carry ``dynamodb:LeadingKeys`` too (the index's partition,
``DUE#n`` or ``POLL#n``): the index is KEYS_ONLY, so a Query of it returns keys and
nothing else, but each scheduled function reads only its own kind of work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from gateway.audit.change_table import change_pk
from gateway.aws.api_keys import api_key_pk
from gateway.aws.secrets import console_credential_secret_id, plan_key_secret_id, stack_prefix
from gateway.console.login_limits import limit_key
from gateway.notify.sealing import ENCRYPTION_CONTEXT
from gateway.poll.checks import log_pk
from gateway.poll.trackers import POLL_LEASE, listing_pk
from gateway.store import due_index
from gateway.store.due_index import DUE_INDEX_NAME
from gateway.store.index import INDEX_NAME
from gateway.store.keys import (
    NOTIFY_KEY_ITEM,
    audit_pk,
    budget_key,
    endpoint_pk,
    message_pk,
    parked_pk,
    shipment_pk,
)
from gateway.tenancy.limits import counter_key
from infra.secrets import API_SLOT
from infra.settings import notify_dlq_name

Statement = dict[str, Any]
CONSOLE_SECRETS = console_credential_secret_id("").rsplit("/", 1)[0] + "/"  # "ops_console/"


def _prefix(key: str) -> str:
    return key.split("#", 1)[0] + "#*"


SHIPMENTS = _prefix(shipment_pk("t", "n"))
PARKED = _prefix(parked_pk("t", "0"))
COUNTERS = _prefix(counter_key("t", "d", 0)["pk"]["S"])
AUDIT = _prefix(audit_pk("t", "d", "0"))
API_KEYS = _prefix(api_key_pk("0"))
ENDPOINTS = _prefix(endpoint_pk("t"))
MESSAGES = _prefix(message_pk("t", "e", 0))
BUDGETS = _prefix(budget_key("t", "c", "2026-01-01")["pk"]["S"])
# A day's check log shares its ``L#`` with the hard-cap counters (``L#{tenant}#{day}#{n}``):
# only the shape of its key tells it apart, a partition ending in a UTC day.
CHECK_LOGS = log_pk("*", "*", "????-??-??")
POLL_LEASES = POLL_LEASE  # the poll pass's lease
DATA_KEY = NOTIFY_KEY_ITEM["pk"]["S"]  # one item: no wildcard
CHANGES = _prefix(change_pk("t", "2026-01"))  # the change audit (console, CLI --stack)
LOGIN_LIMITS = _prefix(limit_key("all", 0)["pk"]["S"])  # the console's login throttle
DUE_MESSAGES = _prefix(due_index.due_partition(0, due_index.MESSAGES))
DUE_TRACKERS = _prefix(due_index.due_partition(0, due_index.TRACKERS))
TRACKER_LISTS = _prefix(listing_pk("t", "active"))  # the status index's tracker partitions

TABLE_ACCESS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "ingest": {
        # a shipment's state, pages and trackers (the write path); a tenant's endpoints
        # (the limit on create); an endpoint's messages (delete, enable, recover)
        "Query": (SHIPMENTS, ENDPOINTS, MESSAGES),
        # a racing writer's event, a tracker; an already parked body; an endpoint; a
        # message to resend; the data key; what is left of a spent poll budget (refresh)
        "GetItem": (SHIPMENTS, PARKED, ENDPOINTS, MESSAGES, DATA_KEY, BUDGETS),
        # events and pages (conditional), a new tracker, parked deliveries, a new
        # endpoint, the data key, a refresh's check in the day's check log
        "PutItem": (SHIPMENTS, PARKED, ENDPOINTS, DATA_KEY, CHECK_LOGS),
        # shipment states and trackers (claim, outcome, retire, queue first), hard-cap
        # counters, endpoints, message states, the poll budget (a manual refresh)
        "UpdateItem": (SHIPMENTS, COUNTERS, ENDPOINTS, MESSAGES, BUDGETS),
        "DeleteItem": (ENDPOINTS,),
        "BatchGetItem": (SHIPMENTS, COUNTERS),  # events a racing writer stored; the cap
        "BatchWriteItem": (AUDIT,),  # the audit
    },
    "query": {
        # a shipment (states and trackers), a tracker's check log, endpoints, messages;
        # and the status index (INDEX_ACCESS), which lists trackers by state
        "Query": (SHIPMENTS, ENDPOINTS, MESSAGES),
        # a tracker; the endpoint whose messages are listed; today's poll budget (usage)
        "GetItem": (SHIPMENTS, ENDPOINTS, BUDGETS),
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
    "poller": {
        # the write path's read of a shipment; the shipment's states after a store
        "Query": (SHIPMENTS,),
        # a racing writer's event (the write path); what is left of a budget
        "GetItem": (SHIPMENTS, BUDGETS),
        # events and pages (conditional); the checks of a pass, in the day's check log
        "PutItem": (SHIPMENTS, CHECK_LOGS),
        # tracker outcomes, shipment states; the budget (spend, give back); a shard's
        # lease (take, renew)
        "UpdateItem": (SHIPMENTS, BUDGETS, POLL_LEASES),
        "DeleteItem": (POLL_LEASES,),  # a shard's lease given back
        # the due trackers (strongly consistent: the index lags); events a racing
        # writer stored (the write path)
        "BatchGetItem": (SHIPMENTS,),
    },
    "console": {
        # its pages: a shipment's states, events and trackers; parked deliveries; the
        # audit's windows (the overview); a tenant's endpoints; an endpoint's messages; a
        # tracker's check log
        "Query": (SHIPMENTS, PARKED, AUDIT, ENDPOINTS, MESSAGES, CHECK_LOGS),
        # a tracker; an endpoint; today's poll budget; a message to resend; the data key
        "GetItem": (SHIPMENTS, ENDPOINTS, BUDGETS, MESSAGES, DATA_KEY),
        # a replay's events (the write path); a refresh's check; each change's audit entry
        "PutItem": (SHIPMENTS, CHECK_LOGS, CHANGES),
        # states and trackers (replay, refresh, queue first); endpoints (enable,
        # disable); message states (resend, recover); the poll budget (a refresh); the
        # login throttle's counters
        "UpdateItem": (SHIPMENTS, ENDPOINTS, MESSAGES, BUDGETS, LOGIN_LIMITS),
        "DeleteItem": (PARKED,),  # a parked copy, once its replay is stored
        # a shipment's notifications' states; messages the due index names; the usage
        # counters (tenants' pages); the login throttle's windows
        "BatchGetItem": (SHIPMENTS, MESSAGES, COUNTERS, LOGIN_LIMITS),
        "BatchWriteItem": (AUDIT,),  # a replay's outcomes
    },
}
"""Per function: each DynamoDB action its code calls on the table → the key prefixes it
touches (``dynamodb:LeadingKeys``)."""
INDEX_ACCESS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "query": {INDEX_NAME: ()},  # search by status, trackers by state: any partition
    "sweeper": {DUE_INDEX_NAME: (DUE_MESSAGES,)},  # messages due (KEYS_ONLY, DUE#n)
    "poller": {DUE_INDEX_NAME: (DUE_TRACKERS,)},  # trackers due (KEYS_ONLY, POLL#n)
    # the trackers page: trackers by state (TRK#); the overview: what is due (counts)
    "console": {INDEX_NAME: (TRACKER_LISTS,), DUE_INDEX_NAME: (DUE_MESSAGES, DUE_TRACKERS)},
}
"""Per function: the indexes it may ``Query`` (no other index, no other action), each with
the index partitions it may read (``dynamodb:LeadingKeys``; empty: any)."""
KMS_DATA_KEY: Mapping[str, tuple[str, ...]] = {
    "ingest": ("kms:Decrypt", "kms:GenerateDataKey"),
    "notify": ("kms:Decrypt",),
    "sweeper": ("kms:Decrypt",),
    "console": ("kms:Decrypt",),  # a resend signs with the endpoint's secret
}
"""Per function: its direct calls to the CMK for the endpoint secrets' data key."""
READS_SECRETS = ("ingest", "query", "authorizer", "poller", "console")
ROTATES_SECRETS = ("console",)  # the console's rotate: a compare-and-swap of AWSCURRENT
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
    console_credential_arn: str

    def arn(self, service: str, resource: str) -> str:
        """``arn:{partition}:{service}:{region}:{account}:{resource}``."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def secrets(self, pattern: str) -> str:
        """The ARN pattern of this stack's secrets named ``waybill/{stack}/{pattern}``."""
        return self.arn("secretsmanager", f"secret:{stack_prefix(self.stack)}{pattern}")

    def api_slots(self) -> list[str]:
        """The ARN patterns of the carriers' API credential slots of every tenant,
        ``waybill/{stack}/{tenant}/{carrier}.api``: a secret's ARN ends in ``-`` and six
        random characters; a secret that does not exist (yet) is authorised under its name."""
        pattern = f"*/*.{API_SLOT}"
        return [self.secrets(pattern), self.secrets(f"{pattern}-??????")]

    def plan_keys(self) -> str:
        """The ARN pattern of the stack's usage-plan key secrets."""
        pattern = plan_key_secret_id(stack_prefix(self.stack), "*")
        return self.arn("secretsmanager", f"secret:{pattern}")

    def console_secrets(self) -> str:
        """The ARN pattern of the ops console's secrets (``waybill/{stack}/ops_console/*``)."""
        return self.secrets(f"{CONSOLE_SECRETS}*")

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
    for index, partitions in INDEX_ACCESS.get(function, {}).items():
        resource = [f"{scope.table_arn}/index/{index}"]
        within = (
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(partitions)}}
            if partitions
            else None
        )
        statements.append(_statement("Allow", ["dynamodb:Query"], resource, within))
    return statements


def secret_statements(function: str, scope: Scope) -> list[Statement]:
    """Which secrets the function may read (and, for ingest, which it may not)."""
    read = ["secretsmanager:GetSecretValue"]
    if function == "ingest":
        return [
            _statement("Allow", read, [scope.secrets("*")]),
            _statement("Deny", read, [scope.plan_keys(), scope.console_secrets()]),
        ]
    if function == "query":
        return [_statement("Allow", read, [scope.cursor_key_arn])]
    if function == "authorizer":
        return [_statement("Allow", read, [scope.plan_keys()])]
    if function == "poller":
        return [_statement("Allow", read, scope.api_slots())]
    if function == "console":
        rotate = ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
        tenants = scope.secrets("*/*")  # waybill/{stack}/{tenant}/{carrier}[.slot]
        return [
            _statement("Allow", read, [scope.cursor_key_arn, scope.console_credential_arn]),
            _statement("Allow", read + rotate, [tenants]),
            _statement("Deny", read + rotate, [scope.plan_keys()]),
            _statement("Deny", rotate, [scope.console_secrets()]),
        ]
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
    if function in ROTATES_SECRETS:  # a new secret version is encrypted under a new data key
        through = {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{scope.region}.amazonaws.com"}
        }
        statements.append(
            _statement("Allow", ["kms:GenerateDataKey"], [scope.kms_key_arn], through)
        )
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
