"""Real processes in lifecycle tests: the ``waybill`` console script, started and watched
with bounded waits, and liveness read from ``/proc`` (Linux).

Example::

    with served(tmp_path / "state", "--in-memory") as server:
        httpx.get(f"{server.url}/healthz")
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
WAYBILL = str(Path(sys.executable).parent / "waybill")
LISTENING = "Waybill listening on "


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not: it has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is no longer running; whether it went within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def dynamodb_local_children(pid: int) -> list[int]:
    """The DynamoDB Local processes that ``pid`` started."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in map(int, children):
        try:
            if b"DynamoDBLocal.jar" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def waybill(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the console script to completion."""
    return subprocess.run(
        [WAYBILL, *argv], capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
    )


@dataclass
class Server:
    """A ``waybill serve`` process, its URL once it listens, and its output so far."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        """The server's pid."""
        return self.process.pid

    def output(self) -> str:
        """Everything it printed (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal it and wait (bounded) for its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)


def start_serve(state: Path, *extra: str, timeout: float = 60) -> Server:
    """``waybill serve --port 0 --state-dir STATE …``, returned once it listens."""
    log = state.parent / f"serve-{time.monotonic_ns()}.log"
    argv = [WAYBILL, "serve", "--port", "0", "--state-dir", str(state), *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in server.output().splitlines():
            if line.startswith(LISTENING):
                server.url = line[len(LISTENING) :].split()[0]
        if server.url and _answers(server.url):  # serving: a signal now stops it
            return server
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise AssertionError(f"waybill serve did not start:\n{server.output()[-2000:]}")


@contextmanager
def served(state: Path, *extra: str) -> Iterator[Server]:
    """A started server, stopped (then killed, if need be) on exit."""
    server = start_serve(state, *extra)
    children = dynamodb_local_children(server.pid)
    try:
        yield server
    finally:
        try:
            server.stop()
        except subprocess.TimeoutExpired:
            server.stop(signal.SIGKILL)
        for pid in children:  # only if serve left one behind
            if alive(pid) and b"DynamoDBLocal.jar" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
