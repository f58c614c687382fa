"""Declarative signature specs: every kind, both directions, and the failure modes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gateway.errors import SignatureError
from gateway.signing.spec import Request, SignatureSpec, sign_spec, split_signed, verify_spec

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "stripe_reference"
BODY = b'{"tracking": "1Z", "n": 1}'

STRIPE_LIKE = SignatureSpec(
    kind="hmac",
    header="Stripe-Signature",
    signed_content="{timestamp}.{body}",
    signature_list=(",", "="),
    timestamp_key="t",
    tolerance_seconds=300,
    reject_future=False,
)
SPECS = {
    "hmac_hex_prefix": SignatureSpec(
        kind="hmac", header="X-Sig", prefix="sha256=", secret_form="nfkd"
    ),
    "hmac_base64_sha512": SignatureSpec(
        kind="hmac", header="X-Sig", algorithm="sha512", encoding="base64"
    ),
    "hmac_sha1": SignatureSpec(kind="hmac", header="X-Sig", algorithm="sha1"),
    "stripe_like": STRIPE_LIKE,
    "timestamp_header": SignatureSpec(
        kind="hmac",
        header="X-Sig",
        signed_content="{timestamp}{method}{path}{body}",
        timestamp_header="X-Timestamp",
        tolerance_seconds=60,
    ),
    "id_header": SignatureSpec(
        kind="hmac", header="X-Sig", signed_content="{id}.{body}", id_header="X-Delivery"
    ),
    "hash_17track": SignatureSpec(kind="hash", header="sign", signed_content="{body}/{secret}"),
    "bearer": SignatureSpec(kind="token", header="Authorization", prefix="Bearer "),
    "query_token": SignatureSpec(kind="token", query_param="token"),
    "standard": SignatureSpec(
        kind="standard_webhooks",
        encoding="base64",
        secret_form="whsec_base64",
        timestamp_header="webhook-timestamp",
        tolerance_seconds=300,
    ),
}
SECRET = {"standard": "whsec_c3BlYy10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="}
NOW = 1_700_000_000.0


def request(signed: dict[str, str], body: bytes = BODY, path: str = "/hooks/x") -> Request:
    headers, query = split_signed(signed)
    lowered = {k.lower(): v for k, v in headers.items()}
    return Request(body=body, header=lambda name: lowered.get(name.lower()), query=query, path=path)


def secret_for(name: str) -> str:
    return SECRET.get(name, "spec-secret-\u00e9")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_sign_is_the_inverse_of_verify(name: str) -> None:
    spec, secret = SPECS[name], secret_for(name)
    signed = sign_spec(spec, BODY, secret, NOW, path="/hooks/x")
    verify_spec(spec, request(signed), [secret], NOW)
    verify_spec(spec, request(signed), ["rotated-in", secret], NOW)  # rotation: any secret


@pytest.mark.parametrize("name", sorted(SPECS))
def test_tampered_body_or_wrong_secret_fails(name: str) -> None:
    spec, secret = SPECS[name], secret_for(name)
    signed = sign_spec(spec, BODY, secret, NOW, path="/hooks/x")
    if spec.binds_body:  # a token, or a template without {body}, does not cover it
        with pytest.raises(SignatureError):
            verify_spec(spec, request(signed, BODY + b" "), [secret], NOW)
    other = "whsec_b3RoZXItc2VjcmV0LTMyLWJ5dGVzLWxvbmctZW5vdWdo" if name == "standard" else "other"
    with pytest.raises(SignatureError):
        verify_spec(spec, request(signed), [other], NOW)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fails_closed_without_credential_or_secret(name: str) -> None:
    spec, secret = SPECS[name], secret_for(name)
    signed = sign_spec(spec, BODY, secret, NOW, path="/hooks/x")
    with pytest.raises(SignatureError):
        verify_spec(spec, request(signed), [], NOW)
    with pytest.raises(SignatureError):
        verify_spec(spec, request({}), [secret], NOW)


def test_tolerance_is_two_sided_unless_only_the_past_is_checked() -> None:
    spec = SPECS["timestamp_header"]
    signed = sign_spec(spec, BODY, "s", NOW, path="/hooks/x")
    verify_spec(spec, request(signed), ["s"], NOW + 60)
    for skew in (61, -61):
        with pytest.raises(SignatureError):
            verify_spec(spec, request(signed), ["s"], NOW + skew)
    stripe_signed = sign_spec(STRIPE_LIKE, BODY, "s", NOW)
    verify_spec(STRIPE_LIKE, request(stripe_signed), ["s"], NOW - 10_000)  # future: not checked
    with pytest.raises(SignatureError) as caught:
        verify_spec(STRIPE_LIKE, request(stripe_signed), ["s"], NOW + 301)
    assert caught.value.code == "timestamp_stale"


def test_the_signed_path_and_method_matter() -> None:
    spec = SPECS["timestamp_header"]
    signed = sign_spec(spec, BODY, "s", NOW, path="/hooks/x")
    with pytest.raises(SignatureError):
        verify_spec(spec, request(signed, path="/hooks/y"), ["s"], NOW)


def test_stripe_reference_vector() -> None:
    """The locally computed Stripe vector (shared fixtures): full secret string as the key."""
    meta = json.loads((REFERENCE / "dummy_event.meta.json").read_text())
    body = (REFERENCE / "dummy_event.json").read_bytes()
    header = meta["headers_carrier_sends"]["Stripe-Signature"]
    vector = meta["test_vector"]
    verify_spec(
        STRIPE_LIKE,
        request({"Stripe-Signature": header}, body),
        [vector["secret"]],
        vector["timestamp"],
    )
    assert sign_spec(STRIPE_LIKE, body, vector["secret"], vector["timestamp"]) == {
        "Stripe-Signature": header
    }


def test_any_of_several_listed_signatures_matches() -> None:
    good = sign_spec(STRIPE_LIKE, BODY, "new", NOW)["Stripe-Signature"]
    old = sign_spec(STRIPE_LIKE, BODY, "old", NOW)["Stripe-Signature"].split(",")[1]
    verify_spec(STRIPE_LIKE, request({"Stripe-Signature": f"{good},{old}"}), ["old"], NOW)


def test_hash_kind_is_sha256_of_body_slash_key() -> None:
    signed = sign_spec(SPECS["hash_17track"], BODY, "key-17", NOW)
    assert signed == {"sign": hashlib.sha256(BODY + b"/key-17").hexdigest()}


def test_bearer_token_needs_its_prefix() -> None:
    spec = SPECS["bearer"]
    with pytest.raises(SignatureError) as caught:
        verify_spec(spec, request({"Authorization": "tok"}), ["tok"], NOW)
    assert caught.value.code == "signature_malformed"


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "hmac"},  # nowhere to read the signature from
        {"kind": "hmac", "header": "a", "query_param": "b"},
        {"kind": "hmac", "header": "a", "signed_content": "{body}{secret}"},
        {"kind": "hash", "header": "a"},  # a hash without the secret signs nothing
        {"kind": "hmac", "header": "a", "tolerance_seconds": 5},  # no timestamp source
        {"kind": "hmac", "header": "a", "signed_content": "{tiemstamp}.{body}"},  # a typo
    ],
)
def test_inconsistent_specs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SignatureSpec(**bad)  # type: ignore[arg-type]
