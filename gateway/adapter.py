"""The adapter contract: one declarative object per carrier, pure functions only.

An adapter module ``adapters/<id>.py`` exports ``ADAPTER = Adapter(...)``. It does
no I/O: secrets and the clock are passed in. ``sign`` is the exact inverse of
``verify`` and is what tests and ``waybill send`` use.

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

from gateway.errors import SignatureError
from gateway.models import Location, Status, TzSource


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
        if len(set(values)) > 1:
            raise SignatureError(f"header {name} is repeated", code="header_repeated")
        return values[0] if values else None


@dataclass(frozen=True)
class SignatureScheme:
    """A signature scheme described as data (rendered in ADAPTERS.md)."""

    kind: str  # "hmac", "standard_webhooks", "token", "ed25519"
    headers: tuple[str, ...]
    signed_content: str
    algorithm: str | None = None
    encoding: str | None = None
    prefix: str = ""
    secret_form: str = "raw"  # noqa: S105 - a form name, not a secret
    tolerance_seconds: int | None = None
    rotation: str = "the gateway accepts the current and unexpired previous secrets"


@dataclass(frozen=True)
class ParsedEvent:
    """An event as the adapter read it, before the pipeline normalises and fingerprints it."""

    tracking_number: str
    status: Status
    occurred_at: datetime
    tz_source: TzSource
    carrier_code: str | None = None
    carrier_text: str | None = None
    detail: str | None = None
    occurred_at_local: str | None = None
    location: Location = field(default_factory=Location)
    estimated_delivery: str | None = None
    signed_by: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParseResult:
    """What a body contained: events (maybe none), the carrier's delivery id, or why ignored."""

    events: Sequence[ParsedEvent] = ()
    delivery_id: str | None = None
    ignored: str | None = None


Verify = Callable[[Delivery, Sequence[str], float], None]
Parse = Callable[[Delivery], ParseResult]
Sign = Callable[[bytes, str, float], dict[str, str]]


@dataclass(frozen=True)
class Adapter:
    """A carrier's declarative description and its three pure functions.

    ``verify(delivery, secrets, now)`` raises SignatureError unless authentic;
    ``parse(delivery)`` raises ParseError when the body cannot be read;
    ``sign(body, secret, now)`` returns the headers the carrier would send.
    """

    id: str
    label: str
    docs_url: str
    scheme: SignatureScheme
    status_map: Mapping[str, Status]
    verify: Verify
    parse: Parse
    sign: Sign
    content_types: tuple[str, ...] = ("application/json",)
    notes: str = ""


def map_status(status_map: Mapping[str, Status], code: str | None) -> Status:
    """Look a native code up (case-insensitively); unmapped codes become ``unknown``."""
    if not code:
        return Status.UNKNOWN
    return status_map.get(code) or status_map.get(code.lower()) or Status.UNKNOWN
