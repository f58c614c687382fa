"""Unit tests of the shared signature primitives in ``gateway.signing``.

Reference values are computed here with ``hmac``/``hashlib`` directly, independently
of the code under test. The Standard Webhooks values are the PUBLISHED TEST VECTOR of
the standard-webhooks libraries, not a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.errors import SignatureError
from gateway.signing.ed25519 import public_key, sign_ed25519, verify_ed25519
from gateway.signing.hmacs import (
    any_match,
    decode_signature,
    hmac_signature,
    key_bytes,
    key_set,
    verify_hmac,
)
from gateway.signing.standard import sign_standard, signed_content, verify_standard
from gateway.signing.timestamps import check_timestamp, parse_signature_list
from gateway.signing.tokens import verify_token

BODY = b'{"tracking_number":"1Z999AA10123456784","status":"delivered"}'
KEY = b"unit-test-key"

# Published Standard Webhooks vector (standard-webhooks libraries' tests).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

Algo = Literal["sha1", "sha256", "sha512"]


def _reference(key: bytes, message: bytes, algorithm: str) -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def _keypair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return seed, base64.b64encode(public).decode()


# --- key derivation ------------------------------------------------------------------


def test_raw_key_is_utf8() -> None:
    assert key_bytes("s\u00e9cret") == "s\u00e9cret".encode()


def test_nfkd_key_decomposes_and_folds_compatibility_characters() -> None:
    assert key_bytes("s\u00e9cret", "nfkd") == b"se\xcc\x81cret"
    assert key_bytes("s\u00e9cret", "nfkd") == key_bytes("se\u0301cret", "nfkd")
    assert key_bytes("\ufb01le", "nfkd") == b"file"
    assert key_bytes("s\u00e9cret", "nfkd") != key_bytes("s\u00e9cret", "raw")


@pytest.mark.parametrize(
    "secret",
    [SW_SECRET, SW_SECRET.removeprefix("whsec_"), SW_SECRET.removeprefix("whsec_").rstrip("=")],
)
def test_whsec_key_with_or_without_prefix(secret: str) -> None:
    assert key_bytes(secret, "whsec_base64") == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def test_whsec_key_without_padding() -> None:
    raw = b"twenty-five bytes of key!"
    unpadded = base64.b64encode(raw).decode().rstrip("=")
    assert "=" not in unpadded
    assert key_bytes("whsec_" + unpadded, "whsec_base64") == raw
    assert key_bytes(unpadded, "whsec_base64") == raw


@pytest.mark.parametrize("bad", ["whsec_not*base64", "whsec_abcde", "whsec_YWJj-_"])
def test_whsec_key_that_is_not_base64_is_refused(bad: str) -> None:
    with pytest.raises(SignatureError) as caught:
        key_bytes(bad, "whsec_base64")
    assert caught.value.code == "secret_invalid"
    assert bad not in caught.value.message


@pytest.mark.parametrize("form", ["raw", "nfkd", "whsec_base64"])
def test_empty_secret_is_refused(form: Literal["raw", "nfkd", "whsec_base64"]) -> None:
    with pytest.raises(SignatureError) as caught:
        key_bytes("", form)
    assert caught.value.code == "secret_missing"


def test_whsec_prefix_alone_is_refused() -> None:
    with pytest.raises(SignatureError):
        key_bytes("whsec_", "whsec_base64")


# --- HMAC ----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_hmac_hex_matches_reference(algorithm: Algo) -> None:
    expected = _reference(KEY, BODY, algorithm).hex()
    assert hmac_signature(KEY, BODY, algorithm=algorithm, encoding="hex") == expected
    verify_hmac(BODY, expected, [KEY], algorithm=algorithm, encoding="hex")
    verify_hmac(BODY, expected.upper(), [KEY], algorithm=algorithm, encoding="hex")


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_hmac_base64_matches_reference(algorithm: Algo) -> None:
    expected = base64.b64encode(_reference(KEY, BODY, algorithm)).decode()
    assert hmac_signature(KEY, BODY, algorithm=algorithm, encoding="base64") == expected
    verify_hmac(BODY, expected, [KEY], algorithm=algorithm, encoding="base64")


def test_hmac_prefix_is_required_and_stripped() -> None:
    signature = hmac_signature(KEY, BODY, algorithm="sha256", encoding="hex", prefix="sha256=")
    assert signature == "sha256=" + _reference(KEY, BODY, "sha256").hex()
    verify_hmac(BODY, signature, [KEY], algorithm="sha256", encoding="hex", prefix="sha256=")
    bare = signature.removeprefix("sha256=")
    with pytest.raises(SignatureError) as caught:
        verify_hmac(BODY, bare, [KEY], algorithm="sha256", encoding="hex", prefix="sha256=")
    assert caught.value.code == "signature_malformed"


def test_hmac_surrounding_whitespace_is_tolerated() -> None:
    signature = hmac_signature(KEY, BODY, algorithm="sha256", encoding="base64")
    verify_hmac(BODY, f"  {signature} ", [KEY], algorithm="sha256", encoding="base64")


@pytest.mark.parametrize(
    ("encoding", "value"),
    [
        ("hex", "abc"),  # odd length
        ("hex", "zz" * 32),  # not hex
        ("hex", "\u0661\u0662" * 16),  # non-ASCII digits
        ("hex", ""),
        ("base64", "not base64!"),
        ("base64", "YWJj"[:3]),  # missing padding
        ("base64", "YW-_"),  # URL-safe alphabet is not the standard one
    ],
)
def test_malformed_signatures_are_refused(encoding: Literal["hex", "base64"], value: str) -> None:
    assert decode_signature(value, encoding) in (None, b"")
    with pytest.raises(SignatureError) as caught:
        verify_hmac(BODY, value, [KEY], algorithm="sha256", encoding=encoding)
    assert caught.value.code == "signature_malformed"


def test_hmac_mismatch_tampered_body_and_wrong_key() -> None:
    signature = hmac_signature(KEY, BODY, algorithm="sha256", encoding="hex")
    for body, keys in ((BODY + b" ", [KEY]), (BODY, [b"other"])):
        with pytest.raises(SignatureError) as caught:
            verify_hmac(body, signature, keys, algorithm="sha256", encoding="hex")
        assert caught.value.code == "signature_mismatch"


def test_hmac_of_another_length_never_matches() -> None:
    short = hmac_signature(KEY, BODY, algorithm="sha1", encoding="hex")
    with pytest.raises(SignatureError):
        verify_hmac(BODY, short, [KEY], algorithm="sha256", encoding="hex")


@pytest.mark.parametrize("presented", [None, "", []])
def test_missing_signature_is_refused(presented: str | list[str] | None) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_hmac(BODY, presented, [KEY], algorithm="sha256", encoding="hex")
    assert caught.value.code in {"signature_missing", "signature_malformed"}


def test_no_key_fails_closed_even_with_a_signature() -> None:
    signature = hmac_signature(KEY, BODY, algorithm="sha256", encoding="hex")
    with pytest.raises(SignatureError) as caught:
        verify_hmac(BODY, signature, [], algorithm="sha256", encoding="hex")
    assert caught.value.code == "secret_missing"


def test_any_key_and_any_presented_value_may_match() -> None:
    old, new = b"old-key", b"new-key"
    by_old = hmac_signature(old, BODY, algorithm="sha256", encoding="base64")
    verify_hmac(BODY, by_old, [new, old], algorithm="sha256", encoding="base64")
    garbage = base64.b64encode(b"x" * 32).decode()
    verify_hmac(BODY, [garbage, "!!", by_old], [old], algorithm="sha256", encoding="base64")
    with pytest.raises(SignatureError):
        verify_hmac(BODY, [garbage, by_old], [new], algorithm="sha256", encoding="base64")


def test_any_match_is_exact() -> None:
    assert any_match([b"a", b"b"], [b"c", b"b"])
    assert not any_match([b"a"], [b"ab", b""])
    assert not any_match([], [b"a"])


# --- signature lists and timestamps --------------------------------------------------


def test_parse_stripe_like_list() -> None:
    assert parse_signature_list("t=1614265330,v1=aa,v1=bb,v0=cc") == {
        "t": ["1614265330"],
        "v1": ["aa", "bb"],
        "v0": ["cc"],
    }


def test_parse_standard_webhooks_list_keeps_base64_padding() -> None:
    parsed = parse_signature_list("v1,abc= v1a,ZGVm v1,g==", item_sep=" ", kv_sep=",")
    assert parsed == {"v1": ["abc=", "g=="], "v1a": ["ZGVm"]}


def test_parse_ignores_items_without_separator_or_name() -> None:
    assert parse_signature_list("garbage,,=x,v1=a, v1=b ") == {"v1": ["a", "b"]}
    assert parse_signature_list("") == {}


def test_timestamp_inside_tolerance_both_ways() -> None:
    assert check_timestamp("1000", 1000, tolerance=300) == 1000
    assert check_timestamp("1000", 1300, tolerance=300) == 1000  # old edge
    assert check_timestamp("1000", 700, tolerance=300) == 1000  # future edge
    assert check_timestamp(" 1000 ", 1000) == 1000


@pytest.mark.parametrize(("now", "code"), [(1301, "timestamp_stale"), (699, "timestamp_future")])
def test_timestamp_outside_tolerance(now: float, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        check_timestamp("1000", now, tolerance=300)
    assert caught.value.code == code


def test_future_timestamps_may_be_allowed_explicitly() -> None:
    assert check_timestamp("1000", 0, tolerance=300, reject_future=False) == 1000
    with pytest.raises(SignatureError):
        check_timestamp("1000", 1301, tolerance=300, reject_future=False)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_timestamp(value: str | None) -> None:
    with pytest.raises(SignatureError) as caught:
        check_timestamp(value, 1000)
    assert caught.value.code == "timestamp_missing"


@pytest.mark.parametrize("value", ["-5", "1e9", "12.5", "0x10", "abc", "1" * 13])
def test_malformed_timestamp(value: str) -> None:
    with pytest.raises(SignatureError) as caught:
        check_timestamp(value, 1000)
    assert caught.value.code == "timestamp_malformed"


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662\u0663"])
def test_non_ascii_digits_are_malformed(value: str) -> None:
    with pytest.raises(SignatureError):
        check_timestamp(value, 123, tolerance=10**9)


# --- static tokens -------------------------------------------------------------------


def test_token_matches_any_valid_secret() -> None:
    verify_token("tok-new", ["tok-new", "tok-old"])
    verify_token("tok-old", ["tok-new", "tok-old"])


@pytest.mark.parametrize(
    ("presented", "secrets", "code"),
    [
        ("tok", [], "secret_missing"),
        (None, ["tok"], "signature_missing"),
        ("", ["tok"], "signature_missing"),
        ("tok ", ["tok"], "signature_mismatch"),
        ("TOK", ["tok"], "signature_mismatch"),
        ("to", ["tok"], "signature_mismatch"),
    ],
)
def test_token_refusals(presented: str | None, secrets: list[str], code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_token(presented, secrets)
    assert caught.value.code == code


# --- Ed25519 -------------------------------------------------------------------------


def test_ed25519_sign_and_verify_with_generated_keys() -> None:
    seed, public = _keypair()
    signature = sign_ed25519(seed, BODY)
    verify_ed25519(BODY, [signature], [public])
    verify_ed25519(BODY, [signature], ["whpk_" + public])
    assert sign_ed25519("whsk_" + seed, BODY) == signature  # Ed25519 is deterministic


def test_ed25519_refusals() -> None:
    seed, public = _keypair()
    _, other = _keypair()
    signature = sign_ed25519(seed, BODY)
    cases: list[tuple[bytes, list[str], list[str], str]] = [
        (BODY + b"!", [signature], [public], "signature_mismatch"),
        (BODY, [signature], [other], "signature_mismatch"),
        (BODY, ["not base64!"], [public], "signature_mismatch"),
        (BODY, [], [public], "signature_missing"),
        (BODY, [signature], [], "secret_missing"),
    ]
    for message, presented, keys, code in cases:
        with pytest.raises(SignatureError) as caught:
            verify_ed25519(message, presented, keys)
        assert caught.value.code == code


def test_ed25519_rotation_any_key_matches() -> None:
    seed, public = _keypair()
    _, other = _keypair()
    verify_ed25519(BODY, [sign_ed25519(seed, BODY)], [other, public])


@pytest.mark.parametrize("bad", ["whpk_", "whpk_not*base64", base64.b64encode(b"short").decode()])
def test_invalid_public_key_is_refused(bad: str) -> None:
    with pytest.raises(SignatureError) as caught:
        public_key(bad)
    assert caught.value.code == "secret_invalid"


# --- Standard Webhooks ---------------------------------------------------------------


def test_standard_published_vector_signs_and_verifies() -> None:
    assert sign_standard(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_SIG
    assert signed_content(SW_ID, SW_TS, SW_BODY) == f"{SW_ID}.{SW_TS}.".encode() + SW_BODY
    _verify_sw(SW_SIG)


def _verify_sw(signature: str, *, now: float = SW_TS, secrets: list[str] | None = None) -> None:
    verify_standard(
        msg_id=SW_ID,
        timestamp=str(SW_TS),
        signature=signature,
        body=SW_BODY,
        secrets=[SW_SECRET] if secrets is None else secrets,
        now=now,
    )


@pytest.mark.parametrize(
    "signature",
    [
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
        "v1,",
        "v1,xxxx",
        "v2," + SW_SIG.removeprefix("v1,"),
        SW_SIG.removeprefix("v1,"),
    ],
)
def test_standard_bad_signatures_fail(signature: str) -> None:
    with pytest.raises(SignatureError):
        _verify_sw(signature)


def test_standard_any_listed_signature_may_match() -> None:
    _verify_sw("v2,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + SW_SIG)


def test_standard_tolerance_is_five_minutes_both_ways() -> None:
    _verify_sw(SW_SIG, now=SW_TS + 300)
    _verify_sw(SW_SIG, now=SW_TS - 300)
    for now in (SW_TS + 301, SW_TS - 301):
        with pytest.raises(SignatureError):
            _verify_sw(SW_SIG, now=now)


def test_standard_missing_parts_fail_closed() -> None:
    with pytest.raises(SignatureError) as caught:
        _verify_sw(SW_SIG, secrets=[])
    assert caught.value.code == "secret_missing"
    missing = [(None, str(SW_TS), SW_SIG), (SW_ID, None, SW_SIG), (SW_ID, str(SW_TS), None)]
    for msg_id, stamp, signature in missing:
        with pytest.raises(SignatureError):
            verify_standard(
                msg_id=msg_id,
                timestamp=stamp,
                signature=signature,
                body=SW_BODY,
                secrets=[SW_SECRET],
                now=SW_TS,
            )


def test_standard_v1a_with_whsk_and_whpk() -> None:
    seed, public = _keypair()
    signature = sign_standard("whsk_" + seed, SW_ID, SW_TS, SW_BODY)
    assert signature.startswith("v1a,")
    _verify_sw(signature, secrets=["whpk_" + public])
    _verify_sw(signature, secrets=[SW_SECRET, "whpk_" + public])  # mixed key set
    _verify_sw(f"{signature} {SW_SIG}", secrets=["whpk_" + public])
    _, other = _keypair()
    with pytest.raises(SignatureError):
        _verify_sw(signature, secrets=["whpk_" + other])
    with pytest.raises(SignatureError):
        _verify_sw(signature, secrets=[SW_SECRET])  # a v1a signature never matches a v1 key
    with pytest.raises(SignatureError):
        _verify_sw(SW_SIG, secrets=["whpk_" + public])  # nor v1 a public key


def test_standard_v1_still_wins_when_v1a_fails_in_a_mixed_set() -> None:
    seed, _ = _keypair()
    _, other = _keypair()
    bad_v1a = sign_standard("whsk_" + seed, SW_ID, SW_TS, SW_BODY)
    _verify_sw(f"{bad_v1a} {SW_SIG}", secrets=["whpk_" + other, SW_SECRET])


def test_standard_rotation_with_several_whsec_secrets() -> None:
    newer = "whsec_" + base64.b64encode(b"a-newer-secret-of-24-byt").decode()
    _verify_sw(SW_SIG, secrets=[newer, SW_SECRET])
    with pytest.raises(SignatureError):
        _verify_sw(SW_SIG, secrets=[newer])


def test_key_set_skips_an_unusable_secret_but_never_returns_none() -> None:
    good = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    assert key_set(["whsec_not base64!", good], "whsec_base64") == [key_bytes(good, "whsec_base64")]
    with pytest.raises(SignatureError) as caught:
        key_set(["whsec_not base64!", "whsec_"], "whsec_base64")
    assert caught.value.code == "secret_invalid"
    with pytest.raises(SignatureError) as caught:
        key_set([], "raw")
    assert caught.value.code == "secret_missing"
