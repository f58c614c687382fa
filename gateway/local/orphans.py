"""A child process that dies with its parent, and the clean-up of one that did not.

Two guards for DynamoDB Local, whose JVM would otherwise outlive a ``kill -9`` of
``waybill serve`` and keep its data files open:

1. :func:`parent_death_signal` (Linux): the child asks the kernel, between fork and
   exec, for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``). SIGTERM, not
   SIGKILL, so the JVM closes its SQLite file. The kernel sends it when the *thread*
   that forked ends, so it is armed only when forking from the main thread (whose end
   is the process's); from another thread, only guard 2 applies. Chosen over a process
   group plus a watchdog process: nothing more to run, and it holds even when the
   watchdog would be killed with the server.
2. :func:`record_child` / :func:`stop_orphan`: the child's pid, start time and argv
   are recorded in a file; the next start, once it owns the directory (so the
   recording process is gone), stops that process if it still runs. A process is
   touched only if its pid, kernel start time and command line all match the record,
   so nothing else is ever signalled, even after pid reuse.

Example::

    stop_orphan(pid_file)                         # at start, while owning the dir
    child = subprocess.Popen(argv, preexec_fn=parent_death_signal())
    record_child(pid_file, child.pid, argv)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_TERM_WAIT = 10.0  # seconds for the JVM to stop on SIGTERM before SIGKILL
_KILL_WAIT = 5.0


def parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that arms SIGTERM on the parent's death, or ``None`` where it
    cannot hold (not Linux, or not called from the main thread)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    parent = os.getpid()

    def arm() -> None:
        if prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field
    22), or ``None`` when it is gone, a zombie, or ``/proc`` is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return None if fields[0] in ("Z", "X") else int(fields[19])


def record_child(path: Path, pid: int, argv: Sequence[str]) -> None:
    """Remember the child just started (call right after the fork)."""
    started = start_time(pid)
    path.write_text(json.dumps({"pid": pid, "start_time": started, "argv": list(argv)}) + "\n")


def forget_child(path: Path) -> None:
    """The child stopped normally: nothing to clean up next time."""
    path.unlink(missing_ok=True)


def stop_orphan(path: Path) -> int | None:
    """Stop the recorded process if it still runs; its pid, or ``None`` when there was
    nothing to stop. The record is removed either way.

    Call only while owning the directory the record belongs to: the process that
    recorded it is then gone, so a survivor is an orphan.
    """
    try:
        record = json.loads(path.read_text())
        pid, started, argv = int(record["pid"]), record["start_time"], list(record["argv"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    with _pinned(pid) as pidfd:
        if started is None or start_time(pid) != started or _argv(pid) != argv:
            path.unlink(missing_ok=True)  # gone, or the pid now names another process
            return None
        _signal(pid, pidfd, signal.SIGTERM)
        if not _wait_gone(pid, pidfd, _TERM_WAIT):
            _signal(pid, pidfd, signal.SIGKILL)
            if not _wait_gone(pid, pidfd, _KILL_WAIT):
                raise OSError(f"could not stop the orphaned process {pid} ({argv[0]})")
    path.unlink(missing_ok=True)
    return pid


@contextlib.contextmanager
def _pinned(pid: int) -> Iterator[int | None]:
    """A pidfd for ``pid`` where the kernel has them (signals then reach this very
    process even if the pid is reused meanwhile), else ``None``."""
    try:
        fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _argv(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def _signal(pid: int, pidfd: int | None, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(pid, signum)


def _wait_gone(pid: int, pidfd: int | None, timeout: float) -> bool:
    """Wait until the process has exited (a zombie counts as exited: it is no child of
    ours to reap)."""
    if pidfd is not None:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if start_time(pid) is None:
            return True
        time.sleep(0.05)
    return start_time(pid) is None
