"""Where a running ``waybill serve`` can be found: ``<state_dir>/serve.json``.

Only the owner of the state dir (:mod:`gateway.local.ownership`) writes it, once it
listens, and removes it on exit, so ops commands (``waybill parked``, ``audit``,
``endpoints``, ``listen``, …) reach the same engine and data, with the same settings,
without flags. A second ``serve`` on the same dir is refused (:func:`claim_state_dir`);
a crashed server's ``serve.json`` is recognised as stale (:func:`running_server`: its
lock is free, or its DynamoDB Local does not answer) and replaced by the next owner.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from gateway.local.ownership import StateDirBusyError, StateDirOwner, is_owned, own_state_dir

RUNTIME_FILE = "serve.json"
DYNAMODB_PID_FILE = "dynamodb-local.pid"  # the server's DynamoDB Local: gateway.local.orphans
_CONNECT_TIMEOUT = 1.0  # seconds: DynamoDB Local is on loopback

log = logging.getLogger("waybill.local")


class StateDirError(Exception):
    """The state dir has no server where one is needed, or one where none may start:
    the CLI prints the message as one line (exit 2)."""


class ServerNotRunningError(StateDirError):
    """No live ``waybill serve`` owns the state dir (none started, or it crashed)."""


class StateDirInUseError(StateDirError):
    """Another live ``waybill serve`` owns the state dir."""


def claim_state_dir(state_dir: Path) -> StateDirOwner:
    """Own ``state_dir`` for a server's lifetime; a stale ``serve.json`` is removed.

    Raises :class:`StateDirInUseError` naming the running server (pid, and its URL once
    it listens).
    """
    try:
        owner = own_state_dir(state_dir)
    except StateDirBusyError as exc:
        info = read_runtime(state_dir) or {}
        where = f" on {info['url']}" if info.get("pid") == str(exc.pid) and info.get("url") else ""
        pid = exc.pid or "unknown"
        raise StateDirInUseError(
            f"{state_dir} is in use by the `waybill serve` with pid {pid}{where or ' (starting)'}"
            f": stop it first (Ctrl-C in its terminal, or `kill {pid}`), or give this one "
            "its own --state-dir"
        ) from None
    stale = read_runtime(state_dir)
    if stale is not None:
        (state_dir / RUNTIME_FILE).unlink(missing_ok=True)
        log.warning(
            "removed %s left by a server that is gone (pid %s)",
            state_dir / RUNTIME_FILE,
            stale.get("pid", "unknown"),
        )
    return owner


def write_runtime(
    owner: StateDirOwner,
    *,
    dynamodb_endpoint: str,
    table_name: str,
    url: str | None = None,
    allow_insecure_endpoints: bool = True,
    retry_scale: float = 1.0,
) -> Path:
    """Record the running server's URL, DynamoDB Local endpoint and table, and the
    settings ops commands must share with it (which endpoint URLs it accepts, its retry
    scale). Only the state dir's owner may."""
    if not owner.held:
        raise RuntimeError(f"{owner.state_dir} is not owned here: serve.json is its owner's")
    path = owner.state_dir / RUNTIME_FILE
    info = {
        "dynamodb_endpoint": dynamodb_endpoint,
        "table": table_name,
        "pid": os.getpid(),
        "allow_insecure_endpoints": allow_insecure_endpoints,
        "retry_scale": retry_scale,
    }
    if url is not None:
        info["url"] = url
    path.write_text(json.dumps(info) + "\n")
    return path


def read_runtime(state_dir: Path) -> dict[str, str] | None:
    """The server record as written, or ``None`` when there is none; it may be stale:
    commands that need the server use :func:`running_server`."""
    try:
        info = json.loads((state_dir / RUNTIME_FILE).read_text())
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in info.items()} if isinstance(info, dict) else None


def clear_runtime(owner: StateDirOwner) -> None:
    """Forget the server record (on exit; only while owning the dir)."""
    if owner.held:
        (owner.state_dir / RUNTIME_FILE).unlink(missing_ok=True)


def running_server(state_dir: Path) -> dict[str, str]:
    """The record of the live server of ``state_dir``, checked: the one place every
    command that needs the server asks.

    Raises :class:`ServerNotRunningError` with one line saying what is wrong and how to
    start it: no ``serve.json``, a stale one (its server's lock is free: it died), or a
    DynamoDB Local that does not answer.
    """
    start = f"start it with `waybill serve --state-dir {state_dir}` (`make run` serves .waybill)"
    absent = f"no running `waybill serve` with --state-dir {state_dir}"
    info = read_runtime(state_dir)
    if info is None:
        raise ServerNotRunningError(f"{absent}: {start}")
    pid = info.get("pid", "unknown")
    if not is_owned(state_dir):
        raise ServerNotRunningError(
            f"{absent}: the server that wrote its serve.json (pid {pid}) is gone; {start}"
        )
    endpoint = info.get("dynamodb_endpoint", "")
    if not _answers(endpoint):
        raise ServerNotRunningError(
            f"the `waybill serve` with --state-dir {state_dir} (pid {pid}) lost its DynamoDB "
            f"Local ({endpoint or 'no endpoint'} does not answer): stop it and {start}"
        )
    return info


def _answers(endpoint: str) -> bool:
    """Whether something accepts TCP connections at the endpoint URL's host and port."""
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is no number
        return False
    if not host or port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
            return True
    except OSError:
        return False
