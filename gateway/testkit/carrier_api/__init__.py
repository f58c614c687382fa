"""A loopback carrier API: UPS, FedEx, EasyPost, 17TRACK and Ship24 tracking APIs on
127.0.0.1, with the request and response shapes of ``POLLING.md``, misbehaving on demand.

One server; each carrier under its adapter id (``{url}/ups``, ``{url}/fedex``…), which is
a tenant's ``api_base_url``. Tests drive it directly:

- shipments: :meth:`CarrierApi.add` / :meth:`~CarrierApi.advance` with carrier-neutral
  :class:`SimEvent` s, rendered in each carrier's codes (``<carrier>.CODES``: chosen so the
  carrier's adapter maps them back to the same canonical status); numbers never added are
  unknown to the carrier; events dated after the API's clock are not shown yet;
- credentials: :meth:`~CarrierApi.credentials` (fixed TEST values, :data:`TEST_CREDENTIALS`);
  OAuth tokens live ``token_seconds`` on the API's clock, :meth:`~CarrierApi.expire_tokens`
  ends them now;
- misbehaviour, queued per carrier: :meth:`~CarrierApi.fail_next` (429 with
  ``Retry-After``, 500, 503… with the carrier's body), :meth:`~CarrierApi.slow`,
  :meth:`~CarrierApi.wrong` (a 200 with a body that is not the documented one);
- observability: :attr:`~CarrierApi.requests`, :meth:`~CarrierApi.count`,
  :meth:`~CarrierApi.max_in_flight` (per-carrier concurrency).

Example:
    >>> from datetime import UTC, datetime
    >>> with CarrierApi() as api:
    ...     api.add("ups", "1Z999AA10123456784",
    ...             [SimEvent("in_transit", datetime(2025, 1, 2, 15, tzinfo=UTC), city="Atlanta")])
    ...     api.base_url("ups").startswith("http://127.0.0.1:")
    True
"""

from gateway.testkit.carrier_api.core import TEST_CREDENTIALS, Credential, SimEvent
from gateway.testkit.carrier_api.demo import DemoShipment, add_demo, demo_number
from gateway.testkit.carrier_api.server import CARRIERS, ApiRequest, CarrierApi

__all__ = [
    "CARRIERS",
    "TEST_CREDENTIALS",
    "ApiRequest",
    "CarrierApi",
    "Credential",
    "DemoShipment",
    "SimEvent",
    "add_demo",
    "demo_number",
]
