"""A closed-loop load generator: :func:`run_load`, N worker threads, each with its own client.

Each worker thread builds its own client (a keep-alive ``httpx.Client``, a boto3
client…) through ``make_worker``, then all start together and pull request indexes
from one shared counter until ``count`` requests are done or the deadline passes.
Latencies are wall-clock seconds per request; throughput is completed requests over
the phase's elapsed time.

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
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field

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
