"""The adapter contract: one declarative object per carrier, pure functions only.

An adapter module ``adapters/<id>.py`` exports ``ADAPTER = Adapter(...)``. It does
no I/O: secrets and the clock are passed in. ``sign`` is the exact inverse of
``verify`` and is what tests and ``waybill send`` use.

Statuses are a :class:`~gateway.carriers.status.StatusTable` (``statuses=``); a plain
``status_map=`` dict of main codes is accepted too and becomes a table without refinements.

Example:
    >>> from gateway.models import Status
    >>> map_status({"delivered": Status.DELIVERED}, "DELIVERED")
    <Status.DELIVERED: 'delivered'>
    >>> map_status({"delivered": Status.DELIVERED}, "teleported")
    <Status.UNKNOWN: 'unknown'>
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from gateway.carriers.polling import Polling
from gateway.carriers.results import ParsedEvent as ParsedEvent
from gateway.carriers.results import ParseResult as ParseResult
from gateway.carriers.status import StatusTable
from gateway.carriers.status import map_status as map_status
from gateway.errors import SignatureError
from gateway.models import Status
from gateway.signing.secret_rules import SecretRule
from gateway.signing.spec import Request, SignatureSpec, sign_spec, verify_spec


@dataclass(frozen=True)
class Delivery:
    """One HTTP delivery exactly as received: raw body bytes and all header values."""

    tenant: str
    carrier: str
    body: bytes
    headers: Mapping[str, tuple[str, ...]]
    received_at: datetime
    query: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"

    def header(self, name: str) -> str | None:
        """The single value of a header (case-insensitive), ``None`` when absent.

        A header repeated with different values is refused: an attacker must not
        be able to choose which copy we read.
        """
        values = self.headers.get(name.lower(), ())
        if len(values) > 1 and len(set(values)) > 1:
            raise SignatureError(f"header {name} is repeated", code="header_repeated")
        return values[0] if values else None


class Secrets(list[str]):
    """The valid secrets of a (tenant, carrier), current first, plus named extra slots.

    Most schemes need one secret; a few need a second kind (Shippo's HMAC secret
    besides its URL token, UPS's OAuth client secret). Those live under
    ``<carrier>.<slot>`` in the key store and are fetched only when asked for.
    """

    def __init__(self, values: Sequence[str], slots: Callable[[str], list[str]] | None = None):
        super().__init__(values)
        self._slots = slots

    def slot(self, name: str) -> list[str]:
        """The valid secrets of the named slot (empty when none is set)."""
        return self._slots(name) if self._slots else []


SHIPMENT_STATUS = "shipment_status"


def shipment_status_metadata(time_field: str) -> dict[str, str]:
    """The metadata that marks an event read from a shipment's own status, not from a scan
    (a body with a status but no scan event), and names the field that timed it.

    >>> shipment_status_metadata("updated_at")
    {'event_kind': 'shipment_status', 'time_field': 'updated_at'}
    """
    return {"event_kind": SHIPMENT_STATUS, "time_field": time_field}


Verify = Callable[[Delivery, Sequence[str], float], None]
Parse = Callable[[Delivery], ParseResult]


class Sign(Protocol):
    """What the carrier adds to a request: headers, and ``?name`` query parameters."""

    def __call__(
        self, body: bytes, secret: str, now: float, *, delivery_id: str | None = None
    ) -> dict[str, str]: ...


def spec_request(delivery: Delivery) -> Request:
    """The view of a delivery a signature spec reads."""
    return Request(
        body=delivery.body,
        header=delivery.header,
        query=delivery.query,
        method=delivery.method,
        path=delivery.path,
    )


Confidence = Literal["CONFIRMED", "DOC-EXCERPT", "3P", "UNCONFIRMED"]


@dataclass(frozen=True)
class Adapter:
    """A carrier's declarative description and its pure functions.

    ``scheme`` is the signature spec; ``verify`` and ``sign`` execute it unless an
    adapter whose scheme truly cannot be expressed passes its own (a few lines on
    the shared primitives). ``verify(delivery, secrets, now)`` raises
    SignatureError unless authentic; ``parse(delivery)`` raises ParseError when the
    body cannot be read; ``sign(body, secret, now)`` returns what the carrier adds.
    ``webhook=False`` marks an adapter no carrier posts to (the canonical submit,
    authenticated by the edge's API key): its ``verify`` must always refuse, and the
    shared webhook suite skips it. ``statuses`` is the status table; ``status_map`` is
    its flat read-only view (or, when only a plain dict is given, that dict). ``polling``
    is the carrier's tracking API, for shipments it does not push
    (:mod:`gateway.carriers.polling`). ``secret_slots`` names the second kinds of secret
    its ``verify`` reads (``Secrets.slot(name)``) and what a value must be
    (:mod:`gateway.carriers.secret_slots` lists every secret an adapter reads).
    """

    id: str
    label: str
    docs_url: str
    scheme: SignatureSpec
    parse: Parse
    verify: Verify = None  # type: ignore[assignment]  # filled from the scheme
    sign: Sign = None  # type: ignore[assignment]  # filled from the scheme
    content_types: tuple[str, ...] = ("application/json",)
    confidence: Confidence = "UNCONFIRMED"
    identity: str = "content fingerprint of each event"
    time_handling: str = ""
    notes: str = ""
    webhook: bool = True
    statuses: StatusTable = field(default=None, kw_only=True)  # type: ignore[assignment]
    status_map: Mapping[str, Status] = field(default=None, kw_only=True)  # type: ignore[arg-type]
    polling: Polling | None = field(default=None, kw_only=True)
    secret_slots: Mapping[str, SecretRule] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        if self.statuses is None:
            object.__setattr__(self, "statuses", StatusTable(self.status_map or {}))
        if self.status_map is None:
            object.__setattr__(self, "status_map", self.statuses.flat)
        elif dict(self.status_map) != dict(self.statuses.flat):
            raise ValueError("status_map and statuses disagree: give one of them")
        scheme = self.scheme
        if self.verify is None:

            def verify(delivery: Delivery, secrets: Sequence[str], now: float) -> None:
                verify_spec(scheme, spec_request(delivery), secrets, now)

            object.__setattr__(self, "verify", verify)
        if self.sign is None:

            def sign(
                body: bytes, secret: str, now: float, *, delivery_id: str | None = None
            ) -> dict[str, str]:
                return sign_spec(scheme, body, secret, now, delivery_id=delivery_id)

            object.__setattr__(self, "sign", sign)
