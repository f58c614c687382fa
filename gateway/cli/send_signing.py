"""What ``waybill send`` adds to an adapter's own signature when the tenant has more set up:
Shippo's optional HMAC (slot ``shippo.hmac``), and UPS Track Alert v2 (a bearer token
fetched from the gateway's own token endpoint with the tenant's OAuth client credentials,
option ``oauth_client_id`` and slot ``ups.oauth``), as those carriers would send them.

Secrets come from the local secret store; none is ever printed.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from gateway.carriers.adapter import Adapter
from gateway.cli import CliError
from gateway.tenancy.keysets import KeySet
from gateway.tenancy.tenants import TenantConfig

SlotSecret = Callable[[str], KeySet | None]  # slot target (e.g. ``shippo.hmac``) → key set


def signed(
    adapter: Adapter, config: TenantConfig, body: bytes, now: float, base_url: str, slot: SlotSecret
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query parameters the carrier would send with ``body``."""
    from gateway.signing.spec import split_signed

    bearer = ups_v2(config, base_url, slot) if adapter.id == "ups" else None
    if bearer is not None:
        return bearer, {}
    keyset = slot(adapter.id)
    if keyset is None:
        raise CliError(
            f"no secret for {config.id}/{adapter.id}: "
            f"`waybill secrets set {config.id} {adapter.id} --generate` first"
        )
    headers, query = split_signed(adapter.sign(body, keyset.current.value, now))
    if adapter.id == "shippo":
        headers |= shippo_hmac(body, now, slot)
    return headers, query


def shippo_hmac(body: bytes, now: float, slot: SlotSecret) -> dict[str, str]:
    """The ``Shippo-Auth-Signature`` header when the tenant has set ``shippo.hmac``."""
    from adapters.shippo import HMAC_SLOT, sign_hmac

    keyset = slot(f"shippo.{HMAC_SLOT}")
    return sign_hmac(body, keyset.current.value, now) if keyset else {}


def ups_v2(config: TenantConfig, base_url: str, slot: SlotSecret) -> dict[str, str] | None:
    """UPS v2's bearer headers, with a token from our own token endpoint; ``None`` when the
    tenant has no OAuth client for UPS (then v1's credential header signs)."""
    from adapters.ups import OAUTH_SLOT, USER_AGENT
    from gateway.api.oauth import CLIENT_ID_OPTION

    options = config.carriers["ups"].options if "ups" in config.carriers else {}
    client_id, keyset = options.get(CLIENT_ID_OPTION), slot(f"ups.{OAUTH_SLOT}")
    if not isinstance(client_id, str) or not client_id or keyset is None:
        return None
    basic = base64.b64encode(f"{client_id}:{keyset.current.value}".encode()).decode()
    answer = _post_form(
        f"{base_url}/oauth/{config.id}/ups/token",
        {"Authorization": f"Basic {basic}"},
        b"grant_type=client_credentials",
    )
    token = answer.get("access_token")
    if not isinstance(token, str):
        error = answer.get("error")
        raise CliError(f"the token endpoint refused the tenant's UPS OAuth client ({error})")
    return {"Authorization": f"Bearer {token}", "x-api-key": client_id, "User-Agent": USER_AGENT}


def _post_form(url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """POST a form and read the JSON answer (an error answer too)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"} | headers
    request = urllib.request.Request(url, data=body, headers=form, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            text = response.read()
    except urllib.error.HTTPError as exc:
        text = exc.read()
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {url} ({exc.reason}); is `waybill serve` running?") from None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {}
