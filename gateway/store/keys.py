"""Key design: every item of a shipment lives in that shipment's partition.

- shipment state: ``pk = S#{tenant}#{tracking}``, ``sk = C#{carrier}`` (bounded: the recent
  fingerprints of known events)
- fingerprint page: ``pk = S#{tenant}#{tracking}``, ``sk = D#{carrier}#{n:05d}`` (older
  fingerprints, moved out of the state when it fills up; read with it in one Query)
- tracker:        ``pk = S#{tenant}#{tracking}``, ``sk = B#{carrier}`` (a shipment Waybill
  polls the carrier for; read with the states by the shipment GET and the write path)
- check:          ``pk = S#{tenant}#{tracking}``, ``sk = L#{carrier}#{utc instant}`` (one poll
  of that tracker: the per-check log, kept for the tenant's retention)
- poll budget:    ``pk = Q#{tenant}#{carrier}``, ``sk = {UTC day}`` (requests made that day)
- event:          ``pk = S#{tenant}#{tracking}``, ``sk = E#{utc instant}#{event_id}``
  (time order across carriers; the event id makes the key the dedupe identity)
- parked:         ``pk = P#{tenant}#{shard}``, ``sk = {body sha256}#{carrier}`` (16 shards,
  so a broken adapter under a bulk push does not funnel into one partition)
- API key (AWS):  ``pk = APIKEY#{sha256 of the key}``, ``sk = APIKEY`` → tenant, prefix,
  ``revoked_at`` (read by the authorizer; see ``gateway/aws/api_keys.py``)
- audit:          ``pk = A#{tenant}#{UTC day}#{shard}``, ``sk = {utc instant}#{request id}#…``
  (8 shards a day, see ``gateway/audit/windows.py``)
- endpoint:       ``pk = N#{tenant}``, ``sk = N#{endpoint id}`` (a tenant's notification
  endpoints: one Query lists them; see ``gateway/notify/endpoints.py``)
- message:        ``pk = M#{tenant}#{endpoint id}#{shard}``, ``sk = {message id}`` (8 shards
  per endpoint; message ids sort by time, see ``gateway/notify/messages.py``)
- data key:       ``pk = sk = K#notify`` (the KMS-encrypted key that seals endpoint secrets)

A carrier's bulk push spreads over its many shipments, never one tenant-wide key.
"""

from __future__ import annotations

from datetime import datetime

from gateway.models import instant_text

TRACKER_PREFIX = "B#"
STATE_PREFIX = "C#"
CHECK_PREFIX = "L#"
PAGE_PREFIX = "D#"
EVENT_PREFIX = "E#"
PARKED_SHARDS = "0123456789abcdef"
AUDIT_SHARDS = "01234567"


def shipment_pk(tenant: str, tracking_number: str) -> str:
    """Partition key of a shipment (state and events)."""
    return f"S#{tenant}#{tracking_number}"


def state_sk(carrier: str) -> str:
    """Sort key of a shipment's current state for one carrier."""
    return f"{STATE_PREFIX}{carrier}"


def tracker_sk(carrier: str) -> str:
    """Sort key of a shipment's tracker for one carrier (``B#`` sorts before the states)."""
    return f"{TRACKER_PREFIX}{carrier}"


def check_sk(carrier: str, checked_at: datetime) -> str:
    """Sort key of one check of a tracker."""
    return f"{CHECK_PREFIX}{carrier}#{instant_text(checked_at)}"


def budget_key(tenant: str, carrier: str, day: str) -> dict[str, dict[str, str]]:
    """Key of a (tenant, carrier)'s poll budget counter for one UTC day (``YYYY-MM-DD``)."""
    return {"pk": {"S": f"Q#{tenant}#{carrier}"}, "sk": {"S": day}}


def page_sk(carrier: str, number: int) -> str:
    """Sort key of a shipment's ``number``-th page of known fingerprints for one carrier."""
    return f"{PAGE_PREFIX}{carrier}#{number:05d}"


def known_range(carrier: str) -> tuple[str, str]:
    """The sort keys from a carrier's tracker to its last page: what the write path reads.

    ``B#`` < ``C#`` < ``D#`` < ``E#``: the range never reaches the events. It may hold
    another carrier's tracker, state or pages when one tracking number has several
    (filtered by key).

    >>> known_range("ups")
    ('B#ups', 'D#ups#~')
    """
    return tracker_sk(carrier), f"{PAGE_PREFIX}{carrier}#~"


def event_sk(occurred_at: datetime, event_id: str) -> str:
    """Sort key of one event."""
    return f"{EVENT_PREFIX}{instant_text(occurred_at)}#{event_id}"


def parked_pk(tenant: str, body_sha256: str) -> str:
    """Partition key of a parked delivery, sharded by its body hash."""
    return f"P#{tenant}#{body_sha256[0]}"


def endpoint_pk(tenant: str) -> str:
    """Partition key of a tenant's notification endpoints."""
    return f"N#{tenant}"


def endpoint_sk(endpoint_id: str) -> str:
    """Sort key of one endpoint."""
    return f"N#{endpoint_id}"


def message_pk(tenant: str, endpoint_id: str, shard: int) -> str:
    """Partition key of one shard of an endpoint's messages."""
    return f"M#{tenant}#{endpoint_id}#{shard}"


NOTIFY_KEY_ITEM = {"pk": {"S": "K#notify"}, "sk": {"S": "K#notify"}}


def audit_pk(tenant: str, day: str, shard: str) -> str:
    """Partition key of one shard of a tenant's audit for one UTC day (``YYYY-MM-DD``)."""
    return f"A#{tenant}#{day}#{shard}"
