"""Key design: every item of a shipment lives in that shipment's partition.

- shipment state: ``pk = S#{tenant}#{tracking}``, ``sk = C#{carrier}``
- event:          ``pk = S#{tenant}#{tracking}``, ``sk = E#{utc instant}#{event_id}``
  (time order across carriers; the event id makes the key the dedupe identity)
- parked:         ``pk = P#{tenant}#{shard}``, ``sk = {body sha256}#{carrier}`` (16 shards,
  so a broken adapter under a bulk push does not funnel into one partition)
- API key (AWS):  ``pk = APIKEY#{sha256 of the key}``, ``sk = APIKEY`` → tenant, prefix,
  ``revoked_at`` (read by the authorizer; see ``gateway/aws/api_keys.py``)
- audit:          ``pk = A#{tenant}#{UTC day}#{shard}``, ``sk = {utc instant}#{request id}#…``
  (8 shards a day, see ``gateway/audit/windows.py``)

A carrier's bulk push spreads over its many shipments, never one tenant-wide key.
"""

from __future__ import annotations

from datetime import datetime

from gateway.models import instant_text

STATE_PREFIX = "C#"
EVENT_PREFIX = "E#"
PARKED_SHARDS = "0123456789abcdef"
AUDIT_SHARDS = "01234567"


def shipment_pk(tenant: str, tracking_number: str) -> str:
    """Partition key of a shipment (state and events)."""
    return f"S#{tenant}#{tracking_number}"


def state_sk(carrier: str) -> str:
    """Sort key of a shipment's current state for one carrier."""
    return f"{STATE_PREFIX}{carrier}"


def event_sk(occurred_at: datetime, event_id: str) -> str:
    """Sort key of one event."""
    return f"{EVENT_PREFIX}{instant_text(occurred_at)}#{event_id}"


def parked_pk(tenant: str, body_sha256: str) -> str:
    """Partition key of a parked delivery, sharded by its body hash."""
    return f"P#{tenant}#{body_sha256[0]}"


def audit_pk(tenant: str, day: str, shard: str) -> str:
    """Partition key of one shard of a tenant's audit for one UTC day (``YYYY-MM-DD``)."""
    return f"A#{tenant}#{day}#{shard}"
