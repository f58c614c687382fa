"""Table policies: the schema is the code's, the data is recoverable, encrypted and kept."""

from __future__ import annotations

from typing import Any

import pulumi

from gateway.store.due_index import DUE_INDEX_SPEC
from gateway.store.index import INDEX_SPEC
from gateway.store.table import STREAM_SPEC, TTL_ATTRIBUTE
from infra.settings import StackSettings
from infra.table import Table
from tests.infra.helpers import one

TABLE = "aws:dynamodb/table:Table"
KEY = "aws:kms/key:Key"


@pulumi.runtime.test
def test_table_is_on_demand_recoverable_and_expires_items() -> Any:
    table = Table("t", StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        inputs = one(TABLE).inputs
        assert inputs["billingMode"] == "PAY_PER_REQUEST"
        assert inputs["pointInTimeRecovery"] == {"enabled": True}
        assert inputs["ttl"] == {"attributeName": TTL_ATTRIBUTE, "enabled": True}
        assert (inputs["hashKey"], inputs["rangeKey"]) == ("pk", "sk")

    return table.arn.apply(check)


@pulumi.runtime.test
def test_the_indexes_are_the_ones_the_code_queries() -> Any:
    table = Table("t", StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        inputs = one(TABLE).inputs
        indexes = {i["name"]: i for i in inputs["globalSecondaryIndexes"]}
        assert list(indexes) == [INDEX_SPEC["IndexName"], DUE_INDEX_SPEC["IndexName"]]
        declared = {a["name"]: a["type"] for a in inputs["attributes"]}
        for spec in (INDEX_SPEC, DUE_INDEX_SPEC):
            index = indexes[spec["IndexName"]]
            assert index["projectionType"] == spec["Projection"]["ProjectionType"]
            assert "hashKey" not in index and "rangeKey" not in index  # deprecated in aws 7
            keys = [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]]
            assert keys == [(k["AttributeName"], k["KeyType"]) for k in spec["KeySchema"]]
            assert all(declared[name] == "S" for name, _ in keys)
        due = indexes["due"]
        assert [k["attributeName"] for k in due["keySchemas"]] == ["due_pk", "due_sk"]
        assert due["projectionType"] == "KEYS_ONLY"  # the sweeper reads the messages by key

    return table.arn.apply(check)


@pulumi.runtime.test
def test_the_stream_carries_new_images_for_the_notifier() -> Any:
    table = Table("t", StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        inputs = one(TABLE).inputs
        assert (inputs["streamEnabled"], inputs["streamViewType"]) == (
            STREAM_SPEC["StreamEnabled"],
            STREAM_SPEC["StreamViewType"],
        )
        assert STREAM_SPEC["StreamViewType"] == "NEW_IMAGE"  # what the filters read

    return pulumi.Output.all(table.arn, table.stream_arn).apply(check)


@pulumi.runtime.test
def test_the_table_is_encrypted_with_the_rotating_customer_managed_key() -> Any:
    table = Table("t", StackSettings.for_stack("dev"))

    def check(arns: list[str]) -> None:
        key_arn = arns[0]
        sse = one(TABLE).inputs["serverSideEncryption"]
        assert sse == {"enabled": True, "kmsKeyArn": key_arn}
        key = one(KEY).inputs
        assert key["enableKeyRotation"] is True
        assert key["deletionWindowInDays"] == 30
        assert one("aws:kms/alias:Alias").inputs["name"] == "alias/waybill-dev"

    return pulumi.Output.all(table.kms_key.arn, table.arn).apply(check)


@pulumi.runtime.test
def test_prod_table_is_protected_twice() -> Any:
    table = Table("t", StackSettings.for_stack("prod"))

    def check(_: Any) -> None:
        assert one(TABLE).inputs["deletionProtectionEnabled"] is True
        assert table.table._protect is True  # pulumi refuses to delete it
        assert table.kms_key._protect is True

    return table.arn.apply(check)


@pulumi.runtime.test
def test_dev_table_can_be_deleted() -> Any:
    table = Table("t", StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        assert one(TABLE).inputs["deletionProtectionEnabled"] is False
        assert not table.table._protect

    return table.arn.apply(check)
