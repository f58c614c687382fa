"""The cost model's arithmetic on hand-computable inputs (not whether the target is met)."""

from __future__ import annotations

import math

import pytest

from bench import pricing
from bench.cost_model import (
    EDGES,
    MIX,
    TARGET,
    TENANTS,
    VOLUMES,
    Tenant,
    outcome_units,
    rows,
    tenant_month,
)
from bench.pricing import AUTH, STORED, Assumptions, Profile
from gateway.costs.model import NEW_EDGE, OLD_EDGE, Terms
from gateway.costs.shape import REQUEST_OUTCOMES

ONES = {
    "api_gateway": {"rest_per_million": 1.0, "rest_tier_millions": 333,
                    "rest_next_per_million": 1.0, "http_per_million": 0.5,
                    "http_tier_millions": 300, "http_next_per_million": 0.5},
    "lambda": {"per_million_requests": 1.0, "arm_gb_second": 1e-3},
    "dynamodb": {"wru_per_million": 1.0, "rru_per_million": 1.0, "storage_gb_month": 1.0,
                 "pitr_gb_month": 1.0},
    "cloudwatch": {"logs_ingest_gb": 1.0, "logs_store_gb_month": 0.0},
    "waf": {"per_million_requests": 1.0},
    "data_transfer": {"out_gb": 1.0},
}  # fmt: skip
PLAIN = Assumptions(
    cpu_scale=2.0, rtt_ms=5.0, safety=1.0, cold_share=0.0, platform_log_bytes=0,
    item_overhead=0.0, counter_rru_s=0.0, response_overhead=0.0,
    terms=Terms(memory_gb=1.0, authorizer_memory_gb=1.0, access_log_bytes=0,
                retention_months=1.0),
)  # fmt: skip
NEW = Profile(wru=3, rru=1, calls=3, cpu_ms=2, wall_ms=9, log_bytes=500, response_bytes=1000,
              accepted=1)  # fmt: skip
FREE_AUTH = Profile(0, 0, 0, cpu_ms=0, wall_ms=0, log_bytes=0, response_bytes=0, accepted=0)


def test_the_bench_reads_the_one_price_table() -> None:
    prices = pricing.load_prices()
    assert prices["api_gateway"]["rest_per_million"] == 3.50
    assert prices["lambda"] == {"arm_gb_second": 0.0000133334, "per_million_requests": 0.20}
    assert prices["dynamodb"]["wru_per_million"] == 0.625
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


def test_a_request_costs_each_service_by_hand_on_both_edges() -> None:
    sizes = {"event": 1000.0, "state": 0.0, "parked": 0.0}
    new = pricing.request_cost("new", NEW, sizes, FREE_AUTH, ONES, PLAIN, NEW_EDGE)
    old = pricing.request_cost("new", NEW, sizes, FREE_AUTH, ONES, PLAIN, OLD_EDGE)
    assert new["API Gateway"] == pytest.approx(0.5e-6) and old["API Gateway"] == 1e-6
    assert new["Lambda requests"] == 1e-6 and old["Lambda requests"] == 2e-6  # + authorizer
    assert new["Lambda duration"] == pytest.approx(19 / 1000 * 1e-3)
    assert old["Lambda duration"] == pytest.approx((19 + 1) / 1000 * 1e-3)  # auth min 1 ms
    assert new["DynamoDB writes"] == pytest.approx((3 + 2 / 50) * 1e-6)
    assert new["DynamoDB storage + PITR"] == pytest.approx(1000 / 1e9 * 2)  # with PITR
    assert new["CloudWatch Logs"] == pytest.approx(500 / 1e9)
    assert new["Data transfer out"] == pytest.approx(1000 / 1e9)
    assert new["WAF requests"] == 0 and old["WAF requests"] == 1e-6


def test_a_mix_weights_each_kind() -> None:
    costs = {"a": {"x": 1.0, "y": 0.0}, "b": {"x": 3.0, "y": 2.0}}
    assert pricing.mix_cost({"a": 0.25, "b": 0.75}, costs) == {"x": 2.5, "y": 1.5}


def test_a_tenant_pays_its_webhooks_its_reads_a_share_and_its_secrets() -> None:
    tenant = Tenant("t", 1e6, {"a": 1.0}, {"b": 2e6}, carriers=2)
    hooks, reads = {"a": {"x": 1e-6}}, {"b": {"x": 2e-6}}
    assert tenant_month(tenant, hooks, reads, 0.0, 0.0) == pytest.approx((1.0, 4.0, 0.0))
    assert tenant_month(tenant, hooks, reads, 1e-6, 0.5) == pytest.approx((2.0, 6.0, 1.5))


def test_the_shape_averages_each_outcome_kinds_by_the_mix() -> None:
    kinds = {k: NEW for k in MIX}
    kinds["retry"] = Profile(0, 1, 1, cpu_ms=1, wall_ms=1, log_bytes=100, response_bytes=0,
                             accepted=0)  # fmt: skip
    shape = outcome_units(kinds, STORED, PLAIN)
    assert set(shape) == set(REQUEST_OUTCOMES)
    resend, retry = MIX["resend"], MIX["retry"]
    assert shape["duplicate"].wru == pytest.approx(3 * resend / (resend + retry))
    assert shape["accepted"].wru == pytest.approx(3)
    refused = shape["rejected"]
    assert (refused.wru, refused.rru, refused.counted) == (0, 0, False)
    assert refused.lambda_ms == pytest.approx(1 * 2.0)  # the retry's CPU, no DynamoDB call


def test_the_rows_cover_both_edges_at_both_volumes_and_total_their_services() -> None:
    kinds = set(MIX) | {kind for tenant in TENANTS for kind in tenant.reads}
    measured = rows({k: NEW for k in kinds}, STORED, AUTH, pricing.load_prices(), Assumptions())
    cost = [r for r in measured if r.section == "cost"]
    totals = [r for r in cost if r.name.endswith(": total")]
    assert len(totals) == len(EDGES) * len(VOLUMES)
    for total in totals:
        tag = total.name.removesuffix(": total")
        parts = [r.value for r in cost if r.name.startswith(tag) and r is not total]
        assert total.value == pytest.approx(sum(parts))
    (target,) = [r for r in totals if r.target is not None]
    assert target.target == TARGET and target.name.startswith("new edge, 100M")
    by_name = {r.name: r.value for r in cost}
    assert by_name["new edge, 100M/month: API Gateway"] == pytest.approx(1.0)
    assert by_name["old edge, 100M/month: API Gateway"] == pytest.approx(3.5)
    xray = [by_name[f"new edge, {v}M/month: X-Ray traces"] for v in (10, 100)]
    assert xray[0] > xray[1]  # the reservoir spread over fewer deliveries
    assert {r.name for r in measured if r.section == "cost_tenant"} == {
        f"{t.name}: monthly" for t in TENANTS
    }
    assert all(math.isnan(r.value) for r in measured if r.section == "cost_other")
    assert sum(MIX.values()) == pytest.approx(1.0)
    assert all(sum(t.mix.values()) == pytest.approx(1.0) for t in TENANTS)
