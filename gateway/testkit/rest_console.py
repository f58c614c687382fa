"""What API Gateway's REST stage does with a request of the ops console's routes, for tests
that drive :func:`gateway.aws.console.console_handler` without AWS: the resource matched
(:func:`~gateway.aws.console.console_resource`), and on the guarded route the console
authorizer called first (TTL 0: every request), its Deny answered with a 403 that never
reaches the function, its context put in ``requestContext.authorizer``.

Example:
    >>> seen = []
    >>> def handler(event, context):
    ...     seen.append(event.get("type") or event["requestContext"].get("authorizer"))
    ...     if event.get("type") == "REQUEST":
    ...         statement = {"Effect": "Allow", "Resource": event["methodArn"]}
    ...         return {"principalId": "ops", "policyDocument": {"Statement": [statement]},
    ...                 "context": {"session": "valid"}}
    ...     return {"statusCode": 200}
    >>> event = {"httpMethod": "GET", "path": "/console/", "requestContext": {}}
    >>> through_rest_api(handler, event)["statusCode"], seen
    (200, ['REQUEST', {'principalId': 'ops', 'session': 'valid'}])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from gateway.aws.console import GUARDED_ROUTE, console_resource

ProxyHandler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]
API_ARN = "arn:aws:execute-api:us-west-2:123456789012:abc123"
DENIED = {"error": {"code": "forbidden", "message": "not allowed"}}
"""The stack's ACCESS_DENIED gateway response (:data:`infra.edge_guards.GATEWAY_RESPONSES`)."""


def through_rest_api(handler: ProxyHandler, event: Mapping[str, Any]) -> Mapping[str, Any]:
    """``handler``'s answer to the proxy ``event`` as the stage ``api`` would give it."""
    resource = console_resource(str(event["path"]))
    event = dict(event) | {"resource": resource}
    if resource != GUARDED_ROUTE[1]:
        return handler(event, None)
    method_arn = f"{API_ARN}/api/{event['httpMethod']}{event['path']}"
    fields = ("path", "httpMethod", "headers", "multiValueHeaders", "requestContext")
    asked = {"type": "REQUEST", "methodArn": method_arn, "resource": resource}
    answer = handler(asked | {k: event.get(k) for k in fields}, None)
    (statement,) = answer["policyDocument"]["Statement"]
    if statement["Effect"] != "Allow" or statement["Resource"] != method_arn:
        return {
            "statusCode": 403,
            "multiValueHeaders": {"content-type": ["application/json"]},
            "body": json.dumps(DENIED),
            "isBase64Encoded": False,
        }
    authorizer = {"principalId": answer["principalId"], **answer.get("context", {})}
    context = dict(event.get("requestContext") or {}) | {"authorizer": authorizer}
    return handler(event | {"requestContext": context}, None)
