"""The dashboard's top tenants by modeled cost: a Logs Insights widget over the ingest and
query functions' logs, weighted from the one price table."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pulumi
import pytest

from gateway.audit.outcomes import NO_AUDIT, OutcomeLog, audit_delivery
from gateway.costs.attribution import outcome_dollars
from gateway.costs.prices import load_prices
from gateway.costs.shape import REQUEST_OUTCOMES
from infra import dashboard
from infra.settings import StackSettings
from tests.infra.helpers import one
from tests.infra.test_observability import build  # the dashboard tests' stack

WEIGHT = re.compile(r'strcontains\(outcome, "([a-z_]+)"\) \* ([0-9.]+)')


def widget() -> dict[str, Any]:
    body = json.loads(one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    (found,) = [w for w in body["widgets"] if w["type"] == "log"]
    return dict(found["properties"])


@pulumi.runtime.test
def test_top_tenants_query_the_ingest_and_query_logs_weighted_by_the_price_table() -> Any:
    obs = build(StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        properties = widget()
        query = properties["query"]
        sources = re.findall(r"SOURCE '([^']+)'", query)
        assert sources == ["/aws/lambda/waybill-dev-ingest", "/aws/lambda/waybill-dev-query"]
        weights = {outcome: float(value) for outcome, value in WEIGHT.findall(query)}
        assert set(weights) == set(REQUEST_OUTCOMES)
        prices = load_prices()
        for outcome, weight in weights.items():
            assert weight == pytest.approx(outcome_dollars(outcome, prices), rel=1e-9), outcome
        http = prices["api_gateway"]["http_per_million"] / 1e6
        assert min(weights.values()) > http  # every request pays the webhook edge at least
        assert weights["accepted"] > weights["parked"] > weights["duplicate"]
        assert "by tenant" in query and "sort modeled_usd desc" in query
        assert query.endswith(f"limit {dashboard.TOP_TENANTS}")
        assert properties["region"] == "us-west-2"
        assert dashboard.PRICES_AS_OF in properties["title"]

    return obs.dashboard.id.apply(check)


def test_the_dashboard_prices_come_from_the_one_table() -> None:
    prices = load_prices()
    shown = (dashboard.API_REQUEST_USD, dashboard.LAMBDA_GB_SECOND_USD,
             dashboard.DYNAMODB_WRITE_UNIT_USD, dashboard.DYNAMODB_READ_UNIT_USD)  # fmt: skip
    assert shown == (
        prices["api_gateway"]["rest_per_million"] / 1e6,
        prices["lambda"]["arm_gb_second"],
        prices["dynamodb"]["wru_per_million"] / 1e6,
        prices["dynamodb"]["rru_per_million"] / 1e6,
    )


def test_the_lines_the_widget_reads_are_the_ones_the_handler_writes() -> None:
    """The AWS handler's auditor prints one JSON line per outcome: the query's fields."""
    lines: list[str] = []
    log = OutcomeLog(NO_AUDIT, lines.append)
    at = datetime(2026, 12, 5, tzinfo=UTC)
    answer = {"accepted": 2, "duplicates": 0, "duplicate_delivery": False}
    audit_delivery(log, "acme", "ups", answer, at)
    (line,) = [json.loads(text) for text in lines]
    assert line[dashboard.TENANT_FIELD] == "acme"
    assert line[dashboard.OUTCOME_FIELD] == "accepted" and "accepted" in REQUEST_OUTCOMES
    assert len(lines[0]) < 160  # a small line per request: its bytes are in the cost model
