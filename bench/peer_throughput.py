"""Served throughput and p50/p99 of Waybill, a naive peer and a bare ceiling, in one run.

Three servers on loopback, one DynamoDB Local: ``waybill serve --in-memory``
(:class:`bench.served.ServedGateway`, tenant ``bench`` on an unthrottled tier), the naive
peer and the ceiling of :mod:`bench.naive_peer` (each its own ``uvicorn`` process, the
peer writing into its own table of the gateway's DynamoDB Local). Keep-alive ``httpx``
clients (:func:`bench.load.run_load`, closed loop) send the same signed EasyPost bodies
(:mod:`bench.peer_bodies`) to the three, at 1 and 8 clients, for three kinds:

* ``new single-event``: each body a new shipment with one tracking detail;
* ``duplicate``: those same bodies again (carrier retries);
* ``full-history 9+1``: per shipment, a seed of 9 details (sent to the peer and the
  gateway, not timed), then the timed resend of those 9 plus one new detail.

Interleaving: ``ROUNDS`` rounds; in each, both concurrencies (1 then 8, reversed in odd
rounds); in each, the three kinds in order; for each kind, the three servers one after
the other (ceiling, peer, gateway; reversed in odd rounds), so linear drift cancels.
Phases end at their count (``REQUESTS`` new bodies, ``HISTORIES`` resends) or at their
time bound within ``BUDGET_S``. Every answer is checked (the peer stored every detail;
the gateway accepted the new event, or saw the retry); a wrong answer counts as an error
in the row's note.

Rows per (kind, clients): req/s, p50 and p99 ms of each server, and gateway/peer
throughput with a floor (higher is better) for new single events and resends.

Run: ``.venv/bin/python -m bench.peer_throughput [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from bench.load import Call, LoadResult, MakeWorker, percentile, run_load
from bench.peer_bodies import Delivery, histories, single_events
from bench.report import Measure, print_rows
from bench.served import ServedGateway
from bench.uvicorn_app import UvicornApp

SECTION = "served_vs_peer"
TENANT = "bench"
PATH = f"/webhooks/{TENANT}/easypost"
PEER_TABLE = "waybill-bench-peer"
TARGETS = ("ceiling", "peer", "gateway")
KINDS = ("new single-event", "duplicate", "full-history 9+1")
SEED = "seed"  # the 9-detail body a full-history resend follows (not timed)
DETAILS = {KINDS[0]: 1, KINDS[1]: 1, KINDS[2]: 10, SEED: 9}  # per body: what the peer stores
ACCEPTED = {KINDS[0]: (1, 0), KINDS[2]: (1, 9), SEED: (9, 0)}  # the gateway's (new, duplicates)
FLOORS = {KINDS[0]: 0.6, KINDS[2]: 1.5}  # gateway/peer throughput, at every concurrency
CONCURRENCY = (1, 8)
ROUNDS = 2
REQUESTS, QUICK_REQUESTS = 300, 4  # new single-event bodies per phase (and duplicates)
HISTORIES, QUICK_HISTORIES = 150, 2  # shipments seeded, then resent, per phase
WARMUP = 40, 20  # new single-event bodies, histories (one round at 1 client, not timed)
BUDGET_S = 65.0  # the bound of every timed phase and seeding; setup and warm-up ~15 s more
FAIR = 3.0  # a phase may take up to 3x its even share of the time left
SLOTS = len(CONCURRENCY) * ROUNDS * (len(KINDS) * len(TARGETS) + 2)  # +2: seeding

Check = Callable[[httpx.Response], None]
Results = dict[tuple[str, int, str], LoadResult]


def _check(target: str, kind: str) -> Check:
    """Raise unless ``target`` answered what ``kind`` must get."""

    def check(reply: httpx.Response) -> None:
        ok = reply.status_code == 200
        if ok and target == "peer":
            ok = reply.json()["stored"] == DETAILS[kind]
        elif ok and target == "gateway":
            got = reply.json()
            if kind == KINDS[1]:
                ok = got["duplicate_delivery"] is True
            else:
                ok = (got["accepted"], got["duplicates"]) == ACCEPTED[kind]
        if not ok:
            raise RuntimeError(f"{target} {kind}: {reply.status_code} {reply.text[:120]}")

    return check


def _worker(url: str, deliveries: Sequence[Delivery], check: Check) -> MakeWorker:
    @contextmanager
    def make() -> Iterator[Call]:
        with httpx.Client(base_url=url, timeout=10.0) as client:

            def call(index: int) -> None:
                body, headers = deliveries[index]
                check(client.post(PATH, content=body, headers=headers))

            yield call

    return make


class _Runner:
    """The servers' URLs and the time budget, shared out over the slots left."""

    def __init__(self, urls: dict[str, str], secret: str, budget: float, tag: str = "") -> None:
        self.urls, self.secret, self.tag = urls, secret, tag
        self.deadline, self.slots = time.monotonic() + budget, SLOTS
        self.results: Results = {}

    def share(self) -> float:
        """This slot's time bound: ``FAIR`` times an even share of what is left (>= 0.5 s).

        Phases normally end at their count, well within it; the bound keeps a slow run
        within about ``BUDGET_S``, and what cheap phases leave goes to later ones.
        """
        share = (self.deadline - time.monotonic()) * min(1.0, FAIR / max(1, self.slots))
        self.slots -= 1
        return max(0.5, share)

    def load(self, target: str, deliveries: Sequence[Delivery], check: Check, workers: int,
             timeout: float) -> LoadResult:  # fmt: skip
        make = _worker(self.urls[target], deliveries, check)
        return run_load(make, count=len(deliveries), workers=workers, timeout=timeout)

    def kind(self, kind: str, workers: int, order: Sequence[str], bodies: list[Delivery]) -> int:
        """One timed phase per server; how many bodies every server was sent."""
        sent = len(bodies)
        for target in order:
            result = self.load(target, bodies, _check(target, kind), workers, self.share())
            self.results.setdefault((kind, workers, target), LoadResult()).merge(result)
            sent = min(sent, result.attempted) if target != "ceiling" else sent
        return sent

    def seed(self, seeds: list[Delivery]) -> int:
        """Send the 9-detail seeds to the peer and the gateway (8 clients, not timed)."""
        seeded = len(seeds)
        for target in ("peer", "gateway"):
            result = self.load(target, seeds, _check(target, SEED), 8, self.share())
            if result.errors:
                raise RuntimeError(f"seeding the {target} failed: {result.first_error}")
            seeded = min(seeded, result.attempted)
        return seeded

    def round(self, workers: int, round_: int, counts: tuple[int, int]) -> None:
        """The three kinds, each on the three servers (order reversed in odd rounds)."""
        order = TARGETS if round_ % 2 == 0 else TARGETS[::-1]
        tag = f"{self.tag}{workers}R{round_}"  # tracking codes unique to the phase
        new = single_events(self.secret, tag + "N", counts[0])
        sent = self.kind(KINDS[0], workers, order, new)
        self.kind(KINDS[1], workers, order, new[:sent])
        seeds, resends = histories(self.secret, tag + "H", counts[1])
        self.kind(KINDS[2], workers, order, resends[: self.seed(seeds)])


