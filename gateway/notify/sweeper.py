"""Sending what is due: messages waiting for a retry, found on the due index.

On AWS an EventBridge schedule runs :func:`sweep` every minute; locally ``waybill serve``
runs it on a timer. Each due message is claimed with a conditional write (a lease of
:data:`LEASE`), so two sweepers never send the same attempt; a sweeper that dies
mid-attempt leaves a lease that runs out, and the message is taken again.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta

from gateway.errors import NotFoundError
from gateway.notify.delivery import Notifier
from gateway.notify.endpoints import Endpoint
from gateway.notify.messages import Message, MessageChangedError

LEASE = timedelta(seconds=60)  # longer than an attempt can take (15 s)
BATCH = 100
PARALLEL_SENDS = 8


def sweep(notifier: Notifier, limit: int = BATCH, deadline: float | None = None) -> int:
    """Attempt up to ``limit`` due messages; the number attempted (or paused, dropped).

    ``deadline`` (``time.monotonic()``): no attempt starts that could not end before it;
    a message claimed but not attempted is taken again when its lease runs out.
    """
    now = notifier.clock()
    due = notifier.messages.due(now, limit)
    if not due:
        return 0
    token = secrets.token_hex(8)
    claimed: list[Message] = []
    for message in due:
        try:
            claimed.append(notifier.messages.claim(message, token, now + LEASE, now))
        except MessageChangedError:
            continue  # another sweeper has it, or it changed since the index was read
    endpoints: dict[tuple[str, str], Endpoint | None] = {}
    for message in claimed:
        key = (message.tenant, message.endpoint_id)
        if key not in endpoints:
            try:
                endpoints[key] = notifier.endpoints.get(*key)
            except NotFoundError:
                endpoints[key] = None

    def attempt(message: Message) -> None:
        if not notifier.has_time(deadline):
            return
        endpoint = endpoints[(message.tenant, message.endpoint_id)]
        with suppress(MessageChangedError):  # changed under us: its new owner decides
            notifier.attempt(message, endpoint, trigger="retry")

    if claimed:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_SENDS, len(claimed))) as pool:
            list(pool.map(attempt, claimed))
    return len(claimed)
