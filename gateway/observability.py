"""Logs and metrics, one place: the Powertools logger, EMF metrics and ``count``.

Metrics carry no per-tenant dimension (cost and cardinality); the service name is their
only dimension: ``waybill-{stack}`` on AWS (``POWERTOOLS_SERVICE_NAME``, set by
``infra/functions.py``), ``waybill`` locally. Whoever needs to log or count imports this
module; it imports nothing of Waybill's.

Example:
    >>> count("EventsAccepted", 0)  # zero counts are not emitted
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# A request that counts nothing (e.g. /healthz) is normal, not worth a warning per call.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "waybill")
NAMESPACE = "Waybill"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def milliseconds(name: str, value: float = 0.0) -> None:
    """Record a duration in milliseconds (EMF)."""
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


def count(name: str, value: float = 1) -> None:
    """Add to an EMF counter; zero counts are not emitted."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
