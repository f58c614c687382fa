"""The cost model's arithmetic on hand-computable inputs (not whether the target is met)."""

from __future__ import annotations

import pytest

from bench import pricing
from bench.cost_model import MIX, TARGET, TENANTS, Tenant, rows, tenant_month
from bench.pricing import AUTH, STORED, Assumptions, Profile

ONES = {
    "api_gateway": {"rest_per_million": 1.0},
    "lambda": {"per_million_requests": 1.0, "arm_gb_second": 1e-3},
    "dynamodb": {"wru_per_million": 1.0, "rru_per_million": 1.0},
    "secrets_manager": {"per_10k_calls": 1.0, "secret_month": 1.0},
    "cloudwatch": {"logs_ingest_gb": 1.0, "logs_store_gb_month": 1.0},
    "kms": {"per_10k_requests": 1.0, "key_month": 1.0},
    "data_transfer": {"out_gb": 1.0},
}
ONES["dynamodb"] |= {"storage_gb_month": 1.0, "pitr_gb_month": 1.0}
ONES["cloudwatch"] |= {"metric_month": 1.0, "alarm_month": 1.0}
PLAIN = Assumptions(
    memory_gb=1.0, cpu_scale=2.0, rtt_ms=5.0, safety=1.0, cold_share=0.0, platform_log_bytes=0,
    access_log_bytes=0, log_months=1.0, retention_months=1.0, item_overhead=0.0,
    hard_cap_wru=0.0, hard_cap_rru_s=0.0, key_sets_per_container=0.0, response_overhead=0.0,
)  # fmt: skip
NEW = Profile(wru=3, rru=1, calls=3, cpu_ms=2, wall_ms=9, log_bytes=500, response_bytes=1000,
              accepted=1)  # fmt: skip
FREE_AUTH = Profile(0, 0, 0, cpu_ms=0, wall_ms=0, log_bytes=0, response_bytes=0, accepted=0)


def test_the_price_table_holds_the_dated_us_west_2_on_demand_figures() -> None:
    prices = pricing.load_prices()
    assert prices["api_gateway"]["rest_per_million"] == 3.50
    assert prices["lambda"] == {"arm_gb_second": 0.0000133334, "per_million_requests": 0.20}
    assert prices["dynamodb"]["wru_per_million"] == 0.625
    assert prices["dynamodb"]["rru_per_million"] == 0.125
    assert prices["kms"]["per_10k_requests"] == 0.03
    assert all(isinstance(v, float) for section in prices.values() for v in section.values())


def test_billed_milliseconds_scale_cpu_and_add_a_round_trip_per_call() -> None:
    assert pricing.billed_ms(NEW, PLAIN) == 2 * 2.0 + 3 * 5.0
    cold = Assumptions(cpu_scale=1, rtt_ms=0, safety=2, cold_share=0.01, init_ms=1000)
    assert pricing.billed_ms(NEW, cold) == pytest.approx(2 * 2 + 0.01 * 1000)


def test_stored_bytes_count_each_new_item_with_its_overhead() -> None:
    a = Assumptions(item_overhead=100.0, index_entry_bytes=110.0)
    sizes = {"event": 700.0, "state": 600.0, "parked": 400.0}
    assert pricing.stored_bytes("new", NEW, sizes, a) == 800  # the event
    assert pricing.stored_bytes("first", NEW, sizes, a) == 800 + 700 + 210  # + state, index entry
    parked = Profile(2, 1, 3, 1, 1, 1, 1, accepted=0)
    assert pricing.stored_bytes("parked", parked, sizes, a) == 500  # the parked copy
    assert pricing.stored_bytes("retry", parked, sizes, a) == 0


def test_a_request_costs_each_service_by_hand() -> None:
    sizes = {"event": 1000.0, "state": 0.0, "parked": 0.0}
    cost = pricing.request_cost("new", NEW, sizes, FREE_AUTH, ONES, PLAIN)
    assert cost["API Gateway REST"] == 1e-6
    assert cost["Lambda requests (2)"] == 2e-6  # ingest + authorizer
    assert cost["Lambda duration"] == pytest.approx((19 + 1) / 1000 * 1e-3)  # auth min 1 ms
    assert cost["DynamoDB writes"] == 3e-6 and cost["DynamoDB reads"] == 1e-6
    assert cost["DynamoDB storage + PITR"] == pytest.approx(1000 / 1e9 * 2)  # the event, with PITR
    assert cost["CloudWatch Logs"] == pytest.approx(500 / 1e9 * 2)
    assert cost["Data transfer out"] == pytest.approx(1000 / 1e9)
    assert cost["Secrets Manager + KMS calls"] == 0.0


def test_a_mix_weights_each_kind_and_fixed_costs_add_up() -> None:
    costs = {"a": {"x": 1.0, "y": 0.0}, "b": {"x": 3.0, "y": 2.0}}
    assert pricing.mix_cost({"a": 0.25, "b": 0.75}, costs) == {"x": 2.5, "y": 1.5}
    a = Assumptions(secrets=2, metrics=3, alarms=4, cmk_keys=1)
    assert pricing.fixed_monthly(ONES, a) == 10.0


def test_a_tenant_pays_its_webhooks_and_its_reads_with_a_share_of_fixed_costs() -> None:
    tenant = Tenant("t", 1e6, {"a": 1.0}, {"b": 2e6})
    costs = {"a": {"x": 1e-6}, "b": {"x": 2e-6}}
    assert tenant_month(tenant, costs, 0.0) == pytest.approx((1.0, 4.0))
    assert tenant_month(tenant, costs, 1e-6) == pytest.approx((2.0, 6.0))


def test_the_rows_total_the_services_and_attribute_every_tenant() -> None:
    kinds = set(MIX) | {kind for tenant in TENANTS for kind in tenant.reads}
    measured = rows({k: NEW for k in kinds}, STORED, AUTH, pricing.load_prices(), Assumptions())
    services = [r for r in measured if r.section == "cost" and not r.name.endswith("total")]
    (total,) = [r for r in measured if r.name.endswith("total")]
    assert total.target == TARGET and total.value == pytest.approx(sum(r.value for r in services))
    assert {r.name for r in measured if r.section == "cost_tenant"} == {
        f"{t.name}: monthly" for t in TENANTS
    }
    assert sum(MIX.values()) == pytest.approx(1.0)
    assert all(sum(t.mix.values()) == pytest.approx(1.0) for t in TENANTS)
