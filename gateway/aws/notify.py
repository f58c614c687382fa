"""The Lambda entry points of notifications: the table's stream, and the retry sweeper.

Infra names them as strings (``gateway.aws.notify.stream_handler`` behind the stream's
event source mapping, ``gateway.aws.notify.sweep_handler`` on an EventBridge schedule).
Both serve :class:`~gateway.notify.service.Notifications` built once per container
from the environment: ``TABLE_NAME``, ``NOTIFY_KEY_ID`` (the KMS key under which the
endpoint secrets' data key is kept) and, for test stacks only, ``NOTIFY_ALLOW_INSECURE``
(``true``: http and private addresses allowed; link-local and metadata never).
"""

from __future__ import annotations

from typing import Any

from gateway.aws.handler import deadline_of, shared_services
from gateway.observability import logger, metrics


@metrics.log_metrics
def stream_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """One batch of stream records: messages created and first attempts made.

    A storage failure raises, so the event source mapping retries the batch (bisecting
    it, then sending what still fails to the dead-letter queue).
    """
    services = shared_services()
    try:
        records = event.get("Records", [])
        attempted = services.notifications.handle_stream(records, deadline_of(context))
    finally:
        services.pipeline.audit.flush()
    logger.info(
        "stream batch", extra={"records": len(event.get("Records", [])), "attempted": attempted}
    )
    return {"attempted": attempted}


@metrics.log_metrics
def sweep_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Attempt the messages whose retry is due (runs every minute)."""
    services = shared_services()
    try:
        attempted = services.notifications.sweep(deadline_of(context))
    finally:
        services.pipeline.audit.flush()
    if attempted:
        logger.info("sweep", extra={"attempted": attempted})
    return {"attempted": attempted}
