"""The signature-bypass catalogue (``bypass_cases.py``) through the Lambda handler.

Each (scheme, attack) is its own test. A genuine delivery is accepted first (per
scheme); a refused attack must get its status and stable code and store nothing (no
shipment, event or parked item appears), and the genuine delivery is accepted right
after, on the same gateway (so the refusal was the attack's doing); an accepted attack
must be stored; a not-applicable one names a reason from the known list, and the
scheme is checked to have that property (where the body is not signed, a tampered body
is shown to pass, as ADAPTERS.md says). DynamoDB is moto's: the store is not the subject.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.api.app import make_handler
from gateway.audit.outcomes import NO_AUDIT
from gateway.carriers.adapter import Adapter
from gateway.errors import SignatureError
from gateway.local.proxy_event import LocalContext
from gateway.services import build_services
from gateway.signing.bearer import issue_token, verify_bearer
from gateway.signing.spec import Request, verify_spec
from gateway.store.table import ensure_table
from gateway.testkit.harness import TENANTS_DIR
from tests.reliability.bypass_cases import (
    CANONICAL_PROBES,
    CATALOGUE,
    NA_BODY,
    NOT_APPLICABLE,
    SCHEMES,
    Attempt,
    BookSecrets,
    Entry,
    genuine,
)
from tests.reliability.fuzz_support import NOW, FuzzRequest, report_line, to_event
from tests.support.carriers import GENERIC_PARTNER, QUIRKS, webhook_adapters

TABLE = "waybill-bypass"


class Gateway:
    """One handler over a moto table shared by the module; each attempt sets the secrets
    the gateway holds and its clock."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.secrets = BookSecrets({})
        self.now = NOW
        services = build_services(
            dynamodb=client,
            table_name=TABLE,
            tenants_dir=TENANTS_DIR,
            secrets=self,
            count=lambda name, value=1: None,
            clock=lambda: self.now,
        )
        # The audit trail is not the subject: without it the table holds only what is stored.
        services = replace(services, pipeline=replace(services.pipeline, audit=NO_AUDIT))
        self.handler = make_handler(services)

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        return self.secrets.valid_secrets(tenant, carrier, now)

    def send(self, attempt: Attempt) -> tuple[int, Any]:
        self.secrets, self.now = BookSecrets(attempt.book), attempt.clock
        request = FuzzRequest("POST", attempt.path, attempt.body, attempt.headers, attempt.query)
        event = to_event(request)
        if attempt.patch is not None:
            attempt.patch(event)
        response = self.handler(event, LocalContext.new())
        return response["statusCode"], json.loads(response["body"])

    def stored(self) -> int:
        """How many items the table holds (only the pipeline writes to it: shipments,
        events, parked deliveries); a count, so the scan returns no items to decode."""
        total, request = 0, {"TableName": TABLE, "Select": "COUNT"}
        for _ in range(1000):  # bounded: far more pages than the module stores
            page = self.client.scan(**request)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise AssertionError("scan did not end")


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(client, TABLE)
        yield Gateway(client)


@pytest.mark.parametrize("scheme", SCHEMES, ids=[s.id for s in SCHEMES])
def test_the_genuine_delivery_is_accepted(gateway: Gateway, scheme: Any) -> None:
    status, body = gateway.send(genuine(scheme))
    assert status == 200, body
    assert body["accepted"] + body["duplicates"] >= 1, body


@pytest.mark.parametrize("entry", CATALOGUE, ids=[e.id for e in CATALOGUE])
def test_bypass_attempt(gateway: Gateway, entry: Entry) -> None:
    scheme, outcome = entry.scheme, entry.outcome
    if outcome.kind == "n/a":
        assert NOT_APPLICABLE[outcome.reason](scheme), (outcome.reason, scheme)
        if outcome.reason == NA_BODY:  # shown, not assumed: the body is not signed
            assert gateway.send(entry.attack.build(scheme))[0] in (200, 202)
        return
    attempt = entry.attack.build(scheme)
    before = gateway.stored()
    status, body = gateway.send(attempt)
    if outcome.kind == "accepted":
        assert outcome.reason
        assert status == 200, body
        assert body["accepted"] + body["duplicates"] >= 1, body
        return
    assert (status, body.get("error", {}).get("code")) == (outcome.status, outcome.code), body
    assert gateway.stored() == before, "a refused delivery stores nothing"
    assert gateway.send(genuine(scheme))[0] == 200, "the genuine delivery still passes"


