"""A generic partner declared entirely in a tenant file, end to end through the handler.

The tenant ``genericco`` (tests/fixtures/tenants/genericco.toml) declares ``parcelpal``:
a Stripe-like ``t=…,v1=…`` HMAC and a field map over ``{delivery, eta, scans: [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.carriers.adapter import Adapter
from gateway.carriers.generic import build_adapter
from gateway.cli import main
from gateway.errors import ParseError
from gateway.signing.spec import SignatureSpec
from gateway.tenancy.tenants import TenantConfigError, load_tenant, load_tenant_file
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
SECRET = "parcelpal-partner-secret-for-tests"
HOOK = "/webhooks/genericco/parcelpal"


def partner() -> Adapter:
    config = load_tenant(TENANTS_DIR, "genericco")
    assert config is not None
    generic = config.carriers["parcelpal"].generic
    assert generic is not None
    return build_adapter("parcelpal", generic)


def scan(parcel: str, state: str, at: Any, **extra: Any) -> dict[str, Any]:
    return {"parcel": parcel, "state": state, "at": at, "note": f"{state} scan", **extra}


def body(*scans: dict[str, Any], delivery: str = "dlv_1") -> bytes:
    return json.dumps({"delivery": delivery, "eta": "2025-03-05", "scans": list(scans)}).encode()


def post(
    gw: Harness, payload: bytes, *, signed: bytes | None = None, tenant: str = "genericco"
) -> Any:
    headers = partner().sign(payload if signed is None else signed, SECRET, NOW.timestamp())
    headers["content-type"] = "application/json"
    return gw.call("POST", f"/webhooks/{tenant}/parcelpal", body=payload, headers=headers)


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("genericco", "parcelpal")] = [SECRET]
        yield harness


GOOD = (
    scan("pp-1", "REG", "2025-03-03T08:00:00Z"),
    scan(
        "pp-1",
        "HUB",
        "2025-03-03T18:30:00+01:00",
        place={"city": "Berlin", "zip": "10115", "country": "de"},
        geo={"lat": 52.53, "lon": 13.38},
    ),
    scan("pp-1", "DLV", 1741082400),  # unix seconds: 2025-03-04T10:00:00Z
)


def test_a_signed_delivery_is_stored_end_to_end(gw: Harness) -> None:
    reply = post(gw, body(*GOOD))
    assert reply.status == 200, reply.body
    assert (reply.body["accepted"], reply.body["duplicates"]) == (3, 0)
    events = gw.call("GET", "/v1/shipments/PP-1/events", tenant="genericco").body["events"]
    assert [(e["status"], e["carrier_code"], e["tz_source"]) for e in events] == [
        ("info_received", "REG", "carrier_utc"),
        ("in_transit", "HUB", "carrier_offset"),
        ("delivered", "DLV", "carrier_utc"),
    ]
    hub = events[1]
    assert hub["carrier"] == "parcelpal" and hub["occurred_at"] == "2025-03-03T17:30:00Z"
    assert hub["location"] == {
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "lat": 52.53,
        "lon": 13.38,
    }
    assert hub["estimated_delivery"] == "2025-03-05" and hub["delivery_id"] == "dlv_1"
    state = gw.call("GET", "/v1/shipments/PP-1", tenant="genericco").body["shipments"][0]
    assert state["status"] == "delivered"
    again = post(gw, body(*GOOD))
    assert again.body["duplicate_delivery"] is True and again.body["accepted"] == 0


def test_an_unmapped_state_is_unknown_never_a_guess(gw: Harness) -> None:
    reply = post(gw, body(scan("pp-2", "XYZ", "2025-03-03T08:00:00Z")))
    assert reply.status == 200 and reply.body["accepted"] == 1
    state = gw.call("GET", "/v1/shipments/PP-2", tenant="genericco").body["shipments"][0]
    assert state["status"] == "unknown"


def test_a_tampered_or_unsigned_delivery_is_refused(gw: Harness) -> None:
    payload = body(*GOOD)
    tampered = payload.replace(b'"DLV"', b'"RTS"')
    reply = post(gw, tampered, signed=payload)
    assert reply.status == 401 and reply.body["error"]["code"] == "signature_mismatch"
    reply = gw.call("POST", HOOK, body=payload, headers={"content-type": "application/json"})
    assert reply.status == 401 and reply.body["error"]["code"] == "signature_missing"
    assert gw.call("GET", "/v1/shipments/PP-1", tenant="genericco").status == 404


def test_a_bad_item_is_parked_while_the_good_ones_are_stored(gw: Harness) -> None:
    bad = scan("pp-3", "HUB", None)  # no time: unreadable
    far = scan("pp-3", "HUB", "2025-03-03T09:00:00Z", geo={"lat": 123.0, "lon": 0})
    reply = post(gw, body(scan("pp-3", "REG", "2025-03-03T08:00:00Z"), bad, far))
    assert reply.status == 200, reply.body
    assert reply.body["accepted"] == 1 and reply.body["failed_items"] == 2
    assert reply.body["parked"] is True
    (parked,) = gw.services.pipeline.parking.list("genericco")
    assert parked.carrier == "parcelpal"
    assert "event 1: event has no at" in parked.reason and "event 2: event geo.lat" in parked.reason
    assert not {"x-parcelpal-signature"} & {h.lower() for h in parked.headers}
    with pytest.raises(ParseError, match="2 items still unreadable"):  # replay finds the partner
        gw.services.pipeline.replay(parked)


def test_the_partner_exists_only_for_the_tenant_that_declares_it(gw: Harness) -> None:
    gw.secrets.values[("acme", "parcelpal")] = [SECRET]
    reply = post(gw, body(*GOOD), tenant="acme")
    assert reply.status == 404 and reply.body["error"]["code"] == "not_found"


BAD_GENERIC = """
name = "Broken"
[carriers.parcelpal.generic]
label = "Parcel Pal"
signature = { kind = "hmac", header = "X-Sig", tolerance_secs = 300 }
fields = { tracking_number = "parcel", status = "state", occurred_at = "at" }
"""


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (BAD_GENERIC, "carriers.parcelpal.generic.signature.tolerance_secs: extra inputs"),
        (
            BAD_GENERIC.replace("tolerance_secs = 300", 'rotation = "weekly"'),
            "carriers.parcelpal.generic.signature.rotation: extra inputs",  # docs text only
        ),
        (
            BAD_GENERIC.replace("tolerance_secs = 300", 'reject_future = "no"'),
            "carriers.parcelpal.generic.signature.reject_future: input should be a valid boolean",
        ),
        (
            BAD_GENERIC.replace("tolerance_secs = 300", 'query_param = "t"'),
            "carriers.parcelpal.generic.signature: value error, a spec reads its signature "
            "from exactly one header or query param",
        ),
        (
            BAD_GENERIC.replace(", tolerance_secs = 300", "").replace('"at"', '"at", eta = "x"'),
            "carriers.parcelpal.generic.fields.eta: extra inputs",
        ),
        (
            BAD_GENERIC.replace("parcelpal", "easypost").replace(", tolerance_secs = 300", ""),
            "carriers: value error, easypost.generic: a generic partner cannot shadow "
            "an in-tree adapter",
        ),
    ],
)
def test_a_bad_tenant_file_is_refused_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(TenantConfigError) as caught:
        load_tenant_file(path)
    assert str(caught.value).startswith(f"{path}: ") and field in str(caught.value)
    assert main(["tenants", "validate", "--tenants-dir", str(tmp_path)]) == 1
    assert f"{path}: " in capsys.readouterr().err


def test_every_spec_field_but_rotation_comes_from_the_tenant_file(tmp_path: Path) -> None:
    path = tmp_path / "skewed.toml"
    path.write_text(
        BAD_GENERIC.replace("tolerance_secs = 300", 'timestamp_key = "t", tolerance_seconds = 60')
        .replace('header = "X-Sig"', 'header = "X-Sig", signature_list = [",", "="]')
        .replace("tolerance_seconds = 60", "tolerance_seconds = 60, reject_future = false")
    )
    generic = load_tenant_file(path).carriers["parcelpal"].generic
    assert generic is not None
    scheme = build_adapter("parcelpal", generic).scheme
    assert (scheme.tolerance_seconds, scheme.reject_future) == (60, False)
    assert scheme.signature_list == (",", "=") and scheme == generic.signature
    assert scheme.rotation == SignatureSpec(kind="hmac", header="x").rotation
