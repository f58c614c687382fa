"""The demo scenario of ``waybill carrier-api``: a few numbers per carrier whose history
advances one status every ``step_seconds`` on the API's clock.

Each number follows ``info_received → in_transit → out_for_delivery → delivered`` along a
route of real US cities. All its events are added at once, dated ``step_seconds`` apart;
the API shows only those its clock has reached, so nothing needs to run for the shipments
to move. The numbers are staggered: the first starts now, the next one step earlier…, so a
poller sees every stage from the start and a change at every step until all are delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.models import Status
from gateway.testkit.carrier_api.core import SimEvent
from gateway.testkit.carrier_api.server import CARRIERS, CarrierApi

STEPS = (Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.DELIVERED)
# (city, region, postal code, UTC offset in hours) per step: origin, hub, destination twice.
ROUTES = (
    (
        ("Louisville", "KY", "40201", -4),
        ("Indianapolis", "IN", "46241", -4),
        ("Chicago", "IL", "60601", -5),
        ("Chicago", "IL", "60601", -5),
    ),
    (
        ("Memphis", "TN", "38118", -5),
        ("Atlanta", "GA", "30301", -4),
        ("Charlotte", "NC", "28209", -4),
        ("Charlotte", "NC", "28209", -4),
    ),
    (
        ("Oakland", "CA", "94612", -7),
        ("Reno", "NV", "89501", -7),
        ("Denver", "CO", "80202", -6),
        ("Denver", "CO", "80202", -6),
    ),
)
_NUMBERS = {
    "ups": "1ZDEMO{:012d}",
    "fedex": "9990{:08d}",
    "easypost": "EZDEMO{:06d}",
    "seventeentrack": "WB{:09d}DM",
    "ship24": "SHIP24DEMO{:05d}",
}


@dataclass(frozen=True)
class DemoShipment:
    carrier: str
    tracking_number: str
    started: float  # the clock time of its first event


def demo_number(carrier: str, index: int) -> str:
    """The ``index``-th (from 1) demo tracking number of ``carrier``."""
    return _NUMBERS[carrier].format(index)


def add_demo(
    api: CarrierApi, *, step_seconds: float, per_carrier: int = 3, start: float | None = None
) -> list[DemoShipment]:
    """Add ``per_carrier`` staggered demo numbers to every carrier; return them."""
    if step_seconds <= 0:
        raise ValueError("step_seconds must be positive")
    begin = api.clock() if start is None else start
    added = []
    for carrier in CARRIERS:
        for i in range(per_carrier):
            started = begin - i * step_seconds
            events = []
            for k, (status, (city, region, postal, hours)) in enumerate(
                zip(STEPS, ROUTES[i % len(ROUTES)], strict=True)
            ):
                at = datetime.fromtimestamp(started + k * step_seconds, UTC)
                events.append(
                    SimEvent(
                        status,
                        at,
                        city=city,
                        region=region,
                        postal_code=postal,
                        utc_offset=timedelta(hours=hours),
                    )
                )
            number = demo_number(carrier, i + 1)
            eta = events[-1].local.date().isoformat()
            api.add(carrier, number, events, estimated_delivery=eta, signed_by="J. DEMO")
            added.append(DemoShipment(carrier, number, started))
    return added
