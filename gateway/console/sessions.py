"""Signed expiring sessions and their CSRF tokens (the login throttle: ``login_limits``).

A session is a cookie ``v1.{expires}.{nonce}.{mac}``: the MAC (HMAC-SHA256) is keyed by
the console key *and* the credential's digest, so a credential reset ends every session,
and nothing is stored server side (a Lambda behind the tenant edge can check it too).
A session cannot be revoked one by one before it expires (8 hours): logging out drops
the cookie; a reset of the credential ends them all. The CSRF token of every form is
the HMAC of the session's nonce (a synchronizer token derived, not stored), checked on
every POST, and the cookie is ``SameSite=Strict`` as well.

Example:
    >>> from datetime import UTC, datetime
    >>> clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    >>> codec = SessionCodec(b"k" * 32, "digest", clock=clock)
    >>> session = codec.open(codec.issue())
    >>> codec.csrf_ok(session, codec.csrf(session)), codec.csrf_ok(session, "x")
    (True, False)
    >>> SessionCodec(b"k" * 32, "other", clock=clock).open(codec.issue()) is None
    True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SESSION_TTL = timedelta(hours=8)
COOKIE = "waybill_console"


@dataclass(frozen=True)
class Session:
    """An open session: its nonce and when it ends."""

    nonce: str
    expires: int


def _now() -> datetime:
    return datetime.now(UTC)


class SessionCodec:
    """Issues and opens session tokens under a key bound to the credential."""

    def __init__(
        self,
        key: bytes,
        credential_digest: str,
        *,
        ttl: timedelta = SESSION_TTL,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.key = hmac.new(key, b"session\0" + credential_digest.encode(), "sha256").digest()
        self.ttl, self.clock = ttl, clock

    def _mac(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        """A new session token."""
        expires = int((self.clock() + self.ttl).timestamp())
        body = f"v1.{expires}.{secrets.token_urlsafe(18)}"
        return f"{body}.{self._mac(body)}"

    def open(self, token: str | None) -> Session | None:
        """The session of a genuine, unexpired token; None otherwise."""
        parts = (token or "").split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[1].isdigit():
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._mac(body)):
            return None
        if int(parts[1]) <= self.clock().timestamp():
            return None
        return Session(parts[2], int(parts[1]))

    def csrf(self, session: Session) -> str:
        """The CSRF token of the session's forms."""
        return self._mac(f"csrf.{session.nonce}")

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        """Whether ``token`` is the session's CSRF token."""
        return bool(token) and hmac.compare_digest(self.csrf(session), token or "")
