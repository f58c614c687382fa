"""A closed-loop load generator (N worker threads) and the server it loads.

:func:`run_load`: N worker threads, each with its own client.

Each worker thread builds its own client (a keep-alive ``httpx.Client``, a boto3
client…) through ``make_worker``, then all start together and pull request indexes
from one shared counter until ``count`` requests are done or the deadline passes.
Latencies are wall-clock seconds per request; throughput is completed requests over
the phase's elapsed time.

:class:`ServedGateway`: ``waybill serve --in-memory`` as a subprocess on a free loopback
port, with one tenant (its partner secret and an API key set through the local stores)
on a plan tier that does not throttle, stopped (with its DynamoDB Local) on every path.

Example:
    >>> from contextlib import nullcontext
    >>> result = run_load(lambda: nullcontext(lambda i: None), count=20, workers=2)
    >>> result.completed, result.errors
    (20, 0)
    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

#: One request: called with its index (0..count-1); raises on failure.
Call = Callable[[int], None]
#: Builds one worker's call (and closes its client on exit), inside the worker's thread.
MakeWorker = Callable[[], AbstractContextManager[Call]]


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadResult:
    """Latencies (s) of the completed requests, the phase's elapsed time, the errors."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0
    attempted: int = 0  # requests started (indexes 0..attempted-1): completed or failed
    first_error: str = ""

    @property
    def completed(self) -> int:
        """Requests that succeeded."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Completed requests per second over the phase."""
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    def merge(self, other: LoadResult) -> None:
        """Add another phase of the same kind (same concurrency) to this one."""
        self.latencies += other.latencies
        self.elapsed += other.elapsed
        self.errors += other.errors
        self.attempted += other.attempted
        self.first_error = self.first_error or other.first_error


class _Shared:
    """The index counter and the result, under one lock."""

    def __init__(self, count: int, deadline: float) -> None:
        self.lock = threading.Lock()
        self.next_index = 0
        self.count = count
        self.deadline = deadline
        self.result = LoadResult()

    def take(self) -> int | None:
        with self.lock:
            if self.next_index >= self.count or time.monotonic() >= self.deadline:
                return None
            self.next_index += 1
            return self.next_index - 1

    def record(self, latency: float, error: BaseException | None) -> None:
        with self.lock:
            if error is None:
                self.result.latencies.append(latency)
                return
            self.result.errors += 1
            self.result.first_error = self.result.first_error or repr(error)[:200]


def run_load(
    make_worker: MakeWorker, *, count: int, workers: int, timeout: float = 60.0
) -> LoadResult:
    """Run ``count`` calls over ``workers`` threads; stop early after ``timeout`` seconds."""
    start = threading.Barrier(workers + 1)
    shared = _Shared(count, time.monotonic() + timeout)

    def work() -> None:
        try:
            with make_worker() as call:
                start.wait(timeout)
                while (index := shared.take()) is not None:
                    began = time.perf_counter()
                    try:
                        call(index)
                    except Exception as exc:  # counted; the phase goes on
                        shared.record(0.0, exc)
                    else:
                        shared.record(time.perf_counter() - began, None)
        except threading.BrokenBarrierError:
            return
        except Exception as exc:  # the client could not be built
            start.abort()
            shared.record(0.0, exc)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        start.wait(timeout)
    began = time.perf_counter()
    for thread in threads:
        thread.join(max(0.0, shared.deadline - time.monotonic()) + 10.0)
    shared.result.elapsed = time.perf_counter() - began
    shared.result.attempted = shared.next_index
    return shared.result


REPO = Path(__file__).resolve().parents[1]
#: A tier far above any benchmark's rate: the local edge never answers 429 here.
UNTHROTTLED_PLANS = """[bench]
rate = 10000
burst = 1000000
quota = 100000000
quota_period = "month"
hard_cap = 10000000
"""
_SERVE = "import sys; from gateway.cli import main; sys.exit(main(sys.argv[1:]))"
_LISTENING = re.compile(r"listening on (http://\S+)")


class ServedGateway:
    """``waybill serve`` in a subprocess: ``url``, ``endpoint`` (its DynamoDB Local),
    ``secret`` (the tenant's partner secret for ``carrier``) and ``api_key``.

    SIGINT stops it (it stops its DynamoDB Local itself); if it does not exit in time,
    it and the DynamoDB Local it started are killed.
    """

    def __init__(self, root: Path, tenant: str = "bench", carrier: str = "easypost") -> None:
        self.root, self.tenant, self.carrier = root, tenant, carrier
        self.state_dir = root / "state"
        self.url = self.endpoint = self.secret = self.api_key = ""
        self._process: subprocess.Popen[bytes] | None = None
        self.children: list[int] = []  # pids it started (its DynamoDB Local)

    @property
    def pid(self) -> int:
        """The server's process id (0 when not running)."""
        return 0 if self._process is None else self._process.pid

    def __enter__(self) -> ServedGateway:
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

    def _prepare(self) -> list[str]:
        """Tenant and plans files, the partner secret and an API key; the serve argv."""
        from gateway.apikeys import LocalApiKeyStore
        from gateway.keysets import generate_secret
        from gateway.local_secrets import LocalSecretStore

        tenants = self.root / "tenants"
        tenants.mkdir(parents=True)
        (self.root / "plans.toml").write_text(UNTHROTTLED_PLANS)
        (tenants / f"{self.tenant}.toml").write_text(
            f'name = "Benchmark"\nplan = "bench"\nretention_days = 1\n\n'
            f"[carriers.{self.carrier}]\nenabled = true\n"
        )
        now = datetime.now(UTC)
        self.secret = generate_secret()
        LocalSecretStore(self.state_dir).set(self.tenant, self.carrier, self.secret, now=now)
        self.api_key = LocalApiKeyStore(self.state_dir).issue(self.tenant, now=now).plaintext
        return [sys.executable, "-c", _SERVE, "serve", "--port", "0", "--in-memory",
                "--state-dir", str(self.state_dir), "--tenants-dir", str(tenants)]  # fmt: skip

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait (bounded) until it says where it listens."""
        from gateway.local.runtime import read_runtime
        from gateway.plans import PLANS_FILE_ENV

        argv = self._prepare()
        env = os.environ | {PLANS_FILE_ENV: str(self.root / "plans.toml")}
        log = self.root / "serve.log"
        with log.open("wb") as out:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed argv
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=REPO, env=env, start_new_session=True,  # Ctrl-C reaches us; we stop it
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            found = _LISTENING.search(log.read_text(errors="replace"))
            runtime = read_runtime(self.state_dir)
            if found and runtime:
                self.url, self.endpoint = found.group(1), runtime["dynamodb_endpoint"]
                self.children = _children(self._process.pid)
                return
            time.sleep(0.05)
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"waybill serve did not start within {timeout:g} s:\n{tail}")

    def stop(self) -> None:
        """SIGINT, wait up to 30 s, then kill it and its DynamoDB Local. Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
        except BaseException:  # a timeout, or a second Ctrl-C: leave nothing running
            process.kill()
            process.wait(timeout=10)
            raise
        finally:
            for pid in self.children:  # only if still there: normally serve stopped it
                _kill_if(pid, "DynamoDBLocal")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``); empty where unavailable."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _kill_if(pid: int, marker: str) -> None:
    """SIGKILL ``pid`` if it is still the process whose command line has ``marker``."""
    try:
        if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        return
