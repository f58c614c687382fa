"""What every simulated carrier shares: the neutral event, the shipments, tokens, carrier ids
for numbers, the request as a handler sees it and the reply it gives.

A carrier module (``ups``, ``fedex``…) turns this state into its own documented shapes;
:mod:`.server` puts them behind one loopback HTTP server. Everything here is guarded by
:attr:`World.lock`, which the server holds while a carrier module handles a request.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import parse_qsl

from gateway.models import Status

Credential = str | tuple[str, str]
"""An API key, or an OAuth ``(client_id, client_secret)``."""

TEST_CREDENTIALS: Mapping[str, Credential] = {
    "ups": ("test-ups-client-id", "test-ups-client-secret"),
    "fedex": ("test-fedex-client-id", "test-fedex-client-secret"),
    "easypost": "EZTK-test-loopback-key",
    "seventeentrack": "test-17track-loopback-key",
    "ship24": "test-ship24-loopback-key",
}
"""The credentials the loopback API accepts by default: fixed TEST values, never real ones."""

# Namespace of the deterministic ids (Ship24 event and shipment ids) the simulator derives.
_IDS = uuid.UUID("6f1c3c1e-6a53-4d2b-9a38-1d8a3c0e5b11")


@dataclass(frozen=True)
class SimEvent:
    """One carrier-neutral tracking event; each carrier renders it in its own codes.

    ``status`` is a canonical :class:`Status` (or its value); ``at`` an aware instant.
    ``utc_offset`` is the local offset of the scan (local times and ISO offsets in the
    carriers' answers); ``description`` blank means the carrier's usual text for the status.
    """

    status: Status
    at: datetime
    city: str = ""
    country: str = "US"
    description: str = ""
    region: str = ""
    postal_code: str = ""
    utc_offset: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("SimEvent.at must be timezone-aware")

    @property
    def local(self) -> datetime:
        """The instant at the scan's own offset."""
        return self.at.astimezone(timezone(self.utc_offset))

    @property
    def utc(self) -> datetime:
        return self.at.astimezone(UTC)

    def text(self, default: str) -> str:
        return self.description or default

    def place(self) -> str | None:
        """The location as one line of free text (``CHICAGO, IL 60601``), or ``None``."""
        tail = " ".join(p for p in (self.region, self.postal_code) if p)
        line = ", ".join(p for p in (self.city, tail) if p)
        return line or None


@dataclass
class Shipment:
    """A tracking number a carrier knows, and its history (any order; shown sorted).

    Events dated after the simulator's clock are scheduled, not yet visible: the carrier
    cannot know the future, and the demo uses them to make shipments advance on their own.
    """

    carrier: str
    tracking_number: str
    events: list[SimEvent]
    created_at: datetime
    estimated_delivery: str | None = None
    signed_by: str | None = None

    def visible(self, now: datetime) -> list[SimEvent]:
        """The events that have happened by ``now``, oldest first."""
        return sorted((e for e in self.events if e.at <= now), key=lambda e: e.at)

    def updated_at(self, now: datetime) -> datetime:
        seen = self.visible(now)
        return max(self.created_at, seen[-1].at) if seen else self.created_at


@dataclass(frozen=True)
class Ref:
    """The carrier's own id for a number (EasyPost ``trk_…``, Ship24 ``trackerId``, a 17TRACK
    registration), and when it was made."""

    id: str
    number: str
    created_at: datetime


@dataclass(frozen=True)
class Incoming:
    """A request as a carrier module sees it: path relative to the carrier's prefix."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "").strip()

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def bearer(self) -> str | None:
        scheme, _, value = self.header("authorization").partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None

    def basic(self) -> tuple[str, str] | None:
        scheme, _, value = self.header("authorization").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password


@dataclass(frozen=True)
class Reply:
    """What to answer."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, {"content-type": "application/json", **(headers or {})})


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), {"content-type": "text/plain; charset=utf-8"})


def iso_z(instant: datetime) -> str:
    """``2024-05-08T21:40:00Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(instant: datetime) -> str:
    """``2024-05-08T16:40:00-05:00``: the instant as ISO at its own offset."""
    return instant.isoformat(timespec="seconds")


def offset_text(offset: timedelta) -> str:
    """``-05:00``."""
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def stable_id(*parts: object) -> str:
    """A UUID that is the same for the same parts (ids that must not change between polls)."""
    return str(uuid.uuid5(_IDS, "/".join(str(p) for p in parts)))


class World:
    """The simulated carriers' state: shipments, credentials, OAuth tokens and carrier ids."""

    def __init__(self, clock: Callable[[], float], token_seconds: float) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.token_seconds = token_seconds
        self.shipments: dict[tuple[str, str], Shipment] = {}
        self.secrets: dict[str, Credential] = dict(TEST_CREDENTIALS)
        self._tokens: dict[str, tuple[str, float]] = {}  # token → (carrier, expires at)
        self._refs: dict[str, dict[str, Ref]] = {}  # carrier → number → ref
        self._by_ref: dict[str, dict[str, Ref]] = {}  # carrier → ref id → ref

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def shipment(self, carrier: str, number: str) -> Shipment | None:
        return self.shipments.get((carrier, number))

    # -- credentials and tokens ------------------------------------------------------------

    def api_key_ok(self, carrier: str, key: str | None) -> bool:
        return key is not None and key == self.secrets[carrier]

    def client_ok(self, carrier: str, client_id: str | None, secret: str | None) -> bool:
        return (client_id, secret) == self.secrets[carrier]

    def issue_token(self, carrier: str) -> tuple[str, int]:
        """A new access token of ``carrier`` and its lifetime in whole seconds."""
        token = f"{carrier}-test-token-{uuid.uuid4().hex}"
        self._tokens[token] = (carrier, self.clock() + self.token_seconds)
        return token, int(self.token_seconds)

    def token_state(
        self, carrier: str, token: str | None
    ) -> Literal["valid", "expired", "unknown"]:
        found = self._tokens.get(token or "")
        if found is None or found[0] != carrier:
            return "unknown"
        return "valid" if self.clock() < found[1] else "expired"

    def expire_tokens(self, carrier: str) -> None:
        now = self.clock()
        for token, (owner, expires) in list(self._tokens.items()):
            if owner == carrier:
                self._tokens[token] = (owner, min(expires, now))

    # -- the carrier's own ids for numbers -------------------------------------------------

    def ref(self, carrier: str, number: str, make: Callable[[], str]) -> tuple[Ref, bool]:
        """The ref of ``number``, made with ``make()`` if there is none yet; ``True`` if new."""
        refs = self._refs.setdefault(carrier, {})
        if number in refs:
            return refs[number], False
        ref = Ref(make(), number, self.now())
        refs[number] = ref
        self._by_ref.setdefault(carrier, {})[ref.id] = ref
        return ref, True

    def known_ref(self, carrier: str, number: str) -> Ref | None:
        return self._refs.get(carrier, {}).get(number)

    def by_ref(self, carrier: str, ref_id: str) -> Ref | None:
        return self._by_ref.get(carrier, {}).get(ref_id)


@dataclass(frozen=True)
class CarrierSpec:
    """One simulated carrier: its codes per canonical status, its routes, its error bodies.

    ``handle`` answers a request (the world's lock is held); ``fault(status)`` is the body
    the carrier sends with an injected ``status`` (429, 500, 503…).
    """

    id: str
    kind: Literal["api_key", "oauth_client"]
    codes: Mapping[Status, Sequence[object]]
    handle: Callable[[World, Incoming], Reply]
    fault: Callable[[int], Reply]
