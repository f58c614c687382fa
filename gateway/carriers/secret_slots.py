"""Every secret an adapter reads, by its key-set name, with what a value must be.

A carrier's own key set is named by its id (``easypost``: what its signature scheme
verifies with); a second kind of secret by ``<id>.<slot>``: the slots its ``verify``
reads (``Adapter.secret_slots``: ``shippo.hmac``, ``ups.oauth``) and its tracking API's
credentials (``<id>.api`` when it polls). An adapter no carrier posts to (``canonical``,
authenticated by API keys) has no key set of its own. Anything else is a typo that would
be stored and never read, so ``waybill secrets`` refuses it.

Example:
    >>> from gateway.carriers.discovery import load_adapters
    >>> sorted(secret_targets(load_adapters().get("shippo")))
    ['shippo', 'shippo.hmac']
    >>> secret_targets(load_adapters().get("canonical"))
    {}
"""

from __future__ import annotations

from gateway.carriers.adapter import Adapter
from gateway.carriers.polling import CredentialKind, parse_credentials
from gateway.signing.secret_rules import SecretRule, spec_rule

_CREDENTIALS = {
    "api_key": "the API key",
    "oauth_client": "CLIENT_ID:CLIENT_SECRET (OAuth client credentials)",
}


def credentials_rule(kind: CredentialKind) -> SecretRule:
    """What a tracking API's ``<id>.api`` slot holds (:func:`parse_credentials` reads it).

    >>> credentials_rule("oauth_client").problem("no-colon")
    'values are CLIENT_ID:CLIENT_SECRET (OAuth client credentials)'
    """
    expected = f"values are {_CREDENTIALS[kind]}"

    def check(value: str) -> str | None:
        try:
            parse_credentials(kind, value)
        except ValueError:
            return expected
        return None

    return SecretRule(expected, check)


def secret_targets(adapter: Adapter) -> dict[str, SecretRule]:
    """The key-set names the adapter reads (``easypost``, ``shippo.hmac``, ``ups.api``)."""
    targets: dict[str, SecretRule] = {}
    if adapter.webhook:
        targets[adapter.id] = spec_rule(adapter.scheme)
    if adapter.polling is not None:
        targets[f"{adapter.id}.{adapter.polling.slot}"] = credentials_rule(
            adapter.polling.credentials
        )
    for slot, rule in adapter.secret_slots.items():
        targets[f"{adapter.id}.{slot}"] = rule
    return targets
