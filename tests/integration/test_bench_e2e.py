"""The end-to-end benchmark runs against a real ``waybill serve`` and gives sane rows.

Tiny counts (``--quick``): this checks the harness (every kind answered as it must be,
every figure present and positive, the server and its DynamoDB Local stopped), never
whether a target is met.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bench.e2e_latency import BASELINE, CONCURRENCY, KINDS, SECTION, TARGET_P50_RATIO, measure
from bench.served import ServedGateway

pytestmark = pytest.mark.integration


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def test_a_quick_run_gives_every_row_with_no_error() -> None:
    rows = {row.name: row for row in measure(quick=True)}
    for workers in CONCURRENCY:
        for kind in (BASELINE, *KINDS):
            latency = rows[f"{kind} c={workers} p50"]
            assert latency.unit == "ms" and latency.value > 0
            assert "err=0" in latency.note
            assert rows[f"{kind} c={workers} throughput"].value > 0
        for kind in KINDS:
            ratio = rows[f"{kind} c={workers} p50/baseline"]
            assert ratio.value > 0 and ratio.target == TARGET_P50_RATIO
            assert rows[f"{kind} c={workers} p99/baseline"].value > 0
    assert {row.section for row in rows.values()} == {SECTION}


def test_the_server_and_its_dynamodb_local_are_stopped_even_after_a_crash(
    tmp_path: Path,
) -> None:
    served = ServedGateway(tmp_path)
    with served:
        assert served.url.startswith("http://127.0.0.1:") and served.endpoint
        children = list(served.children)
        assert children  # its DynamoDB Local
        os.kill(served.pid, signal.SIGKILL)  # serve dies without stopping DynamoDB Local
    for pid in children:
        for _ in range(100):  # the kill is asynchronous: wait (bounded) until it is gone
            if not _running(pid):
                break
            time.sleep(0.05)
        assert not _running(pid)
