"""Seeded mutation fuzzing of API Gateway REST proxy events, for the reliability suites.

Real fixture deliveries, signed as each carrier signs them, are the seeds; a
``random.Random(seed)`` applies one to three mutators (headers, content types, body
encodings, bodies, paths, methods, query strings, the authorizer context, the two
header maps) and :func:`check` judges the handler's answer. Hypothesis is too slow for
100,000 requests; a fixed seed makes every run reproducible.

Example:
    >>> rng = random.Random(7)
    >>> case = generate(rng, seed_requests())
    >>> isinstance(to_event(case.request), dict)
    True
"""

from __future__ import annotations

import ast
import base64
import binascii
import gzip
import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from adapters.shippo import sign_hmac
from adapters.ups import sign_v2
from gateway.api.cursors import CursorCodec
from gateway.api.http import BODY_LIMIT_BYTES
from gateway.carriers.adapter import Adapter
from gateway.carriers.generic import build_adapter
from gateway.local.proxy_event import build_event
from gateway.routes import Route, match_route
from gateway.services import PROCESS_KEY
from gateway.signing.spec import split_signed
from gateway.tenancy.tenants import load_tenants
from gateway.testkit.fixtures import body_paths, carrier_headers
from gateway.testkit.harness import TENANTS_DIR
from tests.support.carriers import (
    GENERIC_PARTNER,
    GENERIC_TENANT,
    QUIRKS,
    SHIPPO_HMAC,
    TENANT,
    UPS_V2,
    adapters,
    samples,
    webhook_adapters,
)
from tests.support.carriers import secret_for as carrier_secret

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)

Headers = tuple[tuple[str, str], ...]
Signer = Callable[[bytes], tuple[dict[str, str], dict[str, str]]]
"""Signs a body as the carrier would: ``(headers, query)``."""


# --- the closed set of error codes -----------------------------------------------


def _text(node: ast.AST | None) -> str | None:
    ok = isinstance(node, ast.Constant) and isinstance(node.value, str)
    return node.value if ok else None  # type: ignore[union-attr]


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _codes_in(node: ast.AST) -> Iterator[str | None]:
    """Codes one AST node defines: ``XError(..., code="x")``, an error class's ``code``
    attribute, or a literal error ``{"code": "x", "message": ...}``."""
    if isinstance(node, ast.Call) and _name(node.func).endswith("Error"):
        yield from (_text(k.value) for k in node.keywords if k.arg == "code")
    elif isinstance(node, ast.ClassDef) and any(_name(b).endswith("Error") for b in node.bases):
        for statement in node.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    values = statement.value
                    vals = values.elts if isinstance(values, ast.Tuple) else [values]
                    yield from (
                        _text(v) for n, v in zip(names, vals, strict=False) if _name(n) == "code"
                    )
    elif isinstance(node, ast.Dict) and {_text(k) for k in node.keys} == {"code", "message"}:
        yield from (
            _text(v) for k, v in zip(node.keys, node.values, strict=True) if _text(k) == "code"
        )


