"""The tables CLI commands read: a running ``waybill serve``'s DynamoDB Local, or a
deployed stack's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.cli import CliError


def stack_table(stack: str) -> tuple[Any, str]:
    """A DynamoDB client and the stack's table name (``waybill-{stack}``, infra/table.py)."""
    import boto3

    from gateway.aws.secrets import stack_prefix

    try:
        stack_prefix(stack)  # the same stack-name rule as everywhere
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return boto3.client("dynamodb"), f"waybill-{stack}"


def running_table(state_dir: Path) -> tuple[Any, str]:
    """A client and table of the running ``waybill serve`` there (else a
    :class:`~gateway.local.runtime.ServerNotRunningError`, one line)."""
    from gateway.local.runtime import running_server
    from gateway.local.wiring import local_dynamodb

    runtime = running_server(state_dir)
    return local_dynamodb(runtime["dynamodb_endpoint"]), runtime["table"]
