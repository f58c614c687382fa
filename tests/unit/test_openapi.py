"""The OpenAPI document: generated from the models, valid, complete, and committed fresh."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from openapi_spec_validator import validate

from gateway.api.notify_models import MessageState, MessageType
from gateway.api.openapi import OPENAPI_PATH, document, openapi_text
from gateway.cli import main
from gateway.models import Status
from gateway.notify.endpoints import MESSAGE_TYPES
from gateway.notify.messages import STATES
from gateway.routes import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _parameter(op: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in op["parameters"] if p["name"] == name)


def test_committed_document_is_fresh() -> None:
    committed = (ROOT / OPENAPI_PATH).read_text("utf-8")
    assert committed == openapi_text(), f"{OPENAPI_PATH} is stale: run `waybill adapters docs`"


def test_docs_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    openapi = tmp_path / "openapi.json"
    args = ["adapters", "docs", "--output", str(tmp_path / "ADAPTERS.md")]
    args += ["--schema-output", str(tmp_path / "schema.json"), "--openapi-output", str(openapi)]
    assert main(args) == 0
    assert openapi.read_text() == openapi_text()
    assert main([*args, "--check"]) == 0
    openapi.write_text("{}\n")
    assert main([*args, "--check"]) == 2


def test_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises OpenAPIValidationError with the offending path


def test_every_route_of_the_edge_is_documented() -> None:
    assert set(document()["paths"]) == set(RESOURCES)


def test_every_reference_resolves() -> None:
    doc = document()
    text = json.dumps(doc)
    for kind in ("schemas", "responses"):
        prefix = f'"#/components/{kind}/'
        names = {part.split('"')[0] for part in text.split(prefix)[1:]}
        assert names <= set(doc["components"][kind]), kind


def test_tenant_routes_need_the_api_key_and_others_do_not() -> None:
    assert document()["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "the tenant's API key (`waybill keys issue`)",
    }
    for path, method, op in _operations(document()):
        if path.startswith("/v1/"):
            assert op["security"] == [{"apiKey": []}], (method, path)
            assert {"401", "429"} <= set(op["responses"]), (method, path)
        elif path.startswith("/oauth/"):
            assert op["security"] == [{"carrierClient": []}]
        else:
            assert op["security"] == [], (method, path)


def test_error_answers_use_the_error_body() -> None:
    doc = document()
    shared = doc["components"]["responses"]
    for path, method, op in _operations(doc):
        for code, answer in op["responses"].items():
            if "$ref" in answer:
                answer = shared[answer["$ref"].rsplit("/", 1)[-1]]
            if int(code) >= 400:
                body = answer["content"]["application/json"]["schema"]["$ref"]
                token_error = path.startswith("/oauth/") and code in ("400", "401")  # RFC 6749
                expected = ("/TokenError",) if token_error else ("/ErrorResponse", "/SubmitFailure")
                assert body.endswith(expected), (method, path, code)


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/webhooks/{tenant}/{carrier}", {"200", "202", "400", "401", "404", "413", "415", "429"}),
        ("/v1/events", {"200", "400", "401", "404", "413", "415", "429", "503"}),
        ("/v1/shipments/{tracking_number}", {"200", "304", "400", "401", "404", "429", "503"}),
        ("/oauth/{tenant}/{carrier}/token", {"200", "400", "401", "404", "429", "503"}),
    ],
)
def test_routes_document_their_status_codes(path: str, codes: set[str]) -> None:
    (op,) = document()["paths"][path].values()
    assert codes <= set(op["responses"])


def test_search_parameters_have_their_types_and_limits() -> None:
    doc = document()
    op = doc["paths"]["/v1/shipments"]["get"]
    assert _parameter(op, "limit")["schema"] | {"default": 100} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 100,
    }
    assert _parameter(op, "cursor")["schema"]["type"] == "string"
    assert _parameter(op, "carrier")["schema"]["type"] == "string"
    assert _parameter(op, "updated_since")["schema"] == {"type": "string", "format": "date-time"}
    assert _parameter(op, "status")["schema"] == {"$ref": "#/components/schemas/Status"}
    assert doc["components"]["schemas"]["Status"]["enum"] == [s.value for s in Status]
    assert not any(p["required"] for p in op["parameters"])


def test_bodies_reuse_the_canonical_models() -> None:
    schemas = document()["components"]["schemas"]
    events = schemas["EventsPage"]["properties"]["events"]
    assert events["items"] == {"$ref": "#/components/schemas/CanonicalEvent"}
    assert "eta_only" not in schemas["CanonicalEvent"]["properties"]  # never serialised
    assert schemas["SubmitRequest"]["anyOf"] == [
        {"$ref": "#/components/schemas/CanonicalItem"},
        {"$ref": "#/components/schemas/CanonicalBatch"},
    ]
    assert schemas["ErrorResponse"]["additionalProperties"] is False


def test_notification_routes_document_their_status_codes() -> None:
    paths = document()["paths"]
    expected = {
        ("/v1/endpoints", "post"): {"201", "400", "401", "409", "413", "415", "429", "503"},
        ("/v1/endpoints", "get"): {"200", "401", "429", "503"},
        ("/v1/endpoints/{endpoint_id}", "get"): {"200", "401", "404", "429", "503"},
        ("/v1/endpoints/{endpoint_id}", "delete"): {"204", "401", "404", "429", "503"},
        ("/v1/endpoints/{endpoint_id}/rotate-secret", "post"): {"200", "400", "404", "409"},
        ("/v1/endpoints/{endpoint_id}/disable", "post"): {"200", "404", "409"},
        ("/v1/endpoints/{endpoint_id}/enable", "post"): {"200", "404", "409"},
        ("/v1/endpoints/{endpoint_id}/messages", "get"): {"200", "400", "404"},
        ("/v1/endpoints/{endpoint_id}/messages/{message_id}/resend", "post"): {"200", "404"},
        ("/v1/endpoints/{endpoint_id}/recover", "post"): {"202", "400", "404", "413", "415"},
    }
    for (path, method), codes in expected.items():
        assert codes <= set(paths[path][method]["responses"]), (method, path)
    created = paths["/v1/endpoints"]["post"]["responses"]["201"]
    assert created["headers"]["Cache-Control"]["schema"]["const"] == "no-store"
    query = paths["/v1/endpoints/{endpoint_id}/messages"]["get"]
    assert _parameter(query, "limit")["schema"] | {"default": 20} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert _parameter(query, "status")["schema"]["enum"] == list(STATES)


def test_the_secret_is_documented_only_where_it_is_answered() -> None:
    schemas = document()["components"]["schemas"]
    with_secret = {name for name, body in schemas.items() if "secret" in body.get("properties", {})}
    assert with_secret == {"EndpointCreated"}
    assert "secret" not in schemas["NotificationEndpoint"]["properties"]


def test_webhooks_document_each_message_its_headers_and_how_to_verify() -> None:
    doc = document()
    assert set(doc["webhooks"]) == set(MESSAGE_TYPES)
    schemas = doc["components"]["schemas"]
    for message_type, model in zip(
        MESSAGE_TYPES, ("StatusChangedMessage", "EventAddedMessage"), strict=True
    ):
        post = doc["webhooks"][message_type]["post"]
        assert [(p["name"], p["in"], p["required"]) for p in post["parameters"]] == [
            ("webhook-id", "header", True),
            ("webhook-timestamp", "header", True),
            ("webhook-signature", "header", True),
        ]
        assert "{webhook-id}.{webhook-timestamp}.{body}" in post["description"]
        assert "standardwebhooks" in post["description"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}
        assert schemas[model]["properties"]["type"]["const"] == message_type
        assert set(schemas[model]["required"]) == {"type", "timestamp", "data"}
    data = schemas["NotificationData"]["properties"]
    assert data["event"] == {"$ref": "#/components/schemas/CanonicalEvent"}
    assert set(data) == {
        "tracking_number",
        "carrier",
        "status",
        "previous_status",
        "status_changed_at",
        "estimated_delivery",
        "event",
    }


def test_the_documented_types_and_states_are_the_notifiers() -> None:
    assert get_args(MessageType) == MESSAGE_TYPES
    assert get_args(MessageState) == STATES
