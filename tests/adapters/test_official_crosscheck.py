"""Cross-checks against the carriers' own libraries and published test vectors.

The vectors below are PUBLISHED TEST VECTORS (from the vendors' SDK test suites), not
secrets; each fixture's ``.meta.json`` gives the source.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from easypost.errors import SignatureVerificationError
from easypost.util import validate_webhook
from standardwebhooks.webhooks import Webhook

from adapters import aftership, easypost, standard_webhooks
from gateway.errors import SignatureError
from gateway.signing.hmacs import hmac_signature, key_bytes
from gateway.testkit.fixtures import FIXTURES, body_paths


def _fixture(carrier: str, name: str) -> tuple[bytes, dict[str, Any]]:
    body = (FIXTURES / carrier / f"{name}.json").read_bytes()
    meta = json.loads((FIXTURES / carrier / f"{name}.meta.json").read_text("utf-8"))
    return body, meta


# --- EasyPost ----------------------------------------------------------------------

EASYPOST_VECTOR = "vector_batch_created_sdk_tests"


@pytest.mark.parametrize("path", body_paths("easypost"), ids=lambda p: p.stem)
@pytest.mark.parametrize("secret", ["plain-secret", "s\u00e9cret", "se\u0301cret", "\ufb01le"])
def test_easypost_sign_passes_official_validate_webhook(path: Path, secret: str) -> None:
    body = path.read_bytes()
    assert validate_webhook(body, easypost.ADAPTER.sign(body, secret, 0.0), secret) == json.loads(
        body
    )


def test_easypost_official_validate_webhook_refuses_a_wrong_secret() -> None:
    body, _ = _fixture("easypost", "event_tracker_updated_full_history")
    with pytest.raises(SignatureVerificationError):
        validate_webhook(body, easypost.ADAPTER.sign(body, "right", 0.0), "wrong")


def test_easypost_published_vector_verifies(make_delivery: Any) -> None:
    body, meta = _fixture("easypost", EASYPOST_VECTOR)
    vector = meta["test_vector"]
    assert vector["secret"] == "s\u00e9cret" and vector["published"] is True
    header = vector["expected_header"]
    assert validate_webhook(body, {"X-Hmac-Signature": header}, vector["secret"])
    delivery = make_delivery("easypost", body, {"X-Hmac-Signature": header})
    easypost.ADAPTER.verify(delivery, [vector["secret"]], time.time())
    easypost.ADAPTER.verify(delivery, ["se\u0301cret"], time.time())  # already decomposed: same key
    assert easypost.ADAPTER.sign(body, vector["secret"], 0.0) == {"X-Hmac-Signature": header}


def test_easypost_published_vector_needs_nfkd_and_exact_bytes(make_delivery: Any) -> None:
    body, meta = _fixture("easypost", EASYPOST_VECTOR)
    vector = meta["test_vector"]
    raw_key = key_bytes(vector["secret"], "raw")
    without_nfkd = hmac_signature(raw_key, body, algorithm="sha256", encoding="hex")
    assert easypost.PREFIX + without_nfkd != vector["expected_header"]
    headers = {"X-Hmac-Signature": vector["expected_header"]}
    with pytest.raises(SignatureError):
        easypost.ADAPTER.verify(
            make_delivery("easypost", body + b"\n", headers), [vector["secret"]], 0.0
        )


# --- Standard Webhooks -------------------------------------------------------------

SW_VECTOR = "vector_python_libs"
KNOWN_BAD = [
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    "v1,",
    "v1,xxxx",
]


def _sw_vector() -> tuple[bytes, dict[str, Any]]:
    body, meta = _fixture("standard_webhooks", SW_VECTOR)
    return body, meta["test_vector"]


def _sw_headers(vector: dict[str, Any], signature: str) -> dict[str, str]:
    return {
        "webhook-id": vector["msg_id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": signature,
    }


@pytest.mark.parametrize("path", body_paths("standard_webhooks"), ids=lambda p: p.stem)
def test_deliveries_signed_by_standardwebhooks_verify(make_delivery: Any, path: Path) -> None:
    body = path.read_bytes()
    secret = "whsec_" + base64.b64encode(b"waybill-crosscheck-key-24b").decode()
    stamp = datetime(2024, 6, 3, 16, 45, 12, tzinfo=UTC)
    signature = Webhook(secret).sign("msg_crosscheck_1", stamp, body.decode("utf-8"))
    headers = {
        "webhook-id": "msg_crosscheck_1",
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
    }
    standard_webhooks.ADAPTER.verify(
        make_delivery("standard_webhooks", body, headers), [secret], stamp.timestamp()
    )
    assert (
        standard_webhooks.ADAPTER.sign(
            body, secret, stamp.timestamp(), delivery_id="msg_crosscheck_1"
        )
        == headers
    )


def test_our_signature_passes_standardwebhooks_verify() -> None:
    body, _ = _fixture("standard_webhooks", "tracking_updated_waybill_format")
    secret = "whsec_" + base64.b64encode(b"waybill-crosscheck-key-24b").decode()
    headers = standard_webhooks.ADAPTER.sign(body, secret, time.time())
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_published_standard_webhooks_vector_verifies_with_injected_now(make_delivery: Any) -> None:
    body, vector = _sw_vector()
    headers = _sw_headers(vector, vector["expected_signature"])
    delivery = make_delivery("standard_webhooks", body, headers)
    now = float(vector["timestamp"])
    standard_webhooks.ADAPTER.verify(delivery, [vector["secret"]], now)
    standard_webhooks.ADAPTER.verify(delivery, [vector["secret"].removeprefix("whsec_")], now)
    with pytest.raises(SignatureError):
        standard_webhooks.ADAPTER.verify(
            delivery, [vector["secret"]], time.time()
        )  # 2021: stale today
    signed = standard_webhooks.ADAPTER.sign(
        body, vector["secret"], now, delivery_id=vector["msg_id"]
    )
    assert signed == headers


@pytest.mark.parametrize(
    "signature", [*KNOWN_BAD, "v2," + "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="]
)
def test_published_known_bad_signatures_fail(make_delivery: Any, signature: str) -> None:
    body, vector = _sw_vector()
    delivery = make_delivery("standard_webhooks", body, _sw_headers(vector, signature))
    with pytest.raises(SignatureError):
        standard_webhooks.ADAPTER.verify(delivery, [vector["secret"]], float(vector["timestamp"]))


def test_any_v1_match_wins_among_several(make_delivery: Any) -> None:
    body, vector = _sw_vector()
    listed = " ".join([KNOWN_BAD[0], "v2,whatever", vector["expected_signature"], KNOWN_BAD[1]])
    delivery = make_delivery("standard_webhooks", body, _sw_headers(vector, listed))
    standard_webhooks.ADAPTER.verify(delivery, [vector["secret"]], float(vector["timestamp"]))


def test_v1a_ed25519_signatures_verify_with_whpk_keys(make_delivery: Any) -> None:
    body, _ = _fixture("standard_webhooks", "tracking_updated_waybill_format")
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    whsk = "whsk_" + base64.b64encode(seed).decode()
    whpk = "whpk_" + base64.b64encode(public).decode()
    headers = standard_webhooks.ADAPTER.sign(body, whsk, 1_700_000_000)
    assert headers["webhook-signature"].startswith("v1a,")
    delivery = make_delivery("standard_webhooks", body, headers)
    standard_webhooks.ADAPTER.verify(delivery, [whpk], 1_700_000_000)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(SignatureError):
        standard_webhooks.ADAPTER.verify(
            delivery, ["whpk_" + base64.b64encode(other).decode()], 1_700_000_000
        )


# --- AfterShip ---------------------------------------------------------------------


def test_aftership_matches_the_research_notes_vector(make_delivery: Any) -> None:
    """No vector was ever published by AfterShip: this one was computed locally by the
    research notes (secret "your_webhook_secret", a placeholder from the docs)."""
    body, meta = _fixture("aftership", "tracking_update_in_transit_docs_trimmed")
    vector = meta["test_vector"]
    assert vector["published"] is False
    expected = {aftership.HEADER: vector["expected_header"]}
    assert aftership.ADAPTER.sign(body, vector["secret"], 0.0) == expected
    aftership.ADAPTER.verify(make_delivery("aftership", body, expected), [vector["secret"]], 0.0)


@pytest.mark.parametrize("secret", ["your_webhook_secret", "s\u00e9cret", "\ufb01le"])
def test_aftership_keys_with_the_raw_utf8_secret(secret: str) -> None:
    """AfterShip's documented recipe, written out with the standard library (there is no
    official verification helper): base64(HMAC-SHA256(secret as UTF-8, raw body))."""
    body, _ = _fixture("aftership", "tracking_update_returned_synthetic")
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode("ascii")
    assert aftership.ADAPTER.sign(body, secret, 0.0) == {"aftership-hmac-sha256": expected}
