"""The signature-bypass catalogue: every signature scheme x every attack, as data.

A :class:`Scheme` is one way a carrier authenticates a delivery, described by the
properties attacks depend on. The schemes are derived, not listed: one per discovered
webhook adapter, read from its ``SignatureSpec`` (:func:`scheme_of`), plus one per
declared quirk (``tests/support/carriers.py``: UPS v2's OAuth bearer, Shippo's optional
HMAC, Standard Webhooks' Ed25519 keys, and the generic partner ``parcelpal`` of
``tests/fixtures/tenants/genericco.toml``). Each scheme's genuine bodies are its carrier's
own readable fixtures. An :class:`Attack` turns the scheme's genuine delivery into a
forged one. :data:`CATALOGUE` pairs them with the expected :class:`Outcome`:

- ``refused``: the HTTP status and the stable error code (and nothing stored);
- ``accepted``: the attack changes nothing an attacker could not already do (the same
  MAC bytes re-encoded, a valid signature among invalid ones, as the specs say), with
  the reason;
- ``n/a``: the attack does not apply to the scheme, with a reason from
  :data:`NOT_APPLICABLE` (each a checkable property of the scheme, never a skip).

Where a scheme's answer differs from the attack's usual one, :func:`exception` says so
from the scheme's properties (a query credential, a hex MAC, a prefix the decoder
requires, a timestamp in a header …), and :data:`QUIRK_EXCEPTIONS` for the quirks alone.

The canonical adapter (``webhook=False``) is no scheme: ``/webhooks/{tenant}/canonical``
refuses everything (:data:`CANONICAL_PROBES`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any, Literal

from adapters.shippo import HMAC_SCHEME
from adapters.ups import sign_v2
from gateway.signing.bearer import TOKEN_TTL_SECONDS, issue_token
from gateway.signing.spec import SignatureSpec, sign_spec, split_signed
from gateway.tenancy.keysets import KeySet, new_keyset, rotate
from gateway.tenancy.tenants import load_tenants
from gateway.testkit.fixtures import body_paths, carrier_headers
from gateway.testkit.harness import TENANTS_DIR
from tests.adapters.test_adapters import key_pair as adapter_key_pair
from tests.reliability.fuzz_support import NOW, PARCELPAL_BODY, client_id, parcelpal
from tests.support.carriers import (
    GENERIC_PARTNER,
    GENERIC_TENANT,
    OTHER_TENANT,
    QUIRKS,
    SHIPPO_HMAC,
    STANDARD_ED25519,
    TENANT,
    UPS_V2,
    adapters,
    samples,
    webhook_adapters,
)

Style = Literal["hmac", "hash", "token", "list", "standard", "ed25519", "oauth"]
Pairs = tuple[tuple[str, str], ...]
Book = Mapping[tuple[str, str], KeySet | list[str]]
"""What the secrets provider holds: a key set (expiry honoured) or a raw list."""

ADAPTERS = adapters()
GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Scheme:
    """One way a carrier authenticates, described by the properties attacks depend on."""

    id: str
    carrier: str
    style: Style
    credential: str  # the header, or ``?name`` for a query parameter
    encoding: Literal["hex", "base64", "token"]
    prefix: str = ""  # what precedes the signature inside the credential
    tolerance: int | None = None  # seconds, when a timestamp is signed
    companions: tuple[str, ...] = ()  # other credentials the scheme requires too
    key: str = ""  # the key-set slot (default: the carrier)
    tenant: str = TENANT
    other_tenant: str = OTHER_TENANT
    body_bound: bool = True  # the signature covers the body (SignatureSpec.binds_body)
    stamp_header: str = ""  # the header of the signed timestamp (else in the list, or none)
    id_header: str = ""  # the header of a signed message id
    list_seps: tuple[str, str] = (",", "=")  # a signature list's item and key separators
    stamp_key: str = ""  # the key of the timestamp inside a signature list

    @property
    def slot(self) -> str:
        return self.key or self.carrier

    @property
    def in_query(self) -> bool:
        return self.credential.startswith("?")

    @property
    def listed(self) -> bool:
        return self.style in ("list", "standard", "ed25519")

    @property
    def path(self) -> str:
        return f"/webhooks/{self.tenant}/{self.carrier}"

    @property
    def slots(self) -> tuple[str, ...]:
        """Every key-set slot a genuine delivery needs: a scheme in a slot of its own
        (``carrier.slot``) also needs the carrier's own credential (Shippo's URL token,
        UPS's v1 credential)."""
        return (self.slot, *((self.carrier,) if self.slot != self.carrier else ()))

    def body(self, index: int = 0) -> bytes:
        """A genuine body (``index`` 0) or another one (1)."""
        if self.carrier == GENERIC_PARTNER:
            return PARCELPAL_BODY if index == 0 else PARCELPAL_BODY.replace(b"pp-fuzz-1", b"pp-2")
        return bodies(self.carrier)[index]


@cache
def sent_headers(carrier: str) -> tuple[tuple[str, str], ...]:
    """The non-signature headers the carrier sends with its first readable fixture (its
    ``.headers.json``), but the content type (every attempt sets its own)."""
    if carrier == GENERIC_PARTNER:
        return ()
    found = carrier_headers(samples(carrier)[0])
    return tuple((n, v) for n, v in found.items() if n.lower() != "content-type")


@cache
def bodies(carrier: str) -> tuple[bytes, bytes]:
    """Two genuine bodies of a carrier: its first readable fixture (it parses into events),
    and another of its fixtures (the same one re-serialised when it ships only one)."""
    first = samples(carrier)[0]
    others = [p for p in body_paths(carrier) if p != first]
    second = others[0].read_bytes() if others else None
    if second is None:
        second = json.dumps(json.loads(first.read_bytes()), indent=1).encode()
    return first.read_bytes(), second


def credential_of(spec: SignatureSpec) -> str:
    return f"?{spec.query_param}" if spec.query_param else str(spec.header)


