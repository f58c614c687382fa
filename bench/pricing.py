"""The cost arithmetic of :mod:`bench.cost_model`: prices, assumptions, dollars per request.

Prices: ``bench/prices.toml`` (us-west-2, on-demand, dated). Measured inputs come as a
:class:`~bench.ingest_profile.Profile` per request kind; everything not measured is an
:class:`Assumptions` field, stated with its reason.

Lambda billed ms = (CPU ms here x ``cpu_scale`` + DynamoDB calls x ``rtt_ms``) x
``safety`` + ``cold_share`` x ``init_ms``: a 512 MB function gets 512/1769 of a vCPU,
and each DynamoDB call waits a network round trip that loopback does not have.

Example:
    >>> p = Profile(wru=2, rru=1, calls=2, cpu_ms=2, wall_ms=9, log_bytes=200,
    ...             response_bytes=100, accepted=1)
    >>> cost = request_cost("new", p, STORED, AUTH, load_prices(), Assumptions())
    >>> round(cost["DynamoDB writes"] * 1e6, 4)  # (2 + 1/50 hard cap) x $0.625 per million
    1.2625
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PRICES = Path(__file__).with_name("prices.toml")
Prices = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Profile:
    """What one request of a kind costs, averaged (see :mod:`bench.ingest_profile`)."""

    wru: float  # write units, table + index
    rru: float  # read units, table + index
    calls: float  # DynamoDB calls
    cpu_ms: float  # CPU of this process
    wall_ms: float
    log_bytes: float  # what the handler logged (Powertools lines, EMF blob)
    response_bytes: float
    accepted: float  # new events stored


# Typical measured values (2026-11-22), for examples and tests; measure() passes its own.
# No audit item per delivery: the audit's minute windows (a few per minute and process,
# whatever the traffic) are measured in the profiles' write units and stored nowhere else.
STORED = {"event": 708.0, "state": 618.0, "parked": 365.0}  # bytes per item
AUTH = Profile(0, 0, 0, cpu_ms=0.05, wall_ms=0.05, log_bytes=110, response_bytes=0, accepted=0)


@dataclass(frozen=True)
class Assumptions:
    """What is not measured here, each with its reason."""

    memory_gb: float = 0.5  # 512 MB arm64, infra's default (infra/settings.py)
    cpu_scale: float = 1769 / 512  # Lambda gives 1 vCPU at 1,769 MB, in proportion below
    rtt_ms: float = 6.0  # one DynamoDB call from Lambda in-region (p50 ~3-6 ms)
    safety: float = 1.2  # tail latency, GC, SDK retries, Graviton vs this CPU
    cold_share: float = 0.002  # invocations that start a container at steady traffic
    init_ms: float = 1200.0  # billed INIT at 512 MB (271 ms of imports on a full core)
    # Lambda's START/END/REPORT lines (~330 bytes) are INFO system logs, which the stack
    # filters out (infra/functions.py: JSON format, system log level WARN).
    platform_log_bytes: float = 0.0
    access_log_bytes: float = 300.0  # one API Gateway JSON access-log line per request
    log_months: float = 1.0  # log retention 30 days (infra/settings.py)
    retention_months: float = 90 / 30.4  # tenant retention (TenantConfig default, 90 days)
    item_overhead: float = 100.0  # DynamoDB bills 100 bytes per item stored
    index_entry_bytes: float = 110.0  # a KEYS_ONLY status index entry (docs/queries.md)
    hard_cap_wru: float = 1 / 50  # one ADD per 50 requests (gateway/tenancy/limits.py)
    hard_cap_rru_s: float = 2 / 5  # 4 shards, 0.5 each, per busy container every 5 s
    key_sets_per_container: float = 10.0  # partner key sets + plan keys it refreshes
    refresh_s: float = 300.0  # secrets cache (gateway/aws/secrets.py CACHE_SECONDS)
    response_overhead: float = 250.0  # response headers, bytes
    monthly_requests: float = 100e6  # the volume fixed costs are spread over
    secrets: int = 25  # partner key sets, plan keys, the cursor key
    metrics: int = 25  # EMF metric names (dimension: service only)
    alarms: int = 10
    cmk_keys: int = 1  # the table's customer managed key


def load_prices(path: Path = PRICES) -> Prices:
    """The price table, every section but ``meta``, as floats."""
    data = tomllib.loads(path.read_text())
    return {s: {k: float(v) for k, v in vals.items()} for s, vals in data.items() if s != "meta"}


def billed_ms(p: Profile, a: Assumptions) -> float:
    """Modeled Lambda billed milliseconds of one invocation."""
    return (p.cpu_ms * a.cpu_scale + p.calls * a.rtt_ms) * a.safety + a.cold_share * a.init_ms


def stored_bytes(kind: str, p: Profile, stored: Mapping[str, float], a: Assumptions) -> float:
    """Bytes one request adds to the table (PITR'd) and to the index (not), summed.

    Its events (each keeping its delivery's id, time and body digest: the provenance), a
    first event's state and index entry, a parked copy; no audit item (outcomes are
    counted in minute windows, a few items a minute whatever the traffic).
    """
    per = {name: size + a.item_overhead for name, size in stored.items()}
    first = kind == "first"
    return (
        p.accepted * per["event"]
        + first * (per["state"] + a.index_entry_bytes + a.item_overhead)
        + (kind == "parked") * per["parked"]
    )


def request_cost(
    kind: str,
    p: Profile,
    stored: Mapping[str, float],
    auth: Profile,
    prices: Prices,
    a: Assumptions,
) -> dict[str, float]:
    """Dollars per request of one kind, by service (fixed monthly costs excluded)."""
    lam, ddb, cw = prices["lambda"], prices["dynamodb"], prices["cloudwatch"]
    ms = billed_ms(p, a)
    auth_ms = max(1.0, billed_ms(auth, a))  # billed per started millisecond
    busy_s = ms / 1000  # container-seconds per request: its share of the warm containers
    stored_gb = stored_bytes(kind, p, stored, a) / 1e9
    logs_gb = (p.log_bytes + auth.log_bytes + 2 * a.platform_log_bytes + a.access_log_bytes) / 1e9
    refreshes = a.key_sets_per_container / a.refresh_s * busy_s  # GetSecretValue calls
    return {
        "API Gateway REST": prices["api_gateway"]["rest_per_million"] / 1e6,
        "Lambda requests (2)": 2 * lam["per_million_requests"] / 1e6,
        "Lambda duration": a.memory_gb * (ms + auth_ms) / 1000 * lam["arm_gb_second"],
        "DynamoDB writes": (p.wru + a.hard_cap_wru) * ddb["wru_per_million"] / 1e6,
        "DynamoDB reads": (p.rru + a.hard_cap_rru_s * busy_s) * ddb["rru_per_million"] / 1e6,
        "DynamoDB storage + PITR": stored_gb
        * a.retention_months
        * (ddb["storage_gb_month"] + ddb["pitr_gb_month"]),
        "CloudWatch Logs": logs_gb
        * (cw["logs_ingest_gb"] + cw["logs_store_gb_month"] * a.log_months),
        "Secrets Manager + KMS calls": refreshes
        * (prices["secrets_manager"]["per_10k_calls"] + prices["kms"]["per_10k_requests"])
        / 1e4,
        "Data transfer out": (p.response_bytes + a.response_overhead)
        / 1e9
        * prices["data_transfer"]["out_gb"],
    }


def fixed_monthly(prices: Prices, a: Assumptions) -> float:
    """Dollars a month whatever the traffic: secrets, metrics, alarms, keys."""
    return (
        a.secrets * prices["secrets_manager"]["secret_month"]
        + a.metrics * prices["cloudwatch"]["metric_month"]
        + a.alarms * prices["cloudwatch"]["alarm_month"]
        + a.cmk_keys * prices["kms"]["key_month"]
    )


def mix_cost(
    mix: Mapping[str, float], costs: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Dollars per request of a mix (shares summing to 1), by service."""
    services = next(iter(costs.values())).keys()
    return {s: sum(share * costs[kind][s] for kind, share in mix.items()) for s in services}
