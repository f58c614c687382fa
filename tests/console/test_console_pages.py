"""Every console page renders real data, reads no Scan, and shows untrusted text inert."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.console.conftest import HOSTILE, NUMBER, TENANT, TRACKED, Served, drive

pytestmark = pytest.mark.integration


def pages(endpoint: str) -> dict[str, str]:
    """Every page of the console, by name."""
    return {
        "overview": "/console/",
        "tenants": "/console/tenants",
        "tenant": f"/console/tenants/{TENANT}",
        "shipment": f"/console/tenants/{TENANT}/shipments/{NUMBER}",
        "parked": "/console/parked",
        "notifications": "/console/notifications",
        "endpoint": f"/console/tenants/{TENANT}/endpoints/{endpoint}",
        "trackers": "/console/trackers",
        "tracker": f"/console/tenants/{TENANT}/trackers/ups/{TRACKED}",
    }


def test_every_page_shows_the_stored_data_without_a_scan(served: Served) -> None:
    driven = drive(served)
    with served.client() as http:
        served.login(http)
        before = len(served.calls)
        shown = {name: http.get(path) for name, path in pages(driven.endpoint).items()}
    for name, answer in shown.items():
        assert answer.status_code == 200, (name, answer.text[:300])
        assert '<main id="main"' in answer.text
        assert re.search(r'id="read-cost">This page read \d+\.\d read units', answer.text), name
    assert "Scan" not in served.calls[before:]
    overview = shown["overview"].text
    totals = re.search(r'id="totals-hour".*?</table>', overview, re.S)
    assert totals and re.search(r"<td>2</td><td>0</td><td>0</td><td>1</td>", totals[0])
    assert "<li>shop: 1</li>" in overview  # parked waiting
    assert re.search(r"<td>shop</td><td>ups</td><td>[1-9]\d*</td><td>100</td>", overview)
    assert 'id="trackers-failing">0<' in overview
    tenant = shown["tenant"].text
    assert "whse…(" in tenant and SECRET_TAIL not in tenant  # masked, never the value
    assert 'id="rotate-standard_webhooks"' in tenant and served.key[:8] in tenant  # a key prefix
    assert re.search(r'id="usage-today">\d+; hard cap \d+/day<', tenant) and 'id="cost">$' in tenant
    assert 'id="outcomes-today">accepted 2 (webhook), parked 1 (webhook)<' in tenant
    shipment = shown["shipment"].text
    assert shipment.count("<code>") >= 2 and "in_transit" in shipment  # provenance digests
    assert "shipment.event_added" in shipment and "500" in shipment  # what it caused, attempts
    assert "still" not in shown["parked"].text and "ParseError: cannot read" in shown["parked"].text
    assert f'id="endpoint-{driven.endpoint}"' in shown["notifications"].text
    assert "failing since" in shown["notifications"].text
    assert TRACKED in shown["trackers"].text and "refresh" in shown["trackers"].text
    assert "schedule" in shown["tracker"].text  # the per-check log


SECRET_TAIL = "Y29uc29sZS10ZXN0LXNlY3JldC1vZi0zMi1ieXRlcyE"


def test_what_carriers_and_tenants_sent_is_shown_inert(served: Served) -> None:
    driven = drive(served)
    with served.client() as http:
        served.login(http)
        shown = {name: http.get(path).text for name, path in pages(driven.endpoint).items()}
    seen = {"shipment": False, "parked": False, "endpoint": False}
    for name, text in shown.items():
        for raw in ("<script>alert", "<img src=x", "\u202e", 'onerror=alert(2)>"'):
            assert raw not in text, (name, raw)
        assert not re.search(r"href=\"(?!/console/|#main\")", text), name  # our routes only
        assert "javascript:" not in "".join(re.findall(r'(?:href|src|action)="[^"]*"', text))
        if "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "\\u202egnp.exe" in text:
            seen[name] = True
    wanted = ("shipment", "parked", "endpoint")  # carrier text, parse reason, description
    assert all(seen[name] for name in wanted), seen
    assert "&#34;&gt;&lt;img/src=x/onerror=alert(4)&gt;" in shown["endpoint"]  # its URL


def test_a_javascript_url_is_refused_at_registration(served: Served) -> None:
    refused = httpx.post(
        f"{served.url}/v1/endpoints",
        headers={"x-api-key": served.key},
        json={"url": "javascript:alert(1)", "description": HOSTILE},
    )
    assert refused.status_code == 400
