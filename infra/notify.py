"""What makes notifications run on AWS: the stream's event source mapping, its dead-letter
queue, and the sweeper's schedule (the functions and roles are :mod:`infra.functions`).

**Stream → notify.** An event source mapping reads the table's stream (new images) and
invokes the ``notify`` alias with batches of the records that can notify
(:data:`STREAM_FILTERS`, evaluated by Lambda, so the other writes cost no invocation):

- an event item (``pk`` ``S#…``, ``sk`` ``E#…``): ``shipment.event_added``. Event items are
  only ever inserted (a conditional put, never updated; TTL and erasure remove them, and
  a removal has no new image), so "an event's new image" is "an event inserted". The
  filter does not test ``eventName``: Lambda documents DynamoDB filtering on the record's
  ``dynamodb`` key, and the handler skips anything but an INSERT of an event itself.
- a state item (``sk`` ``C#…``) carrying ``moved``: the write moved the status
  (``gateway/store/state.py`` sets it then and removes it on every other update):
  ``shipment.status_changed``.

Settings, and why:

- batch :data:`BATCH_SIZE` records, gathered for at most :data:`BATCHING_WINDOW_SECONDS`:
  a bulk push becomes few invocations (one Query of endpoints per tenant and batch), a
  lone change waits at most a second;
- ``bisect_batch_on_function_error``: the handler raises only on a storage failure, so a
  batch that keeps failing is halved until the record that fails is alone, and the
  others are notified;
- :data:`MAX_RETRIES` retries (enough for the halving to isolate one record of 100, plus
  a few real retries) and :data:`MAX_RECORD_AGE_SECONDS`: an hour of storage trouble is
  ridden out; past that, or past the retries, the batch's description goes to the
  dead-letter queue and the shard moves on (the records themselves stay readable in the
  stream for the rest of its 24 hours);
- on failure → the SQS dead-letter queue (SSE with SQS-managed keys, 14 days'
  retention; the mapping sends as the function's role, which may ``sqs:SendMessage`` to
  it and nothing else). The message holds the shard and the range of sequence numbers,
  not the records: how ops read them is in ``docs/runbook.md``; replay is a later issue;
- starting position **LATEST**: the mapping notifies what is written once it exists.
  TRIM_HORIZON would, on a first deployment or a re-created mapping, read up to 24 hours
  of older records at once: messages already stored are found again (their ids are
  derived), but endpoints registered since would be sent events from before they
  existed, and a busy table's day of records would be one burst of invocations, reads
  and failed conditional writes. Updates of the mapping (filters, batch settings,
  retries) are made in place and keep its position; only replacing it (a new stream)
  starts from the new stream's end, and a new stream has nothing older anyway.

**Schedule → sweeper.** An EventBridge rule (``rate(1 minute)``) with the ``sweeper`` alias
as its target and a Lambda permission for that rule only. Not EventBridge Scheduler: a
schedule there needs its own IAM role allowed to invoke the function, and its extras
(time zones, one-off schedules, flexible windows) buy nothing for a fixed rate; rule
schedules are free. EventBridge invokes asynchronously: Lambda's own retries of a failed
sweep are turned off (the next minute's sweep does the same work, and a retry would
overlap it), and an event older than a minute is dropped.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from gateway.store.keys import EVENT_PREFIX, STATE_PREFIX, shipment_pk
from gateway.store.state import MOVED
from infra.functions import ALIAS, Functions
from infra.settings import StackSettings
from infra.table import Table

BATCH_SIZE = 100
BATCHING_WINDOW_SECONDS = 1
MAX_RETRIES = 10
MAX_RECORD_AGE_SECONDS = 3600
DLQ_RETENTION_SECONDS = 14 * 86_400  # SQS's maximum
SWEEP_SCHEDULE = "rate(1 minute)"
SWEEP_MAX_EVENT_AGE_SECONDS = 60
SHIPMENT_PREFIX = shipment_pk("t", "n").split("#", 1)[0] + "#"


def _starts_with(prefix: str) -> dict[str, Any]:
    return {"S": [{"prefix": prefix}]}


STREAM_FILTERS: tuple[dict[str, Any], ...] = (
    {
        "dynamodb": {
            "NewImage": {"pk": _starts_with(SHIPMENT_PREFIX), "sk": _starts_with(EVENT_PREFIX)}
        }
    },
    {
        "dynamodb": {
            "NewImage": {
                "pk": _starts_with(SHIPMENT_PREFIX),
                "sk": _starts_with(STATE_PREFIX),
                MOVED: {"S": [{"exists": True}]},
            }
        }
    },
)
"""The records that can notify (Lambda passes a record matching any one filter)."""


class Notify(pulumi.ComponentResource):
    """The stream's event source mapping and dead-letter queue, and the sweep schedule."""

    dead_letter_queue: aws.sqs.Queue
    stream_mapping: aws.lambda_.EventSourceMapping
    sweep_rule: aws.cloudwatch.EventRule

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        table: Table,
        functions: Functions,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:Notify", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"waybill:stack": settings.stack}
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=settings.notify_dlq_name,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        self.stream_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-stream",
            event_source_arn=table.stream_arn,
            function_name=functions.notify.arn,
            starting_position="LATEST",
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=BATCHING_WINDOW_SECONDS,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=MAX_RETRIES,
            maximum_record_age_in_seconds=MAX_RECORD_AGE_SECONDS,
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=self.dead_letter_queue.arn
                )
            ),
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[
                    aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(
                        pattern=json.dumps(pattern, separators=(",", ":"))
                    )
                    for pattern in STREAM_FILTERS
                ]
            ),
            # Lambda checks at creation that the role can read the stream and send to the
            # queue: both must exist first
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[functions.role_policies["notify"], self.dead_letter_queue],
            ),
        )
        self.sweep_rule = self._schedule(name, settings, functions, tags)
        self.register_outputs(
            {
                "dead_letter_queue_url": self.dead_letter_queue.url,
                "stream_mapping_id": self.stream_mapping.uuid,
            }
        )

    def _schedule(
        self, name: str, settings: StackSettings, functions: Functions, tags: dict[str, str]
    ) -> aws.cloudwatch.EventRule:
        child = pulumi.ResourceOptions(parent=self)
        sweeper = functions.sweeper
        rule = aws.cloudwatch.EventRule(
            f"{name}-sweep",
            name=f"waybill-{settings.stack}-sweep",
            description=f"Waybill {settings.stack}: send the notification retries that are due",
            schedule_expression=SWEEP_SCHEDULE,
            tags=tags,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-sweep-invoke",
            action="lambda:InvokeFunction",
            function=sweeper.function_name,
            qualifier=sweeper.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-sweep-async",
            function_name=sweeper.function_name,
            qualifier=ALIAS,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=SWEEP_MAX_EVENT_AGE_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sweeper]),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-sweep-target",
            rule=rule.name,
            target_id="sweeper",
            arn=sweeper.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        return rule
