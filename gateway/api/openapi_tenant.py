"""The tenant API's operations in the OpenAPI document: ``/v1/events`` and the reads."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.api.openapi_paths import (
    API_KEY,
    KEYED_ERRORS,
    NO_ROUTE,
    Json,
    error,
    header,
    operation,
    reply,
    schema,
    shared,
)

PAGED = (
    "`invalid_limit` (not 1..500); `invalid_cursor` (not ours, or issued to another tenant "
    "or for another request); `unknown_carrier` (`carrier` names none of the tenant's "
    "carriers); "
)


def tenant_operations(params: Mapping[str, list[Json]]) -> Json:
    """``/v1/*`` by operation id; ``params`` are the parameter lists by parameter model name."""
    shipment = params["ShipmentPath"]
    page = shipment + params["PageQuery"]
    not_found = error("`shipment_not_found`: no such shipment for this tenant" + NO_ROUTE)
    bad_number = "`invalid_tracking_number` (the tracking number is blank)"
    caching = {
        "ETag": header("opaque version of the answer, for `If-None-Match`"),
        "Cache-Control": header("private, with a short max-age"),
        "Vary": header("x-api-key"),
    }
    return {
        "submitEvents": operation(
            "Canonical updates from the tenant's own systems: one item or a batch",
            API_KEY,
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": schema("SubmitRequest")}},
            },
            responses={
                "200": reply(
                    "per-item results (some item stored or known)", schema("SubmitResult")
                ),
                "400": reply(
                    "`no_valid_items` (with the per-item results), or the body as a whole "
                    "is unusable: `malformed_body`, `empty_batch`, `batch_too_large`",
                    schema("SubmitFailure"),
                ),
                "401": shared("Unauthenticated"),
                "404": error("`unknown_route`: canonical submit is not enabled for the tenant"),
                "413": shared("PayloadTooLarge"),
                "415": shared("UnsupportedMediaType"),
                "429": shared("Throttled"),
                "503": shared("StoreUnavailable"),
            },
        ),
        "searchShipments": operation(
            "The tenant's shipments by status, carrier and update time, newest change first",
            API_KEY,
            parameters=params["SearchQuery"],
            responses={
                "200": reply("a page of shipments", schema("SearchPage")),
                "400": error(
                    PAGED + "`invalid_status` (not a canonical status); `invalid_updated_since` "
                    "(not an ISO 8601 instant with an offset)"
                ),
                **KEYED_ERRORS,
            },
        ),
        "getShipment": operation(
            "Current state of a tracking number, per carrier",
            API_KEY,
            parameters=shipment + params["ShipmentHeaders"],
            responses={
                "200": reply("the current state", schema("ShipmentResponse"), caching),
                "304": reply("unchanged since `If-None-Match`; no body", None, caching),
                "400": error(bad_number),
                "404": not_found,
                **KEYED_ERRORS,
            },
        ),
        "listShipmentEvents": operation(
            "Full history in event-time order, paginated",
            API_KEY,
            parameters=page,
            responses={
                "200": reply("a page of events", schema("EventsPage")),
                "400": error(PAGED + bad_number),
                "404": not_found,
                **KEYED_ERRORS,
            },
        ),
        "listShipmentLocations": operation(
            "The location trail: time, place, lat/lon where known, in event-time order",
            API_KEY,
            parameters=page,
            responses={
                "200": reply("a page of the trail", schema("LocationsPage")),
                "400": error(PAGED + bad_number),
                "404": not_found,
                **KEYED_ERRORS,
            },
        ),
    }
