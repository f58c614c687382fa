"""Replaying boto3 calls against generated IAM policies: a small, strict evaluator.

:class:`Recorder` records every AWS call the code makes (patched under botocore's client,
so clients created anywhere are seen; moto still answers them). :func:`requests_of` turns
one call into the IAM requests AWS would authorise for it (action, resource ARN and the
condition keys that matter here: ``dynamodb:LeadingKeys`` and the KMS encryption
context), and :func:`allowed` evaluates one request against a policy document the way
IAM does for what these policies use: ``Allow`` statements whose action and resource
match (``*`` and ``?`` wildcards) and whose every condition holds (``StringEquals``,
``ForAllValues:StringLike``), and any matching ``Deny`` wins.

A call this module cannot map raises: a new kind of call must be taught here, never
skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import botocore.client

from gateway.store.table import INDEX_SPECS, KEY_SCHEMA

Statement = dict[str, Any]
TABLE_PARTITION_KEY = next(k["AttributeName"] for k in KEY_SCHEMA if k["KeyType"] == "HASH")
INDEX_PARTITION_KEYS = {
    spec["IndexName"]: next(k["AttributeName"] for k in spec["KeySchema"] if k["KeyType"] == "HASH")
    for spec in INDEX_SPECS
}


@dataclass(frozen=True)
class Call:
    """One API call as the code made it."""

    service: str  # botocore's service name: dynamodb, dynamodbstreams, kms, secretsmanager
    operation: str  # e.g. GetItem
    params: Mapping[str, Any]
    who: str  # the function whose code made it


@dataclass(frozen=True)
class Request:
    """What IAM authorises: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    call: Call | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        keys = ", ".join(f"{k}={list(v)}" for k, v in sorted(self.context.items()))
        who = self.call.who if self.call else "probe"
        return f"{who}: {self.action} on {self.resource} [{keys}]"


@dataclass
class World:
    """The names and ARNs a call's resources resolve to."""

    region: str
    account: str
    stream_arn: str
    key_arn: str
    secret_arns: dict[str, str]  # name → ARN

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def secret_arn(self, secret_id: str) -> str:
        """A secret's ARN; one that does not exist is authorised under its name (no suffix)."""
        if secret_id.startswith("arn:"):
            return secret_id
        unknown = f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{secret_id}"
        return self.secret_arns.get(secret_id, unknown)


class Recorder:
    """Records every call made while :meth:`acting` names who makes them."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.default = "nobody"  # a process-wide name: threads started inside inherit it

    @contextmanager
    def acting(self, who: str) -> Iterator[None]:
        """Calls made inside (on any thread started inside) are ``who``'s."""
        before = self.default
        self.default = who
        try:
            yield
        finally:
            self.default = before

    @contextmanager
    def patched(self) -> Iterator[Recorder]:
        client_class: Any = botocore.client.BaseClient  # its _make_api_call is private
        original = client_class._make_api_call
        recorder = self

        def record(client: Any, operation: str, params: Any) -> Any:
            service = client.meta.service_model.service_name
            recorder.calls.append(Call(service, operation, dict(params), recorder.default))
            return original(client, operation, params)

        client_class._make_api_call = record
        try:
            yield self
        finally:
            client_class._make_api_call = original

    def of(self, who: str) -> list[Call]:
        return [c for c in self.calls if c.who == who]


def _key_value(value: Mapping[str, Any]) -> str:
    (_, text), *_ = value.items()
    return str(text)


def _partition_in_condition(params: Mapping[str, Any], key_name: str) -> str:
    """The partition key value a Query's KeyConditionExpression names."""
    names = {v: k for k, v in params.get("ExpressionAttributeNames", {}).items()}
    expression = params["KeyConditionExpression"]
    for alias in (key_name, names.get(key_name)):
        if alias is None:
            continue
        found = re.search(rf"(?:^|[\s(]){re.escape(alias)}\s*=\s*(:\w+)", expression)
        if found:
            return _key_value(params["ExpressionAttributeValues"][found.group(1)])
    raise AssertionError(f"no partition key condition in {expression!r}")


