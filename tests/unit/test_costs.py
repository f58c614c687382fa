"""The cost arithmetic of ``gateway/costs`` and ``waybill costs``, by hand."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import pytest

from gateway.cli import main
from gateway.costs.attribution import attribute, outcome_dollars, tenant_secrets
from gateway.costs.counts import month_days
from gateway.costs.model import (
    NEW_EDGE,
    OLD_EDGE,
    TENANT_API,
    StackShape,
    Terms,
    Unit,
    request_dollars,
    secret_month,
    stack_monthly,
    traces,
)
from gateway.costs.prices import load_price_table, per_request
from gateway.costs.shape import REQUEST_OUTCOMES, SHAPE
from gateway.tenancy.tenants import TenantConfig

ONES = {
    "api_gateway": {"rest_per_million": 3.0, "rest_tier_millions": 1, "rest_next_per_million": 1.0,
                    "http_per_million": 1.0, "http_tier_millions": 1, "http_next_per_million": 0.5},
    "lambda": {"per_million_requests": 1.0, "arm_gb_second": 1e-3},
    "dynamodb": {"wru_per_million": 1.0, "rru_per_million": 1.0, "storage_gb_month": 1.0,
                 "pitr_gb_month": 1.0},
    "cloudwatch": {"logs_ingest_gb": 1.0, "logs_store_gb_month": 1.0, "metric_month": 1.0,
                   "alarm_month": 1.0},
    "data_transfer": {"out_gb": 1.0},
    "waf": {"web_acl_month": 5.0, "rule_month": 1.0, "per_million_requests": 1.0},
    "xray": {"traces_per_million": 1.0},
    "kms": {"key_month": 1.0, "per_10k_requests": 1.0},
    "secrets_manager": {"secret_month": 1.0, "per_10k_calls": 1.0},
}  # fmt: skip
PLAIN = Terms(memory_gb=1.0, authorizer_memory_gb=1.0, authorizer_ms=2.0,
              authorizer_log_bytes=100.0, access_log_bytes=0.0, retention_months=1.0)  # fmt: skip
UNIT = Unit(wru=2, rru=1, lambda_ms=10, log_bytes=400, stored_bytes=1000, response_bytes=500)


def test_the_one_price_table_ships_in_the_package_and_is_dated() -> None:
    text = resources.files("gateway.costs").joinpath("prices.toml").read_text()
    table = load_price_table()
    assert "[api_gateway]" in text and table.as_of == "2026-11" and table.region == "us-west-2"
    assert table.price("api_gateway", "http_per_million") == 1.00
    assert table.price("api_gateway", "rest_per_million") == 3.50
    assert table.price("waf", "per_million_requests") == 0.60
    assert table.price("xray", "traces_per_million") == 5.00


def test_api_gateway_prices_the_first_tier_and_the_next_apart() -> None:
    assert per_request(ONES, "http", 1e6) == pytest.approx(1e-6)
    assert per_request(ONES, "http", 2e6) == pytest.approx(0.75e-6)  # (1 + 0.5) / 2
    assert per_request(ONES, "rest", 4e6) == pytest.approx(1.5e-6)  # (3 + 3 x 1) / 4


def test_a_request_through_each_edge_by_hand() -> None:
    new = request_dollars(UNIT, ONES, NEW_EDGE, PLAIN, 1e6)
    old = request_dollars(UNIT, ONES, OLD_EDGE, PLAIN, 1e6)
    assert new["API Gateway"] == pytest.approx(1e-6) and old["API Gateway"] == pytest.approx(3e-6)
    assert new["Lambda requests"] == pytest.approx(1e-6)
    assert old["Lambda requests"] == pytest.approx(2e-6)  # and the authorizer's
    assert new["WAF requests"] == 0 and old["WAF requests"] == pytest.approx(1e-6)
    assert new["Lambda duration"] == pytest.approx(10 / 1000 * 1e-3)
    assert old["Lambda duration"] == pytest.approx(12 / 1000 * 1e-3)
    assert new["DynamoDB writes"] == pytest.approx((2 + 2 / 50) * 1e-6)  # quota + hard cap
    assert old["DynamoDB writes"] == pytest.approx((2 + 1 / 50) * 1e-6)  # hard cap only
    assert new["DynamoDB storage + PITR"] == pytest.approx(1000 / 1e9 * 2)
    assert new["CloudWatch Logs"] == pytest.approx(400 / 1e9 * 2)
    assert old["CloudWatch Logs"] == pytest.approx(500 / 1e9 * 2)  # + the authorizer's line
    assert new["Data transfer out"] == pytest.approx(500 / 1e9)


def test_the_stack_pays_a_reservoir_of_traces_then_a_share() -> None:
    assert traces(1e6, 1.0, 0.05) == 1e6  # under the reservoir: every request
    assert traces(12_592_000, 1.0, 0.05) == pytest.approx(2_592_000 + 500_000)
    shape = StackShape(metrics=2, alarms=3, cmk_keys=1, secrets=1, waf_rules=2)
    monthly = stack_monthly(ONES, NEW_EDGE, 12_592_000, shape)
    assert monthly["X-Ray traces"] == pytest.approx(3.092)
    assert monthly["CloudWatch metrics + alarms"] == 5.0
    assert monthly["KMS key + stack secrets"] == 2.0
    assert monthly["WAF web ACL + rules"] == 7.0
    assert stack_monthly(ONES, NEW_EDGE, 1e6, StackShape(waf_rules=0))["WAF web ACL + rules"] == 0


def test_a_secret_is_stored_and_refreshed_by_every_warm_container() -> None:
    month = secret_month(ONES, StackShape(warm_containers=2))
    assert month["Secrets Manager secret"] == 1.0
    assert month["GetSecretValue + KMS refreshes"] == pytest.approx(2 * 8640 * 2 / 1e4)


def test_a_tenant_holds_a_secret_per_enabled_carrier_per_polled_one_and_its_plan_key() -> None:
    carriers = {"easypost": {}, "ups": {"polling": {"daily_budget": 10}}}
    config = TenantConfig(id="acme", name="Acme", carriers=carriers | {"fedex": {"enabled": False}})
    assert tenant_secrets(config) == 2 + 1 + 1


def test_attribution_prices_each_outcome_spreads_shared_costs_and_adds_fixed() -> None:
    counts = {
        "big": Counter({("accepted", "webhook"): 3_000, ("rejected", "webhook"): 1_000}),
        "small": Counter({("duplicate", "submit"): 1_000, ("endpoint", "webhook"): 50}),
    }
    stack = StackShape(waf_rules=0)
    costs = {c.tenant: c for c in attribute(counts, {"big": 1, "small": 3}, ONES, stack=stack)}
    big, small = costs["big"], costs["small"]
    assert big.requests == {"accepted": 3_000, "rejected": 1_000}
    assert small.requests == {"duplicate": 1_000}  # endpoint changes are not requests
    web = 4_000  # the webhooks of the month: the API Gateway tier and the traces
    assert big.variable == pytest.approx(
        3_000 * outcome_dollars("accepted", ONES, volume=web)
        + 1_000 * outcome_dollars("rejected", ONES, volume=web)
    )
    assert small.variable == pytest.approx(
        1_000 * outcome_dollars("duplicate", ONES, edge=TENANT_API, volume=web)
    )
    shared = sum(stack_monthly(ONES, NEW_EDGE, web, stack).values())
    assert big.shared == pytest.approx(shared * 0.8)
    assert small.shared == pytest.approx(shared * 0.2)
    per_secret = sum(secret_month(ONES, stack).values())
    assert big.fixed == pytest.approx(per_secret) and small.fixed == pytest.approx(3 * per_secret)
    assert big.share + small.share == pytest.approx(1.0)
    ranked = attribute(counts, {"big": 1, "small": 300}, ONES, stack=stack)
    assert [c.tenant for c in ranked] == ["small", "big"]  # most expensive first


def test_the_cost_shape_covers_every_request_outcome() -> None:
    assert set(SHAPE) == set(REQUEST_OUTCOMES)
    assert SHAPE["accepted"].wru > SHAPE["parked"].wru > SHAPE["duplicate"].wru == 0
    assert not SHAPE["rejected"].counted and SHAPE["accepted"].counted


def test_a_month_has_its_calendar_days() -> None:
    assert len(month_days("2024-02")) == 29 and month_days("2026-11")[0] == "2026-11-01"


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-01", "2026-00", "soon"])
def test_a_malformed_month_exits_2_with_a_message(
    month: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["costs", "--month", month]) == 2
    assert f"invalid --month {month!r}" in capsys.readouterr().err
