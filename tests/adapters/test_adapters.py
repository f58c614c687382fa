"""One parametrised suite over every discovered adapter and every fixture it ships.

Each adapter gets the same cases: sign→verify round trip, parse + normalise equal to
the expected file, tampered body, wrong secret, each header missing, no secret,
repeated headers, rotation, and (where the scheme binds a timestamp) tolerance on
both sides. Adding an adapter module plus fixtures adds its cases; nothing here names a
carrier except the discovery checks. The fixture layout is described in ``conftest.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.carriers import discovery
from gateway.carriers.adapter import Adapter, Delivery, map_status
from gateway.errors import ParseError, SignatureError
from gateway.ingest.normalise import to_canonical
from gateway.models import Status
from gateway.signing.spec import QUERY_PREFIX, SignatureSpec
from gateway.testkit.fixtures import FIXTURES, body_paths, carrier_headers

TENANT = "acme"
ON_PURPOSE = "unknown_on_purpose"
NOW = 1_700_000_000.0
DAY = 86_400

MakeDelivery = Callable[[str, bytes, Mapping[str, str | tuple[str, ...]]], Delivery]


@dataclass(frozen=True)
class Case:
    """One body fixture of one adapter."""

    adapter: Adapter
    body_path: Path

    @property
    def name(self) -> str:
        return self.body_path.name.removesuffix(".json")

    @property
    def body(self) -> bytes:
        return self.body_path.read_bytes()

    def sidecar(self, suffix: str) -> Any:
        path = self.body_path.with_name(self.name + suffix)
        return json.loads(path.read_text("utf-8")) if path.exists() else None

    def headers(self) -> dict[str, str]:
        """The non-signature headers the carrier sends (may be empty)."""
        return carrier_headers(self.body_path)


def all_adapters() -> list[Adapter]:
    """Every discovered webhook adapter; ``webhook=False`` ones (``canonical``: no carrier
    signature, the edge's API key authenticates) are tested on their own route instead."""
    registry = discovery.load_adapters()
    return [registry.adapters[k] for k in sorted(registry.adapters) if registry.adapters[k].webhook]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``adapter``: every adapter; ``case``: every body fixture; ``timed_case`` and
    ``untimed_case``: split by whether the scheme binds a timestamp; ``body_bound_case``:
    schemes whose signature covers the body (a static token, by design, does not)."""
    found = all_adapters()
    every = [Case(a, p) for a in found for p in body_paths(a.id)]
    groups = {
        "case": every,
        "timed_case": [c for c in every if c.adapter.scheme.tolerance_seconds is not None],
        "untimed_case": [c for c in every if c.adapter.scheme.tolerance_seconds is None],
        "body_bound_case": [c for c in every if c.adapter.scheme.binds_body],
    }
    for name, items in groups.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, items, ids=[f"{c.adapter.id}/{c.name}" for c in items])
    if "adapter" in metafunc.fixturenames:
        metafunc.parametrize("adapter", found, ids=[a.id for a in found])


def key_pair(scheme: SignatureSpec, label: str) -> tuple[str, str]:
    """``(signing secret, verifying secret)`` for a scheme, deterministic per label.

    Symmetric schemes use one value twice; ``ed25519`` schemes get a ``whsk_`` seed and
    its ``whpk_`` public key. These are throwaway test values, not secrets.
    """
    seed = hashlib.sha256(f"waybill-test-{scheme.kind}-{label}".encode()).digest()
    if scheme.kind == "ed25519":
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return "whsk_" + base64.b64encode(seed).decode(), "whpk_" + base64.b64encode(raw).decode()
    if scheme.secret_form == "whsec_base64":
        secret = "whsec_" + base64.b64encode(seed[:24]).decode()
    else:
        secret = f"test-{label}-s\u00e9cret-{seed[:4].hex()}"  # non-ASCII on purpose (NFKD)
    return secret, secret


def _signed(
    case: Case,
    make_delivery: MakeDelivery,
    secret: str,
    *,
    now: float = NOW,
    body: bytes | None = None,
) -> tuple[dict[str, str], Delivery]:
    """Sign the fixture body as the carrier would; return the headers and the delivery."""
    payload = case.body if body is None else body
    headers = case.headers() | case.adapter.sign(case.body, secret, now)
    return headers, make_delivery(case.adapter.id, payload, headers)


def credentials(scheme: SignatureSpec) -> tuple[str, ...]:
    """Every header the scheme reads, plus ``?name`` for a query-parameter credential."""
    query = (QUERY_PREFIX + scheme.query_param,) if scheme.query_param else ()
    return (*scheme.headers, *query)


def _refused(adapter: Adapter, delivery: Delivery, secrets: list[str], now: float = NOW) -> None:
    with pytest.raises(SignatureError):
        adapter.verify(delivery, secrets, now)


# --- the declarative object -------------------------------------------------------


def test_adapter_is_declarative(adapter: Adapter) -> None:
    assert adapter.id and adapter.label
    assert adapter.docs_url.startswith("https://")
    assert credentials(adapter.scheme), "a scheme names where its credential is"
    assert adapter.status_map, "the status map is data"
    for code, status in adapter.status_map.items():
        assert code == code.lower(), f"status map keys are lower-case: {code!r}"
        assert isinstance(status, Status)
    assert map_status(adapter.status_map, "no-such-native-code-xyz") is Status.UNKNOWN


def test_sign_emits_every_scheme_header(adapter: Adapter) -> None:
    signing, _ = key_pair(adapter.scheme, "current")
    emitted = {name.lower() for name in adapter.sign(b"{}", signing, NOW)}
    assert {name.lower() for name in adapter.scheme.headers} <= emitted


def test_adapter_ships_a_tracking_fixture(adapter: Adapter) -> None:
    expected = [
        p.with_name(p.name.removesuffix(".json") + ".expected.json") for p in body_paths(adapter.id)
    ]
    tracking = [p for p in expected if p.exists() and json.loads(p.read_text()).get("events")]
    assert tracking, f"tests/fixtures/{adapter.id}/ needs at least one tracking fixture"


def test_fixture_directories_belong_to_adapters() -> None:
    ids = {a.id for a in discovery.load_adapters().adapters.values()}
    carrier_dirs = {p.parent.name for p in FIXTURES.glob("*/*.meta.json")}
    assert carrier_dirs <= ids, f"fixtures without an adapter: {sorted(carrier_dirs - ids)}"


# --- signatures --------------------------------------------------------------------


def test_round_trip_accepts(case: Case, make_delivery: MakeDelivery) -> None:
    signing, verifying = key_pair(case.adapter.scheme, "current")
    _, delivery = _signed(case, make_delivery, signing)
    case.adapter.verify(delivery, [verifying], NOW)


def test_tampered_body_is_refused(body_bound_case: Case, make_delivery: MakeDelivery) -> None:
    case = body_bound_case
    signing, verifying = key_pair(case.adapter.scheme, "current")
    middle = len(case.body) // 2
    tampered = case.body[:middle] + bytes([case.body[middle] ^ 0x01]) + case.body[middle + 1 :]
    _, delivery = _signed(case, make_delivery, signing, body=tampered)
    _refused(case.adapter, delivery, [verifying])


def test_wrong_secret_is_refused(case: Case, make_delivery: MakeDelivery) -> None:
    signing, _ = key_pair(case.adapter.scheme, "current")
    _, other = key_pair(case.adapter.scheme, "someone-else")
    _, delivery = _signed(case, make_delivery, signing)
    _refused(case.adapter, delivery, [other])


def test_each_missing_header_is_refused(case: Case, make_delivery: MakeDelivery) -> None:
    signing, verifying = key_pair(case.adapter.scheme, "current")
    headers, _ = _signed(case, make_delivery, signing)
    for missing in credentials(case.adapter.scheme):
        kept = {k: v for k, v in headers.items() if k.lower() != missing.lower()}
        _refused(case.adapter, make_delivery(case.adapter.id, case.body, kept), [verifying])


def test_empty_secret_list_fails_closed(case: Case, make_delivery: MakeDelivery) -> None:
    signing, _ = key_pair(case.adapter.scheme, "current")
    _, delivery = _signed(case, make_delivery, signing)
    _refused(case.adapter, delivery, [])


def test_repeated_header_with_different_values_is_refused(
    case: Case, make_delivery: MakeDelivery
) -> None:
    signing, verifying = key_pair(case.adapter.scheme, "current")
    headers, _ = _signed(case, make_delivery, signing)
    for name in case.adapter.scheme.headers:
        genuine = next(v for k, v in headers.items() if k.lower() == name.lower())
        for pair in ((genuine, genuine + "0"), (genuine + "0", genuine)):
            repeated: dict[str, str | tuple[str, ...]] = {
                k: v for k, v in headers.items() if k.lower() != name.lower()
            }
            repeated[name] = pair
            delivery = make_delivery(case.adapter.id, case.body, repeated)
            _refused(case.adapter, delivery, [verifying])


def test_rotation_accepts_old_and_new_secrets(case: Case, make_delivery: MakeDelivery) -> None:
    old_signing, old = key_pair(case.adapter.scheme, "old")
    new_signing, new = key_pair(case.adapter.scheme, "new")
    _, by_old = _signed(case, make_delivery, old_signing)
    _, by_new = _signed(case, make_delivery, new_signing)
    case.adapter.verify(by_old, [new, old], NOW)
    case.adapter.verify(by_new, [new, old], NOW)
    _refused(case.adapter, by_old, [new])


def test_timestamp_tolerance_both_ways(timed_case: Case, make_delivery: MakeDelivery) -> None:
    case = timed_case
    tolerance = case.adapter.scheme.tolerance_seconds
    assert tolerance is not None
    signing, verifying = key_pair(case.adapter.scheme, "current")
    _, delivery = _signed(case, make_delivery, signing, now=NOW)
    case.adapter.verify(delivery, [verifying], NOW + tolerance)  # just inside, old edge
    case.adapter.verify(delivery, [verifying], NOW - tolerance)  # just inside, future edge
    _refused(case.adapter, delivery, [verifying], now=NOW + tolerance + 1)  # stale
    _refused(case.adapter, delivery, [verifying], now=NOW - tolerance - 1)  # from the future


def test_unsigned_time_gets_no_invented_tolerance(
    untimed_case: Case, make_delivery: MakeDelivery
) -> None:
    signing, verifying = key_pair(untimed_case.adapter.scheme, "current")
    _, delivery = _signed(untimed_case, make_delivery, signing, now=NOW)
    for now in (NOW + 30 * DAY, NOW - 30 * DAY):
        untimed_case.adapter.verify(delivery, [verifying], now)


# --- parsing -----------------------------------------------------------------------


def test_parse_matches_expected(case: Case, make_delivery: MakeDelivery) -> None:
    expected = case.sidecar(".expected.json")
    assert expected is not None, f"{case.name}.expected.json is missing"
    expected.pop(ON_PURPOSE, None)  # an annotation read by test_status_tables.py
    signing, _ = key_pair(case.adapter.scheme, "current")
    _, delivery = _signed(case, make_delivery, signing)
    if "parse_error" in expected:
        with pytest.raises(ParseError, match=re.escape(expected["parse_error"])) as caught:
            case.adapter.parse(delivery)
        if len(case.body) > 40:
            assert case.body.decode("utf-8", "replace") not in str(caught.value)
        return
    result = case.adapter.parse(delivery)
    events = [
        to_canonical(
            item,
            tenant=TENANT,
            carrier=case.adapter.id,
            received_at=delivery.received_at,
            delivery_id=result.delivery_id,
        )
        for item in result.events
    ]
    actual = {
        "delivery_id": result.delivery_id,
        "ignored": result.ignored,
        **({"ignored_items": list(result.ignored_items)} if result.ignored_items else {}),
        "events": [
            e.model_dump(mode="json", exclude={"received_at", "delivery_id"}) for e in events
        ],
    }
    assert actual == expected
    assert result.ignored is None or not result.events, "an ignored delivery carries no event"


# --- discovery ---------------------------------------------------------------------


def test_in_tree_adapters_load_cleanly() -> None:
    registry = discovery.load_adapters()
    assert registry.broken == {}, registry.broken
    assert {"aftership", "easypost", "standard_webhooks"} <= set(registry.adapters)
    for adapter_id, adapter in registry.adapters.items():
        assert adapter.id == adapter_id


GOOD_ADAPTER = """
from gateway.carriers.adapter import Adapter, ParseResult
from gateway.signing.spec import SignatureSpec

ADAPTER = Adapter(
    id="good",
    label="Good",
    docs_url="https://example.com",
    scheme=SignatureSpec(kind="token", header="x-token"),
    status_map={},
    parse=lambda delivery: ParseResult(),
)
"""


def test_broken_and_duplicate_adapters_are_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = "waybill_fake_adapters"
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "good.py").write_text(GOOD_ADAPTER)
    (root / "broken.py").write_text("raise RuntimeError('boom')\n")
    (root / "no_export.py").write_text("VALUE = 1\n")
    (root / "alias.py").write_text(f"from {package}.good import ADAPTER\n")
    (root / "_helper.py").write_text("raise RuntimeError('helpers are never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint(name="good", value=f"{package}.good:ADAPTER", group="test"),
        EntryPoint(name="gone", value="waybill_no_such_module:ADAPTER", group="test"),
    ]
    monkeypatch.setattr(discovery, "entry_points", lambda group: points)
    try:
        registry = discovery.load_adapters(package, group="test")
    finally:
        for name in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[name]
    assert list(registry.adapters) == ["good"]
    assert set(registry.broken) == {
        f"{package}.alias",
        f"{package}.broken",
        f"{package}.no_export",
        f"entry point good ({package}.good:ADAPTER)",
        "entry point gone (waybill_no_such_module:ADAPTER)",
    }
    assert "differs from its module name" in registry.broken[f"{package}.alias"]
    assert "already taken" in registry.broken[f"entry point good ({package}.good:ADAPTER)"]
    assert "import failed" in registry.broken[f"{package}.broken"]