@cache
def known_error_codes() -> frozenset[str]:
    """Every error code the service can answer with, read from the source of ``gateway/``
    and ``adapters/`` (so a new code joins the set by being written, not by a test edit)."""
    found: set[str] = set()
    for path in sorted([*(ROOT / "gateway").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            found.update(code for code in _codes_in(node) if code)
    return frozenset(found)


# --- seeds: real deliveries, signed ----------------------------------------------


@dataclass(frozen=True)
class FuzzRequest:
    """One HTTP request before it becomes a proxy event; ``signed`` holds the bodies a
    valid credential was made for (the forgery oracle), ``signer`` re-signs a new body."""

    method: str
    path: str
    body: bytes = b""
    headers: Headers = ()
    query: Headers = ()
    tenant: str | None = None
    signer: Signer | None = None
    body_bound: bool = False
    signed: frozenset[bytes] = frozenset()
    credentials_dropped: bool = False
    tags: tuple[str, ...] = ()

    def tagged(self, name: str, **changes: Any) -> FuzzRequest:
        """A copy with ``changes`` applied and ``name`` added to the tags."""
        return replace(self, tags=(*self.tags, name), **changes)

    def resigned(self, body: bytes) -> FuzzRequest:
        """The same request with ``body``, signed again as the carrier would."""
        assert self.signer is not None
        headers, query = self.signer(body)
        names = {n.lower() for n in headers}
        kept = tuple((n, v) for n, v in self.headers if n.lower() not in names)
        keptq = tuple((n, v) for n, v in self.query if n not in query)
        return replace(
            self,
            body=body,
            headers=kept + tuple(headers.items()),
            query=keptq + tuple(query.items()),
            signed=self.signed | {body},
            credentials_dropped=False,
        )


def secret_for(tenant: str, key: str) -> str:
    """A deterministic throwaway secret for (tenant, key) in the form the scheme expects
    (a slot ``carrier.slot`` holds a raw value)."""
    found = adapters().get(key)
    if key == GENERIC_PARTNER:
        found = parcelpal()
    form = found.scheme.secret_form if found is not None else "raw"
    return carrier_secret(form, f"fuzz-{tenant}-{key}")


def _webhook(
    tenant: str, carrier: str, body: bytes, extra: dict[str, str], signer: Signer, body_bound: bool
) -> FuzzRequest:
    headers, query = signer(body)
    base = {"Content-Type": "application/json"} | extra
    return FuzzRequest(
        "POST",
        f"/webhooks/{tenant}/{carrier}",
        body,
        tuple((base | headers).items()),
        tuple(query.items()),
        signer=signer,
        body_bound=body_bound,
        signed=frozenset({body}),
    )


def _adapter_signer(adapter: Adapter, secret: str) -> Signer:
    return lambda body: split_signed(adapter.sign(body, secret, NOW.timestamp()))


@cache
def client_id(tenant: str) -> str:
    """The UPS v2 OAuth client id of a test tenant."""
    return str(load_tenants(TENANTS_DIR)[tenant].carriers["ups"].options["oauth_client_id"])


def _ups_v2_signer(tenant: str) -> Signer:
    secret = secret_for(tenant, "ups.oauth")
    return lambda body: (sign_v2(client_id(tenant), secret, NOW.timestamp(), tenant=tenant), {})


@cache
def parcelpal() -> Adapter:
    """The generic partner ``parcelpal`` declared by tenant ``genericco``."""
    generic = load_tenants(TENANTS_DIR)[GENERIC_TENANT].carriers[GENERIC_PARTNER].generic
    assert generic is not None
    return build_adapter(GENERIC_PARTNER, generic)


PARCELPAL_BODY = json.dumps(
    {
        "delivery": "dlv_fuzz",
        "eta": "2025-06-05",
        "scans": [
            {"parcel": "pp-fuzz-1", "state": "HUB", "at": "2025-06-01T08:00:00Z", "note": "hub"},
            {"parcel": "pp-fuzz-1", "state": "DLV", "at": 1748851200, "geo": {"lat": 1.5}},
        ],
    }
).encode()


def webhook_seeds() -> list[FuzzRequest]:
    """Every body fixture of every discovered webhook adapter, signed for tenant ``hooli``,
    then the seeds of the declared quirks (:func:`quirk_seeds`)."""
    seeds = []
    for adapter in webhook_adapters():
        signer = _adapter_signer(adapter, secret_for(TENANT, adapter.id))
        bound = adapter.scheme.binds_body
        for path in body_paths(adapter.id):
            body, extra = path.read_bytes(), carrier_headers(path)
            seeds.append(_webhook(TENANT, adapter.id, body, extra, signer, bound))
    return [*seeds, *quirk_seeds()]


def _hmac_slot_signer(tenant: str, carrier: str, slot: str) -> Signer:
    """The carrier's own credential plus Shippo's HMAC made with the ``slot`` secret."""
    own = _adapter_signer(adapters()[carrier], secret_for(tenant, carrier))
    key = secret_for(tenant, slot)

    def signer(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
        headers, query = own(body)
        return headers | sign_hmac(body, key, NOW.timestamp()), query

    return signer


def quirk_seeds() -> list[FuzzRequest]:
    """UPS v2 (OAuth bearer) over every UPS fixture; Shippo for ``genericco``, whose
    ``shippo.hmac`` slot is set (token and HMAC); the generic partner ``parcelpal``."""
    seeds = []
    for quirk in QUIRKS:
        if quirk.scheme == UPS_V2:
            signer = _ups_v2_signer(TENANT)
            for path in body_paths(quirk.carrier):
                body, extra = path.read_bytes(), carrier_headers(path)
                seeds.append(_webhook(TENANT, quirk.carrier, body, extra, signer, False))
        elif quirk.scheme == SHIPPO_HMAC:
            signer = _hmac_slot_signer(GENERIC_TENANT, quirk.carrier, quirk.slot)
            body = samples(quirk.carrier)[0].read_bytes()
            seeds.append(_webhook(GENERIC_TENANT, quirk.carrier, body, {}, signer, True))
        elif quirk.scheme == GENERIC_PARTNER:
            generic = _adapter_signer(parcelpal(), secret_for(GENERIC_TENANT, GENERIC_PARTNER))
            seeds.append(
                _webhook(GENERIC_TENANT, GENERIC_PARTNER, PARCELPAL_BODY, {}, generic, True)
            )
    return seeds


def api_seeds() -> list[FuzzRequest]:
    """The other routes: canonical submit, queries, OAuth token, health, docs."""
    item = {"tracking_id": "1ZFUZZ1", "status": "in_transit", "timestamp": "2025-06-01T10:00:00Z"}
    basic = base64.b64encode(f"{client_id(TENANT)}:{secret_for(TENANT, 'ups.oauth')}".encode())
    form = (
        ("Authorization", "Basic " + basic.decode()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    )
    json_type = (("Content-Type", "application/json"),)
    return [
        FuzzRequest("POST", "/v1/events", json.dumps(item).encode(), json_type, tenant="submitco"),
        FuzzRequest(
            "POST",
            "/v1/events",
            json.dumps({"events": [item, item]}).encode(),
            json_type,
            tenant="submitco",
        ),
        FuzzRequest("GET", "/v1/shipments/1ZFUZZ1", tenant="submitco"),
        FuzzRequest(
            "GET",
            "/v1/shipments/1Z204W4R0308071865",
            headers=(("If-None-Match", 'W/"0", *'),),
            tenant=TENANT,
        ),
        FuzzRequest(
            "GET", "/v1/shipments/1Z204W4R0308071865/events", tenant=TENANT, query=(("limit", "2"),)
        ),
        FuzzRequest("GET", "/v1/shipments/1Z204W4R0308071865/locations", tenant=TENANT),
        FuzzRequest(
            "GET", "/v1/shipments", tenant=TENANT, query=(("status", "in_transit"), ("limit", "5"))
        ),
        FuzzRequest("POST", f"/oauth/{TENANT}/ups/token", b"grant_type=client_credentials", form),
        FuzzRequest("GET", "/healthz"),
        FuzzRequest("GET", "/openapi.json"),
    ]


@cache
def seed_requests() -> tuple[FuzzRequest, ...]:
    """The pool every case starts from."""
    return (*webhook_seeds(), *api_seeds())


def fuzz_secrets() -> dict[tuple[str, str], list[str]]:
    """What the secrets provider must hold for the seeds to be authentic."""
    values = {(TENANT, a): [secret_for(TENANT, a)] for a in adapters()}
    for quirk in QUIRKS:
        if quirk.scheme == UPS_V2:
            values[(TENANT, quirk.slot)] = [secret_for(TENANT, quirk.slot)]
        elif quirk.scheme == SHIPPO_HMAC:
            for key in (quirk.carrier, quirk.slot):
                values[(GENERIC_TENANT, key)] = [secret_for(GENERIC_TENANT, key)]
        elif quirk.scheme == GENERIC_PARTNER:
            values[(GENERIC_TENANT, quirk.carrier)] = [secret_for(GENERIC_TENANT, quirk.carrier)]
    return values


# --- mutators ----------------------------------------------------------------------

Mutator = Callable[[random.Random, FuzzRequest], FuzzRequest]
MUTATORS: dict[str, Mutator] = {}
BODY_MUTATORS: dict[str, Callable[[random.Random, bytes], bytes]] = {}
WEIRD_TEXT = ["\u00e9\u00e8", "\u4e2d\u6587", "\U0001f4e6", "e\u0301", "\u202e", "\ufeff"]
WEIRD_TEXT += ["\u00ff\u00fe", "\x00", "\r\n", "\t", "\x7f", "\x1b[31m", " ", "", "%00", ".."]
WEIRD_TEXT += ["\\", '"', "'", "${x}"]


def mutator(fn: Mutator) -> Mutator:
    """Register a request mutator under its name."""
    MUTATORS[fn.__name__] = fn
    return fn


def body_mutator(
    fn: Callable[[random.Random, bytes], bytes],
) -> Callable[[random.Random, bytes], bytes]:
    """Register a body mutator (usable with or without re-signing)."""
    BODY_MUTATORS[fn.__name__] = fn
    return fn


def _weird(rng: random.Random, length: int = 3) -> str:
    return "".join(rng.choice(WEIRD_TEXT) for _ in range(length))


def _pick(rng: random.Random, req: FuzzRequest) -> tuple[int, str, str] | None:
    if not req.headers:
        return None
    index = rng.randrange(len(req.headers))
    return (index, *req.headers[index])


@mutator
def drop_header(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    picked = _pick(rng, req)
    if picked is None:
        return req.tagged("drop_header")
    headers = req.headers[: picked[0]] + req.headers[picked[0] + 1 :]
    return req.tagged("drop_header", headers=headers)


@mutator
def drop_credentials(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    if req.signer is None:
        return req.tagged("drop_credentials", headers=())
    headers, query = req.signer(req.body)
    names = {n.lower() for n in headers} - {"user-agent"}
    kept = tuple((n, v) for n, v in req.headers if n.lower() not in names)
    keptq = tuple((n, v) for n, v in req.query if n not in query)
    return req.tagged("drop_credentials", headers=kept, query=keptq, credentials_dropped=True)


@mutator
def duplicate_header(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    picked = _pick(rng, req)
    if picked is None:
        return req.tagged("duplicate_header")
    _, name, value = picked
    other = rng.choice([name, name.upper(), name.lower(), name.swapcase(), name + " "])
    copy = rng.choice([value, value + "0", value[::-1], "", _weird(rng)])
    pair = ((other, copy),)
    headers = pair + req.headers if rng.random() < 0.5 else req.headers + pair
    return req.tagged("duplicate_header", headers=headers)


@mutator
def odd_header_value(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    picked = _pick(rng, req)
    if picked is None:
        return req.tagged("odd_header_value", headers=(("X-Odd", _weird(rng)),))
    index, name, value = picked
    odd = rng.choice(
        [
            "A" * rng.choice([8_192, 65_536]),
            _weird(rng, 5),
            value + _weird(rng, 1),
            _weird(rng, 1) + value,
            value.upper(),
            value[: len(value) // 2],
            " " + value + " ",
            value.encode("utf-8").decode("latin-1"),
        ]
    )
    headers = (*req.headers[:index], (name, odd), *req.headers[index + 1 :])
    return req.tagged("odd_header_value", headers=headers)


@mutator
def odd_header_name(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    name = rng.choice(["", " ", "x" * 5_000, "Content-Type ", "content_type", "\u00e9", "a\r\nb"])
    return req.tagged("odd_header_name", headers=(*req.headers, (name, _weird(rng))))


CONTENT_TYPES: list[str | None] = [
    None,
    "",
    ";",
    "\x00",
    " application/json ",
    "application/json\u00e9",
]
CONTENT_TYPES += ["text/plain", "application/xml", "application/json; charset=utf-8"]
CONTENT_TYPES += ["application/json;charset=UTF-16", "APPLICATION/JSON", "application/*", "*/*"]
CONTENT_TYPES += ["application/json, text/plain", "application/x-www-form-urlencoded"]
CONTENT_TYPES += ["multipart/form-data; boundary=x", "application/json; charset", "text/json"]


@mutator
def content_type(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    kept = tuple((n, v) for n, v in req.headers if n.lower() != "content-type")
    choice = rng.choice(CONTENT_TYPES)
    added = () if choice is None else ((rng.choice(["Content-Type", "content-type"]), choice),)
    if rng.random() < 0.2:  # two content types that disagree
        added += (("CONTENT-TYPE", rng.choice(CONTENT_TYPES[2:])),)
    return req.tagged("content_type", headers=kept + added)


@mutator
def content_encoding(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    value = rng.choice(["gzip", "deflate", "br", "identity", "gzip, gzip", "x-garbage"])
    return req.tagged("content_encoding", headers=(*req.headers, ("Content-Encoding", value)))


@body_mutator
def empty(rng: random.Random, body: bytes) -> bytes:
    return b""


@body_mutator
def huge(rng: random.Random, body: bytes) -> bytes:
    size = rng.choice(
        [BODY_LIMIT_BYTES - 1, BODY_LIMIT_BYTES, BODY_LIMIT_BYTES + 1, 2 * BODY_LIMIT_BYTES + 1]
    )
    return (body + b" " * size)[:size]


@body_mutator
def truncated(rng: random.Random, body: bytes) -> bytes:
    return body[: rng.randrange(len(body) + 1)]


@body_mutator
def invalid_utf8(rng: random.Random, body: bytes) -> bytes:
    at = rng.randrange(len(body) + 1)
    return (
        body[:at]
        + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff", b"\x80"])
        + body[at:]
    )


@body_mutator
def utf16(rng: random.Random, body: bytes) -> bytes:
    text = body.decode("utf-8", "replace")
    return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32", "utf-8-sig"]))


@body_mutator
def non_finite_numbers(rng: random.Random, body: bytes) -> bytes:
    word = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"1" * 5_000])
    return re.sub(rb"(?<=[:\[,])\s*-?\d+(\.\d+)?", word, body, count=rng.randint(1, 5))


@body_mutator
def deep_nesting(rng: random.Random, body: bytes) -> bytes:
    depth = rng.choice([1_000, 10_000])
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@body_mutator
def duplicate_keys(rng: random.Random, body: bytes) -> bytes:
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return body
    key = rng.choice([b'"data"', b'"event"', b'"msg"', b'"trackingNumber"', b'"type"', b'"id"'])
    return (
        b"{" + key + b":" + rng.choice([b"null", b"1", b"[]", b"{}", b'"x"']) + b"," + stripped[1:]
    )


def _json_map(value: Any, leaf: Callable[[Any], Any], obj: Callable[[dict[str, Any]], Any]) -> Any:
    if isinstance(value, dict):
        return obj({k: _json_map(v, leaf, obj) for k, v in value.items()})
    if isinstance(value, list):
        return [_json_map(v, leaf, obj) for v in value]
    return leaf(value)


def _rewrite(
    body: bytes, leaf: Callable[[Any], Any], obj: Callable[[dict[str, Any]], Any]
) -> bytes:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return body
    return json.dumps(_json_map(value, leaf, obj)).encode()


@body_mutator
def numbers_as_strings(rng: random.Random, body: bytes) -> bytes:
    def leaf(v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    return _rewrite(body, leaf, lambda d: d)


@body_mutator
def nulls_everywhere(rng: random.Random, body: bytes) -> bytes:
    return _rewrite(body, lambda v: None, lambda d: d)


@body_mutator
def arrays_for_objects(rng: random.Random, body: bytes) -> bytes:
    return _rewrite(body, lambda v: v, lambda d: [d] if rng.random() < 0.5 else list(d.values()))


@body_mutator
def wrong_types(rng: random.Random, body: bytes) -> bytes:
    swaps: list[Callable[[Any], Any]] = [
        lambda v: True,
        lambda v: [],
        lambda v: {},
        lambda v: -1,
        lambda v: "",
        lambda v: "\u0000" * 3,
        lambda v: 1e308,
    ]
    return _rewrite(body, lambda v: rng.choice(swaps)(v) if rng.random() < 0.3 else v, lambda d: d)


@body_mutator
def lone_surrogate(rng: random.Random, body: bytes) -> bytes:
    """A lone UTF-16 surrogate (valid JSON, invalid text) in some string."""
    bad = rng.choice(["\ud800", "\udfff", "x\udbff", "\udc00y"])
    return _rewrite(body, lambda v: bad if isinstance(v, str) and rng.random() < 0.2 else v, _same)


@body_mutator
def nul_in_text(rng: random.Random, body: bytes) -> bytes:
    """A NUL inside some strings."""

    def leaf(v: Any) -> Any:
        return v[:2] + "\x00" + v[2:] if isinstance(v, str) and rng.random() < 0.2 else v

    return _rewrite(body, leaf, _same)


_DATE = re.compile(r"^(?:19|20)\d\d(?=-\d\d-\d\d|\d{4}$)")


@body_mutator
def implausible_year(rng: random.Random, body: bytes) -> bytes:
    """Dates moved to a year no carrier means (two-digit-year bugs, far future, the ends)."""
    year = rng.choice(["0001", "0025", "0999", "1969", "2999", "9999"])
    return _rewrite(body, lambda v: _DATE.sub(year, v) if isinstance(v, str) else v, _same)


TRACKING_KEYS = re.compile(r"tracking|number|parcel|code", re.IGNORECASE)


@body_mutator
def odd_tracking_number(rng: random.Random, body: bytes) -> bytes:
    """A tracking-number-like field made unreadable through a URL or too long for a key."""
    odd = rng.choice(
        ["1Z#9", "1Z/9", "1Z%2F9", "1Z?9", "\u00c49", "9" * 3000, "\u20ac" * 700, "1Z 9\x00"]
    )

    def obj(d: dict[str, Any]) -> dict[str, Any]:
        return {
            k: odd if TRACKING_KEYS.search(k) and isinstance(v, str) else v for k, v in d.items()
        }

    return _rewrite(body, lambda v: v, obj)


def _same(d: dict[str, Any]) -> dict[str, Any]:
    return d


@body_mutator
def byte_flips(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


@body_mutator
def top_level_swap(rng: random.Random, body: bytes) -> bytes:
    return rng.choice([b"[]", b"null", b"0", b'"x"', b"true", b"[" + body + b"]", b"{}", b" "])


@body_mutator
def gzipped(rng: random.Random, body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


@mutator
def body(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    name = rng.choice(sorted(BODY_MUTATORS))
    new = BODY_MUTATORS[name](rng, req.body)
    if req.signer is not None and rng.random() < 0.5:
        return req.resigned(new).tagged(f"body:{name}+resigned")
    return req.tagged(f"body:{name}", body=new)


PATHS = ["", "/", "/webhooks", "/webhooks/hooli", "/webhooks/nosuch/easypost"]
PATHS += ["/webhooks/hooli/nosuch", "/webhooks/HOOLI/easypost", "/webhooks/hooli/EasyPost"]
PATHS += ["/webhooks/../webhooks/hooli/easypost", "/webhooks/hooli/..%2Feasypost"]
PATHS += ["/webhooks/hoo%6Ci/easypost", "/webhooks/hooli/easypost/", "/webhooks//hooli/easypost"]
PATHS += ["/webhooks/hooli/easypost/extra", "/webhooks/%00/%00", "/webhooks/acme/easypost"]
PATHS += ["/webhooks/hooli/canonical", "/webhooks/\u00e9/\U0001f4e6", "/v1/shipments/%2e%2e%2f"]
PATHS += ["/v1/shipments/%ZZ", "/v1/events/", "/oauth/hooli/ups/token/", "/healthz/.."]
PATHS += ["/oauth/nosuch/ups/token", "/webhooks/hooli/easypost%3Fx=1", "/webhooks/hooli/easypost;x"]
PATHS += ["/WEBHOOKS/hooli/easypost", "/v1/shipments/" + "9" * 2_000]


@mutator
def path(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    choice = rng.choice([*PATHS, "long", "segment"])
    if choice == "long":
        choice = req.path + "/" + "a" * rng.choice([1_000, 10_000])
    elif choice == "segment":
        parts = req.path.split("/")
        parts[rng.randrange(len(parts))] = _weird(rng, 2)
        choice = "/".join(parts)
    return req.tagged("path", path=choice)


@mutator
def method(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    verb = rng.choice(
        ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "post", "", "X"]
    )
    return req.tagged("method", method=verb)


@mutator
def query(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    extra = rng.choice(
        [
            (("token", "wrong"),),
            (("token", "wrong"), ("token", "wrong2")),
            (("TOKEN", "x"),),
            (("limit", "-1"), ("limit", "99999999999999999999")),
            (("cursor", _weird(rng)),),
            (("status", _weird(rng)), ("updated_since", "yesterday")),
            (("q", "x" * 20_000),),
            tuple((f"k{i}", str(i)) for i in range(300)),
            ((_weird(rng), _weird(rng)),),
        ]
    )
    merged = extra + req.query if rng.random() < 0.5 else req.query + extra
    return req.tagged("query", query=merged)


ALTERED = "cursor_spelling"


def _respelled(rng: random.Random, cursor: str) -> str:
    """A spelling of ``cursor`` that a lenient base64url decoder reads as the same bytes."""
    body, mac = cursor.split(".")
    part = rng.choice(["body", "mac"])
    text = body if part == "body" else mac
    way = rng.randrange(4)
    if way == 0:
        text += rng.choice(["=", "=="])
    elif way == 1:
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice(["\x00", "\n", " ", "!", "."]) + text[at:]
    elif way == 2:  # unused low bits of the last character (a 43-character MAC has two)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        text = text[:-1] + alphabet[alphabet.index(text[-1]) ^ rng.choice([1, 2, 3])]
    else:
        text = text.replace("-", "+").replace("_", "/") + (
            "" if "-" in text or "_" in text else "="
        )
    return f"{text}.{mac}" if part == "body" else f"{body}.{text}"


@mutator
def cursor_spelling(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    """A genuine cursor of this tenant and request, respelled: it must be refused."""
    number = "1Z204W4R0308071865"
    kind = rng.choice(["events", "locations"])
    payload = {"k": kind, "n": number, "c": None, "a": "E#2024-04-23T13:15:19.000000Z#ev_0"}
    cursor = CursorCodec(PROCESS_KEY).encode(TENANT, payload)
    altered = _respelled(rng, cursor)
    path = f"/v1/shipments/{number}/{kind}"
    return req.tagged(
        ALTERED, method="GET", path=path, query=(("cursor", altered),), tenant=TENANT, body=b""
    )


@mutator
def authorizer(rng: random.Random, req: FuzzRequest) -> FuzzRequest:
    tenant = rng.choice([None, "acme", "umbrella", "nosuch", "", "HOOLI", "../hooli", TENANT])
    return req.tagged("authorizer", tenant=tenant)


# --- event-level mutators (what no HTTP request can express) ------------------------

EventMutator = Callable[[random.Random, dict[str, Any]], None]
EVENT_MUTATORS: dict[str, EventMutator] = {}


def event_mutator(fn: EventMutator) -> EventMutator:
    """Register a mutator of the built proxy event."""
    EVENT_MUTATORS[fn.__name__] = fn
    return fn


@event_mutator
def base64_flag(rng: random.Random, event: dict[str, Any]) -> None:
    raw = (event.get("body") or "").encode("utf-8", "surrogatepass")
    event["body"], event["isBase64Encoded"] = rng.choice(
        [
            ("!!not base64!!" + raw.decode("latin-1"), True),
            (base64.b64encode(rng.randbytes(rng.randrange(1, 300))).decode(), True),
            (base64.b64encode(raw).decode(), True),  # the same bytes: must behave the same
            (base64.b64encode(raw).decode().rstrip("="), True),
            (base64.urlsafe_b64encode(raw).decode(), True),
            (base64.b64encode(raw).decode(), False),
            ("\udcff" + raw.decode("latin-1"), False),  # a lone surrogate: not encodable
        ]
    )


@event_mutator
def header_maps_disagree(rng: random.Random, event: dict[str, Any]) -> None:
    single = dict(event.get("headers") or {})
    multi = {k: list(v) for k, v in (event.get("multiValueHeaders") or {}).items()}
    name = rng.choice(sorted(single) or ["X-Any"])
    way = rng.randrange(5)
    if way == 0:
        single[name] = single.get(name, "") + "0"
    elif way == 1:
        multi[name] = [*multi.get(name, []), "forged"]
    elif way == 2:
        multi.pop(name, None)
    elif way == 3:
        single, multi = {}, multi
    else:
        single, multi = single, {}
    event["headers"], event["multiValueHeaders"] = single or None, multi or None


@event_mutator
def query_maps_disagree(rng: random.Random, event: dict[str, Any]) -> None:
    single = dict(event.get("queryStringParameters") or {})
    multi = {k: list(v) for k, v in (event.get("multiValueQueryStringParameters") or {}).items()}
    if single and rng.random() < 0.5:
        name = rng.choice(sorted(single))
        single[name] = "forged"
    else:
        multi["token"] = ["forged", *multi.get("token", [])]
    event["queryStringParameters"] = single or None
    event["multiValueQueryStringParameters"] = multi or None


@event_mutator
def context_shape(rng: random.Random, event: dict[str, Any]) -> None:
    context = event["requestContext"]
    choice = rng.randrange(6)
    if choice == 0:
        context.pop("authorizer", None)
    elif choice == 1:
        context["authorizer"] = {"tenant": rng.choice([5, None, [], {"id": "hooli"}, True])}
    elif choice == 2:
        context["authorizer"] = None
    elif choice == 3:
        event["pathParameters"] = {"tenant": "acme", "carrier": "easypost"}
    elif choice == 4:
        event["resource"] = "/{proxy+}"
    else:
        event["path"] = event["path"] + "/"


# --- cases, events, checks ---------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A request, the event mutators to apply after building it, and what it must get."""

    request: FuzzRequest
    event_mutators: tuple[str, ...] = ()
    authentic: bool = False  # signed garbage: must be stored, ignored or parked (2xx)
    seed_path: str = ""

    @property
    def tags(self) -> tuple[str, ...]:
        return (*self.request.tags, *self.event_mutators)


def generate(rng: random.Random, seeds: Sequence[FuzzRequest]) -> Case:
    """One case: a fifth are authentic garbage (a signed mutated body), the rest noise."""
    seed = rng.choice(seeds)
    if seed.signer is not None and rng.random() < 0.2:
        name = rng.choice(sorted(set(BODY_MUTATORS) - {"huge"}))
        new = BODY_MUTATORS[name](rng, seed.body)
        request = seed.resigned(new).tagged(f"authentic:{name}")
        return Case(request, authentic=len(new) <= BODY_LIMIT_BYTES, seed_path=seed.path)
    request = seed
    for _ in range(rng.randint(1, 3)):
        request = MUTATORS[rng.choice(sorted(MUTATORS))](rng, request)
    events = tuple(
        rng.choice(sorted(EVENT_MUTATORS)) for _ in range(rng.choice([0, 0, 0, 1, 1, 2]))
    )
    return Case(request, events, seed_path=seed.path)


def to_event(req: FuzzRequest) -> dict[str, Any]:
    """The proxy event API Gateway would build for ``req`` (any path, even unroutable)."""
    route = match_route(req.path) or Route(req.path or "/", {})
    event = build_event(
        route,
        method=req.method,
        path=req.path,
        headers=list(req.headers),
        query_string=urlencode(req.query).encode(),
        body=req.body,
        source_ip="127.0.0.1",
        tenant=req.tenant,
        request_id=str(uuid.uuid4()),
    )
    return event


def case_event(rng: random.Random, case: Case) -> dict[str, Any]:
    """The event of a case, with its event mutators applied."""
    event = to_event(case.request)
    for name in case.event_mutators:
        EVENT_MUTATORS[name](rng, event)
    return event


def _decoded_body(event: dict[str, Any]) -> bytes | None:
    text = event.get("body")
    if text is None:
        return b""
    try:
        if event.get("isBase64Encoded"):
            return base64.b64decode(text, validate=True)
        return str(text).encode("utf-8")
    except (binascii.Error, ValueError):
        return None


SUBMIT_RESULTS = {"results", "accepted", "duplicates", "rejected"}
"""``POST /v1/events`` (also reached as ``/v1/events/``) answers 400 ``no_valid_items`` with
its per-item results and totals (gateway/api/submit.py)."""


def waybill_shape(path: str, reply: Any) -> Any:
    """A token refusal in RFC 6749 §5.2's shape (``{"error", "error_description"}``, the token
    endpoint's own) as Waybill's ``{"error": {"code", "message"}}``: one check for both."""
    rfc = isinstance(reply, dict) and set(reply) == {"error", "error_description"}
    if path.startswith("/oauth/") and rfc and isinstance(reply["error"], str):
        return {"error": {"code": reply["error"], "message": reply["error_description"]}}
    return reply


def check(case: Case, event: dict[str, Any], response: Any) -> list[str]:
    """Everything wrong with the handler's answer to ``event`` (empty: all good)."""
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        return [f"not a proxy response: {response!r:.200}"]
    status, text = response["statusCode"], response.get("body")
    problems = []
    if status >= 500:
        problems.append(f"status {status}")
    if status == 304 or (not text and case.request.method == "HEAD"):
        return problems
    try:
        reply = json.loads(text or "")
    except (TypeError, ValueError):
        return [*problems, f"status {status} with a body that is not JSON: {text!r:.200}"]
    if status >= 400:
        reply = waybill_shape(str(event.get("path") or ""), reply)
        error = reply.get("error") if isinstance(reply, dict) else None
        submit = isinstance(error, dict) and error.get("code") == "no_valid_items"
        extra = SUBMIT_RESULTS if submit else set()
        shape = isinstance(error, dict) and set(reply) - {"error"} <= extra
        if not (shape and set(error) == {"code", "message"} and isinstance(error["message"], str)):
            problems.append(f"error body of the wrong shape: {reply!r:.200}")
        elif error["code"] not in known_error_codes():
            problems.append(f"unknown error code {error['code']!r}")
    altered = case.request.tags[-1:] == (ALTERED,) and not case.event_mutators
    if altered and status < 400:
        problems.append(f"an altered cursor was accepted ({status})")
    if case.authentic and status not in (200, 202):
        problems.append(f"authentic delivery answered {status}: {reply!r:.200}")
    elif case.authentic and status == 200 and not {"accepted", "ignored"} & set(reply):
        problems.append(f"authentic delivery neither stored nor ignored: {reply!r:.200}")
    if 200 <= status < 300 and case.request.path == case.seed_path:
        body = _decoded_body(event)
        if case.request.body_bound and body not in case.request.signed:
            problems.append(f"FORGERY: an unsigned body was accepted ({status})")
        if case.request.credentials_dropped and event.get("httpMethod") == "POST":
            problems.append(f"FORGERY: accepted without credentials ({status})")
    return problems


@dataclass
class Tally:
    """What a fuzz run saw: statuses, error codes, mutators used, and failures."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    mutators: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def record(self, index: int, case: Case, response: Any, problems: list[str]) -> None:
        """Count one answer; keep the first failures for the report."""
        self.requests += 1
        self.mutators.update(t.removesuffix("+resigned") for t in case.tags)
        if isinstance(response, dict) and isinstance(response.get("statusCode"), int):
            self.statuses[response["statusCode"]] += 1
            if response["statusCode"] >= 400:
                try:
                    reply = waybill_shape(case.request.path, json.loads(response["body"]))
                    self.codes[reply["error"]["code"]] += 1
                except (TypeError, ValueError, KeyError):
                    self.codes["<unreadable>"] += 1
        if problems and len(self.failures) < 25:
            self.failures.append(
                f"#{index} {case.request.method} {case.request.path[:80]!r} "
                f"{'/'.join(case.tags)}: {'; '.join(problems)}"
            )

    def summary(self) -> str:
        """One line: requests, statuses and codes, most common first."""
        statuses = " ".join(f"{s}x{n}" for s, n in sorted(self.statuses.items()))
        codes = " ".join(f"{c}x{n}" for c, n in self.codes.most_common())
        return f"{self.requests} requests; statuses {statuses}; codes {codes}"


def run(
    handler: Callable[[dict[str, Any], Any], Any], seed: int, count: int, context: Callable[[], Any]
) -> Tally:
    """Send ``count`` cases generated from ``seed`` through ``handler``; never raises."""
    rng = random.Random(seed)
    seeds = seed_requests()
    tally = Tally()
    for index in range(count):
        case = generate(rng, seeds)
        event = case_event(rng, case)
        try:
            response = handler(event, context())
        except Exception as exc:  # the finding itself: an exception escaped the handler
            response, problems = None, [f"CRASH {type(exc).__name__}: {exc!s:.200}"]
        else:
            problems = check(case, event, response)
        tally.record(index, case, response, problems)
    return tally


def report_line(request: Any, key: str, line: str) -> None:
    """Show ``line`` in the test report (even under ``-q``) and record it as a JUnit
    property; ``request`` is pytest's ``FixtureRequest``."""
    request.node.user_properties.append((key, line))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
