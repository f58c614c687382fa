"""One ``waybill serve`` per state dir, and no DynamoDB Local outlives its server: real
``serve`` processes, started, refused, stopped and ``kill -9``-ed, with leftovers looked
for by pid (Linux ``/proc``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.local.ownership import is_owned
from gateway.local.runtime import DYNAMODB_PID_FILE, RUNTIME_FILE
from tests.support.processes import (
    REPO,
    alive,
    dynamodb_local_children,
    served,
    start_serve,
    wait_gone,
    waybill,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def serve_json(state: Path) -> dict[str, object]:
    """The state dir's ``serve.json``."""
    return dict(json.loads((state / RUNTIME_FILE).read_text()))


def test_a_second_serve_is_refused_naming_the_first_which_keeps_serving(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with served(state, "--in-memory") as first:
        for extra in (["--in-memory"], []):  # its own DynamoDB Local or the state dir's
            second = waybill("serve", "--port", "0", "--state-dir", str(state), *extra)
            assert second.returncode == 2 and "listening" not in second.stdout
            (line,) = second.stderr.splitlines()
            assert f"in use by the `waybill serve` with pid {first.pid} on {first.url}" in line
        assert serve_json(state)["pid"] == first.pid  # not overwritten, not removed
        assert httpx.get(f"{first.url}/healthz", timeout=5).status_code == 200
        listed = waybill("parked", "list", "demo", "--state-dir", str(state))
        assert (listed.returncode, listed.stdout) == (0, "no parked deliveries for demo\n")
        (java,) = dynamodb_local_children(first.pid)
        assert first.stop() == 0
    assert not is_owned(state)  # the lock went with the owner's normal exit
    assert not (state / RUNTIME_FILE).exists() and not (state / DYNAMODB_PID_FILE).exists()
    assert not alive(java)


def test_kill_9_leaves_no_dynamodb_local_and_the_cli_says_the_server_is_gone(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    first = start_serve(state)
    (java,) = dynamodb_local_children(first.pid)
    first.stop(signal.SIGKILL)
    if not wait_gone(java, timeout=20):
        os.kill(java, signal.SIGKILL)
        raise AssertionError("DynamoDB Local outlived its server")
    for argv in (["parked", "list", "demo"], ["audit", "demo", "--tracking-number", "1Z1"]):
        answer = waybill(*argv, "--state-dir", str(state))
        assert answer.returncode == 2 and answer.stdout == ""
        (line,) = answer.stderr.splitlines()
        assert line == (
            f"waybill: no running `waybill serve` with --state-dir {state}: the server that "
            f"wrote its serve.json (pid {first.pid}) is gone; start it with "
            f"`waybill serve --state-dir {state}` (`make run` serves .waybill)"
        )
    with served(state) as second:  # the same data dir, cleanly
        assert serve_json(state)["pid"] == second.pid
        assert "stopped DynamoDB Local" not in second.output()  # nothing was left to stop
        assert waybill("parked", "list", "demo", "--state-dir", str(state)).returncode == 0


ORPHAN_MAKER = """
import sys, time
from pathlib import Path
from gateway.local.dynamodb_local import DynamoDBLocal
state = Path(sys.argv[1])
ddb = DynamoDBLocal(data_dir=state / "dynamodb", pid_file=state / sys.argv[2],
                    die_with_parent=False).start()
print(ddb._process.pid, flush=True)
time.sleep(120)
"""


def test_an_orphan_of_a_dead_server_is_stopped_by_the_next_serve(tmp_path: Path) -> None:
    """A DynamoDB Local that outlived its server (as one started before the parent-death
    signal, or where it cannot hold) is stopped, and the log says so."""
    state = tmp_path / "state"
    state.mkdir()
    maker = subprocess.Popen(  # a server's stand-in, without the parent-death signal
        [sys.executable, "-c", ORPHAN_MAKER, str(state), DYNAMODB_PID_FILE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert maker.stdout is not None
    java = int(maker.stdout.readline())
    try:
        maker.kill()
        maker.wait(timeout=10)
        assert not wait_gone(java, timeout=1)  # an orphan now
        with served(state) as server:
            assert f"stopped DynamoDB Local pid {java} (data {state / 'dynamodb'})" in (
                server.output()
            )
            assert not alive(java)
            assert waybill("parked", "list", "demo", "--state-dir", str(state)).returncode == 0
    finally:
        if alive(java):
            os.kill(java, signal.SIGKILL)
