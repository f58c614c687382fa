"""Pulumi mocks for the infra tests: every resource the program registers is recorded.

``set_mocks`` must run before any ``infra`` module is imported, so it runs here, at
conftest import. Tests read :data:`RESOURCES` (type token, name, camelCase inputs) to
assert policies. A test must be ``@pulumi.runtime.test`` **and return** its Output:
otherwise the assertions inside ``apply`` never run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest

ACCOUNT = "123456789012"
REGION = "us-west-2"


@dataclass(frozen=True)
class Recorded:
    """One resource as the engine saw it."""

    type: str
    name: str
    inputs: dict[str, Any]


RESOURCES: list[Recorded] = []
PASSWORD = "random:index/randomPassword:RandomPassword"


def fake_password(resource_name: str, length: int = 43) -> str:
    """What the mocks say a RandomPassword generated: URL-safe characters, fixed per name."""
    raw = hashlib.sha256(resource_name.encode()).digest() * 2
    return base64.urlsafe_b64encode(raw).decode()[:length]


class Mocks(pulumi.runtime.Mocks):
    """Returns the inputs as state, plus the computed attributes the program reads."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        RESOURCES.append(Recorded(args.typ, args.name, dict(args.inputs)))
        resource_id = f"{args.name}-id"
        service = args.typ.split(":")[1] if ":" in args.typ else "x"
        state = {
            "arn": f"arn:aws:{service}:{REGION}:{ACCOUNT}:{args.name}",
            "name": args.inputs.get("name", args.name),
            "id": resource_id,
            **args.inputs,
        }
        if args.typ == PASSWORD:
            state["result"] = fake_password(args.name, int(args.inputs.get("length", 43)))
        if args.typ == "aws:lambda/function:Function":
            state["invokeArn"] = f"arn:aws:apigateway:{REGION}:lambda:path/{args.name}"
            state["version"] = "1"
            state["qualifiedArn"] = f"{state['arn']}:1"
        if args.typ == "aws:lambda/alias:Alias":
            state["invokeArn"] = f"arn:aws:apigateway:{REGION}:lambda:path/{args.name}-alias"
        if args.typ == "aws:apigateway/restApi:RestApi":
            state["rootResourceId"] = "root-id"
            state["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{resource_id}"
        if args.typ == "aws:apigatewayv2/api:Api":
            state["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{resource_id}"
            state["apiEndpoint"] = f"https://{resource_id}.execute-api.{REGION}.amazonaws.com"
        if args.typ == "aws:dynamodb/table:Table":
            state["streamArn"] = f"{state['arn']}/stream/2026-01-01T00:00:00.000"
        if args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{state['name']}"
        if args.typ == "aws:lambda/eventSourceMapping:EventSourceMapping":
            state["uuid"] = f"{args.name}-uuid"
        if args.typ == "aws:apigateway/stage:Stage":
            state["invokeUrl"] = f"https://{resource_id}.execute-api.{REGION}.amazonaws.com/v1"
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ops"}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        return {}, []


# Pulumi binds its futures to the event loop current when the mocks are set. A test
# elsewhere in the session that runs ``asyncio.run`` leaves no current loop behind, and
# the next Output would then wait on a future of another loop: every infra test runs
# on this one loop.
LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(LOOP)
pulumi.runtime.set_mocks(Mocks(), project="waybill", stack="dev", preview=False)


@pytest.fixture(autouse=True)
def _fresh_resources() -> Iterator[None]:
    """Each test runs on the mocks' loop and sees only the resources it registered."""
    asyncio.set_event_loop(LOOP)
    RESOURCES.clear()
    yield
