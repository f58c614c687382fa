"""A child dies with its parent (``PR_SET_PDEATHSIG``), and a recorded process that
outlived its owner is stopped only if it is that very process (pid, start time and
command line): real processes (``sleep``), no Java."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.local.orphans import parent_death_signal, record_child, stop_orphan
from tests.support.processes import REPO, alive, wait_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

PARENT = """
import subprocess, sys, time
from gateway.local.orphans import parent_death_signal
child = subprocess.Popen(["sleep", "60"], preexec_fn=parent_death_signal())
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A ``sleep 60`` of ours, killed afterwards if still there."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait(timeout=10)


def test_the_child_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: no cleanup code of the parent runs
    parent.wait(timeout=10)
    gone = wait_gone(child, timeout=10)
    if not gone:
        os.kill(child, signal.SIGKILL)
    assert gone, "the child outlived its parent"


def test_no_parent_death_signal_from_another_thread() -> None:
    """The kernel signals when the forking *thread* ends: from a worker thread it is not
    armed (the orphan clean-up covers that case)."""
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(parent_death_signal()))
    worker.start()
    worker.join()
    assert found == [None] and parent_death_signal() is not None


def test_the_recorded_process_is_stopped(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    record = tmp_path / "child.pid"
    record_child(record, sleeper.pid, ["sleep", "60"])
    assert stop_orphan(record) == sleeper.pid
    assert sleeper.wait(timeout=5) == -signal.SIGTERM
    assert not record.exists()
    assert stop_orphan(record) is None  # nothing recorded any more


@pytest.mark.parametrize("tamper", ["argv", "start_time"])
def test_another_process_under_a_recorded_pid_is_left_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], tamper: str
) -> None:
    record = tmp_path / "child.pid"
    record_child(record, sleeper.pid, ["sleep", "60"])
    entry = json.loads(record.read_text())
    if tamper == "argv":
        entry["argv"] = ["java", "-jar", "DynamoDBLocal.jar", "-inMemory"]
    else:  # the pid was reused by a process started later
        entry["start_time"] += 1
    record.write_text(json.dumps(entry))
    assert stop_orphan(record) is None
    assert alive(sleeper.pid) and not record.exists()
