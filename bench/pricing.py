"""From measured profiles to priced units: the bench side of :mod:`gateway.costs`.

Prices: the one table, ``gateway/costs/prices.toml`` (us-west-2, on-demand, dated).
Measured inputs come as a :class:`Profile` per request kind; :func:`unit_of` turns one
into the :class:`~gateway.costs.model.Unit` the shared arithmetic prices
(:func:`~gateway.costs.model.request_dollars`). Everything not measured is an
:class:`Assumptions` field, stated with its reason.

Lambda billed ms = (CPU ms here x ``cpu_scale`` + DynamoDB calls x ``rtt_ms``) x
``safety`` + ``cold_share`` x ``init_ms``: a 512 MB function gets 512/1769 of a vCPU,
and each DynamoDB call waits a network round trip that loopback does not have.

Example:
    >>> p = Profile(wru=2, rru=1, calls=2, cpu_ms=2, wall_ms=9, log_bytes=200,
    ...             response_bytes=100, accepted=1)
    >>> cost = request_cost("new", p, STORED, AUTH, load_prices(), Assumptions(), NEW_EDGE)
    >>> round(cost["DynamoDB writes"] * 1e6, 4)  # (2 + 2/50 counters) x $0.625 per million
    1.275
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.costs.model import NEW_EDGE, Edge, Terms, Unit, request_dollars
from gateway.costs.prices import Prices, load_prices

__all__ = ["NEW_EDGE", "Prices", "load_prices"]  # the other benches read prices from here


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

    cpu_scale: float = 1769 / 512  # Lambda gives 1 vCPU at 1,769 MB, in proportion below
    rtt_ms: float = 6.0  # one DynamoDB call from Lambda in-region (p50 ~3-6 ms)
    safety: float = 1.2  # tail latency, GC, SDK retries, Graviton vs this CPU
    cold_share: float = 0.002  # invocations that start a container at steady traffic
    init_ms: float = 1200.0  # billed INIT at 512 MB (271 ms of imports on a full core)
    # Lambda's START/END/REPORT lines (~330 bytes) are INFO system logs, which the stack
    # filters out (infra/functions.py: JSON format, system log level WARN).
    platform_log_bytes: float = 0.0
    item_overhead: float = 100.0  # DynamoDB bills 100 bytes per item stored
    index_entry_bytes: float = 110.0  # a KEYS_ONLY status index entry (docs/queries.md)
    counter_rru_s: float = 2 / 5  # 4 shards, 0.5 each, per busy container every 5 s
    response_overhead: float = 250.0  # response headers, bytes
    terms: Terms = field(default_factory=Terms)  # memory, access log, retention (gateway)


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


def unit_of(kind: str, p: Profile, stored: Mapping[str, float], a: Assumptions) -> Unit:
    """What one request of ``kind`` uses as billed: its measured units, modeled
    milliseconds, log and response bytes, and the counters' reads for its busy time."""
    ms = billed_ms(p, a)
    return Unit(
        wru=p.wru,
        rru=p.rru + a.counter_rru_s * ms / 1000,
        lambda_ms=ms,
        log_bytes=p.log_bytes + a.platform_log_bytes,
        stored_bytes=stored_bytes(kind, p, stored, a),
        response_bytes=p.response_bytes + a.response_overhead,
    )


def terms_of(auth: Profile, a: Assumptions) -> Terms:
    """``a.terms`` with the authorizer's measured milliseconds (billed per started ms) and
    log bytes."""
    ms = max(1.0, float(math.ceil(billed_ms(auth, a))))
    log = auth.log_bytes + a.platform_log_bytes
    return Terms(**{**a.terms.__dict__, "authorizer_ms": ms, "authorizer_log_bytes": log})


def request_cost(
    kind: str,
    p: Profile,
    stored: Mapping[str, float],
    auth: Profile,
    prices: Prices,
    a: Assumptions,
    edge: Edge,
    monthly_requests: float = 100e6,
) -> dict[str, float]:
    """Dollars per request of one kind through ``edge``, by service (shared monthly costs
    excluded)."""
    unit = unit_of(kind, p, stored, a)
    return request_dollars(unit, prices, edge, terms_of(auth, a), monthly_requests)


def mix_cost(
    mix: Mapping[str, float], costs: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Dollars per request of a mix (shares summing to 1), by service."""
    services = next(iter(costs.values())).keys()
    return {s: sum(share * costs[kind][s] for kind, share in mix.items()) for s in services}