def _dynamodb(call: Call, world: World) -> list[Request]:
    params, op = call.params, call.operation
    action = f"dynamodb:{op}"
    if op in ("GetItem", "UpdateItem", "DeleteItem"):
        pks = [_key_value(params["Key"][TABLE_PARTITION_KEY])]
        return [_req(action, world.table_arn(params["TableName"]), pks, call)]
    if op == "PutItem":
        pks = [_key_value(params["Item"][TABLE_PARTITION_KEY])]
        return [_req(action, world.table_arn(params["TableName"]), pks, call)]
    if op == "Query":
        table = world.table_arn(params["TableName"])
        index = params.get("IndexName")
        if index:
            pk = _partition_in_condition(params, INDEX_PARTITION_KEYS[index])
            return [_req(action, f"{table}/index/{index}", [pk], call)]
        pk = _partition_in_condition(params, TABLE_PARTITION_KEY)
        return [_req(action, table, [pk], call)]
    if op == "BatchGetItem":
        return [
            _req(
                action,
                world.table_arn(name),
                [_key_value(k[TABLE_PARTITION_KEY]) for k in request["Keys"]],
                call,
            )
            for name, request in params["RequestItems"].items()
        ]
    if op == "BatchWriteItem":
        found = []
        for name, writes in params["RequestItems"].items():
            pks = []
            for write in writes:
                if "PutRequest" in write:
                    pks.append(_key_value(write["PutRequest"]["Item"][TABLE_PARTITION_KEY]))
                else:
                    pks.append(_key_value(write["DeleteRequest"]["Key"][TABLE_PARTITION_KEY]))
            found.append(_req(action, world.table_arn(name), pks, call))
        return found
    raise AssertionError(f"unmapped DynamoDB call {op} by {call.who}")


def _req(action: str, resource: str, leading: list[str], call: Call) -> Request:
    return Request(action, resource, {"dynamodb:LeadingKeys": tuple(leading)}, call)


SECRET_CALLS = ("GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage")
"""The Secrets Manager calls of one secret (a read, and a rotation's compare-and-swap)."""


def requests_of(call: Call, world: World) -> list[Request]:
    """The IAM requests one call is authorised as."""
    if call.service == "dynamodb":
        return _dynamodb(call, world)
    if call.service == "dynamodbstreams" and call.operation in (
        "DescribeStream",
        "GetShardIterator",
        "GetRecords",
        "ListStreams",
    ):
        return [Request(f"dynamodb:{call.operation}", world.stream_arn, {}, call)]
    if call.service == "kms" and call.operation in ("Decrypt", "GenerateDataKey"):
        context = {
            f"kms:EncryptionContext:{k}": (v,)
            for k, v in call.params.get("EncryptionContext", {}).items()
        }
        key = call.params.get("KeyId", world.key_arn)
        assert key == world.key_arn, f"{call.who} used another KMS key: {key}"
        return [Request(f"kms:{call.operation}", world.key_arn, context, call)]
    if call.service == "secretsmanager" and call.operation in SECRET_CALLS:
        arn = world.secret_arn(call.params["SecretId"])
        return [Request(f"secretsmanager:{call.operation}", arn, {}, call)]
    raise AssertionError(f"unmapped call {call.service}:{call.operation} by {call.who}")


def _condition_holds(operator: str, conditions: Mapping[str, Any], request: Request) -> bool:
    for key, expected in conditions.items():
        wanted = [expected] if isinstance(expected, str) else list(expected)
        values = request.context.get(key)
        if operator == "StringEquals":
            if not values or not all(v in wanted for v in values):
                return False
        elif operator == "ForAllValues:StringLike":
            if values and not all(any(fnmatchcase(v, p) for p in wanted) for v in values):
                return False
        else:
            raise AssertionError(f"the evaluator does not know {operator}")
    return True


def matching(document: Mapping[str, Any], request: Request, effect: str) -> list[Statement]:
    """The statements of ``effect`` that apply to ``request``."""
    found = []
    for statement in document["Statement"]:
        if statement["Effect"] != effect:
            continue
        actions = statement["Action"]
        resources = statement["Resource"]
        if not any(fnmatchcase(request.action, a) for a in actions):
            continue
        if not any(fnmatchcase(request.resource, r) for r in resources):
            continue
        conditions = statement.get("Condition", {})
        if all(_condition_holds(op, c, request) for op, c in conditions.items()):
            found.append(statement)
    return found


def allowed(document: Mapping[str, Any], request: Request) -> bool:
    """IAM's answer: an applicable Allow and no applicable Deny."""
    return bool(matching(document, request, "Allow")) and not matching(document, request, "Deny")
