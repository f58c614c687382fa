"""The one route table: every layer reads it, and every route has exactly one operation."""

from __future__ import annotations

from types import SimpleNamespace

from gateway.api.app import build_resolver, operations
from gateway.api.openapi import document
from gateway.routes import RESOURCES, ROUTES, match_route


def test_every_route_has_one_operation_and_every_operation_a_route() -> None:
    app = build_resolver(SimpleNamespace(limits=None))  # type: ignore[arg-type]
    bound = operations(app, SimpleNamespace())  # type: ignore[arg-type]
    assert sorted(bound) == sorted(route.operation for route in ROUTES)
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)


def test_the_resolver_the_edge_and_the_document_serve_exactly_the_table() -> None:
    app = build_resolver(SimpleNamespace(limits=None))  # type: ignore[arg-type]
    registered = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes}
    assert registered == {(r.method, r.rule) for r in ROUTES}
    documented = {
        (method.upper(), path, op["operationId"])
        for path, item in document()["paths"].items()
        for method, op in item.items()
    }
    assert documented == {(r.method, r.path, r.operation) for r in ROUTES}
    for resource in RESOURCES:
        sample = resource.replace("{tenant}", "acme").replace("{carrier}", "ups")
        found = match_route(sample.replace("{tracking_number}", "1Z9"))
        assert found is not None and found.resource == resource
        assert set(found.methods) == {r.method for r in ROUTES if r.path == resource}
