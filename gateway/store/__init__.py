"""DynamoDB storage: one table, access patterns first, every write's cost counted."""

from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore, RecordResult
from gateway.store.table import ensure_table

__all__ = ["CapacityMeter", "DynamoStore", "RecordResult", "ensure_table"]
