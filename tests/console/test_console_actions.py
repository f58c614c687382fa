"""Every console action works, through the same function as its CLI twin, audited the
same way (``<state_dir>/audit.jsonl``; actor ``console``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.tenancy.local_secrets import LocalSecretStore
from tests.console.conftest import TENANT, TRACKED, Served, drive

pytestmark = pytest.mark.integration


def audited(served: Served) -> list[dict[str, Any]]:
    path = served.state / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_action_does_what_its_cli_twin_does(served: Served) -> None:
    driven = drive(served)
    services = served.gateway.services
    with served.client() as http:
        csrf = served.login(http)

        def post(path: str, **form: Any) -> str:
            answer = http.post(path, data={"csrf": csrf, "tenant": TENANT, **form})
            assert answer.status_code == 200, answer.text[-600:]
            return answer.text

        endpoint = {"endpoint": driven.endpoint}
        assert "disabled" in post("/console/endpoints/toggle", **endpoint, enabled="false")
        assert not services.notifications.endpoint(TENANT, driven.endpoint).enabled
        assert "enabled" in post("/console/endpoints/toggle", **endpoint, enabled="true")
        assert services.notifications.endpoint(TENANT, driven.endpoint).enabled
        (message, *_) = services.notifications.messages(
            TENANT, driven.endpoint, state=None, limit=1, before=None
        )
        resent = post("/console/endpoints/resend", **endpoint, message=message.id)
        assert "resent" in resent and "HTTP 500" in resent
        again = services.notifications.messages(
            TENANT, driven.endpoint, state=None, limit=1, before=None
        )
        assert again[0].attempts[-1].trigger == "resend"
        since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        assert "queued" in post("/console/endpoints/recover", **endpoint, since=since)
        checked = post("/console/trackers/refresh", carrier="ups", number=TRACKED)
        assert f"checked {TRACKED}" in checked
        rotated = post("/console/secrets/rotate", target="standard_webhooks", grace="1h")
        assert "rotated" in rotated and "whse…(" in rotated
        keyset = LocalSecretStore(served.state).get(TENANT, "standard_webhooks")
        assert keyset is not None and len(keyset.unexpired_previous(datetime.now(UTC))) == 1
        assert "1 replayed, 0 still parked" in post("/console/parked/replay", id=driven.parked)
        assert services.pipeline.parking.list(TENANT) == []
    mine = [(e["action"], e["target"]) for e in audited(served) if e["actor"] == "console"]
    assert mine == [
        ("endpoint.disable", driven.endpoint),
        ("endpoint.enable", driven.endpoint),
        ("endpoint.resend", driven.endpoint),
        ("endpoint.recover", driven.endpoint),
        ("tracker.refresh", TRACKED),
        ("secret.rotate", "standard_webhooks"),
        ("parked.replay", driven.parked[:12]),
    ]
    entries = {e["action"]: e for e in audited(served) if e["actor"] == "console"}
    assert set(entries["endpoint.recover"]["detail"]) == {"since", "queued"}  # as the CLI's
    assert entries["endpoint.resend"]["detail"] == {"message": message.id, "answered": 500}
    assert entries["parked.replay"]["detail"] == {"replayed": 1, "still_parked": 0}
    assert entries["tracker.refresh"]["detail"] == {"carrier": "ups", "checked": True}
    assert entries["secret.rotate"]["detail"] == {
        "generated": True,
        "grace": "1h",
        "previous_valid": 1,
    }


def test_a_batch_refresh_and_a_replay_by_reason(served: Served) -> None:
    driven = drive(served)
    services = served.gateway.services
    services.trackers.add(TENANT, "1ZSECOND1", "ups")
    reason = services.pipeline.parking.list(TENANT)[0].reason
    with served.client() as http:
        csrf = served.login(http)
        form = {"csrf": csrf, "tenant": TENANT, "carrier": "ups"}
        batch = http.post(
            "/console/trackers/refresh", data=form | {"number": [TRACKED, "1ZSECOND1"]}
        )
        assert batch.status_code == 200 and "queued 2 trackers first" in batch.text
        replay = {"csrf": csrf, "tenant": TENANT, "reason": reason}
        assert "1 replayed" in http.post("/console/parked/replay", data=replay).text
        gone = http.post("/console/parked/replay", data={**replay, "id": driven.parked})
        assert gone.status_code == 404
    (entry,) = [e for e in audited(served) if e["action"] == "tracker.refresh"]
    assert entry["target"] == f"{TRACKED},1ZSECOND1" and entry["detail"]["queued"] == 2
