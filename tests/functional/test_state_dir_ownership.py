"""One owner per state dir (a ``flock`` the kernel releases with its process), and the one
check every command that needs the server makes (:func:`running_server`): a missing,
stale or unreachable server is one line and exit 2 from the real console script."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.local.ownership import StateDirBusyError, is_owned, own_state_dir, owner_pid
from gateway.local.runtime import (
    RUNTIME_FILE,
    ServerNotRunningError,
    StateDirInUseError,
    claim_state_dir,
    running_server,
    write_runtime,
)
from tests.support.processes import REPO, waybill

START = "start it with `waybill serve --state-dir {}` (`make run` serves .waybill)"
OWNER = """
import sys, time
from pathlib import Path
from gateway.local.ownership import own_state_dir
owner = own_state_dir(Path(sys.argv[1]))
print("owned", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_one_owner_at_a_time(tmp_path: Path) -> None:
    assert not is_owned(tmp_path)
    with own_state_dir(tmp_path) as owner:
        assert is_owned(tmp_path) and owner_pid(tmp_path) == os.getpid()
        with pytest.raises(StateDirBusyError) as refused:
            own_state_dir(tmp_path)  # even from the same process
        assert refused.value.pid == os.getpid()
    assert not owner.held and not is_owned(tmp_path)
    own_state_dir(tmp_path).release()  # free again


@pytest.mark.parametrize("end", ["exit", "kill -9"])
def test_the_lock_goes_with_its_process(tmp_path: Path, end: str) -> None:
    """No release call: the kernel lets go when the owner ends, however it ends."""
    stay = "0.5" if end == "exit" else "60"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path), stay], cwd=REPO, stdout=subprocess.PIPE
    )
    assert owner.stdout is not None and owner.stdout.readline() == b"owned\n"
    assert is_owned(tmp_path)
    if end == "kill -9":
        owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=10)
    assert not is_owned(tmp_path)


def test_a_claim_names_the_running_server_and_forgets_a_stale_record(tmp_path: Path) -> None:
    with own_state_dir(tmp_path) as first:
        with pytest.raises(StateDirInUseError, match=rf"pid {os.getpid()} \(starting\)"):
            claim_state_dir(tmp_path)  # before it listens: no serve.json yet
        write_runtime(first, dynamodb_endpoint="http://127.0.0.1:1", table_name="t", url="http://x")
        with pytest.raises(StateDirInUseError) as refused:
            claim_state_dir(tmp_path)
        assert str(refused.value) == (
            f"{tmp_path} is in use by the `waybill serve` with pid {os.getpid()} on http://x: "
            f"stop it first (Ctrl-C in its terminal, or `kill {os.getpid()}`), or give this "
            "one its own --state-dir"
        )
    assert (tmp_path / RUNTIME_FILE).exists()  # a crashed server's record, as it left it
    with claim_state_dir(tmp_path):
        assert not (tmp_path / RUNTIME_FILE).exists()


def test_running_server_tells_missing_stale_and_unreachable_apart(tmp_path: Path) -> None:
    absent = f"no running `waybill serve` with --state-dir {tmp_path}"
    with pytest.raises(ServerNotRunningError) as missing:
        running_server(tmp_path)
    assert str(missing.value) == f"{absent}: {START.format(tmp_path)}"
    with socket.create_server(("127.0.0.1", 0)) as ddb, own_state_dir(tmp_path) as owner:
        endpoint = f"http://127.0.0.1:{ddb.getsockname()[1]}"
        write_runtime(owner, dynamodb_endpoint=endpoint, table_name="t")
        assert running_server(tmp_path)["table"] == "t"
        ddb.close()  # DynamoDB Local died; the server still owns the dir
        with pytest.raises(ServerNotRunningError, match=f"lost its DynamoDB Local .{endpoint}"):
            running_server(tmp_path)
    with pytest.raises(ServerNotRunningError) as stale:
        running_server(tmp_path)
    assert str(stale.value) == (
        f"{absent}: the server that wrote its serve.json (pid {os.getpid()}) is gone; "
        + START.format(tmp_path)
    )


@pytest.fixture
def stale(tmp_path: Path) -> Path:
    """A state dir as a crashed server leaves it: serve.json, nobody holding the lock."""
    with own_state_dir(tmp_path) as owner:
        write_runtime(owner, dynamodb_endpoint="http://127.0.0.1:1", table_name="waybill")
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["parked", "list", "demo"],
        ["audit", "demo", "--tracking-number", "1Z1"],
        ["erase", "demo", "1Z1"],
        ["endpoints", "list", "demo"],
        ["trackers", "list", "demo"],
        ["pollers", "status", "demo"],
        ["listen", "--tenant", "demo"],
        ["costs"],
    ],
)
def test_commands_that_need_the_server_say_it_is_gone(stale: Path, argv: list[str]) -> None:
    answer = waybill(*argv, "--state-dir", str(stale))
    assert (answer.returncode, answer.stdout) == (2, "")
    (line,) = answer.stderr.splitlines()
    assert line.startswith(f"waybill: no running `waybill serve` with --state-dir {stale}: ")
    assert "is gone" in line and START.format(stale) in line


def test_audit_without_its_server_shows_the_changes_and_says_why(stale: Path) -> None:
    assert waybill("keys", "issue", "demo", "--state-dir", str(stale)).returncode == 0
    answer = waybill("audit", "demo", "--state-dir", str(stale))
    assert answer.returncode == 0 and "key.issue" in answer.stdout
    (line,) = answer.stderr.splitlines()
    assert "is gone" in line and line.endswith("only key, secret and erasure changes are shown")
