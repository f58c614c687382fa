"""Paired, interleaved timing: the ratio of two costs measured in one run, drift cancelled.

Every figure in bench/ is a ratio to a reference measured alongside it, because the
machine is shared and noisy. :func:`compare` takes two *samplers* (each returns one
measured cost, in ns) and calls them alternately, round after round; the ratio is the
median of the per-round ratios, so slow drift (another job starting) hits both sides.

Example:
    >>> result = compare(lambda: 3.0, lambda: 2.0, rounds=3)
    >>> result.ratio, result.subject_ns, result.reference_ns
    (1.5, 3.0, 2.0)
    >>> loops_for(lambda: None, budget_ns=1) >= 1
    True
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Sampler = Callable[[], float]
"""One measurement of one cost, in nanoseconds."""

MAX_LOOPS = 200_000
DEFAULT_BUDGET_NS = 2_000_000  # ~2 ms of CPU per timed batch: well above clock resolution


@dataclass(frozen=True)
class Comparison:
    """Medians of both sides and the median of the per-round ratios."""

    subject_ns: float
    reference_ns: float
    ratio: float
    rounds: int


def compare(subject: Sampler, reference: Sampler, *, rounds: int = 15) -> Comparison:
    """Sample both alternately, ``rounds`` times; which goes first flips every round."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    subjects: list[float] = []
    references: list[float] = []
    for index in range(rounds):
        if index % 2:
            references.append(reference())
            subjects.append(subject())
        else:
            subjects.append(subject())
            references.append(reference())
    return paired(subjects, references)


def paired(subjects: Sequence[float], references: Sequence[float]) -> Comparison:
    """Medians of paired samples (round ``i`` of each side), and of their ratios.

    >>> paired([4.0, 6.0, 9.0], [2.0, 2.0, 3.0]).ratio
    3.0
    """
    ratios = [s / r for s, r in zip(subjects, references, strict=True) if r > 0]
    return Comparison(
        subject_ns=statistics.median(subjects),
        reference_ns=statistics.median(references),
        ratio=statistics.median(ratios) if ratios else float("inf"),
        rounds=len(subjects),
    )


def cpu_per_call_ns(fn: Callable[[], object], loops: int) -> float:
    """CPU time (this process, ns) per call of ``fn``, over ``loops`` calls."""
    start = time.process_time_ns()
    for _ in range(loops):
        fn()
    return (time.process_time_ns() - start) / loops


def loops_for(
    fn: Callable[[], object], *, budget_ns: int = DEFAULT_BUDGET_NS, limit: int = MAX_LOOPS
) -> int:
    """How many calls of ``fn`` fill about ``budget_ns`` of CPU (at least 1, at most ``limit``)."""
    loops = 1
    while loops < limit:
        spent = cpu_per_call_ns(fn, loops) * loops
        if spent >= budget_ns / 4:
            return max(1, min(limit, int(loops * budget_ns / max(spent, 1.0))))
        loops *= 4
    return limit


def cpu_sampler(fn: Callable[[], object], loops: int) -> Sampler:
    """A sampler timing ``loops`` calls of ``fn`` and returning the CPU ns per call."""
    return lambda: cpu_per_call_ns(fn, loops)


def compare_calls(
    subject: Callable[[], object],
    reference: Callable[[], object],
    *,
    rounds: int = 15,
    budget_ns: int = DEFAULT_BUDGET_NS,
) -> Comparison:
    """CPU per call of ``subject`` vs ``reference``, each batch about ``budget_ns`` long."""
    subject_loops = loops_for(subject, budget_ns=budget_ns)
    reference_loops = loops_for(reference, budget_ns=budget_ns)
    return compare(
        cpu_sampler(subject, subject_loops), cpu_sampler(reference, reference_loops), rounds=rounds
    )