def scheme_of(scheme_id: str, carrier: str, spec: SignatureSpec, **more: Any) -> Scheme:
    """The scheme a ``SignatureSpec`` describes, for the attacks."""
    if spec.kind == "standard_webhooks":
        return Scheme(
            scheme_id,
            carrier,
            "standard",
            "webhook-signature",
            spec.encoding,
            prefix="v1,",
            tolerance=spec.tolerance_seconds or 300,
            companions=("webhook-id", "webhook-timestamp"),
            stamp_header="webhook-timestamp",
            id_header="webhook-id",
            list_seps=(" ", ","),
            **more,
        )
    if spec.kind == "token":
        return Scheme(
            scheme_id,
            carrier,
            "token",
            credential_of(spec),
            "token",
            prefix=spec.prefix,
            body_bound=spec.binds_body,
            **more,
        )
    listed = spec.signature_list is not None
    assert not (listed and spec.prefix), "a prefix inside a signature list: not modelled yet"
    prefix = f"{spec.signature_key}{spec.signature_list[1]}" if spec.signature_list else spec.prefix
    companions = tuple(h for h in (spec.timestamp_header, spec.id_header) if h)
    return Scheme(
        scheme_id,
        carrier,
        "list" if listed else spec.kind,
        credential_of(spec),
        spec.encoding,
        prefix=prefix,
        tolerance=spec.tolerance_seconds,
        companions=companions,
        body_bound=spec.binds_body,
        stamp_header=spec.timestamp_header or "",
        id_header=(spec.id_header or "") if "{id}" in spec.signed_content else "",
        list_seps=spec.signature_list or (",", "="),
        stamp_key=(spec.timestamp_key or "") if listed else "",
        **more,
    )


def quirk_schemes() -> tuple[Scheme, ...]:
    """The schemes of the declared quirks (``tests/support/carriers.py``)."""
    found = []
    for quirk in QUIRKS:
        if quirk.scheme == UPS_V2:
            found.append(
                Scheme(
                    UPS_V2,
                    quirk.carrier,
                    "oauth",
                    "Authorization",
                    "token",
                    prefix="Bearer ",
                    companions=("x-api-key",),
                    key=quirk.slot,
                    body_bound=False,
                )
            )
        elif quirk.scheme == SHIPPO_HMAC:
            base = scheme_of(SHIPPO_HMAC, quirk.carrier, HMAC_SCHEME, key=quirk.slot)
            found.append(replace(base, companions=(*base.companions, "?token")))
        elif quirk.scheme == STANDARD_ED25519:
            base = scheme_of(quirk.scheme, quirk.carrier, ADAPTERS[quirk.carrier].scheme)
            found.append(replace(base, style="ed25519", prefix="v1a,"))
        elif quirk.scheme == GENERIC_PARTNER:
            other = {"tenant": GENERIC_TENANT, "other_tenant": "acme"}
            found.append(scheme_of(GENERIC_PARTNER, GENERIC_PARTNER, parcelpal().scheme, **other))
        else:
            raise AssertionError(f"quirk {quirk.scheme} has no scheme here")
    return tuple(found)


SCHEMES: tuple[Scheme, ...] = (
    *(scheme_of(a.id, a.id, a.scheme) for a in webhook_adapters()),
    *quirk_schemes(),
)
"""Every webhook adapter's scheme, then the quirks' (UPS v2, Shippo's HMAC, Standard
Webhooks with Ed25519 keys, the generic partner ``parcelpal``)."""
SCHEMES_BY_ID = {s.id: s for s in SCHEMES}


# --- keys and genuine deliveries -----------------------------------------------------


def key_pair(scheme: Scheme, tenant: str, label: str) -> tuple[str, str]:
    """``(signing, verifying)`` secrets, deterministic per (scheme, tenant, label), made as
    the adapter suite makes them (``whsec_`` or ``whsk_``/``whpk_`` where the scheme says)."""
    spec = SimpleNamespace(kind="ed25519") if scheme.style == "ed25519" else spec_of(scheme)
    return adapter_key_pair(spec, f"{scheme.id}-{tenant}-{label}")  # type: ignore[arg-type]


def spec_of(scheme: Scheme) -> SignatureSpec:
    """The signature spec that verifies the scheme's credential."""
    if scheme.id == SHIPPO_HMAC:
        return HMAC_SCHEME
    return (parcelpal() if scheme.carrier == GENERIC_PARTNER else ADAPTERS[scheme.carrier]).scheme


def credentials(
    scheme: Scheme, body: bytes, signing: str, at: float, tenant: str
) -> tuple[Pairs, Pairs]:
    """What the sender adds to the request: ``(headers, query)``."""
    if scheme.style == "oauth":
        bearer = sign_v2(client_id(tenant), signing, at, tenant=tenant)
        return tuple(bearer.items()), ()
    if scheme.slot != scheme.carrier:  # a second scheme besides the carrier's own credential
        base = SCHEMES_BY_ID[scheme.carrier]
        label = current_label(base) if tenant == scheme.tenant else "current"
        own = key_pair(base, tenant, label)[0]
        pairs, params = credentials(base, body, own, at, tenant)
        extra, extra_query = split_signed(sign_spec(spec_of(scheme), body, signing, at))
        return pairs + tuple(extra.items()), params + tuple(extra_query.items())
    adapter = parcelpal() if scheme.carrier == GENERIC_PARTNER else ADAPTERS[scheme.carrier]
    headers, query = split_signed(adapter.sign(body, signing, at))
    return tuple(headers.items()), tuple(query.items())


@dataclass(frozen=True)
class Attempt:
    """One POST, the secrets the gateway holds and its clock; ``patch`` edits the event."""

    path: str
    body: bytes
    headers: Pairs
    query: Pairs = ()
    book: Book = field(default_factory=dict)
    clock: datetime = NOW
    patch: Callable[[dict[str, Any]], None] | None = None


