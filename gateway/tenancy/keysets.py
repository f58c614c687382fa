"""Partner secret key sets: the current secret plus previous ones until they expire.

Rotation is a pure function (the clock is passed in): the current secret moves to
an expiring list, capped, so several secrets are valid at once and a carrier can
switch over with no dropped delivery. Values never appear in ``repr`` or errors.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
    >>> ks = new_keyset("old-secret", now=t0)
    >>> ks = rotate(ks, "new-secret", now=t0, grace=timedelta(hours=1))
    >>> ks.valid_secrets(t0 + timedelta(minutes=59))
    ['new-secret', 'old-secret']
    >>> ks.valid_secrets(t0 + timedelta(hours=1))
    ['new-secret']
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from gateway.models import UtcInstant

MAX_PREVIOUS = 5
# The grace period must outlive the Lambda secrets cache (a later issue sets that
# cache to 5 minutes), or a rotated-out secret could be dropped while still cached.
MIN_GRACE = timedelta(minutes=10)
_SHOWN_CHARS = 4
_MASK_ALL_BELOW = 12


class KeySetError(ValueError):
    """A rotation or secret that is refused; the message never contains a value."""


class SecretEntry(BaseModel):
    """The current secret and when it was set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1, repr=False)
    created_at: UtcInstant


class PreviousSecret(BaseModel):
    """A rotated-out secret, valid while ``now < expires_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1, repr=False)
    created_at: UtcInstant
    expires_at: UtcInstant

    def is_valid(self, now: datetime) -> bool:
        """Expiry is exclusive: valid strictly before ``expires_at``."""
        return _aware(now) < self.expires_at


class KeySet(BaseModel):
    """All secrets of one (tenant, carrier): current first, then previous ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    current: SecretEntry
    previous: tuple[PreviousSecret, ...] = ()

    def unexpired_previous(self, now: datetime) -> list[PreviousSecret]:
        """The previous secrets still valid at ``now``, newest first."""
        alive = [p for p in self.previous if p.is_valid(now)]
        return sorted(alive, key=lambda p: p.created_at, reverse=True)

    def valid_secrets(self, now: datetime) -> list[str]:
        """The current secret, then unexpired previous ones newest first."""
        return [self.current.value, *(p.value for p in self.unexpired_previous(now))]


class SecretsProvider(Protocol):
    """Where the pipeline gets the secrets that may verify a delivery (empty: fail closed)."""

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        """Every secret valid for (tenant, carrier) at ``now``, current first."""
        ...


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise KeySetError("the clock must be timezone-aware")
    return now


def check_value(value: str) -> str:
    """Refuse an empty secret or one with surrounding whitespace (a pasting accident)."""
    if not value:
        raise KeySetError("a secret must not be empty")
    if value != value.strip():
        raise KeySetError("a secret must not start or end with whitespace")
    return value


def new_keyset(value: str, *, now: datetime) -> KeySet:
    """A key set with only a current secret (what ``set`` does: nothing old survives).

    >>> from datetime import UTC, datetime
    >>> new_keyset("s3cr3t", now=datetime(2025, 1, 1, tzinfo=UTC)).previous
    ()
    """
    return KeySet(current=SecretEntry(value=check_value(value), created_at=_aware(now)))


def rotate(
    keyset: KeySet | None,
    new_value: str,
    *,
    now: datetime,
    grace: timedelta,
    cap: int = MAX_PREVIOUS,
) -> KeySet:
    """Make ``new_value`` current; the old current stays valid until ``now + grace``.

    Expired previous secrets are dropped. More than ``cap`` unexpired previous
    secrets, a non-positive grace, or one shorter than :data:`MIN_GRACE` raise
    :class:`KeySetError`.
    """
    _aware(now)
    if grace <= timedelta(0):
        raise KeySetError("the grace period must be positive")
    if grace < MIN_GRACE:
        raise KeySetError(
            f"the grace period must be at least {MIN_GRACE // timedelta(minutes=1)} minutes "
            "(it must outlive the Lambda secrets cache)"
        )
    check_value(new_value)
    if keyset is None:
        return new_keyset(new_value, now=now)
    if new_value in keyset.valid_secrets(now):
        raise KeySetError("the new secret is already valid (current or previous); use a new one")
    retired = PreviousSecret(
        value=keyset.current.value,
        created_at=keyset.current.created_at,
        expires_at=now + grace,
    )
    previous = [retired, *keyset.unexpired_previous(now)]
    if len(previous) > cap:
        soonest = min(p.expires_at for p in previous)
        raise KeySetError(
            f"at most {cap} previous secrets may be valid at once; revoke one or wait "
            f"for expiry (the next expires at {soonest.isoformat()})"
        )
    current = SecretEntry(value=new_value, created_at=now)
    return KeySet(current=current, previous=tuple(previous))


def revoke_previous(keyset: KeySet, now: datetime) -> KeySet:
    """Drop every previous secret at once: only the current one stays valid.

    >>> from datetime import UTC, datetime
    >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
    >>> revoke_previous(new_keyset("s3cr3t", now=t0), t0).valid_secrets(t0)
    ['s3cr3t']
    """
    _aware(now)
    return KeySet(current=keyset.current, previous=())


def generate_secret(form: str = "raw") -> str:
    """A fresh random secret of 32 random bytes, in the form the scheme expects.

    ``whsec_base64`` (Standard Webhooks) gives ``whsec_`` + standard base64; any
    other form gives URL-safe base64 (43 characters).

    >>> generate_secret("whsec_base64").startswith("whsec_")
    True
    """
    if form == "whsec_base64":
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    return secrets.token_urlsafe(32)


def mask(value: str) -> str:
    """A printable stand-in: at most 4 leading characters and the length.

    (The example is the published Standard Webhooks test vector, not a real secret.)

    >>> mask("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    'whse…(38 chars)'
    >>> mask("short-one")
    '…(9 chars)'
    """
    shown = value[:_SHOWN_CHARS] if len(value) >= _MASK_ALL_BELOW else ""
    return f"{shown}…({len(value)} chars)"
