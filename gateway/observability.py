"""Logs and metrics, one place: the Powertools logger, EMF metrics and ``count``.

Metrics carry no per-tenant dimension (cost and cardinality); the service name is their
only dimension: ``waybill-{stack}`` on AWS (``POWERTOOLS_SERVICE_NAME``, set by
``infra/functions.py``), ``waybill`` locally. Whoever needs to log or count imports this
module; it imports nothing of Waybill's.

Locally, ``waybill serve`` prints human lines by default and turns EMF off with
:func:`emit_metrics` (nobody reads EMF from a terminal); on AWS it is always on.

Example:
    >>> count("EventsAccepted", 0)  # zero counts are not emitted
    >>> printable("red\\x1b[31m text\\n"), printable("x" * 300, 5)
    ('red\\\\x1b[31m text\\\\n', 'xxxx…')
"""

from __future__ import annotations

import os
import re
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# A request that counts nothing (e.g. /healthz) is normal, not worth a warning per call.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "waybill")
NAMESPACE = "Waybill"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_emf = {"on": True}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def emit_metrics(on: bool) -> None:
    """Turn EMF metrics on (the default, always on AWS) or off (local human logs)."""
    _emf["on"] = on


def printable(text: str, limit: int = 200) -> str:
    """``text`` safe for one log line: control characters escaped (a carrier's text cannot
    move the cursor or forge a line), at most ``limit`` characters, ``…`` when cut."""
    escaped = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def milliseconds(name: str, value: float = 0.0) -> None:
    """Record a duration in milliseconds (EMF)."""
    if _emf["on"]:
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


def count(name: str, value: float = 1) -> None:
    """Add to an EMF counter; zero counts are not emitted."""
    if value and _emf["on"]:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
