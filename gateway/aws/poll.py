"""The Lambda entry point of polling: one pass over the due trackers, every minute.

Infra names it as a string (``gateway.aws.poll.poll_handler`` on an EventBridge schedule).
It serves :class:`~gateway.poll.service.Trackers` built once per container from the
environment (as the API handler's services: ``TABLE_NAME``, the secrets' prefix for the
carriers' ``<carrier>.api`` credentials). A pass stops claiming trackers when the
invocation's deadline is near; the rest are claimed by the next minute's pass.
"""

from __future__ import annotations

from typing import Any

from gateway.aws.handler import deadline_of, shared_services
from gateway.observability import logger, metrics


@metrics.log_metrics
def poll_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Check the trackers that are due (runs every minute)."""
    services = shared_services()
    try:
        checked = services.trackers.poller.run_once(deadline=deadline_of(context))
    finally:
        services.pipeline.audit.flush()
    if checked:
        logger.info("poll pass", extra={"checked": checked})
    return {"checked": checked}