@cache
def current_label(scheme: Scheme) -> str:
    """The label of the tenant's current secret: for base64 schemes, the first whose genuine
    MAC holds ``+`` or ``/``, so alphabet games change something (bounded search)."""
    for index in range(64):
        label = f"current-{index}" if index else "current"
        if scheme.encoding != "base64":
            return label
        value = dict(genuine(scheme, label=label).headers)[scheme.credential]
        if {"+", "/"} & set(value.rpartition(",")[2]):
            return label
    raise AssertionError(f"no label gives {scheme.id} a MAC with + or /")


def default_book(scheme: Scheme) -> dict[tuple[str, str], KeySet | list[str]]:
    """Each tenant's current secrets for every slot the scheme needs, set a day ago."""
    book: dict[tuple[str, str], KeySet | list[str]] = {}
    for tenant in (scheme.tenant, scheme.other_tenant):
        for slot in scheme.slots:
            owner = scheme if slot == scheme.slot else SCHEMES_BY_ID[slot]
            label = current_label(owner) if tenant == scheme.tenant else "current"
            book[(tenant, slot)] = new_keyset(
                key_pair(owner, tenant, label)[1], now=NOW - timedelta(days=1)
            )
    return book


def genuine(
    scheme: Scheme,
    *,
    body: bytes | None = None,
    signing: str | None = None,
    at: datetime = NOW,
    tenant: str | None = None,
    label: str | None = None,
) -> Attempt:
    """The scheme's genuine delivery (or one signed with ``signing``, at ``at``, as ``tenant``)."""
    payload = scheme.body() if body is None else body
    owner = tenant or scheme.tenant
    if signing is None:
        signing = key_pair(scheme, owner, label or current_label(scheme))[0]
    headers, query = credentials(scheme, payload, signing, at.timestamp(), owner)
    base = (("Content-Type", "application/json"), *sent_headers(scheme.carrier), *headers)
    return Attempt(scheme.path, payload, base, query, default_book(scheme) if label is None else {})


@dataclass(frozen=True)
class BookSecrets:
    """A secrets provider over a :data:`Book`."""

    book: Book

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        entry = self.book.get((tenant, carrier))
        if isinstance(entry, KeySet):
            return entry.valid_secrets(now)
        return list(entry or [])


# --- editing an attempt's credential ---------------------------------------------------


def bare(name: str) -> str:
    """A credential's name without the ``?`` that marks a query parameter."""
    return name.removeprefix("?")


def value_of(attempt: Attempt, name: str) -> str:
    """The (first) value of a header (case-insensitive) or a ``?query`` parameter."""
    if name.startswith("?"):
        return next(v for n, v in attempt.query if n == bare(name))
    return next(v for n, v in attempt.headers if n.lower() == name.lower())


def without(attempt: Attempt, name: str) -> Attempt:
    """The attempt without that header or ``?query`` parameter."""
    if name.startswith("?"):
        return replace(attempt, query=tuple(p for p in attempt.query if p[0] != bare(name)))
    return replace(
        attempt, headers=tuple(p for p in attempt.headers if p[0].lower() != name.lower())
    )


def plus(attempt: Attempt, name: str, value: str) -> Attempt:
    """The attempt with one more header or ``?query`` parameter, last."""
    pair = ((bare(name), value),)
    if name.startswith("?"):
        return replace(attempt, query=attempt.query + pair)
    return replace(attempt, headers=attempt.headers + pair)


def setting(attempt: Attempt, name: str, value: str, *, renamed: str | None = None) -> Attempt:
    """The attempt with that credential's value (and maybe name) replaced."""
    return plus(without(attempt, name), renamed or name, value)


def split_signature(scheme: Scheme, value: str) -> tuple[str, str]:
    """``(head, signature)``: the part of a credential value that encodes the MAC."""
    if scheme.style == "list":
        head, sep, signature = value.rpartition(scheme.prefix)
        return head + sep, signature
    if scheme.style in ("standard", "ed25519"):
        version, sep, signature = value.partition(scheme.list_seps[1])
        return version + sep, signature
    return scheme.prefix, value.removeprefix(scheme.prefix)


def resigned(scheme: Scheme, attempt: Attempt, change: Callable[[str], str]) -> Attempt:
    """The attempt with its signature (the MAC part only) rewritten by ``change``."""
    head, signature = split_signature(scheme, value_of(attempt, scheme.credential))
    return setting(attempt, scheme.credential, head + change(signature))


def mac(scheme: Scheme, signature: str) -> bytes:
    """The raw MAC of an encoded signature."""
    return bytes.fromhex(signature) if scheme.encoding == "hex" else base64.b64decode(signature)


def encoded(raw: bytes, encoding: str) -> str:
    return raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()


def wrong_value(scheme: Scheme) -> str:
    """A well-formed credential made with a key the tenant does not hold."""
    return value_of(
        genuine(scheme, signing=key_pair(scheme, scheme.tenant, "wrong")[0]), scheme.credential
    )


# --- outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the gateway must answer."""

    kind: Literal["refused", "accepted", "n/a"]
    code: str = ""
    status: int = 401
    reason: str = ""


def refused(code: str, status: int = 401) -> Outcome:
    return Outcome("refused", code, status)


def accepted(reason: str) -> Outcome:
    return Outcome("accepted", reason=reason)


MISMATCH = refused("signature_mismatch")
MISSING = refused("signature_missing")
MALFORMED = refused("signature_malformed")
REPEATED = refused("header_repeated")
NO_SECRET = refused("secret_missing")
BAD_SECRET = refused("secret_invalid")
NO_STAMP = refused("timestamp_missing")
STALE = refused("timestamp_stale")

