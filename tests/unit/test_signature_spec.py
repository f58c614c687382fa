"""Declarative signature specs: every kind, both directions, and the failure modes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.carriers.discovery import load_adapters
from gateway.carriers.spec_model import NOT_IN_TENANT_FILES, GenericSignature, tenant_model
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


# --- the same spec from a tenant file (gateway/carriers/generic.py) ------------------

ROTATION = next(f.default for f in dataclasses.fields(SignatureSpec) if f.name == "rotation")


def in_tree_specs() -> dict[str, SignatureSpec]:
    """Every in-tree adapter's scheme, and any other spec its module defines (Shippo's HMAC)."""
    found = {}
    for adapter in load_adapters().adapters.values():
        found[adapter.id] = adapter.scheme
        for name, value in vars(sys.modules[adapter.parse.__module__]).items():
            if isinstance(value, SignatureSpec):
                found[f"{adapter.id}.{name}"] = value
    return found


IN_TREE = in_tree_specs()


def as_toml(spec: SignatureSpec) -> dict[str, object]:
    """The spec as a tenant file's table gives it: arrays are lists; refused fields left out."""
    data = {k: v for k, v in dataclasses.asdict(spec).items() if k not in NOT_IN_TENANT_FILES}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def test_every_spec_field_is_settable_from_a_tenant_file_or_refused_on_purpose() -> None:
    """Fails when SignatureSpec gains a field the tenant model does not accept."""
    spec_fields = {f.name: f for f in dataclasses.fields(SignatureSpec)}
    accepted = GenericSignature.model_fields
    assert set(spec_fields) == set(accepted) | set(NOT_IN_TENANT_FILES)
    assert not set(accepted) & set(NOT_IN_TENANT_FILES)
    assert all(reason.strip() for reason in NOT_IN_TENANT_FILES.values())
    for name, info in accepted.items():
        default = spec_fields[name].default
        assert info.is_required() if default is dataclasses.MISSING else info.default == default


@pytest.mark.parametrize("spec", [*SPECS.values(), *IN_TREE.values()], ids=[*SPECS, *IN_TREE])
def test_every_spec_round_trips_through_a_tenant_file(spec: SignatureSpec) -> None:
    rebuilt = GenericSignature.model_validate(as_toml(spec)).spec()
    assert rebuilt == dataclasses.replace(spec, rotation=ROTATION)


def test_a_field_added_to_the_spec_is_accepted_and_strict() -> None:
    @dataclasses.dataclass(frozen=True)
    class Wider(SignatureSpec):
        max_skew_ms: int = 5
        label: str | None = None

    model = tenant_model(Wider)
    spec = model.model_validate({"kind": "token", "header": "x", "max_skew_ms": 7}).spec()
    assert isinstance(spec, Wider) and spec.max_skew_ms == 7 and spec.label is None
    with pytest.raises(ValidationError, match="max_skew_ms"):
        model.model_validate({"kind": "token", "header": "x", "max_skew_ms": "7"})


@pytest.mark.parametrize(
    ("change", "where", "kind"),
    [
        ({"tolerance_seconds": "300"}, ("tolerance_seconds",), "int_type"),
        ({"tolerance_seconds": 0}, ("tolerance_seconds",), "greater_than_equal"),
        ({"tolerance_seconds": 86_401}, ("tolerance_seconds",), "less_than_equal"),
        ({"reject_future": "no"}, ("reject_future",), "bool_type"),
        ({"header": 5}, ("header",), "string_type"),
        ({"signature_list": [",", 1]}, ("signature_list", 1), "string_type"),
        ({"encoding": "hexadecimal"}, ("encoding",), "literal_error"),
        ({"rotation": "weekly"}, ("rotation",), "extra_forbidden"),
        ({"tolerance_secs": 300}, ("tolerance_secs",), "extra_forbidden"),
        ({"query_param": "t"}, (), "value_error"),  # the spec's own rule: one source
    ],
)
def test_a_tenant_spec_is_strict_and_names_the_field(
    change: dict[str, object], where: tuple[object, ...], kind: str
) -> None:
    data = as_toml(STRIPE_LIKE) | change
    with pytest.raises(ValidationError) as caught:
        GenericSignature.model_validate(data)
    [error] = caught.value.errors()
    assert (error["loc"], error["type"]) == (where, kind)
