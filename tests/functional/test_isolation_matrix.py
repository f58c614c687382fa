"""The adversarial isolation matrix (DESIGN.md invariant 5), through the handler on moto.

Five test tenants, each with its own secrets for every webhook carrier it enables (hooli
and umbrella enable every discovered adapter), and each with its own shipments (the
carrier's first readable fixture with tenant-tagged tracking numbers, plus one tracking
number every tenant shares). For every ordered pair (X, Y):

- for every webhook carrier enabled for both, X's partner secret (token, HMAC key, and the
  declared quirks' slots: Shippo's HMAC, UPS v2's OAuth client secret and tokens) never
  authenticates anything on Y's paths;
- Y's authorizer tenant never reads X's shipments or events (404), and never sees X's
  id, tracking numbers, secrets or bodies in any response, error or not;
- Y never reads, changes, resends or removes X's notification endpoint or its messages
  (404 for every route), never sees its id, secret or message ids, and X's endpoint
  keeps its state and its one secret;
- Y never sees, removes or refreshes X's trackers (404 for every route, one by one or in a
  batch), never lists them, and a tracking number both track is two trackers; the poll
  usage (requests today, trackers due) counts each tenant's own only. The tenants poll UPS
  on the loopback carrier API (:mod:`gateway.testkit.carrier_api`) for this part.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import permutations
from pathlib import Path
from urllib.parse import urlencode

import boto3
import pytest

from adapters.shippo import sign_hmac
from adapters.ups import sign_v2
from gateway.api.app import make_handler
from gateway.audit.provenance import provenance
from gateway.audit.query import read_audit
from gateway.audit.windows import DynamoAudit
from gateway.notify.addresses import AddressPolicy
from gateway.notify.endpoints import MESSAGE_TYPES as TYPES
from gateway.poll.checks import RECENT
from gateway.services import build_services
from gateway.signing.spec import split_signed
from gateway.store.table import ensure_table
from gateway.tenancy.keysets import generate_secret
from gateway.tenancy.tenants import load_tenants
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.fixtures import carrier_headers
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness, Reply, moto_harness
from tests.support.carriers import (
    QUIRK_SLOTS,
    QUIRKS,
    SHIPPO_HMAC,
    UPS_V2,
    adapters,
    samples,
    webhook_adapters,
)
from tests.support.notify import install_sender, replay_stream

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
TENANTS = ("acme", "globex", "initech", "hooli", "umbrella")
SAMPLES: dict[str, Path] = {a.id: samples(a.id)[0] for a in webhook_adapters()}
"""One readable fixture (it parses into events) per discovered webhook carrier."""
SHARED = "SHARED0000001"
ADAPTERS = adapters()
OAUTH = next(q for q in QUIRKS if q.scheme == UPS_V2)  # UPS v2: client id option, oauth slot
HMAC_SLOT = next(q for q in QUIRKS if q.scheme == SHIPPO_HMAC)  # Shippo's optional HMAC
CONFIGS = {t: c for t, c in load_tenants(TENANTS_DIR).items() if t in TENANTS}
JSON = {"content-type": "application/json"}


def carriers_of(tenant: str) -> set[str]:
    return {c for c in CONFIGS[tenant].enabled_carriers() if c in SAMPLES}


PAIRS = [(x, y) for x, y in permutations(TENANTS, 2)]
CROSS = [(x, y, c) for x, y in PAIRS for c in sorted(carriers_of(x) & carriers_of(y))]


@dataclass
class Tenant:
    """What a tenant owns: its secrets, its tracking numbers and the bodies it was sent."""

    id: str
    secrets: dict[str, str]
    numbers: set[str]
    bodies: dict[str, bytes]

    def private(self) -> list[str]:
        """Strings that must never reach another tenant."""
        return [self.id, *self.secrets.values(), *sorted(self.numbers), *self.snippets()]

    def snippets(self) -> list[str]:
        """A piece of each raw body around its first (tenant-tagged) tracking number."""
        found = []
        for body in map(bytes.decode, self.bodies.values()):
            at = min(i for i in (body.find(n) for n in self.numbers) if i >= 0)
            found.append(body[max(0, at - 20) : at + 30])
        return found


def sample(tenant: str, carrier: str, index: int) -> tuple[bytes, set[str]]:
    """The carrier's fixture, with every tracking number tagged for this tenant."""
    path = SAMPLES[carrier]
    raw = path.read_bytes()
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    raw = raw.replace(b"/webhooks/acme/", f"/webhooks/{tenant}/".encode())
    numbers = set()
    for number in {event["tracking_number"] for event in expected["events"]}:
        tagged = f"{number}Q{index}"
        written = rb"\s*".join(re.escape(char.encode()) for char in number)  # as the carrier did
        raw, found = re.subn(written, tagged.encode(), raw, flags=re.IGNORECASE)
        assert found, (carrier, number)
        numbers.add(tagged)
    return raw, numbers


