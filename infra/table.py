"""The DynamoDB table and the stack's customer-managed KMS key.

The schema comes from :mod:`gateway.store.table` (keys, attributes, TTL attribute, the
indexes of :data:`~gateway.store.table.INDEX_SPECS`: the status index ``gsi1`` and the
due index ``due`` of pending notification retries, and the stream of new images the
notifier reads), so the deployed table and the code cannot drift. The table is
on-demand, has point-in-time recovery, TTL on ``expires_at`` and is encrypted with the
stack's CMK. DynamoDB decrypts the table key *on behalf of the caller* (cached
about 5 minutes per principal), so every role that reads or writes the table needs
``kms:Decrypt`` on this key (granted in :mod:`infra.roles`, only via DynamoDB and
Secrets Manager). The same key wraps the data key that seals the notification endpoints'
signing secrets (``gateway/notify/sealing.py``): the roles that seal or open them call
KMS directly, only with that data key's encryption context. In prod the table has
deletion protection and is ``protect``-ed.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from gateway.store.table import ATTRIBUTES, INDEX_SPECS, KEY_SCHEMA, STREAM_SPEC, TTL_ATTRIBUTE
from infra.settings import StackSettings

KEY_DELETION_WINDOW_DAYS = 30


def _key(schema: list[dict[str, str]], key_type: str) -> str:
    return next(k["AttributeName"] for k in schema if k["KeyType"] == key_type)


def index_args(spec: dict[str, Any]) -> aws.dynamodb.TableGlobalSecondaryIndexArgs:
    """A pulumi-aws GSI from a boto3 ``GlobalSecondaryIndexes`` entry (``key_schemas``)."""
    projection = spec["Projection"]
    return aws.dynamodb.TableGlobalSecondaryIndexArgs(
        name=spec["IndexName"],
        key_schemas=[
            aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                attribute_name=k["AttributeName"], key_type=k["KeyType"]
            )
            for k in spec["KeySchema"]
        ],
        projection_type=projection["ProjectionType"],
        non_key_attributes=projection.get("NonKeyAttributes"),
    )


class Table(pulumi.ComponentResource):
    """The single table of the stack, encrypted with the stack's CMK (``kms_key``).

    ``stream_arn`` is its stream's (new images only: the notifier needs what an item
    became, never what it was, and a smaller record costs less to read).
    """

    table: aws.dynamodb.Table
    kms_key: aws.kms.Key
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    stream_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("waybill:infra:Table", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.kms_key = aws.kms.Key(
            f"{name}-key",
            description=f"Waybill {settings.stack}: table, partner and endpoint secrets",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/waybill-{settings.stack}",
            target_key_id=self.kms_key.key_id,
            opts=child,
        )
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=f"waybill-{settings.stack}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=_key(KEY_SCHEMA, "HASH"),
            range_key=_key(KEY_SCHEMA, "RANGE"),
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=a["AttributeName"], type=a["AttributeType"])
                for a in ATTRIBUTES
            ],
            global_secondary_indexes=[index_args(spec) for spec in INDEX_SPECS],
            stream_enabled=bool(STREAM_SPEC["StreamEnabled"]),
            stream_view_type=str(STREAM_SPEC["StreamViewType"]),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.kms_key.arn
            ),
            deletion_protection_enabled=settings.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect),
        )
        self.name = self.table.name
        self.arn = self.table.arn
        self.stream_arn = self.table.stream_arn
        self.register_outputs(
            {
                "name": self.name,
                "arn": self.arn,
                "stream_arn": self.stream_arn,
                "kms_key_arn": self.kms_key.arn,
            }
        )
