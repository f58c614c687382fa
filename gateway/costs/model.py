"""Pricing what requests use: per request by service, per stack-month, per tenant-month.

One arithmetic for the benchmark (``bench/cost_model.py``), ``waybill costs`` and the
dashboard's weights. A :class:`Unit` is what one request uses as billed; an
:class:`Edge` is how requests reach the handler (which API Gateway, whether the
authorizer runs and WAF inspects them, how X-Ray samples them).

Example:
    >>> from gateway.costs.prices import load_prices
    >>> unit = Unit(wru=2, rru=1, lambda_ms=40, log_bytes=250, stored_bytes=800)
    >>> cost = request_dollars(unit, load_prices(), NEW_EDGE, Terms(), 100e6)
    >>> round(cost["API Gateway"] * 1e6, 2), round(cost["DynamoDB writes"] * 1e6, 3)
    (1.0, 1.275)
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.costs.prices import Prices, per_request

MONTH_SECONDS = 30 * 86_400
SECRET_REFRESH_SECONDS = 300  # gateway/aws/secrets.py CACHE_SECONDS


@dataclass(frozen=True)
class Unit:
    """What one request of a kind uses, as billed (a row of the cost shape)."""

    wru: float  # write units, table + index, failed conditional writes included
    rru: float  # read units
    lambda_ms: float  # billed milliseconds of the handler (modeled)
    log_bytes: float  # what the handler logs: lines and the EMF metrics blob
    stored_bytes: float  # what it adds to the table, kept for the tenant's retention
    response_bytes: float = 0.0
    counted: bool = True  # verified: the quota and hard-cap counters count it


@dataclass(frozen=True)
class Edge:
    """How a request reaches the handler, and what that adds per request."""

    name: str
    api: str  # "rest" or "http" (the price table's prefix)
    authorizer: bool  # the REQUEST authorizer is invoked for every request (TTL 0)
    waf: bool  # WAF inspects it (WAF attaches to a REST stage, never to an HTTP API)
    xray_rate: float  # share traced beyond the 1/s reservoir
    counter_wru: float  # the quota and hard-cap counters' flushes, per counted request


OLD_EDGE = Edge("old edge (REST for all)", "rest", True, True, 0.01, 1 / 50)
"""Before issue 16: every webhook through REST, WAF and the authorizer (TTL 0); the
stage's sampling rule (1/s, then 1 %); the hard cap counted in code, the quota by the
usage plan."""
NEW_EDGE = Edge("new edge (HTTP API webhooks)", "http", False, False, 0.05, 2 / 50)
"""Issue 16: webhooks on an HTTP API (no authorizer, no WAF, no X-Ray at the edge: the
function's own sampling, 1/s then 5 %, applies); quota and hard cap counted in code,
each flushed every 50 requests."""
TENANT_API = Edge("/v1 on REST", "rest", False, True, 0.01, 1 / 50)
"""``/v1`` (submits, reads): REST with the authorizer cached 300 s on ``x-api-key``."""


@dataclass(frozen=True)
class Terms:
    """What pricing takes besides the table; the defaults are the stack's settings."""

    memory_gb: float = 0.5  # infra/settings.py lambda_memory_mb
    authorizer_memory_gb: float = 0.25  # infra/functions.py AUTHORIZER_MEMORY_MB
    authorizer_ms: float = 3.0  # billed per started millisecond (bench.cost_model measures)
    authorizer_log_bytes: float = 200.0  # one INFO line (bench.cost_model measures)
    access_log_bytes: float = 300.0  # one JSON access-log line per request
    retention_months: float = 90 / 30.4  # TenantConfig's default retention
    log_months: float = 1.0  # log retention 30 days (infra/settings.py)


@dataclass(frozen=True)
class StackShape:
    """What a stack holds whatever its traffic, and the containers that refresh secrets."""

    metrics: int = 25  # EMF names with data in a month (dimension: service only): the 20
    # counters every stack writes, and about 5 of the 62 Rejected_{code} (82 in all:
    # tests/infra/emitted.py reads them off the code)
    alarms: int = 25  # tests/infra/test_observability.py: every alarm of a stack
    cmk_keys: int = 1  # the table's customer managed key
    secrets: int = 2  # the cursor key, the console credential (tests/infra/test_secrets.py;
    # partner key sets and plan keys are per tenant)
    waf_rules: int = 1  # infra/edge_guards.py: one rate rule; 0 when WAF is off
    warm_containers: float = 4.0  # ingest containers warm at a time, each refreshing secrets
    xray_reservoir_per_s: float = 1.0  # infra/stage.py XRAY_RESERVOIR, Lambda's default too


def request_dollars(
    unit: Unit, prices: Prices, edge: Edge, terms: Terms, monthly_requests: float
) -> dict[str, float]:
    """USD per request of ``unit`` through ``edge``, by service (shared monthly costs
    apart: :func:`stack_monthly`)."""
    lam, ddb, cw = prices["lambda"], prices["dynamodb"], prices["cloudwatch"]
    gb_ms = terms.memory_gb * unit.lambda_ms
    gb_ms += edge.authorizer * terms.authorizer_memory_gb * terms.authorizer_ms
    logs = unit.log_bytes + terms.access_log_bytes + edge.authorizer * terms.authorizer_log_bytes
    return {
        "API Gateway": per_request(prices, edge.api, monthly_requests),
        "WAF requests": edge.waf * prices["waf"]["per_million_requests"] / 1e6,
        "Lambda requests": (1 + edge.authorizer) * lam["per_million_requests"] / 1e6,
        "Lambda duration": gb_ms / 1000 * lam["arm_gb_second"],
        "DynamoDB writes": (unit.wru + unit.counted * edge.counter_wru)
        * ddb["wru_per_million"]
        / 1e6,
        "DynamoDB reads": unit.rru * ddb["rru_per_million"] / 1e6,
        "DynamoDB storage + PITR": unit.stored_bytes
        / 1e9
        * terms.retention_months
        * (ddb["storage_gb_month"] + ddb["pitr_gb_month"]),
        "CloudWatch Logs": logs / 1e9 * (cw["logs_ingest_gb"] + cw["logs_store_gb_month"]),
        "Data transfer out": unit.response_bytes / 1e9 * prices["data_transfer"]["out_gb"],
    }


def traces(monthly_requests: float, reservoir_per_s: float, rate: float) -> float:
    """Traces recorded a month: the reservoir's each second, then ``rate`` of the rest.

    >>> traces(10e6, 1.0, 0.05)
    2962400.0
    """
    reservoir = min(monthly_requests, reservoir_per_s * MONTH_SECONDS)
    return reservoir + rate * (monthly_requests - reservoir)


def stack_monthly(
    prices: Prices, edge: Edge, monthly_requests: float, stack: StackShape
) -> dict[str, float]:
    """USD a month the stack pays as a whole: traces at this volume, metrics, alarms,
    its key and own secrets, the web ACL and its rules."""
    cw, waf = prices["cloudwatch"], prices["waf"]
    sampled = traces(monthly_requests, stack.xray_reservoir_per_s, edge.xray_rate)
    return {
        "X-Ray traces": sampled / 1e6 * prices["xray"]["traces_per_million"],
        "CloudWatch metrics + alarms": stack.metrics * cw["metric_month"]
        + stack.alarms * cw["alarm_month"],
        "KMS key + stack secrets": stack.cmk_keys * prices["kms"]["key_month"]
        + stack.secrets * prices["secrets_manager"]["secret_month"],
        "WAF web ACL + rules": (waf["web_acl_month"] + stack.waf_rules * waf["rule_month"])
        if stack.waf_rules
        else 0.0,
    }


def secret_month(prices: Prices, stack: StackShape) -> dict[str, float]:
    """USD a month one partner secret costs: stored, and read by every warm container once
    per cache period (a ``GetSecretValue`` and the KMS ``Decrypt`` behind it)."""
    calls = stack.warm_containers * MONTH_SECONDS / SECRET_REFRESH_SECONDS
    per_call = (
        prices["secrets_manager"]["per_10k_calls"] + prices["kms"]["per_10k_requests"]
    ) / 1e4
    return {
        "Secrets Manager secret": prices["secrets_manager"]["secret_month"],
        "GetSecretValue + KMS refreshes": calls * per_call,
    }


def weighted(parts: list[tuple[float, Unit]]) -> Unit:
    """The average unit of ``parts`` (weight, unit); counted if any part is.

    >>> weighted([(1, Unit(2, 0, 10, 0, 0)), (3, Unit(6, 4, 30, 0, 0))]).wru
    5.0
    """
    total = sum(w for w, _ in parts)

    def mean(name: str) -> float:
        return float(sum(w * getattr(u, name) for w, u in parts) / total)

    return Unit(
        wru=mean("wru"),
        rru=mean("rru"),
        lambda_ms=mean("lambda_ms"),
        log_bytes=mean("log_bytes"),
        stored_bytes=mean("stored_bytes"),
        response_bytes=mean("response_bytes"),
        counted=any(u.counted for _, u in parts),
    )