def shared_body(tenant: str) -> bytes:
    event = {"status": "in_transit", "occurred_at": "2025-06-01T10:00:00Z"}
    event["description"] = f"private note of {tenant}"
    data = {"tracking_number": SHARED, "events": [event]}
    return json.dumps({"type": "tracking.updated", "data": data}).encode()


def deliver(gw: Harness, path_tenant: str, carrier: str, raw: bytes, signer: Tenant) -> Reply:
    """``raw`` signed as ``signer``'s carrier would, posted to ``path_tenant``'s path."""
    adapter = ADAPTERS[carrier]
    at = NOW.timestamp()
    signed, query = split_signed(adapter.sign(raw, signer.secrets[carrier], at))
    headers = {k.lower(): v for k, v in (carrier_headers(SAMPLES[carrier]) | signed).items()}
    if HMAC_SLOT.slot in signer.secrets and carrier == HMAC_SLOT.carrier:
        headers |= sign_hmac(raw, signer.secrets[HMAC_SLOT.slot], at)
    headers.setdefault("content-type", adapter.content_types[0])
    url = f"/webhooks/{path_tenant}/{carrier}" + (f"?{urlencode(query)}" if query else "")
    return gw.call("POST", url, body=raw, headers=headers)


def client_id(tenant: str) -> str:
    ups = CONFIGS[tenant].carriers.get(OAUTH.carrier)
    return str(ups.options.get("oauth_client_id", "")) if ups else ""


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Harness, dict[str, Tenant]]]:
    with moto_harness(lambda: NOW) as gw:
        tenants: dict[str, Tenant] = {}
        for index, tenant in enumerate(TENANTS, start=1):
            owner = Tenant(tenant, {}, set(), {})
            for carrier in sorted(carriers_of(tenant)):
                form = ADAPTERS[carrier].scheme.secret_form
                owner.secrets[carrier] = generate_secret(form)
                gw.secrets.values[(tenant, carrier)] = [owner.secrets[carrier]]
            for slot in QUIRK_SLOTS:
                if slot.split(".")[0] in carriers_of(tenant):
                    owner.secrets[slot] = generate_secret()
                    gw.secrets.values[(tenant, slot)] = [owner.secrets[slot]]
            for carrier in sorted(carriers_of(tenant)):
                raw, numbers = sample(tenant, carrier, index)
                owner.bodies[carrier], owner.numbers = raw, owner.numbers | numbers
                reply = deliver(gw, tenant, carrier, raw, owner)
                assert reply.status == 200 and reply.body["accepted"] >= 1, (tenant, carrier)
            if "standard_webhooks" in owner.secrets:
                shared = shared_body(tenant)
                assert deliver(gw, tenant, "standard_webhooks", shared, owner).status == 200
            tenants[tenant] = owner
        yield gw, tenants


def assert_no_leak(reply: Reply, owner: Tenant) -> None:
    text = json.dumps(reply.body) + json.dumps(reply.headers)
    for private in owner.private():
        assert private not in text, f"{private[:12]}… of {owner.id} leaked"


def test_the_matrix_is_not_empty() -> None:
    assert len(CROSS) >= 40 and {c for _, _, c in CROSS} == set(SAMPLES)
    assert sum(1 for x, y in PAIRS if client_id(x) and client_id(y)) == 2


@pytest.mark.parametrize(("owner", "victim", "carrier"), CROSS)
def test_a_partner_secret_never_authenticates_another_tenants_webhook(
    world: tuple[Harness, dict[str, Tenant]], owner: str, victim: str, carrier: str
) -> None:
    gw, tenants = world
    x = tenants[owner]
    reply = deliver(gw, victim, carrier, x.bodies[carrier], x)
    assert (reply.status, reply.body["error"]["code"]) == (401, "signature_mismatch")
    assert_no_leak(reply, x)
    for number in x.numbers:  # nothing was stored under the victim
        assert gw.call("GET", f"/v1/shipments/{number}", tenant=victim).status == 404


