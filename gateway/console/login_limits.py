"""The console's login throttle in DynamoDB, shared by every process using the table.

Counted in memory, each warm Lambda container would count its own failures;
:class:`TableLoginThrottle` keeps the counts in the table (locally, DynamoDB Local's),
in fixed windows of ``window`` seconds:

- client counter:  ``pk = CL#{client id}``, ``sk = {window start, epoch s}`` →
  ``failures`` (N), ``reset`` (N, when a success cleared it), ``expires_at`` (N)
- overall counter: ``pk = CL#all``, ``sk = {window start}`` → ``failures``, ``expires_at``

The client id (:func:`client_id`) is bounded: an IP in canonical form (IPv6 by its /64,
which one host usually holds whole), anything else a 33-character hash, so one client
makes at most one item per window. Items expire (TTL) a minute after the *next* window
ends: the next window still reads them.

``wait`` estimates a sliding window from the current and previous windows (the previous
one weighted by the share of it still inside the last ``window`` seconds) with one
eventually consistent BatchGetItem of the four items; it never writes. A client is held
while its estimate, or the overall one, reaches its cap; the answer is the seconds until
both estimates fall below their caps if nobody fails again. Since the estimate includes
the whole current window, no fixed window takes more than ``cap`` failures. ``failed``
adds 1 to the client's and the overall counter (two UpdateItem ADD). ``succeeded`` resets
the client's counter of the current window and marks it so the previous one is ignored
(one UpdateItem SET): the client's earlier typos no longer count, the overall ones do.
Attempts in flight at once (they all pass ``wait`` before any ``failed`` lands) can
exceed a cap by their number.

On a DynamoDB error ``wait`` fails closed: it answers ``STORE_DOWN_WAIT`` seconds, so an
outage never opens the door to guessing (the console reads the same table, so it is of
no use then anyway), and the login works again as soon as the table answers. ``failed``
and ``succeeded`` log the error and drop the count.

Example::

    throttle = TableLoginThrottle(client, "waybill")
    throttle.wait("198.51.100.7")  # None, or seconds to wait
    throttle.failed("198.51.100.7")  # after a wrong credential
    throttle.succeeded("198.51.100.7")  # after the right one
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gateway.store.batch import UnprocessedKeysError, batch_get
from gateway.store.capacity import CapacityMeter

PREFIX = "CL#"
OVERALL = "all"
STORE_DOWN_WAIT = 5  # seconds: what ``wait`` answers when the table does not answer
KEEP_SECONDS = 60  # an item expires this long after the window that reads it last
_NAMES = {"#f": "failures", "#r": "reset"}
log = logging.getLogger("waybill.console")


def client_id(client: str) -> str:
    """The bounded id a client is counted under.

    >>> client_id("198.51.100.7"), client_id("2001:DB8::1"), client_id("::ffff:192.0.2.1")
    ('198.51.100.7', '2001:db8::/64', '192.0.2.1')
    >>> client_id("x" * 10_000)
    'he4ee97ec252749d2096447e849628d0d'
    """
    text = client.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "h" + hashlib.sha256(text.encode()).hexdigest()[:32]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def limit_key(subject: str, window_start: int) -> dict[str, dict[str, str]]:
    """The key of a counter (a :func:`client_id` or ``OVERALL``) for one window.

    >>> limit_key("all", 1800)
    {'pk': {'S': 'CL#all'}, 'sk': {'S': '1800'}}
    """
    return {"pk": {"S": PREFIX + subject}, "sk": {"S": str(window_start)}}


def held_for(previous: int, current: int, cap: int, elapsed: float, window: int) -> float | None:
    """Seconds until ``previous * (1 - elapsed / window) + current`` falls below ``cap``
    (the current window becoming the previous one at its end), or None if it is below.

    >>> held_for(0, 5, 5, 100, 300), held_for(4, 3, 5, 0, 300), held_for(4, 0, 5, 0, 300)
    (200.0, 150.0, None)
    """
    if previous * (1 - elapsed / window) + current < cap:
        return None
    # integer numerators: an exact whole second stays exact (the caller adds 1 to it)
    if current < cap:  # previous > 0: its share decays within this window
        return window * (previous + current - cap) / previous - elapsed
    return window - elapsed + window * (current - cap) / current


def _now() -> float:
    return time.time()


class TableLoginThrottle:
    """Failed logins, shared through the table: at most ``per_client`` per client and
    ``overall`` in all within (about) ``window`` seconds; past that, logins wait.

    ``clock`` gives epoch seconds (every process must agree on the windows); ``meter``
    counts the capacity units DynamoDB reports.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        per_client: int = 5,
        overall: int = 30,
        window: int = 300,
        clock: Callable[[], float] = _now,
        meter: CapacityMeter | None = None,
    ) -> None:
        self.client, self.table = client, table_name
        self.per_client, self.overall, self.window, self.clock = per_client, overall, window, clock
        self.meter = meter or CapacityMeter()

    def wait(self, client: str) -> int | None:
        """Seconds before ``client`` may try again, or None (``STORE_DOWN_WAIT`` when the
        table cannot be read)."""
        now = self.clock()
        start = int(now // self.window) * self.window
        me = client_id(client)
        try:
            counts = self._read(me, start)
        except (BotoCoreError, ClientError) as exc:
            log.warning("login throttle not read (%s): held", type(exc).__name__)
            return STORE_DOWN_WAIT
        if counts is None:
            log.warning("login throttle not read (unprocessed keys): held")
            return STORE_DOWN_WAIT
        (mine, mine_before), (everyone, everyone_before) = counts
        held = [
            held_for(before, count, cap, now - start, self.window)
            for before, count, cap in (
                (mine_before, mine, self.per_client),
                (everyone_before, everyone, self.overall),
            )
        ]
        seconds = [s for s in held if s is not None]
        return max(1, math.floor(max(seconds)) + 1) if seconds else None

    def failed(self, client: str) -> None:
        """Count one failed login of ``client`` (and in the overall counter)."""
        start = int(self.clock() // self.window) * self.window
        for subject in (client_id(client), OVERALL):
            self._update(subject, start, "ADD #f :one SET expires_at = :exp", {":one": "1"})

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s failures (never the overall ones)."""
        now = self.clock()
        start = int(now // self.window) * self.window
        expression = "SET #f = :zero, #r = :now, expires_at = :exp"
        self._update(client_id(client), start, expression, {":zero": "0", ":now": str(int(now))})

    def _update(self, subject: str, start: int, expression: str, values: dict[str, str]) -> None:
        names = {name: value for name, value in _NAMES.items() if name in expression.split()}
        expires = start + 2 * self.window + KEEP_SECONDS
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=limit_key(subject, start),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    key: {"N": value} for key, value in (values | {":exp": str(expires)}).items()
                },
                ReturnConsumedCapacity="TOTAL",
            )
        except (BotoCoreError, ClientError) as exc:
            log.warning("login throttle not written (%s): dropped", type(exc).__name__)
            return
        self.meter.add_write(response)

    def _read(self, me: str, start: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """``((mine, mine before), (everyone, everyone before))``; None if DynamoDB left
        keys unprocessed three times."""
        keys = [limit_key(s, w) for s in (me, OVERALL) for w in (start, start - self.window)]
        projection = {"ProjectionExpression": "pk, sk, #f, #r", "ExpressionAttributeNames": _NAMES}
        try:
            items = batch_get(self.client, self.table, keys, self.meter, extra=projection, rounds=3)
        except UnprocessedKeysError:
            return None
        found = {(item["pk"]["S"], item["sk"]["S"]): item for item in items}

        def count(subject: str, window_start: int) -> int:
            item = found.get((PREFIX + subject, str(window_start)), {})
            return int(item.get("failures", {}).get("N", "0"))

        mine_reset = "reset" in found.get((PREFIX + me, str(start)), {})
        mine_before = 0 if mine_reset else count(me, start - self.window)
        return (
            (count(me, start), mine_before),
            (count(OVERALL, start), count(OVERALL, start - self.window)),
        )
