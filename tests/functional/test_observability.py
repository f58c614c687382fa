"""Logs carry the request id as correlation id; metrics are EMF with no tenant dimension."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from adapters import standard_webhooks
from gateway.observability import logger
from gateway.testkit.harness import moto_harness

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"observability-test-secret-32b!!!").decode()


def test_emf_metrics_have_no_tenant_dimension_and_logs_correlate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = json.dumps(
        {
            "type": "tracking.updated",
            "data": {
                "tracking_number": "1ZOBS",
                "events": [{"status": "delivered", "occurred_at": "2025-12-31T10:00:00Z"}],
            },
        }
    ).encode()
    with moto_harness(lambda: NOW, emf=True) as gw:
        gw.secrets.values[("acme", "standard_webhooks")] = [SECRET]
        headers = standard_webhooks.ADAPTER.sign(body, SECRET, NOW.timestamp())
        headers["content-type"] = "application/json"
        capsys.readouterr()
        assert (
            gw.call("POST", "/webhooks/acme/standard_webhooks", body=body, headers=headers).status
            == 200
        )
        bad = dict(headers, **{"webhook-signature": "v1,AAAA"})
        assert (
            gw.call("POST", "/webhooks/acme/standard_webhooks", body=body, headers=bad).status
            == 401
        )
        last_request_id = gw.last_request_id
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    emf = [line for line in lines if "_aws" in line]
    assert emf, "no EMF metrics were emitted"
    names = set()
    for blob in emf:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Dimensions"] == [["service"]]
            names |= {metric["Name"] for metric in directive["Metrics"]}
        assert "acme" not in json.dumps(blob)
    assert {"EventsAccepted", "SignatureFailures"} <= names
    assert logger.get_correlation_id() == last_request_id