@pytest.mark.parametrize(("owner", "victim"), [p for p in PAIRS if all(map(client_id, p))])
def test_ups_oauth_credentials_and_tokens_stay_with_their_tenant(
    world: tuple[Harness, dict[str, Tenant]], owner: str, victim: str
) -> None:
    gw, tenants = world
    x = tenants[owner]
    basic = base64.b64encode(f"{client_id(owner)}:{x.secrets[OAUTH.slot]}".encode()).decode()
    form = {"Authorization": f"Basic {basic}"}
    form["Content-Type"] = "application/x-www-form-urlencoded"
    grant = b"grant_type=client_credentials"
    token_path = "/oauth/{}/" + OAUTH.carrier + "/token"
    assert gw.call("POST", token_path.format(owner), body=grant, headers=form).status == 200
    refused = gw.call("POST", token_path.format(victim), body=grant, headers=form)
    assert refused.status == 401
    assert_no_leak(refused, x)
    raw = x.bodies[OAUTH.carrier]
    at = NOW.timestamp()
    for presented_id in (client_id(owner), client_id(victim)):
        headers = sign_v2(presented_id, x.secrets[OAUTH.slot], at, tenant=owner)
        headers["x-api-key"], headers["Content-Type"] = presented_id, "application/json"
        reply = gw.call("POST", f"/webhooks/{victim}/{OAUTH.carrier}", body=raw, headers=headers)
        assert reply.status == 401
        assert_no_leak(reply, x)
    own = sign_v2(client_id(owner), x.secrets[OAUTH.slot], at, tenant=owner)
    own["Content-Type"] = "application/json"
    reply = gw.call("POST", f"/webhooks/{owner}/{OAUTH.carrier}", body=raw, headers=own)
    assert reply.status == 200


@pytest.mark.parametrize(("owner", "reader"), PAIRS)
def test_a_tenant_never_reads_another_tenants_shipments(
    world: tuple[Harness, dict[str, Tenant]], owner: str, reader: str
) -> None:
    gw, tenants = world
    x = tenants[owner]
    for number in sorted(x.numbers):
        for path in (f"/v1/shipments/{number}", f"/v1/shipments/{number}/events"):
            reply = gw.call("GET", path, tenant=reader)
            assert reply.status == 404 and reply.body["error"]["code"] == "shipment_not_found"
            assert_no_leak(reply, x)
    own = sorted(tenants[reader].numbers)
    if "standard_webhooks" in carriers_of(reader):
        own.append(SHARED)
    for number in own:  # the reader's own shipments show nothing of the owner's
        for path in (f"/v1/shipments/{number}", f"/v1/shipments/{number}/events?limit=500"):
            reply = gw.call("GET", path, tenant=reader)
            assert reply.status == 200
            assert_no_leak(reply, x)


@pytest.mark.parametrize("tenant", [t for t in TENANTS if "standard_webhooks" in carriers_of(t)])
def test_a_shared_tracking_number_shows_each_tenant_only_its_own_events(
    world: tuple[Harness, dict[str, Tenant]], tenant: str
) -> None:
    gw, _ = world
    state = gw.call("GET", f"/v1/shipments/{SHARED}", tenant=tenant).body
    events = gw.call("GET", f"/v1/shipments/{SHARED}/events", tenant=tenant).body["events"]
    assert [s["event_count"] for s in state["shipments"]] == [1]
    assert [(e["tenant"], e["carrier_text"]) for e in events] == [
        (tenant, f"private note of {tenant}")
    ]


def test_provenance_and_audit_windows_show_each_tenant_only_its_own_deliveries(
    world: tuple[Harness, dict[str, Tenant]],
) -> None:
    gw, tenants = world
    store, audit = gw.services.store, gw.services.pipeline.audit
    assert isinstance(audit, DynamoAudit)
    audit.flush(final=True)
    for tenant, owner in tenants.items():
        sent = {c: hashlib.sha256(raw).hexdigest()[:32] for c, raw in owner.bodies.items()}
        if "standard_webhooks" in carriers_of(tenant):
            sent["shared"] = hashlib.sha256(shared_body(tenant)).hexdigest()[:32]
        others = [t for t in tenants.values() if t is not owner]
        for number in sorted(owner.numbers):  # which delivery brought each event: its own
            brought = {
                (carrier, sent[carrier]) for carrier, raw in owner.bodies.items()
                if number.encode() in raw
            }  # fmt: skip
            found = provenance(store.client, store.table, tenant, number, now=NOW)
            assert found and {(p.carrier, p.body_sha256) for p in found} <= brought, number
            assert {p.received_at for p in found} == {NOW}
            for other in others:  # another tenant reading the number gets nothing
                assert provenance(store.client, store.table, other.id, number, now=NOW) == []
        shared = provenance(store.client, store.table, tenant, SHARED, now=NOW)
        if "standard_webhooks" in carriers_of(tenant):  # the number every tenant shares
            assert [(p.carrier, p.body_sha256) for p in shared] == [
                ("standard_webhooks", sent["shared"])
            ]
        else:
            assert shared == []
        # The windows count the tenant's own accepted deliveries, exactly: one per carrier
        # sample, plus the shared one (another tenant's delivery is never counted here).
        windows = read_audit(
            audit.client, audit.table, tenant, since=NOW, now=NOW, outcome="accepted", limit=1000
        )
        expected = Counter(owner.bodies.keys())
        if "shared" in sent:
            expected["standard_webhooks"] += 1
        assert Counter({w.carrier: w.count for w in windows}) == expected, tenant
        assert [(w.at, w.code, w.detail) for w in windows] == [(NOW, "events", {})] * len(expected)


