"""Table policies: the schema is the code's, the data is recoverable, encrypted and kept."""

from __future__ import annotations

from typing import Any

import pulumi

from gateway.store.index import INDEX_SPEC
from gateway.store.table import TTL_ATTRIBUTE
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
def test_the_status_index_is_the_one_the_code_queries() -> Any:
    table = Table("t", StackSettings.for_stack("dev"))

    def check(_: Any) -> None:
        inputs = one(TABLE).inputs
        (index,) = inputs["globalSecondaryIndexes"]
        assert index["name"] == INDEX_SPEC["IndexName"]
        assert index["projectionType"] == INDEX_SPEC["Projection"]["ProjectionType"]
        assert "hashKey" not in index and "rangeKey" not in index  # deprecated in aws 7
        keys = [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]]
        assert keys == [(k["AttributeName"], k["KeyType"]) for k in INDEX_SPEC["KeySchema"]]
        declared = {a["name"]: a["type"] for a in inputs["attributes"]}
        assert all(declared[name] == "S" for name, _ in keys)

    return table.arn.apply(check)


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
