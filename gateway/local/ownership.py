"""One owner per state directory: an exclusive ``flock`` on ``<state_dir>/serve.lock``.

``waybill serve`` takes it before anything else and holds it for its lifetime; the
kernel lets go when the process ends, however it ends (``kill -9`` included), so a dead
server never leaves the directory locked. The file holds the owner's pid, so a refusal
can name the process that holds it. Commands that only read (``parked``, ``audit``, …)
never take it: they ask :func:`is_owned` to tell a live server's ``serve.json`` from a
crashed one's.

Example::

    with own_state_dir(Path(".waybill")) as owner:   # StateDirBusyError if taken
        ...                                          # serve; owner.state_dir
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType
from typing import TextIO

LOCK_FILE = "serve.lock"
_ATTEMPTS = 10  # a probe by is_owned holds the lock for microseconds: try again briefly
_PAUSE = 0.02  # seconds between attempts


class StateDirBusyError(Exception):
    """Another live process owns the state directory; ``pid`` is its pid, if recorded."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        super().__init__(f"{state_dir} is owned by process {pid or 'unknown'}")
        self.state_dir = state_dir
        self.pid = pid


class StateDirOwner:
    """The held lock of one state directory; :meth:`release` (or the process's end)
    lets go."""

    def __init__(self, state_dir: Path, handle: TextIO) -> None:
        self.state_dir = state_dir
        self._handle: TextIO | None = handle

    @property
    def held(self) -> bool:
        """Whether this owner still holds the lock."""
        return self._handle is not None

    def release(self) -> None:
        """Let go of the lock (safe to call twice). The pid in the file is left as is:
        only the lock says whether anyone owns the directory."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def __enter__(self) -> StateDirOwner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def own_state_dir(state_dir: Path) -> StateDirOwner:
    """Take the state directory's lock (creating the directory) and record our pid in
    it, or raise :class:`StateDirBusyError` naming the owner's pid."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = (state_dir / LOCK_FILE).open("a+")  # "a+": never truncate the owner's pid
    for attempt in range(_ATTEMPTS):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt == _ATTEMPTS - 1:
                handle.close()
                raise StateDirBusyError(state_dir, owner_pid(state_dir)) from None
            time.sleep(_PAUSE)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return StateDirOwner(state_dir, handle)


def is_owned(state_dir: Path) -> bool:
    """Whether a live process holds the state directory's lock (a non-blocking probe;
    an owner in this very process counts too)."""
    try:
        handle = (state_dir / LOCK_FILE).open()
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def owner_pid(state_dir: Path) -> int | None:
    """The pid the last owner recorded (meaningful only while :func:`is_owned`)."""
    try:
        text = (state_dir / LOCK_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
