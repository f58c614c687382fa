"""The local stream reader and sweeper: what AWS runs as the stream Lambda and a schedule.

:class:`StreamReader` reads DynamoDB Local's stream of the table shard by shard (parents
before children, as the stream orders them) and hands each batch of records to the same
handler the AWS stream Lambda runs (:meth:`Notifications.handle_stream`). A batch whose
handler fails is read again from the last checkpoint after a pause, like the event
source mapping's retry. Checkpoints (the last sequence number handled per shard) are kept
in ``<state_dir>/stream.json``, so a restart resumes where the last run stopped; a stream
never read before is read from its oldest record (records already notified find their
messages and are not sent again).

:class:`Background` runs the reader and the sweeper on two daemon threads until stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("waybill.local")

CHECKPOINT_FILE = "stream.json"
BATCH = 100
IDLE_PAUSE = 0.1  # seconds between polls of an idle stream
FAILURE_PAUSE = 2.0  # seconds before a failed batch is read again
LIST_EVERY = 1.0
"""Seconds the stream's shard list is kept between polls: a busy stream is polled back to
back, and describing the table and the stream on every poll loaded DynamoDB Local for
every request (``python -m bench.e2e_latency``: new-event POST p50 13.0 to 13.8 ms with it,
9.7 to 10.0 ms without). A shard that closes, or a new one, is seen within this."""
Handler = Callable[[list[Mapping[str, Any]]], object]


class StreamReader:
    """Reads one table's stream and hands its records to ``handle``."""

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table: str,
        handle: Handler,
        state_dir: Path | None = None,
    ) -> None:
        self.dynamodb, self.streams, self.table, self.handle = dynamodb, streams, table, handle
        self.path = None if state_dir is None else Path(state_dir) / CHECKPOINT_FILE
        self.checkpoints: dict[str, str] = self._load()
        self.iterators: dict[str, str | None] = {}
        self.closed: set[str] = set()
        self._listed: tuple[float, str, list[dict[str, Any]]] | None = None

    def _load(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def _save(self) -> None:
        if self.path is not None:
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.checkpoints))
            temporary.replace(self.path)

    def poll(self) -> int:
        """Read every open shard once; the number of records handled."""
        now = time.monotonic()
        if self._listed is None or now - self._listed[0] >= LIST_EVERY:
            table = self.dynamodb.describe_table(TableName=self.table)["Table"]
            arn = table.get("LatestStreamArn")
            if not arn:
                return 0
            self._listed = (now, arn, self._shards(arn))
        _, arn, shards = self._listed
        handled = 0
        for shard in shards:
            if shard["ShardId"] not in self.closed:
                handled += self._read(arn, shard)
        return handled

    def _all_shards(self, arn: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            shards += description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def _shards(self, arn: str) -> list[dict[str, Any]]:
        shards = self._all_shards(arn)
        known = {s["ShardId"] for s in shards}
        ready = []
        for shard in shards:  # a child waits until its parent is read to its end
            parent = shard.get("ParentShardId")
            if shard["ShardId"] in self.closed:
                continue
            if parent in known and parent not in self.closed:
                continue
            ready.append(shard)
        return ready

    def _iterator(self, arn: str, shard: str) -> str | None:
        if self.iterators.get(shard):
            return self.iterators[shard]
        request: dict[str, Any] = {"StreamArn": arn, "ShardId": shard}
        if shard in self.checkpoints:
            request |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": self.checkpoints[shard],
            }
        else:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        iterator: str | None = self.streams.get_shard_iterator(**request).get("ShardIterator")
        return iterator

    def _read(self, arn: str, shard: dict[str, Any]) -> int:
        shard_id = shard["ShardId"]
        iterator = self._iterator(arn, shard_id)
        if iterator is None:
            self.closed.add(shard_id)
            return 0
        try:
            answer = self.streams.get_records(ShardIterator=iterator, Limit=BATCH)
        except self.streams.exceptions.ExpiredIteratorException:
            self.iterators[shard_id] = None
            return 0
        records = answer.get("Records", [])
        if records:
            self.handle(records)  # raises: the iterator is not advanced, the batch is read again
            self.checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            self._save()
        self.iterators[shard_id] = answer.get("NextShardIterator")
        if self.iterators[shard_id] is None:
            self.closed.add(shard_id)
        return len(records)

    def skip_to_latest(self) -> None:
        """Read only what is written from now on (``waybill tail``): every shard open now
        starts after its newest record; shards opened later are read from their start."""
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"].get("LatestStreamArn")
        if not arn:
            return
        for shard in self._all_shards(arn):
            shard_id = shard["ShardId"]
            if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"):
                self.closed.add(shard_id)  # closed before we started: nothing new in it
                continue
            request = {"StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "LATEST"}
            self.iterators[shard_id] = self.streams.get_shard_iterator(**request)["ShardIterator"]

    def forget_iterators(self) -> None:
        """After a failed batch: read again from the checkpoints."""
        self.iterators.clear()


@dataclass(frozen=True)
class Periodic:
    """A job run every ``every`` seconds on its own thread (the sweeper, the poller)."""

    name: str
    run: Callable[[], int]
    every: float


class Background:
    """The stream reader and the periodic jobs, each on a daemon thread, until :meth:`stop`."""

    def __init__(self, reader: StreamReader, jobs: Sequence[Periodic]) -> None:
        self.reader, self.jobs = reader, list(jobs)
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._read_stream, name="waybill-stream", daemon=True),
            *(
                threading.Thread(target=self._repeat, args=(job,), name=job.name, daemon=True)
                for job in self.jobs
            ),
        ]

    def start(self) -> None:
        """Start every thread."""
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Ask every thread to stop and wait for it (an attempt in flight may take 15 s)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)

    def _read_stream(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = self.reader.poll()
            except Exception:
                log.exception("stream batch failed; reading it again")
                self.reader.forget_iterators()
                self.stopping.wait(FAILURE_PAUSE)
                continue
            if not handled:
                self.stopping.wait(IDLE_PAUSE)

    def _repeat(self, job: Periodic) -> None:
        while not self.stopping.wait(job.every):
            try:
                job.run()
            except Exception:
                log.exception("%s failed; trying again at the next tick", job.name)