NA_BODY = "the body is not signed (ADAPTERS.md): a captured credential authenticates any body"
NA_TIME = "no timestamp is signed: replays are caught by dedupe, not by a window (ADAPTERS.md)"
NA_FUTURE = "an OAuth token carries an expiry only, no issue time that could be in the future"
NA_TOKEN = "the credential is an opaque token, not an encoded MAC"
NA_HEX = "not hex-encoded"
NA_B64 = "not base64-encoded"
NA_PREFIX = "the credential has no prefix"
NA_LIST = "not a signature list"
NA_SINGLE = "the scheme has a single credential"
NA_ID = "no message id is signed"
NA_VERSIONS = "only Standard Webhooks has two signature versions"
NA_OAUTH = "not the OAuth bearer scheme"
NOT_APPLICABLE: dict[str, Callable[[Scheme], bool]] = {
    NA_BODY: lambda s: not s.body_bound,
    NA_TIME: lambda s: s.tolerance is None,
    NA_FUTURE: lambda s: s.style == "oauth",
    NA_TOKEN: lambda s: s.encoding == "token",
    NA_HEX: lambda s: s.encoding != "hex",
    NA_B64: lambda s: s.encoding != "base64",
    NA_PREFIX: lambda s: not s.prefix,
    NA_LIST: lambda s: not s.listed,
    NA_SINGLE: lambda s: not s.companions,
    NA_ID: lambda s: not s.id_header,
    NA_VERSIONS: lambda s: s.style not in ("standard", "ed25519"),
    NA_OAUTH: lambda s: s.style != "oauth",
}
"""Why an attack does not apply: each reason is a property the scheme is checked to have."""

SAME_MAC = "the same MAC bytes re-spelt: it still takes the secret to make (not a forgery)"
TRIMMED = "surrounding whitespace is not part of a field value (RFC 9110 §5.5): the same MAC"
ANY_V1 = "any matching signature wins, per the spec (Stripe, standardwebhooks.com): rotation"
LAST_QUERY = "a repeated query parameter's last value wins (API Gateway); the token is required"
QUERY_CASE = "query parameter names are case-sensitive: TOKEN is another, ignored parameter"
MULTI_MAP = "multiValueHeaders is the map read (gateway/api/http.py); the valid credential is in it"
SINGLE_MAP = "queryStringParameters is the map read (gateway/api/http.py); the valid token is in it"
INSIDE = "just inside the tolerance: the boundary is inclusive"
CASELESS = "header names are case-insensitive (RFC 9110 §5.1)"
SCHEME_CASE = "the auth scheme name is case-insensitive (RFC 9110 §11.1)"
GRACE_OK = "rotation: the previous secret stays valid until its grace period ends"
HMAC_OPT_IN = "Shippo's HMAC is opt-in: without a shippo.hmac key the URL token alone authenticates"


# --- how each attack is built ------------------------------------------------------------

Build = Callable[[Scheme], Attempt]


def _tamper(change: Callable[[bytes], bytes]) -> Build:
    def build(scheme: Scheme) -> Attempt:
        attempt = genuine(scheme)
        body = change(attempt.body)
        assert body != attempt.body, "the tampering must change the bytes"
        return replace(attempt, body=body)

    return build


