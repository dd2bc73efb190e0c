"""DynamoDB connector: find a subject's items by the table key or a GSI, then delete or anonymise them.

Anonymised items are marked with ``privacy_anonymised_at`` so a retried or repeated erasure skips them.
"""

from __future__ import annotations

import random
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from ..datamap import MaskStrategy, Store, StoreKind
from .base import (
    EraseResult,
    FindResult,
    KeyDigester,
    KeyedHasher,
    StoreMisconfigured,
    StoreThrottled,
    Subject,
    canonical_json,
    identifier_value,
)
from .errors import error_code, mapped_errors

ANONYMISED_AT = "privacy_anonymised_at"
BATCH_WRITE_LIMIT = 25  # BatchWriteItem accepts at most 25 requests per call
# Masks that replace a value rather than set one: applied only where the item has the attribute.
_ONLY_IF_PRESENT = frozenset({MaskStrategy.KEYED_HASH, MaskStrategy.RANDOM})

Item = dict[str, Any]  # an item in DynamoDB's wire format ({"attr": {"S": "..."}})
_deserializer = TypeDeserializer()


def plain_text(value: dict[str, Any]) -> str:
    """An attribute value as text (numbers without their wire-format wrapper), for hashing and identifiers."""
    return str(_deserializer.deserialize(value))


