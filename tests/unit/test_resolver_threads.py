"""The handler's resolver keeps each request's event, Lambda context and route arguments
per thread: ``waybill serve`` runs the handler on several threads at once, and Powertools
keeps them on its class (``BaseRouter.current_event``), shared by every thread."""

from __future__ import annotations

import json
import threading
from typing import Any

from gateway.api.app import _Resolver


def _event(tenant: str, number: str) -> dict[str, Any]:
    return {
        "httpMethod": "GET",
        "path": f"/v1/probe/{number}",
        "resource": "/v1/probe/{number}",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"number": number},
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {"authorizer": {"tenant": tenant}, "stage": "api", "requestId": number},
    }


def test_two_requests_resolved_at_once_each_read_their_own_event() -> None:
    app = _Resolver()
    both_inside = threading.Barrier(2, timeout=5)

    def tenant() -> str:
        return str(app.current_event.request_context.authorizer.raw_event["tenant"])

    @app.get("/v1/probe/<number>")
    def probe(number: str) -> dict[str, str]:
        first = tenant()
        both_inside.wait()  # the other request has set its event by now
        return {"first": first, "second": tenant(), "number": number, "asked": lambda_id()}

    def lambda_id() -> str:
        return str(app.lambda_context)

    answers: dict[str, Any] = {}

    def call(name: str, number: str) -> None:
        answers[name] = app.resolve(_event(name, number), f"context-{name}")

    threads = [
        threading.Thread(target=call, args=(n, k)) for n, k in (("acme", "1"), ("globex", "2"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = {name: json.loads(answer["body"]) for name, answer in answers.items()}
    assert bodies["acme"] == {
        "first": "acme",
        "second": "acme",
        "number": "1",
        "asked": "context-acme",
    }
    assert bodies["globex"] == {
        "first": "globex",
        "second": "globex",
        "number": "2",
        "asked": "context-globex",
    }
