"""Canonical submit: tenant systems post Waybill's own format to ``POST /v1/events``.

Not a carrier webhook (``webhook=False``): no carrier signs these requests. The
edge authenticates the tenant's API key (``x-api-key``) before the handler runs,
so there is no secret to verify here. ``verify`` and ``sign`` therefore always
refuse: a POST to ``/webhooks/{tenant}/canonical`` is a 401 even for a tenant that
enabled ``canonical``, and a partner secret set for ``canonical`` authenticates
nothing. The scheme names ``x-api-key`` only so the header is treated as a
credential (never logged or parked).

The format (one item or ``{"events": [...]}``, per-item validation) is described in
:mod:`gateway.carriers.canonical_format`, and published as
``docs/schemas/canonical-events.schema.json``.

Example:
    >>> from datetime import UTC, datetime
    >>> body = b'{"tracking_id": "1Z9", "status": "failed", "timestamp": "2024-06-03T16:30Z"}'
    >>> delivery = Delivery("demo", "canonical", body, {}, datetime(2024, 6, 4, tzinfo=UTC))
    >>> ADAPTER.parse(delivery).events[0].status.value
    'exception'
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.carriers.adapter import Adapter, Delivery, ParseResult
from gateway.carriers.canonical_items import parse_body
from gateway.carriers.status import WAYBILL_NAMES
from gateway.errors import SignatureError
from gateway.signing.spec import SignatureSpec

STATUSES = WAYBILL_NAMES
"""Canonical names map to themselves; ``failed`` is an alias of ``exception``."""

_NOT_A_WEBHOOK = "canonical updates are posted to /v1/events with an API key, not as a webhook"


def parse(delivery: Delivery) -> ParseResult:
    """The valid items of the body; ``failures`` names the others (``item <i>: why``)."""
    return parse_body(delivery.body, STATUSES.main)


def verify(delivery: Delivery, secrets: Sequence[str], now: float) -> None:
    """Always refuses: the API key is checked at the edge, never here."""
    raise SignatureError(_NOT_A_WEBHOOK, code="not_a_webhook")


def sign(body: bytes, secret: str, now: float, *, delivery_id: str | None = None) -> dict[str, str]:
    """Always refuses: there is no carrier signature to produce."""
    raise SignatureError(_NOT_A_WEBHOOK, code="not_a_webhook")


ADAPTER = Adapter(
    id="canonical",
    label="Canonical submit (tenant systems)",
    docs_url="docs/schemas/canonical-events.schema.json",  # in this repository
    scheme=SignatureSpec(
        kind="token",
        header="x-api-key",
        rotation="API keys are issued and revoked with `waybill keys` (on AWS, by the stack); "
        "partner secrets play no part",
    ),
    statuses=STATUSES,
    parse=parse,
    verify=verify,
    sign=sign,
    confidence="CONFIRMED",
    identity="each item by content; a resent item is reported `duplicate`",
    time_handling="`timestamp` must carry an offset or `Z`; naïve and date-only values are "
    "rejected per item",
    notes="Not a webhook: `POST /v1/events` with the tenant's `x-api-key`, one item or "
    "`{events: [...]}` of up to 500; per-item results (`accepted`, `duplicate`, `rejected`). "
    "The tenant opts in with `[carriers.canonical]` (404 `unknown_route` otherwise). "
    "Schema: `docs/schemas/canonical-events.schema.json`.",
    webhook=False,
)