def query_items(
    client: Any, store_name: str, store: Store, value: str, attributes: Iterable[str], *, page_size: int | None = None
) -> Iterator[Item]:
    """Every item whose lookup attribute equals ``value``, projected to ``attributes``, across all pages.

    ``value`` must already be validated against its identifier pattern.
    """
    lookup = store.lookup
    names = {"#k": lookup.key_attribute}
    names.update({f"#p{i}": attribute for i, attribute in enumerate(sorted(set(attributes)))})
    params: dict[str, Any] = {
        "TableName": store.resource,
        "KeyConditionExpression": "#k = :v",
        "ProjectionExpression": ", ".join(n for n in names if n.startswith("#p")),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    if lookup.index:
        params["IndexName"] = lookup.index
    else:
        params["ConsistentRead"] = True  # the re-check right after an erase must see the erase
    if page_size:
        params["Limit"] = page_size
    while True:
        with mapped_errors(store_name, store.resource, "Query"):
            page = client.query(**params)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoDBConnector:
    """Finds and erases one subject's items in one table, as the data map's lookup and erasure say."""

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        keyed_hash: KeyedHasher,
        identifier_pattern: re.Pattern[str] | str,
        *,
        page_size: int | None = None,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if store.kind is not StoreKind.DYNAMODB or store.table is None:
            raise StoreMisconfigured(f"store {store_name} is not a dynamodb store with a table key schema")
        self._name, self._store, self._client = store_name, store, client
        self._digest, self._keyed_hash = digest, keyed_hash
        self._pattern = re.compile(identifier_pattern)  # a compiled pattern passes through unchanged
        self._key_attributes = [a for a in (store.table.partition_key, store.table.sort_key) if a]
        self._page_size = page_size
        self._max_attempts, self._base_delay, self._max_delay, self._sleep = max_attempts, base_delay, max_delay, sleep

    # --- Connector protocol ---------------------------------------------------------------------

    def find(self, subject: Subject) -> FindResult:
        items = self._items(subject)
        personal = len(items)
        if self._store.erasure.mode == "anonymise":
            personal = sum(1 for item in items if ANONYMISED_AT not in item)
        return FindResult(found=len(items), personal=personal, key_digests=[self._key_digest(i) for i in items])

    def erase(self, subject: Subject) -> EraseResult:
        items = self._items(subject)
        erasure = self._store.erasure
        if erasure.mode == "delete":
            keys = [self._key(item) for item in items]
            for start in range(0, len(keys), BATCH_WRITE_LIMIT):
                self._delete_batch(keys[start : start + BATCH_WRITE_LIMIT])
            return EraseResult(found=len(items), deleted=len(items), key_digests=[self._key_digest(i) for i in items])
        exceptions = [erasure.reason] if items and erasure.reason else []
        if erasure.mode == "anonymise":
            done = [item for item in items if ANONYMISED_AT not in item and self._anonymise(item)]
            return EraseResult(
                found=len(items),
                anonymised=len(done),
                kept=len(items),
                key_digests=[self._key_digest(i) for i in done],
                exceptions=exceptions,
            )
        return EraseResult(found=len(items), kept=len(items), exceptions=exceptions)  # skip: kept as they are

    # --- internals ------------------------------------------------------------------------------

    def _items(self, subject: Subject) -> list[Item]:
        value = identifier_value(subject, self._store.lookup.identifier, self._pattern)
        if value is None:
            return []  # the subject has no such identifier (e.g. never became a customer)
        attributes = set(self._key_attributes)
        if self._store.erasure.mode == "anonymise":
            # The marker makes erasure idempotent; hashed or randomised values are only replaced where present.
            attributes.add(ANONYMISED_AT)
            attributes.update(a for a, m in self._store.erasure.attributes.items() if m.strategy in _ONLY_IF_PRESENT)
        items = list(query_items(self._client, self._name, self._store, value, attributes, page_size=self._page_size))
        for item in items:
            missing = [a for a in self._key_attributes if a not in item]
            if missing:
                raise StoreMisconfigured(
                    f"store {self._name} ({self._store.resource}): items lack key attributes {missing} "
                    "named in the data map"
                )
        return items

    def _key(self, item: Item) -> Item:
        # Always the base table's key, also when the items were found through a GSI.
        return {a: item[a] for a in self._key_attributes}

    def _key_digest(self, item: Item) -> str:
        # Digest of the key in wire format, so "1" (string) and 1 (number) stay distinct.
        return self._digest(canonical_json(self._key(item)))

    def _delete_batch(self, keys: list[Item]) -> None:
        """Delete up to 25 items, retrying UnprocessedItems with capped exponential backoff and full jitter."""
        requests = [{"DeleteRequest": {"Key": key}} for key in keys]
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt)))
            with mapped_errors(self._name, self._store.resource, "BatchWriteItem"):
                response = self._client.batch_write_item(RequestItems={self._store.resource: requests})
            requests = response.get("UnprocessedItems", {}).get(self._store.resource, [])
            if not requests:
                return
        raise StoreThrottled(
            f"store {self._name} ({self._store.resource}): {len(requests)} deletes still unprocessed "
            f"after {self._max_attempts} BatchWriteItem attempts"
        )

    def _anonymise(self, item: Item) -> bool:
        """Mask one item in place (there is no batch update); False if it vanished or was masked meanwhile."""
        names = {"#m": ANONYMISED_AT, "#pk": self._key_attributes[0]}
        values: dict[str, Any] = {":now": {"S": datetime.now(UTC).isoformat(timespec="seconds")}}
        sets, removes = ["#m = :now"], []
        for i, (attribute, mask) in enumerate(self._store.erasure.attributes.items()):
            if mask.strategy in _ONLY_IF_PRESENT and attribute not in item:
                continue
            names[f"#a{i}"] = attribute
            if mask.strategy is MaskStrategy.NULL:
                removes.append(f"#a{i}")
                continue
            if mask.strategy is MaskStrategy.FIXED:
                replacement = mask.value or ""
            elif mask.strategy is MaskStrategy.KEYED_HASH:
                replacement = self._keyed_hash(plain_text(item[attribute]))
            else:
                replacement = secrets.token_hex(16)
            sets.append(f"#a{i} = :v{i}")
            values[f":v{i}"] = {"S": replacement}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        with mapped_errors(self._name, self._store.resource, "UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._store.resource,
                    Key=self._key(item),
                    UpdateExpression=expression,
                    # attribute_exists: UpdateItem would otherwise recreate an item deleted since the query.
                    ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(#m)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True