@dataclass
class Hooks:
    """A tenant's notification endpoint: its id, its secret, its messages' ids."""

    endpoint: str
    secret: str
    messages: list[str]


@pytest.fixture(scope="module")
def hooks(world: tuple[Harness, dict[str, Tenant]]) -> dict[str, Hooks]:
    """One endpoint per tenant (both message types), its shipments notified to it."""
    gw, _ = world
    install_sender(gw.services)
    found: dict[str, Hooks] = {}
    for tenant in TENANTS:
        body = json.dumps({"url": f"https://hooks.example.com/{tenant}", "types": list(TYPES)})
        created = gw.call(
            "POST", "/v1/endpoints", body=body.encode(), headers=JSON, tenant=tenant
        ).body
        found[tenant] = Hooks(created["id"], created["secret"], [])
    replay_stream(gw.services)
    for tenant, hook in found.items():
        page = gw.call("GET", f"/v1/endpoints/{hook.endpoint}/messages?limit=100", tenant=tenant)
        hook.messages = [m["id"] for m in page.body["messages"]]
        assert hook.messages, tenant
    return found


@pytest.mark.parametrize(("owner", "reader"), PAIRS)
def test_an_endpoint_its_messages_and_its_secret_are_invisible_to_other_tenants(
    world: tuple[Harness, dict[str, Tenant]], hooks: dict[str, Hooks], owner: str, reader: str
) -> None:
    gw, tenants = world
    mine, theirs = hooks[owner], hooks[reader]
    private = [mine.endpoint, mine.secret, *mine.messages, *tenants[owner].private()]
    path = f"/v1/endpoints/{mine.endpoint}"
    since = json.dumps({"since": NOW.isoformat()}).encode()
    for method, url, body in [
        ("GET", path, b""),
        ("GET", f"{path}/messages", b""),
        ("POST", f"{path}/rotate-secret", b""),
        ("POST", f"{path}/disable", b""),
        ("POST", f"{path}/enable", b""),
        ("POST", f"{path}/recover", since),
        ("POST", f"{path}/messages/{mine.messages[0]}/resend", b""),
        ("POST", f"/v1/endpoints/{theirs.endpoint}/messages/{mine.messages[0]}/resend", b""),
        ("DELETE", path, b""),
    ]:
        reply = gw.call(method, url, body=body, headers=JSON if body else {}, tenant=reader)
        assert (reply.status, reply.body["error"]["code"]) == (404, "not_found"), (method, url)
        assert not [p for p in private if p in json.dumps(reply.body) + json.dumps(reply.headers)]
    listed = gw.call("GET", "/v1/endpoints", tenant=reader)
    assert [e["id"] for e in listed.body["endpoints"]] == [theirs.endpoint]
    own = gw.call("GET", f"/v1/endpoints/{theirs.endpoint}/messages?limit=100", tenant=reader)
    assert not [p for p in private if p in json.dumps(listed.body) + json.dumps(own.body)]
    store = gw.services.notifications.notifier.endpoints
    kept = store.get(owner, mine.endpoint)  # untouched by the other tenant's attempts
    assert (kept.enabled, store.signing_secrets(kept, NOW)) == (True, [mine.secret])


# -- trackers ------------------------------------------------------------------------------

TRACKED = "1Z999AA10123456784"  # a number every tenant tracks, each its own tracker


@dataclass
class Polled:
    """A tenant's trackers (UPS): its own numbers, and the requests its refreshes made."""

    numbers: list[str]
    requests: int = 0


