"""``waybill costs`` on Amazon DynamoDB Local: real deliveries through the handler, counted
in windows by the real audit, read back per tenant and priced."""

from __future__ import annotations

import io
import json
import shutil
import time
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.easypost import ADAPTER
from gateway.api.app import make_handler
from gateway.cli import main
from gateway.costs.attribution import outcome_dollars
from gateway.costs.prices import load_prices
from gateway.local.ownership import own_state_dir
from gateway.local.runtime import write_runtime
from gateway.observability import count
from gateway.services import build_services
from gateway.signing.spec import split_signed
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness

pytestmark = pytest.mark.integration

SECRET = "costs-test-secret-not-real"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/easypost"
FIXTURE = FIXTURES / "event_tracker_updated_full_history.json"


def _post(gw: Harness, tenant: str, body: bytes, secret: str = SECRET) -> int:
    signed = ADAPTER.sign(body, secret, time.time())
    headers = split_signed(signed)[0] | {"Content-Type": "application/json"}
    url = f"/webhooks/{tenant}/easypost"
    return gw.call("POST", url, body=body, headers=headers, tenant=tenant).status


def _body(number: str) -> bytes:
    tracker = json.loads(FIXTURE.read_bytes())
    tracker["id"] = f"evt_{number}"
    tracker["result"]["tracking_code"] = number
    return json.dumps(tracker).encode()


def _costs(state_dir: Path, *extra: str) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["costs", "--json", "--state-dir", str(state_dir),
                     "--tenants-dir", str(TENANTS_DIR), *extra])  # fmt: skip
    assert code == 0
    return dict(json.loads(out.getvalue()))


def test_each_tenant_pays_for_its_own_deliveries(
    client: Any, table: str, dynamodb_local_endpoint: str, tmp_path: Path
) -> None:
    secrets = DictSecrets({("acme", "easypost"): [SECRET], ("globex", "easypost"): [SECRET]})
    services = build_services(
        dynamodb=client, table_name=table, tenants_dir=TENANTS_DIR, secrets=secrets, count=count
    )
    gw = Harness(make_handler(services), services, secrets, {})
    statuses = [_post(gw, "acme", _body(f"EZCOST{i:06d}")) for i in range(3)]
    statuses.append(_post(gw, "acme", _body("EZCOST000000")))  # the carrier's retry
    statuses.append(_post(gw, "globex", _body("EZCOST900000")))
    statuses.append(_post(gw, "globex", _body("EZCOST900001"), secret="wrong"))  # 401
    assert statuses == [200, 200, 200, 200, 200, 401]
    services.pipeline.audit.flush(final=True)
    owner = own_state_dir(tmp_path)  # as `waybill serve` owns its state dir
    write_runtime(owner, dynamodb_endpoint=dynamodb_local_endpoint, table_name=table)

    found = _costs(tmp_path)
    by_tenant = {t["tenant"]: t for t in found["tenants"]}
    acme, globex = by_tenant["acme"], by_tenant["globex"]
    assert acme["requests"] == {"accepted": 3, "duplicate": 1, "ignored": 0, "parked": 0,
                                "refused": 0}  # fmt: skip
    assert globex["requests"]["accepted"] == 1 and globex["requests"]["refused"] == 1
    prices = load_prices()

    def price(outcome: str) -> float:
        return outcome_dollars(outcome, prices, volume=6)  # the month's six webhooks

    assert acme["variable_usd"] == pytest.approx(3 * price("accepted") + price("duplicate"))
    assert globex["variable_usd"] == pytest.approx(price("accepted") + price("rejected"))
    assert acme["shared_usd"] == pytest.approx(2 * globex["shared_usd"])  # 4 requests vs 2
    assert found["tenants"][0]["total_usd"] >= found["tenants"][-1]["total_usd"]
    assert sum(t["share"] for t in found["tenants"]) == pytest.approx(1.0)

    other = _costs(tmp_path, "--month", "2001-01")  # nothing counted that month
    assert all(sum(t["requests"].values()) == 0 for t in other["tenants"])
    assert all(t["variable_usd"] == 0 for t in other["tenants"])
    assert datetime.now(UTC).strftime("%Y-%m") == found["month"]


def test_a_bad_tenant_file_is_named_and_the_others_are_still_priced(
    table: str, dynamodb_local_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(TENANTS_DIR, tenants)
    (tenants / "broken.toml").write_text('name = "B"\nretention = 30\n')  # a typo'd field
    owner = own_state_dir(tmp_path / "state")
    write_runtime(owner, dynamodb_endpoint=dynamodb_local_endpoint, table_name=table)
    found = _costs(tmp_path / "state", "--tenants-dir", str(tenants))
    assert {"acme", "globex"} <= {t["tenant"] for t in found["tenants"]}
    assert "broken" not in {t["tenant"] for t in found["tenants"]}
    assert "broken.toml: retention: extra inputs are not permitted" in capsys.readouterr().err