def test_the_catalogue_covers_every_scheme_and_attack(request: pytest.FixtureRequest) -> None:
    from gateway.carriers.discovery import load_adapters

    webhooks = {a.id for a in load_adapters().adapters.values() if a.webhook}
    assert {s.carrier for s in SCHEMES} == webhooks | {GENERIC_PARTNER}
    assert {q.scheme for q in QUIRKS} <= {s.id for s in SCHEMES}, "every quirk has its scheme"
    assert {q.carrier for q in QUIRKS} <= webhooks | {GENERIC_PARTNER}, "a quirk of no carrier"
    attacks = {e.attack.name for e in CATALOGUE}
    for name in attacks:  # every attack applies somewhere
        assert any(e.outcome.kind != "n/a" for e in CATALOGUE if e.attack.name == name), name
    assert len(CATALOGUE) == len(SCHEMES) * len(attacks)
    tally: dict[str, Counter[str]] = {}
    for entry in CATALOGUE:
        tally.setdefault(entry.scheme.id, Counter())[entry.outcome.kind] += 1
    report_line(request, "bypass", catalogue_line(tally))


def catalogue_line(tally: dict[str, Counter[str]]) -> str:
    """The report's summary: forgeries (each refused by its test) and valid variants apart.

    >>> print(catalogue_line({"ups": Counter({"refused": 3, "accepted": 1, "n/a": 2})}))
    bypass catalogue: 3 forgery attempts on 1 schemes, each must be refused; 1 valid \
credentials re-spelt (no forgery) must still pass; 2 not applicable. Per scheme \
(forgeries/valid/n-a): ups 3/1/2
    """
    total = sum(tally.values(), Counter())
    return (
        f"bypass catalogue: {total['refused']} forgery attempts on {len(tally)} schemes, each "
        f"must be refused; {total['accepted']} valid credentials re-spelt (no forgery) must "
        f"still pass; {total['n/a']} not applicable. Per scheme (forgeries/valid/n-a): "
        + "; ".join(f"{s} {c['refused']}/{c['accepted']}/{c['n/a']}" for s, c in tally.items())
    )


@pytest.mark.parametrize("probe", sorted(CANONICAL_PROBES))
def test_the_canonical_adapter_is_no_webhook(gateway: Gateway, probe: str) -> None:
    body = json.dumps({"tracking_id": "1Z1", "status": "delivered", "timestamp": "2025-06-01Z"})
    attempt = Attempt("/webhooks/submitco/canonical", body.encode(), CANONICAL_PROBES[probe])
    before = gateway.stored()
    status, reply = gateway.send(attempt)
    assert (status, reply["error"]["code"]) == (401, "not_a_webhook")
    assert gateway.stored() == before


# --- regressions: an empty secret in a key set must not be a key anyone can use ----------


HASHES = [a for a in webhook_adapters() if a.scheme.kind == "hash"]


@pytest.mark.parametrize("adapter", HASHES, ids=[a.id for a in HASHES])
def test_a_hash_scheme_never_verifies_with_an_empty_secret(adapter: Adapter) -> None:
    """A plain digest over the secret (17TRACK's ``sha256(body + "/" + secret)``): with
    ``""`` anyone could compute it."""
    body = b'{"event": "TRACKING_UPDATED"}'
    forged = adapter.sign(body, "", NOW.timestamp())
    request = Request(body=body, header=lambda name: forged.get(name))
    with pytest.raises(SignatureError) as caught:
        verify_spec(adapter.scheme, request, [""], NOW.timestamp())
    assert caught.value.code == "secret_missing"
    real = adapter.sign(body, "real", NOW.timestamp())
    ok = Request(body=body, header=lambda name: real.get(name))
    verify_spec(adapter.scheme, ok, ["", "real"], NOW.timestamp())  # others still work


def test_an_oauth_bearer_never_verifies_with_an_empty_client_secret() -> None:
    """UPS v2: a token MACed with the empty key must not pass when a key set holds ``""``
    (HMAC pads keys with zeros: the key ``"\\0"`` MACs exactly as the empty key does)."""
    forged = issue_token(tenant="t", carrier="ups", client_id="c1", secret="\x00", now=0.0)
    with pytest.raises(SignatureError) as caught:
        verify_bearer(forged, tenant="t", carrier="ups", client_id="c1", secrets=[""], now=1.0)
    assert caught.value.code == "secret_missing"