def _flip(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


def _reordered(body: bytes) -> bytes:
    value = json.loads(body)
    return json.dumps(dict(reversed(list(value.items()))), separators=(",", ":")).encode()


def _reserialised(body: bytes) -> bytes:
    return json.dumps(json.loads(body), indent=1).encode()


def _other_body(scheme: Scheme) -> Attempt:
    return replace(genuine(scheme), body=scheme.body(1))


def _stripped(scheme: Scheme) -> Attempt:
    return without(genuine(scheme), scheme.credential)


def _emptied(scheme: Scheme) -> Attempt:
    return setting(genuine(scheme), scheme.credential, "")


def _companions_stripped(scheme: Scheme) -> Attempt:
    attempt = genuine(scheme)
    for name in scheme.companions:
        attempt = without(attempt, name)
    return attempt


def _list_items(scheme: Scheme, attempt: Attempt) -> tuple[list[str], list[str]]:
    """A signature list's ``(timestamp items, other items)``."""
    items = value_of(attempt, scheme.credential).split(scheme.list_seps[0])
    stamp = f"{scheme.stamp_key}{scheme.list_seps[1]}" if scheme.stamp_key else None
    stamps = [i for i in items if stamp and i.startswith(stamp)]
    return stamps, [i for i in items if i not in stamps]


def _stamp_of(scheme: Scheme, attempt: Attempt) -> str:
    if scheme.stamp_header:
        return value_of(attempt, scheme.stamp_header)
    first = _list_items(scheme, attempt)[0][0]
    return first.removeprefix(f"{scheme.stamp_key}{scheme.list_seps[1]}")


def _with_stamps(scheme: Scheme, attempt: Attempt, stamps: list[str]) -> Attempt:
    """The attempt presenting these timestamps, in order, and the same signature."""
    if scheme.stamp_header:
        attempt = without(attempt, scheme.stamp_header)
        for stamp in stamps:
            attempt = plus(attempt, scheme.stamp_header, stamp)
        return attempt
    item_sep, kv_sep = scheme.list_seps
    listed = [*(f"{scheme.stamp_key}{kv_sep}{s}" for s in stamps), *_list_items(scheme, attempt)[1]]
    return setting(attempt, scheme.credential, item_sep.join(listed))


def _stamp_stripped(scheme: Scheme) -> Attempt:
    return _with_stamps(scheme, genuine(scheme), [])


def _stamp_swapped(scheme: Scheme) -> Attempt:
    return _with_stamps(scheme, genuine(scheme), [str(int(NOW.timestamp()) - 1)])


def _stamps_repeated(fresh_first: bool) -> Build:
    """A stale signature with a fresh timestamp smuggled next to the signed one."""

    def build(scheme: Scheme) -> Attempt:
        attempt = genuine(scheme, at=NOW - timedelta(seconds=2 * (scheme.tolerance or 0)))
        stale, fresh = _stamp_of(scheme, attempt), str(int(NOW.timestamp()))
        return _with_stamps(scheme, attempt, [fresh, stale] if fresh_first else [stale, fresh])

    return build


def _id_swapped(scheme: Scheme) -> Attempt:
    return setting(genuine(scheme), scheme.id_header, "msg_forged_by_the_attacker")


def _duplicated(valid_first: bool, other_case: bool = False) -> Build:
    """The credential twice: the valid value and a wrong one (same name, or upper-cased)."""

    def build(scheme: Scheme) -> Attempt:
        name = scheme.credential
        attempt = genuine(scheme)
        valid = value_of(attempt, name)
        other = ("?" + bare(name).upper()) if scheme.in_query else name.upper()
        pairs = [(name, valid), (other if other_case else name, wrong_value(scheme))]
        attempt = without(attempt, name)
        for pair_name, pair_value in pairs if valid_first else reversed(pairs):
            attempt = plus(attempt, pair_name, pair_value)
        return attempt

    return build


def _map_forged(which: Literal["single", "multi"]) -> Build:
    """The proxy event's two maps disagree: ``which`` carries a wrong credential."""

    def build(scheme: Scheme) -> Attempt:
        wrong, name = wrong_value(scheme), bare(scheme.credential)
        maps = ("queryStringParameters", "multiValueQueryStringParameters")
        single, multi = maps if scheme.in_query else ("headers", "multiValueHeaders")

        def patch(event: dict[str, Any]) -> None:
            if which == "single":
                event[single][name] = wrong
            else:
                event[multi][name] = [wrong]

        return replace(genuine(scheme), patch=patch)

    return build


def _rewritten(change: Callable[[Scheme, str], str]) -> Build:
    """The signature part (the MAC alone) rewritten by ``change``."""
    return lambda s: resigned(s, genuine(s), lambda sig: change(s, sig))


def _reencoded(scheme: Scheme, signature: str) -> str:
    return encoded(mac(scheme, signature), "base64" if scheme.encoding == "hex" else "hex")


def _last_byte_dropped(scheme: Scheme, signature: str) -> str:
    if scheme.encoding == "token":
        return signature[:-1]
    return encoded(mac(scheme, signature)[:-1], scheme.encoding)


def _prefix_removed(scheme: Scheme) -> Attempt:
    attempt = genuine(scheme)
    head, signature = split_signature(scheme, value_of(attempt, scheme.credential))
    return setting(attempt, scheme.credential, head.removesuffix(scheme.prefix) + signature)


def _prefix_case(scheme: Scheme) -> Attempt:
    attempt = genuine(scheme)
    value = value_of(attempt, scheme.credential).replace(scheme.prefix, scheme.prefix.swapcase(), 1)
    return setting(attempt, scheme.credential, value)


def _decorated(before: str, after: str) -> Build:
    def build(scheme: Scheme) -> Attempt:
        attempt = genuine(scheme)
        value = before + value_of(attempt, scheme.credential) + after
        return setting(attempt, scheme.credential, value)

    return build


def _relabelled(to: str) -> Build:
    """The signature under another version label (``swap``: v1 <-> v1a)."""

    def build(scheme: Scheme) -> Attempt:
        attempt = genuine(scheme)
        version, sep = scheme.prefix[:-1], scheme.prefix[-1]
        label = {"v1a": "v1", "v1": "v1a"}[version] if to == "swap" else to
        value = value_of(attempt, scheme.credential).replace(scheme.prefix, label + sep, 1)
        return setting(attempt, scheme.credential, value)

    return build


def _listed(scheme: Scheme, attempt: Attempt, signatures: list[str]) -> Attempt:
    """The attempt presenting these ``<prefix><signature>`` items (keeping the timestamp)."""
    items = [scheme.prefix + s for s in signatures]
    stamps = _list_items(scheme, attempt)[0]
    return setting(attempt, scheme.credential, scheme.list_seps[0].join([*stamps, *items]))


def _extra_invalid(valid_first: bool) -> Build:
    def build(scheme: Scheme) -> Attempt:
        attempt = genuine(scheme)
        valid = split_signature(scheme, value_of(attempt, scheme.credential))[1]
        wrong = split_signature(scheme, wrong_value(scheme))[1]
        return _listed(scheme, attempt, [valid, wrong] if valid_first else [wrong, valid])

    return build


def _all_invalid(scheme: Scheme) -> Attempt:
    wrong = split_signature(scheme, wrong_value(scheme))[1]
    zeros = encoded(bytes(len(mac(scheme, wrong))), scheme.encoding)
    return _listed(scheme, genuine(scheme), [wrong, zeros])


def _timed(direction: int, outside: bool) -> Build:
    """Signed just inside or outside the tolerance (OAuth: a token issued that long ago;
    its expiry is exclusive)."""

    def build(scheme: Scheme) -> Attempt:
        if scheme.style == "oauth":
            seconds = TOKEN_TTL_SECONDS - (0 if outside else 1)
        else:
            seconds = (scheme.tolerance or 0) + (1 if outside else 0)
        return genuine(scheme, at=NOW + timedelta(seconds=direction * seconds))

    return build


def _other_tenant(scheme: Scheme) -> Attempt:
    if scheme.style == "oauth":  # B's own token, with B's client id, on A's path
        return replace(genuine(scheme, tenant=scheme.other_tenant), book=default_book(scheme))
    return genuine(scheme, signing=key_pair(scheme, scheme.other_tenant, "current")[0])


def _names(scheme: Scheme) -> set[str]:
    return {bare(n).lower() for n in (scheme.credential, *scheme.companions)}


@cache
def _donor(scheme: Scheme) -> Scheme:
    """Another carrier of the same tenant, whose genuine request an attacker replays: the
    first webhook adapter (by id) the tenant enables whose credentials share no name."""
    enabled = load_tenants(TENANTS_DIR)[scheme.tenant].enabled_carriers()
    for adapter in webhook_adapters():
        donor = SCHEMES_BY_ID[adapter.id]
        usable = adapter.id in enabled and donor.carrier != scheme.carrier
        if usable and not _names(donor) & _names(scheme):
            return replace(donor, tenant=scheme.tenant)
    raise AssertionError(f"tenant {scheme.tenant} has no other carrier for {scheme.id}")


def _with_donor_keys(scheme: Scheme, attempt: Attempt) -> Attempt:
    return replace(attempt, book={**default_book(scheme), **default_book(_donor(scheme))})


def _other_carrier_secret(scheme: Scheme) -> Attempt:
    """Signed with the tenant's (configured) secret of another carrier."""
    donor = _donor(scheme)
    signing, verifying = key_pair(scheme, scheme.tenant, f"carrier:{donor.id}")
    attempt = genuine(scheme, signing=signing)
    keyset = new_keyset(verifying, now=NOW - timedelta(days=1))
    return replace(attempt, book={**attempt.book, (scheme.tenant, donor.slot): keyset})


def _donor_replayed(scheme: Scheme) -> Attempt:
    return replace(_with_donor_keys(scheme, genuine(_donor(scheme))), path=scheme.path)


def _to_donor_path(scheme: Scheme) -> Attempt:
    attempt = _with_donor_keys(scheme, genuine(scheme))
    return replace(attempt, path=f"/webhooks/{scheme.tenant}/{_donor(scheme).carrier}")


def _empty_secret(scheme: Scheme) -> Attempt:
    """The key set holds an empty secret; the attacker signs with the empty key (an HMAC
    pads keys with zeros, so the key ``"\\0"`` signs exactly as the empty key does)."""
    forged = {"ed25519": key_pair(scheme, "attacker", "any")[0], "hash": ""}
    hmac_key = "whsec_AA==" if spec_of(scheme).secret_form == "whsec_base64" else "\x00"
    signing = forged.get(scheme.style, hmac_key)
    attempt = genuine(scheme, signing=signing)
    if scheme.style == "token":  # the empty token itself
        attempt = setting(attempt, scheme.credential, scheme.prefix)
    return replace(attempt, book={**attempt.book, (scheme.tenant, scheme.slot): [""]})


def _no_secret(scheme: Scheme) -> Attempt:
    attempt = genuine(scheme)
    return replace(
        attempt, book={k: v for k, v in attempt.book.items() if k != (scheme.tenant, scheme.slot)}
    )


def _previous_secret(age: timedelta) -> Build:
    """Signed with the secret rotated out ``age`` ago with a one-hour grace."""

    def build(scheme: Scheme) -> Attempt:
        old_signing, old = key_pair(scheme, scheme.tenant, "previous")
        new = key_pair(scheme, scheme.tenant, current_label(scheme))[1]
        then = NOW - age
        keyset = rotate(new_keyset(old, now=then - timedelta(days=30)), new, now=then, grace=GRACE)
        attempt = genuine(scheme, signing=old_signing)
        return replace(attempt, book={**attempt.book, (scheme.tenant, scheme.slot): keyset})

    return build


def _renamed(change: Callable[[str], str]) -> Build:
    def build(scheme: Scheme) -> Attempt:
        attempt, name = genuine(scheme), scheme.credential
        new = ("?" + change(bare(name))) if scheme.in_query else change(name)
        return setting(attempt, name, value_of(attempt, name), renamed=new)

    return build


def _lookalike(name: str) -> str:
    return name.replace("-", "_") if "-" in name else name + "_"


def _moved(scheme: Scheme) -> Attempt:
    attempt, name = genuine(scheme), scheme.credential
    moved = bare(name) if scheme.in_query else "?" + name
    return setting(attempt, name, value_of(attempt, name), renamed=moved)


def _path_part_upper(index: int) -> Build:
    def build(scheme: Scheme) -> Attempt:
        parts = scheme.path.split("/")
        parts[index] = parts[index].upper()
        return replace(genuine(scheme), path="/".join(parts))

    return build


def _client_mismatch(scheme: Scheme) -> Attempt:
    return setting(genuine(scheme), "x-api-key", client_id(scheme.other_tenant))


def _bearer_downgrade(scheme: Scheme) -> Attempt:
    """A wrong bearer next to a valid v1 ``credential``: v2 never falls back to v1."""
    attempt = genuine(scheme, signing=key_pair(scheme, scheme.tenant, "wrong")[0])
    attempt = plus(attempt, "credential", "v1-credential")
    return replace(attempt, book={**attempt.book, (scheme.tenant, "ups"): ["v1-credential"]})


def _token_scope(other_tenant: bool) -> Build:
    """A token made with the tenant's own client secret, but for another tenant or carrier."""

    def build(scheme: Scheme) -> Attempt:
        token = issue_token(
            tenant=scheme.other_tenant if other_tenant else scheme.tenant,
            carrier=scheme.carrier if other_tenant else "fedex",
            client_id=client_id(scheme.tenant),
            secret=key_pair(scheme, scheme.tenant, current_label(scheme))[0],
            now=NOW.timestamp(),
        )
        return setting(genuine(scheme), "Authorization", f"Bearer {token}")

    return build


# --- the catalogue --------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    """A forgery: how it is built, its usual outcome, and the schemes it does not apply to
    (the first of ``unless`` whose property the scheme has)."""

    name: str
    build: Build
    outcome: Outcome
    unless: tuple[str, ...] = ()


ENCODED = (NA_TOKEN,)
BASE64 = (NA_TOKEN, NA_B64)
ATTACKS: tuple[Attack, ...] = (
    # the body: a MAC covers every byte
    Attack("body_byte_flipped", _tamper(_flip), MISMATCH, (NA_BODY,)),
    Attack(
        "body_whitespace_added", _tamper(lambda b: b.replace(b":", b": ", 1)), MISMATCH, (NA_BODY,)
    ),
    Attack("body_reserialised", _tamper(_reserialised), MISMATCH, (NA_BODY,)),
    Attack("body_keys_reordered", _tamper(_reordered), MISMATCH, (NA_BODY,)),
    Attack("body_trailing_newline", _tamper(lambda b: b + b"\n"), MISMATCH, (NA_BODY,)),
    Attack("replayed_with_another_body", _other_body, MISMATCH, (NA_BODY,)),
    # the credential: present, complete, once
    Attack("signature_stripped", _stripped, MISSING),
    Attack("signature_empty", _emptied, MISSING),
    Attack("companions_stripped", _companions_stripped, MISSING, (NA_SINGLE,)),
    Attack("timestamp_stripped", _stamp_stripped, NO_STAMP, (NA_TIME,)),
    Attack("signed_timestamp_swapped", _stamp_swapped, MISMATCH, (NA_TIME,)),
    Attack("signed_id_swapped", _id_swapped, MISMATCH, (NA_ID,)),
    Attack("repeated_valid_then_invalid", _duplicated(True), REPEATED),
    Attack("repeated_invalid_then_valid", _duplicated(False), REPEATED),
    Attack("repeated_other_case_valid_first", _duplicated(True, other_case=True), REPEATED),
    Attack("repeated_other_case_invalid_first", _duplicated(False, other_case=True), REPEATED),
    Attack("multi_value_map_forged", _map_forged("multi"), MISMATCH),
    Attack("single_value_map_forged", _map_forged("single"), accepted(MULTI_MAP)),
    # re-spelling the MAC
    Attack("reencoded_hex_base64", _rewritten(_reencoded), MISMATCH, ENCODED),
    Attack(
        "hex_upper_case",
        _rewritten(lambda s, sig: sig.upper()),
        accepted(SAME_MAC),
        (NA_TOKEN, NA_HEX),
    ),
    Attack("base64_case_flipped", _rewritten(lambda s, sig: sig.swapcase()), MISMATCH, BASE64),
    Attack(
        "base64url_alphabet", _rewritten(lambda s, sig: sig.translate(URLSAFE)), MALFORMED, BASE64
    ),
    Attack("base64_padding_removed", _rewritten(lambda s, sig: sig.rstrip("=")), MALFORMED, BASE64),
    Attack("base64_padding_added", _rewritten(lambda s, sig: sig + "="), MALFORMED, BASE64),
    Attack("prefix_removed", _prefix_removed, MISSING, (NA_PREFIX,)),
    Attack("prefix_case_changed", _prefix_case, MISSING, (NA_PREFIX,)),
    Attack("foreign_prefix_added", _decorated("sha256=", ""), MALFORMED),
    Attack("whitespace_around", _decorated(" ", " "), accepted(TRIMMED)),
    Attack("nul_byte_appended", _decorated("", "\x00"), MALFORMED),
    Attack("truncated_to_half", _rewritten(lambda s, sig: sig[: len(sig) // 2]), MALFORMED),
    Attack("truncated_by_one_byte", _rewritten(_last_byte_dropped), MISMATCH),
    # signature lists: t=…,v1=… and Standard Webhooks' space-separated versions
    Attack("list_unknown_version_only", _relabelled("v2"), MISSING, (NA_LIST,)),
    Attack("list_v0_only", _relabelled("v0"), MISSING, (NA_LIST,)),
    Attack("list_version_relabelled", _relabelled("swap"), MISSING, (NA_VERSIONS,)),
    Attack("list_invalid_then_valid", _extra_invalid(False), accepted(ANY_V1), (NA_LIST,)),
    Attack("list_valid_then_invalid", _extra_invalid(True), accepted(ANY_V1), (NA_LIST,)),
    Attack("list_every_signature_invalid", _all_invalid, MISMATCH, (NA_LIST,)),
    Attack("timestamp_repeated_fresh_first", _stamps_repeated(True), MISMATCH, (NA_TIME,)),
    Attack("timestamp_repeated_stale_first", _stamps_repeated(False), STALE, (NA_TIME,)),
    # time: the tolerance boundary both ways (OAuth: the token's expiry)
    Attack("stale_just_outside", _timed(-1, outside=True), STALE, (NA_TIME,)),
    Attack("stale_just_inside", _timed(-1, outside=False), accepted(INSIDE), (NA_TIME,)),
    Attack(
        "future_just_outside", _timed(1, True), refused("timestamp_future"), (NA_FUTURE, NA_TIME)
    ),
    Attack("future_just_inside", _timed(1, False), accepted(INSIDE), (NA_FUTURE, NA_TIME)),
    # keys: whose, which, none
    Attack("other_tenant_secret", _other_tenant, MISMATCH),
    Attack("other_carrier_secret", _other_carrier_secret, MISMATCH),
    Attack("other_carrier_request_replayed", _donor_replayed, MISSING),
    Attack("sent_to_other_carrier_path", _to_donor_path, MISSING),
    Attack("empty_secret", _empty_secret, BAD_SECRET),
    Attack("no_secret_configured", _no_secret, NO_SECRET),
    Attack(
        "previous_secret_within_grace",
        _previous_secret(GRACE - timedelta(minutes=1)),
        accepted(GRACE_OK),
    ),
    Attack("previous_secret_after_grace", _previous_secret(GRACE), MISMATCH),
    # names and places
    Attack("credential_name_upper_case", _renamed(str.upper), accepted(CASELESS)),
    Attack("credential_name_lookalike", _renamed(_lookalike), MISSING),
    Attack("credential_moved_header_query", _moved, MISSING),
    Attack("path_tenant_upper_case", _path_part_upper(2), refused("not_found", 404)),
    Attack("path_carrier_upper_case", _path_part_upper(3), refused("not_found", 404)),
    # the OAuth bearer (UPS v2)
    Attack("oauth_client_id_mismatch", _client_mismatch, refused("client_mismatch"), (NA_OAUTH,)),
    Attack("oauth_bearer_downgrade_to_v1", _bearer_downgrade, MISMATCH, (NA_OAUTH,)),
    Attack("oauth_token_for_other_tenant", _token_scope(True), refused("token_scope"), (NA_OAUTH,)),
    Attack(
        "oauth_token_for_other_carrier", _token_scope(False), refused("token_scope"), (NA_OAUTH,)
    ),
)

UNDECODABLE: tuple[str, ...] = ("base64url_alphabet", "base64_padding_removed")
UNDECODABLE += ("base64_padding_added", "nul_byte_appended", "truncated_to_half")
QUERY_REPEATS: dict[str, Outcome] = {
    # a query credential: the last repeated value wins; names are case-sensitive; one map read
    "repeated_valid_then_invalid": MISMATCH,
    "repeated_invalid_then_valid": accepted(LAST_QUERY),
    "repeated_other_case_valid_first": accepted(QUERY_CASE),
    "repeated_other_case_invalid_first": accepted(QUERY_CASE),
    "multi_value_map_forged": accepted(SINGLE_MAP),
    "single_value_map_forged": MISMATCH,
    "credential_name_upper_case": MISSING,
}


def exception(scheme: Scheme, attack: str) -> Outcome | None:
    """Where the scheme's answer differs from the attack's usual one, read from the scheme's
    properties (each a stable code); ``None``: the usual outcome."""
    token = scheme.style == "token"
    if scheme.in_query and attack in QUERY_REPEATS:
        return QUERY_REPEATS[attack]
    if attack == "reencoded_hex_base64" and scheme.encoding == "hex":
        return MALFORMED  # hex that is not hex, and the decoder refuses it
    if attack in ("prefix_removed", "prefix_case_changed") and scheme.style in (
        "hmac",
        "hash",
        "token",
    ):
        return MALFORMED  # a prefix the decoder requires verbatim
    if attack == "foreign_prefix_added":  # "sha256=" hides a list's first item or a scheme
        if scheme.style == "list":
            return NO_STAMP if scheme.stamp_key else MISSING
        if scheme.style in ("standard", "ed25519", "oauth"):
            return MISSING
    if token and attack in ("foreign_prefix_added", "whitespace_around", "nul_byte_appended"):
        # static tokens are compared whole, after a prefix the decoder requires verbatim
        return MALFORMED if scheme.prefix and attack != "nul_byte_appended" else MISMATCH
    if attack == "truncated_to_half" and (token or scheme.encoding == "hex"):
        return MISMATCH  # half a hex MAC decodes (to the wrong length); half a token is wrong
    if attack.startswith("timestamp_repeated_") and scheme.stamp_header:
        return REPEATED  # the timestamp is a header, and a repeated header is refused
    stamped = scheme.stamp_header in scheme.companions and scheme.style in ("hmac", "hash", "list")
    if attack == "companions_stripped" and stamped:  # the timestamp is checked first
        return NO_STAMP if scheme.tolerance is not None else MISMATCH
    if attack == "empty_secret":
        # a token compares the empty presented value first; a plain hash refuses "" as a key
        return MISSING if token else NO_SECRET if scheme.style == "hash" else None
    return None


QUIRK_EXCEPTIONS: dict[tuple[str, str], Outcome] = {
    # Ed25519: a signature that does not decode is skipped, so nothing matches
    **{(STANDARD_ED25519, attack): MISMATCH for attack in UNDECODABLE},
    # OAuth: the scheme name is case-insensitive; the token's expiry is its time bound
    (UPS_V2, "prefix_case_changed"): accepted(SCHEME_CASE),
    (UPS_V2, "stale_just_outside"): refused("token_expired"),
    (UPS_V2, "stale_just_inside"): accepted("the token is still within its one-hour life"),
    (UPS_V2, "empty_secret"): NO_SECRET,
    (SHIPPO_HMAC, "no_secret_configured"): accepted(HMAC_OPT_IN),
}
"""The declared quirks' own answers (``tests/support/carriers.py``)."""

URLSAFE = str.maketrans("+/", "-_")
OAUTH_TIMED = {"stale_just_outside", "stale_just_inside"}


def not_applicable(scheme: Scheme, attack: Attack) -> str | None:
    """Why the attack does not apply to the scheme, or None."""
    if scheme.style == "oauth" and attack.name in OAUTH_TIMED:
        return None  # the token's expiry stands in for a signed timestamp
    return next((r for r in attack.unless if NOT_APPLICABLE[r](scheme)), None)


@dataclass(frozen=True)
class Entry:
    """One (scheme, attack) of the catalogue."""

    scheme: Scheme
    attack: Attack
    outcome: Outcome

    @property
    def id(self) -> str:
        return f"{self.scheme.id}-{self.attack.name}"


def catalogue() -> list[Entry]:
    """Every scheme x every attack, each with its expected outcome."""
    entries = []
    for scheme in SCHEMES:
        for attack in ATTACKS:
            reason = not_applicable(scheme, attack)
            usual = (
                QUIRK_EXCEPTIONS.get((scheme.id, attack.name))
                or exception(scheme, attack.name)
                or attack.outcome
            )
            outcome = Outcome("n/a", reason=reason) if reason else usual
            entries.append(Entry(scheme, attack, outcome))
    return entries


CATALOGUE = catalogue()

CANONICAL_PROBES: dict[str, Pairs] = {
    "no credential": (("Content-Type", "application/json"),),
    "an x-api-key": (("Content-Type", "application/json"), ("x-api-key", "wb_live_guess")),
    "a bearer token": (("Content-Type", "application/json"), ("Authorization", "Bearer x")),
    "a standard webhooks signature": (
        ("Content-Type", "application/json"),
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", str(int(NOW.timestamp()))),
        ("webhook-signature", "v1,AAAA"),
    ),
}
"""``/webhooks/submitco/canonical``: not a webhook, every delivery is ``not_a_webhook``."""
