"""Where a running ``waybill serve`` can be found: ``<state_dir>/serve.json``.

``serve`` writes it once DynamoDB Local is up and removes it on exit, so ops
commands (``waybill parked``, ``waybill endpoints``, ``waybill listen``) reach the same
engine and data, with the same settings, without flags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RUNTIME_FILE = "serve.json"


def write_runtime(
    state_dir: Path,
    *,
    dynamodb_endpoint: str,
    table_name: str,
    allow_insecure_endpoints: bool = True,
    retry_scale: float = 1.0,
) -> Path:
    """Record the running server's DynamoDB Local endpoint and table, and the settings ops
    commands must share with it (which endpoint URLs it accepts, its retry scale)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / RUNTIME_FILE
    info = {
        "dynamodb_endpoint": dynamodb_endpoint,
        "table": table_name,
        "pid": os.getpid(),
        "allow_insecure_endpoints": allow_insecure_endpoints,
        "retry_scale": retry_scale,
    }
    path.write_text(json.dumps(info) + "\n")
    return path


def read_runtime(state_dir: Path) -> dict[str, str] | None:
    """The running server's record, or ``None`` when no server is running there."""
    try:
        info = json.loads((state_dir / RUNTIME_FILE).read_text())
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in info.items()} if isinstance(info, dict) else None


def clear_runtime(state_dir: Path) -> None:
    """Forget the server record (on exit)."""
    (state_dir / RUNTIME_FILE).unlink(missing_ok=True)
