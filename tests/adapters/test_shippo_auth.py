"""Shippo beyond the shared suite: the URL token plus the optional HMAC slot, and parse edges.

The rule under test: the ``?token=`` always authenticates; once the tenant has set the
``shippo.hmac`` slot, a valid ``Shippo-Auth-Signature`` (±300 s) is required as well;
without that slot the header is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.shippo import ADAPTER, HMAC_HEADER, sign_hmac
from gateway.carriers.adapter import Delivery, Secrets
from gateway.errors import SignatureError
from gateway.ingest.normalise import to_canonical
from gateway.testkit.harness import Harness, moto_harness
from tests.adapters.conftest import build_delivery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shippo"
BODY = (FIXTURES / "track_updated_usps_delivered_2016_envelope_a.json").read_bytes()
NOW = 1_700_000_000.0
TOKEN, OLD_TOKEN = "url-token-current", "url-token-previous"
KEY, OLD_KEY = "hmac-key-current", "hmac-key-previous"


def delivery(
    body: bytes = BODY, *, token: str | None = TOKEN, hmac_key: str | None = None, at: float = NOW
) -> Delivery:
    """A delivery carrying the URL token and, with ``hmac_key``, the HMAC header."""
    signed = ADAPTER.sign(BODY, token, NOW) if token else {}
    if hmac_key:
        signed |= sign_hmac(BODY, hmac_key, at)
    return build_delivery("shippo", body, signed)


def secrets(tokens: list[str], keys: list[str] | None = None) -> Secrets:
    return Secrets(tokens, slots=lambda slot: list(keys or []) if slot == "hmac" else [])


def refused(item: Delivery, given: Secrets, code: str, now: float = NOW) -> None:
    with pytest.raises(SignatureError) as caught:
        ADAPTER.verify(item, given, now)
    assert caught.value.code == code


def test_sign_is_the_token_in_the_url_and_the_hmac_is_stripe_like() -> None:
    assert ADAPTER.sign(BODY, TOKEN, NOW) == {"?token": TOKEN}
    header = sign_hmac(BODY, KEY, NOW)[HMAC_HEADER]
    assert header.startswith(f"t={int(NOW)},v1=") and len(header.split("v1=")[1]) == 64


def test_token_only() -> None:
    ADAPTER.verify(delivery(), secrets([TOKEN]), NOW)
    ADAPTER.verify(delivery(), [TOKEN], NOW)  # a plain list has no slots: token only
    refused(delivery(token="guessed"), secrets([TOKEN]), "signature_mismatch")
    refused(delivery(token=None), secrets([TOKEN]), "signature_missing")
    refused(delivery(), secrets([]), "secret_missing")


def test_token_and_hmac_when_the_slot_is_set() -> None:
    ADAPTER.verify(delivery(hmac_key=KEY), secrets([TOKEN], [KEY]), NOW)
    refused(delivery(), secrets([TOKEN], [KEY]), "signature_missing")  # no downgrade
    refused(delivery(hmac_key="other"), secrets([TOKEN], [KEY]), "signature_mismatch")
    refused(delivery(token=None, hmac_key=KEY), secrets([TOKEN], [KEY]), "signature_missing")
    tampered = BODY.replace(b'"DELIVERED"', b'"RETURNED"', 1)
    refused(delivery(tampered, hmac_key=KEY), secrets([TOKEN], [KEY]), "signature_mismatch")


def test_the_header_is_ignored_when_the_tenant_has_no_hmac_slot() -> None:
    ADAPTER.verify(delivery(hmac_key="unknown-to-us"), secrets([TOKEN]), NOW)
    garbage = build_delivery("shippo", BODY, {"?token": TOKEN, HMAC_HEADER: "t=1,v1=zz"})
    ADAPTER.verify(garbage, secrets([TOKEN]), NOW)
    refused(delivery(token="guessed", hmac_key=KEY), secrets([TOKEN]), "signature_mismatch")


@pytest.mark.parametrize(
    ("skew", "code"),
    [(-300, None), (300, None), (-301, "timestamp_stale"), (301, "timestamp_future")],
)
def test_hmac_timestamp_tolerance_both_ways(skew: int, code: str | None) -> None:
    signed = delivery(hmac_key=KEY, at=NOW + skew)
    if code is None:
        ADAPTER.verify(signed, secrets([TOKEN], [KEY]), NOW)
    else:
        refused(signed, secrets([TOKEN], [KEY]), code)


def test_rotation_of_both_token_and_hmac_key() -> None:
    during = secrets([TOKEN, OLD_TOKEN], [KEY, OLD_KEY])
    for token in (TOKEN, OLD_TOKEN):
        for key in (KEY, OLD_KEY):
            ADAPTER.verify(delivery(token=token, hmac_key=key), during, NOW)
    after = secrets([TOKEN], [KEY])
    refused(delivery(token=OLD_TOKEN, hmac_key=KEY), after, "signature_mismatch")
    refused(delivery(token=TOKEN, hmac_key=OLD_KEY), after, "signature_mismatch")


# --- end to end: the token from the URL, the HMAC key from the slot ------------------

HOOK = "/webhooks/genericco/shippo"


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: datetime.fromtimestamp(NOW, UTC)) as harness:
        harness.secrets.values[("genericco", "shippo")] = [TOKEN]
        yield harness


def post(gw: Harness, url: str, headers: dict[str, str] | None = None) -> int:
    headers = {"content-type": "application/json", **(headers or {})}
    return gw.call("POST", url, body=BODY, headers=headers).status


def test_end_to_end_token_then_required_hmac(gw: Harness) -> None:
    assert post(gw, f"{HOOK}?token=guessed") == 401
    assert post(gw, HOOK) == 401
    assert post(gw, f"{HOOK}?token={TOKEN}") == 200
    gw.secrets.values[("genericco", "shippo.hmac")] = [KEY]
    assert post(gw, f"{HOOK}?token={TOKEN}") == 401  # the tenant opted in: header required
    assert post(gw, f"{HOOK}?token={TOKEN}", sign_hmac(BODY, KEY, NOW)) == 200
    state = gw.call("GET", "/v1/shipments/9205590164917337534322", tenant="genericco").body
    assert state["shipments"][0]["status"] == "delivered"


# --- parse edges the fixtures do not show ---------------------------------------------


def event_ids(body: bytes) -> list[str]:
    item = build_delivery("shippo", body, {})
    at = item.received_at
    return [
        to_canonical(e, tenant="acme", carrier="shippo", received_at=at, delivery_id=None).event_id
        for e in ADAPTER.parse(item).events
    ]


def test_object_id_is_not_an_identity() -> None:
    other = (FIXTURES / "track_updated_usps_delivered_2016_envelope_b.json").read_bytes()
    assert other != BODY and event_ids(other) == event_ids(BODY)
    assert len(set(event_ids(BODY))) == 11


def test_a_bad_history_entry_is_a_failed_item_not_a_lost_delivery() -> None:
    envelope = json.loads(BODY)
    envelope["data"]["tracking_history"][3]["status_date"] = None
    envelope["data"]["tracking_history"][5] = "not an object"
    result = ADAPTER.parse(build_delivery("shippo", json.dumps(envelope).encode(), {}))
    assert len(result.events) == 9
    assert result.failures == [
        "tracking_history[3]: tracking status has no status_date",
        "tracking_history[5]: tracking status is not an object",
    ]


def test_an_empty_history_falls_back_to_the_tracking_status() -> None:
    envelope = json.loads(BODY)
    envelope["data"]["tracking_history"] = []
    result = ADAPTER.parse(build_delivery("shippo", json.dumps(envelope).encode(), {}))
    assert [e.status.value for e in result.events] == ["delivered"]
    assert result.events[0].metadata["event_kind"] == "shipment_status"
    envelope["data"]["tracking_status"] = {"status": "UNKNOWN", "status_date": None}
    result = ADAPTER.parse(build_delivery("shippo", json.dumps(envelope).encode(), {}))
    assert (list(result.events), list(result.failures)) == ([], [])
    assert result.ignored == "track has a tracking status but no history and no time"