@pytest.fixture(scope="module")
def polling(
    world: tuple[Harness, dict[str, Tenant]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Harness, dict[str, Polled]]]:
    """The five tenants, each polling UPS on the loopback carrier API: a gateway over a
    table of its own (in the same moto as the world), each tenant tracking its own numbers
    (tenant i: i of them) and the shared one, which it refreshed i times."""
    with CarrierApi(clock=NOW.timestamp) as api:
        api.add("ups", TRACKED, [SimEvent("in_transit", NOW - timedelta(hours=3))])
        directory = tmp_path_factory.mktemp("polling-tenants")
        for tenant in TENANTS:
            text = (TENANTS_DIR / f"{tenant}.toml").read_text()
            section = f'[carriers.ups.polling]\ndaily_budget = 50\napi_base_url = "{api.url}/ups"\n'
            (directory / f"{tenant}.toml").write_text(f"{text}\n{section}")
        client = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(client, "waybill-trackers")
        services = build_services(
            dynamodb=client,
            table_name="waybill-trackers",
            tenants_dir=directory,
            secrets=DictSecrets({(t, "ups.api"): [api.slot_value("ups")] for t in TENANTS}),
            count=lambda name, value=1: None,
            clock=lambda: NOW,
            address_policy=AddressPolicy(allow_insecure=True),  # the loopback carrier API
        )
        gw = Harness(make_handler(services), services, DictSecrets(), {})
        found: dict[str, Polled] = {}
        for index, tenant in enumerate(TENANTS, start=1):
            owner = Polled([f"1ZISO{index}{k:011d}" for k in range(index)])
            for number in [*owner.numbers, TRACKED]:
                body = json.dumps({"tracking_number": number, "carrier": "ups"}).encode()
                reply = gw.call("POST", "/v1/trackers", body=body, headers=JSON, tenant=tenant)
                assert reply.status == 201, reply.body
            before = api.count("ups")
            for _ in range(index):
                url = f"/v1/trackers/{TRACKED}/refresh?carrier=ups"
                assert gw.call("POST", url, tenant=tenant).status == 200
            owner.requests = api.count("ups") - before
            found[tenant] = owner
        yield gw, found


def listed(gw: Harness, tenant: str) -> list[str]:
    """Every tracker the tenant lists, in every state."""
    return [
        t["tracking_number"]
        for state in ("active", "failing", "retired")
        for t in gw.call("GET", f"/v1/trackers?state={state}&limit=100", tenant=tenant).body[
            "trackers"
        ]
    ]


@pytest.mark.parametrize(("owner", "reader"), PAIRS)
def test_a_tenant_never_sees_removes_or_refreshes_another_tenants_trackers(
    polling: tuple[Harness, dict[str, Polled]], owner: str, reader: str
) -> None:
    gw, tenants = polling
    mine = tenants[owner].numbers
    kept = {n: gw.call("GET", f"/v1/trackers/{n}?carrier=ups", tenant=owner).body for n in mine}
    for number in mine:
        for method, url, body in [
            ("GET", f"/v1/trackers/{number}?carrier=ups", b""),
            ("POST", f"/v1/trackers/{number}/refresh?carrier=ups", b""),
            ("DELETE", f"/v1/trackers/{number}?carrier=ups", b""),
            (
                "POST",
                "/v1/trackers/refresh",
                json.dumps({"trackers": [{"tracking_number": number, "carrier": "ups"}]}).encode(),
            ),
        ]:
            reply = gw.call(method, url, body=body, headers=JSON if body else {}, tenant=reader)
            assert (reply.status, reply.body["error"]["code"]) == (404, "tracker_not_found"), (
                method,
                url,
            )
            assert not [n for n in mine if n in json.dumps(reply.body) + json.dumps(reply.headers)]
    assert sorted(listed(gw, reader)) == sorted([*tenants[reader].numbers, TRACKED])
    assert {
        n: gw.call("GET", f"/v1/trackers/{n}?carrier=ups", tenant=owner).body for n in mine
    } == kept
    shared = gw.call("GET", f"/v1/trackers/{TRACKED}?carrier=ups", tenant=reader).body
    own_refreshes = TENANTS.index(reader) + 1
    assert (shared["checks"], len(shared["recent_checks"])) == (
        own_refreshes,
        min(own_refreshes, RECENT),
    )


def test_poll_usage_counts_each_tenants_own_only(
    polling: tuple[Harness, dict[str, Polled]],
) -> None:
    gw, tenants = polling
    for tenant, owner in tenants.items():
        usage = gw.call("GET", "/v1/trackers/usage", tenant=tenant).body["carriers"]
        assert usage == [
            {
                "carrier": "ups",
                "requests_today": owner.requests,
                "daily_budget": 50,
                "due": len(owner.numbers),  # its own numbers, never refreshed: due since added
                "overdue": 0,
                "failing": 0,
            }
        ], tenant
    assert len({o.requests for o in tenants.values()}) == len(TENANTS)  # all different
