"""The tables CLI commands read: a running ``waybill serve``'s DynamoDB Local, or a
deployed stack's table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.audit.changes import ChangeLog, FileChangeLog
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


def change_log(args: argparse.Namespace) -> ChangeLog:
    """Where a command's changes are audited: with ``--stack``, the stack's table (where the
    change happened, read by ``waybill audit --stack`` and the console); else the state
    dir's ``audit.jsonl``."""
    stack = getattr(args, "stack", None)
    if stack:
        from gateway.audit.change_table import TableChangeLog

        return TableChangeLog(*stack_table(stack))
    return FileChangeLog(Path(args.state_dir))
