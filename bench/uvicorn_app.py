"""An ASGI app served by the venv's ``uvicorn`` CLI in a subprocess, on a free loopback port.

:class:`UvicornApp` runs ``python -m uvicorn MODULE:APP --host 127.0.0.1 --port 0`` (all
other options uvicorn's defaults: one worker process), reads the port uvicorn picked from
its log, and stops it on every path: SIGINT (a graceful shutdown), then SIGKILL if it has
not exited within a few seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from bench.served import REPO

_RUNNING = re.compile(r"Uvicorn running on (http://\S+)")


class UvicornApp:
    """``uvicorn`` serving ``target`` (``"bench.naive_peer:app"``); ``url`` once started."""

    def __init__(self, target: str, log: Path, env: Mapping[str, str] | None = None) -> None:
        self.target, self.log, self.env = target, log, dict(env or {})
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (0 when not running)."""
        return 0 if self._process is None else self._process.pid

    def __enter__(self) -> UvicornApp:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        """Start uvicorn and wait (bounded) until it says where it listens."""
        argv = [sys.executable, "-m", "uvicorn", self.target, "--host", "127.0.0.1", "--port", "0"]
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed argv
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=REPO, env=os.environ | self.env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            found = _RUNNING.search(self.log.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                return
            time.sleep(0.05)
        tail = self.log.read_text(errors="replace")[-2000:]
        code = self._process.poll()
        why = f"exited ({code})" if code is not None else f"did not start within {timeout:g} s"
        raise RuntimeError(f"uvicorn {self.target} {why}:\n{tail}")

    def stop(self) -> None:
        """SIGINT, wait up to 10 s, then kill it (it starts no children). Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=10)
        except BaseException:  # a timeout, or a second Ctrl-C: leave nothing running
            process.kill()  # our own child, not yet reaped: this pid is still it
            process.wait(timeout=10)
            raise