def measure(quick: bool = False) -> list[Measure]:
    """Start the three servers, warm them up, run every round; one row per figure."""
    counts = (QUICK_REQUESTS, QUICK_HISTORIES) if quick else (REQUESTS, HISTORIES)
    with TemporaryDirectory(prefix="waybill-bench-peer-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        served = stack.enter_context(ServedGateway(root / "gateway", TENANT))
        env = {"PEER_ENDPOINT": served.endpoint, "PEER_TABLE": PEER_TABLE}
        env["PEER_SECRET"] = served.secret
        urls = {"gateway": served.url}
        for name, app in (("peer", "app"), ("ceiling", "ceiling")):
            server = UvicornApp(f"bench.naive_peer:{app}", root / f"{name}.log", env)
            urls[name] = stack.enter_context(server).url
        warm = _Runner(urls, served.secret, budget=SLOTS * 10.0, tag="W")
        warm.round(1, 0, counts if quick else WARMUP)
        runner = _Runner(urls, served.secret, budget=BUDGET_S)
        for round_ in range(ROUNDS):
            for workers in CONCURRENCY if round_ % 2 == 0 else CONCURRENCY[::-1]:
                runner.round(workers, round_, counts)
    return _rows(runner.results)


def _rows(results: Results) -> list[Measure]:
    """req/s, p50 and p99 of each server, and gateway/peer throughput, per kind and clients."""
    rows: list[Measure] = []
    for workers in CONCURRENCY:
        for kind in KINDS:
            name = f"{kind} c={workers}"
            for target in TARGETS:
                got = results[(kind, workers, target)]
                note = f"n={got.completed}, err={got.errors} {got.first_error}".rstrip()
                rows.append(Measure(SECTION, f"{name} {target}", round(got.throughput, 1),
                                    "req/s", note=note))  # fmt: skip
                for q in (50, 99):
                    ms = round(percentile(got.latencies, q) * 1000, 3)
                    rows.append(Measure(SECTION, f"{name} {target} p{q}", ms, "ms"))
            peer, gateway = (results[(kind, workers, t)].throughput for t in ("peer", "gateway"))
            ratio = round(gateway / peer, 3) if peer else 0.0
            floor = FLOORS.get(kind)
            rows.append(Measure(SECTION, f"{name} gateway/peer req/s", ratio, "x", floor=floor))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print the rows (``--quick``: a few requests per phase, a smoke run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke run)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    print_rows(measure(quick=args.quick))
    print(f"({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
