"""DynamoDB: scans that tolerate concurrent writes, and the table properties moto's CloudFormation ignores."""

from __future__ import annotations

import logging
from typing import Any

from .base import _patch

log = logging.getLogger("local.adapters")


def dynamodb_all_items(self: Any) -> list[Any]:
    items: list[Any] = []
    for hash_set in list(self.items.values()):
        if self.range_key_attr:
            items.extend(list(hash_set.values()))
        else:
            items.append(hash_set)
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def scan_tables_while_others_write() -> None:
    """Gap: moto's Table.all_items (behind every Scan) iterates the live item dict, so a Scan running while another
    thread deletes (parallel retention segments) fails with "dictionary changed size during iteration". DynamoDB
    serves parallel scans and writes at once; iterate over a snapshot (list() copies under the GIL).
    """
    from moto.dynamodb.models.table import Table

    _patch(Table, "all_items", dynamodb_all_items)


def apply_dynamodb_table_properties() -> None:
    """Gap: moto's CloudFormation ignores a table's ``TimeToLiveSpecification`` and
    ``PointInTimeRecoverySpecification``; apply both so DescribeTimeToLive/DescribeContinuousBackups match the
    template (moto never expires items by TTL: readers must still check expiry themselves, as on AWS).
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    original = Table.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        table = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = dynamodb_backends[account_id][region_name]
        if properties.get("TimeToLiveSpecification"):
            backend.update_time_to_live(table.name, properties["TimeToLiveSpecification"])
        recovery = properties.get("PointInTimeRecoverySpecification") or {}
        if recovery.get("PointInTimeRecoveryEnabled"):
            backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": True})
        return table

    _patch(Table, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
