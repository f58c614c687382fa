"""The cost shape: what one request of each audited outcome uses, as billed.

Measured by ``bench/cost_model.py`` (section ``cost_shape``: the ingest handler profiled
per request kind on DynamoDB Local by ``bench/ingest_profile.py``, milliseconds modeled
for a 512 MB arm64 Lambda; BENCHMARKS.md, "Modeled AWS cost"). Rerun
``.venv/bin/python -m bench --only cost_model`` and copy its ``cost_shape`` rows here
when the write path changes.

An outcome's unit is the average of the request kinds it covers, weighted by the
benchmark's mix (:data:`KINDS_OF`). ``ignored`` is not measured apart (a delivery parsed,
nothing stored): priced as a duplicate. Refusals (``rejected``, ``throttled``,
``failed``) are modeled, not measured: the handler's CPU and log line without a DynamoDB
call, and not counted by the quota.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.costs.model import Unit

KINDS_OF: Mapping[str, tuple[str, ...]] = {
    "accepted": ("first", "new", "change", "one_event"),
    "duplicate": ("resend", "retry"),
    "ignored": ("resend", "retry"),
    "parked": ("parked",),
}
"""The benchmark's request kinds each stored outcome averages."""
REFUSED = ("rejected", "throttled", "failed")
REQUEST_OUTCOMES = (*KINDS_OF, *REFUSED)
"""The audited outcomes that are requests (``endpoint`` changes are not)."""

_REFUSED = Unit(0.0, 0.0, 10.5, 282, 0, 517, counted=False)
SHAPE: Mapping[str, Unit] = {
    "accepted": Unit(2.743, 0.902, 41.4, 255, 941, 507),
    "duplicate": Unit(0.0, 1.007, 17.7, 244, 0, 518),
    "ignored": Unit(0.0, 1.007, 17.7, 244, 0, 518),
    "parked": Unit(1.0, 1.011, 27.7, 686, 476, 291),
    **dict.fromkeys(REFUSED, _REFUSED),
}
"""Per outcome: write units, read units, billed ms, log bytes, stored bytes, response bytes
(``Unit`` fields in order), from the ``cost_shape`` rows of the run of 2026-12-06."""
