"""The stack's Lambda functions by name: what ``infra/`` deploys and the CLI looks up.

Example:
    >>> function_name("prod", "ingest")
    'waybill-prod-ingest'
"""

from __future__ import annotations

API_FUNCTIONS = ("ingest", "query", "authorizer")
"""The functions behind API Gateway (``waybill:stableVersion`` steers their alias)."""
BACKGROUND_FUNCTIONS = ("notify", "sweeper", "poller")
"""The functions no request reaches: the stream's notifier, the sweeper, the poller."""
CONSOLE_FUNCTIONS = ("console",)
"""The ops console's function: behind API Gateway (``/console``), but always on the version
a deployment publishes (``waybill:stableVersion`` steers :data:`API_FUNCTIONS` only)."""
FUNCTIONS = API_FUNCTIONS + BACKGROUND_FUNCTIONS + CONSOLE_FUNCTIONS
ALIAS = "live"
"""The alias API Gateway, the stream mapping and the schedules invoke."""


def function_name(stack: str, function: str) -> str:
    """The deployed name of a function: ``waybill-{stack}-{function}``."""
    return f"waybill-{stack}-{function}"
