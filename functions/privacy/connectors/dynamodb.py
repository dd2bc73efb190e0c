"""DynamoDB connector: find a subject's items by the table key or a GSI; export, erase, rectify or restrict them.

Anonymised items are marked with ``privacy_anonymised_at`` so a retried or repeated erasure skips them.
Restricted items carry the data map's ``restriction_marker`` (an ISO timestamp) for processing systems to read.
"""

from __future__ import annotations

import base64
import itertools
import random
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from functions.privacy.connectors.base import (
    ChangeResult,
    EraseResult,
    ExportResult,
    ExportSink,
    FindResult,
    KeyDigester,
    KeyedHasher,
    StoreConnector,
    StoreMisconfigured,
    StoreThrottled,
    Subject,
    canonical_json,
)
from functions.privacy.connectors.corrections import store_corrections
from functions.privacy.connectors.errors import error_code, mapped_errors
from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc
from functions.privacy.datamap.model import MaskStrategy, Normalisation, Store, StoreKind

ANONYMISED_AT = "privacy_anonymised_at"
BATCH_WRITE_LIMIT = 25  # BatchWriteItem accepts at most 25 requests per call
BATCH_GET_LIMIT = 100  # BatchGetItem accepts at most 100 keys per call
# Masks that replace a value rather than set one: applied only where the item has the attribute.
_ONLY_IF_PRESENT = frozenset({MaskStrategy.KEYED_HASH, MaskStrategy.RANDOM})

Item = dict[str, Any]  # an item in DynamoDB's wire format ({"attr": {"S": "..."}})
_deserializer = TypeDeserializer()
_serializer = TypeSerializer()


def plain_text(value: dict[str, Any]) -> str:
    """An attribute value as text (numbers without their wire-format wrapper), for hashing and identifiers."""
    return str(_deserializer.deserialize(value))


def plain_json(value: Any) -> Any:
    """A deserialized DynamoDB value as plain JSON: integral numbers as ints, sets as sorted lists, binary as base64."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)  # never lose digits silently
    if isinstance(value, Binary | bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain_json(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value


def plain_item(item: Item) -> dict[str, Any]:
    return {name: plain_json(_deserializer.deserialize(value)) for name, value in sorted(item.items())}


def _projection(attributes: Iterable[str] | None) -> tuple[dict[str, str], str | None]:
    """Expression names and the ProjectionExpression for ``attributes`` (None: whole items)."""
    if attributes is None:
        return {}, None
    names = {f"#p{i}": attribute for i, attribute in enumerate(sorted(set(attributes)))}
    return names, ", ".join(names)


def query_items(
    client: Any,
    store_name: str,
    store: Store,
    value: str,
    attributes: Iterable[str] | None,
    *,
    page_size: int | None = None,
) -> Iterator[Item]:
    """Every item whose lookup attribute equals ``value``, projected to ``attributes``, across all pages.

    ``value`` must already be validated against its identifier pattern; ``attributes=None`` returns whole items.
    """
    lookup = store.lookup
    projected, projection = _projection(attributes)
    params: dict[str, Any] = {
        "TableName": store.resource,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": lookup.key_attribute, **projected},
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    if projection:
        params["ProjectionExpression"] = projection
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


class DynamoDBConnector(StoreConnector):
    """One subject's items in one table: find, export, erase, rectify and restrict, as the data map says."""

    kind = StoreKind.DYNAMODB

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        keyed_hash: KeyedHasher,
        identifier_pattern: re.Pattern[str] | str,
        *,
        normalisation: Normalisation = "exact",
        page_size: int | None = None,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(store_name, store, client, digest, identifier_pattern, normalisation)
        assert store.table is not None  # checked by _misconfiguration
        self._keyed_hash = keyed_hash
        self._key_attributes = [a for a in (store.table.partition_key, store.table.sort_key) if a]
        self._page_size = page_size
        self._max_attempts, self._base_delay, self._max_delay, self._sleep = max_attempts, base_delay, max_delay, sleep

    def _misconfiguration(self, store: Store) -> str | None:
        return None if store.table is not None else "dynamodb stores need a table key schema"

    # --- Connector protocol ---------------------------------------------------------------------

    def find(self, subject: Subject) -> FindResult:
        items = self._items(subject)
        personal = len(items)
        if self._store.erasure.mode == "anonymise":
            personal = sum(1 for item in items if ANONYMISED_AT not in item)
        return FindResult(found=len(items), personal=personal, key_digests=[self._key_digest(i) for i in items])

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        """Stream the subject's whole items, as plain JSON, into the sink (one item in memory at a time)."""
        digests: list[str] = []

        def records() -> Iterator[dict[str, Any]]:
            for item in self._full_items(subject, None):
                digests.append(self._key_digest(item))
                yield plain_item(item)

        stream = records()
        first = next(stream, None)
        if first is None:
            return ExportResult()  # nothing here: no empty part in the archive
        path, count, size = sink.write_records(self._name, itertools.chain([first], stream))
        return ExportResult(records=count, bytes=size, files=[path], key_digests=digests)

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

    def rectify(self, subject: Subject, corrections: Mapping[str, Any]) -> ChangeResult:
        """Set the corrected attributes this store allows on each of the subject's items.

        Every correction is checked before the first write. There is no batch update in DynamoDB
        (BatchWriteItem only puts whole items, which would race with other writers), so one conditional
        UpdateItem per item that differs; items already holding the values are left alone.
        """
        mine = store_corrections(self._store, corrections)
        if not mine:
            return self.not_applicable()
        wanted = {name: _serializer.serialize(value) for name, value in mine.items()}
        names = {f"#a{i}": name for i, name in enumerate(wanted)}
        values = {f":v{i}": value for i, value in enumerate(wanted.values())}
        expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(wanted)))
        found = changed = unchanged = masked = 0
        digests: list[str] = []
        for item in self._full_items(subject, [*self._key_attributes, ANONYMISED_AT, *wanted]):
            found += 1
            if ANONYMISED_AT in item:
                masked += 1  # writing personal data back into an anonymised record would undo the erasure
            elif all(_same(item.get(name), value) for name, value in wanted.items()):
                unchanged += 1
            elif self._update(item, expression, names, values):
                changed += 1
                digests.append(self._key_digest(item))
            else:
                found -= 1  # deleted since it was found
        exceptions = [f"{masked} records anonymised by an earlier erasure were not rectified"] if masked else []
        return ChangeResult(
            found=found,
            changed=changed,
            unchanged=unchanged + masked,
            attributes=sorted(wanted) if changed else [],
            key_digests=digests,
            exceptions=exceptions,
        )

    def restrict(self, subject: Subject) -> ChangeResult:
        """Mark each item with the restriction marker (an ISO timestamp); items already marked stay as they are."""
        marker = self._store.restriction_marker
        now = {":now": {"S": format_utc(timestamps.now())}}
        found = changed = unchanged = 0
        digests: list[str] = []
        for item in self._full_items(subject, [*self._key_attributes, marker]):
            found += 1
            # One UpdateItem per item: there is no batch update (see rectify).
            if marker not in item and self._update(
                item, "SET #r = :now", {"#r": marker}, now, "attribute_not_exists(#r)"
            ):
                changed += 1
                digests.append(self._key_digest(item))
            else:
                unchanged += 1
        return ChangeResult(
            found=found,
            changed=changed,
            unchanged=unchanged,
            attributes=[marker] if changed else [],
            key_digests=digests,
        )

    def opt_out(self, subject: Subject) -> ChangeResult:
        return self.not_applicable()  # marketing consent lives in the SES stores

    # --- internals ------------------------------------------------------------------------------

    def _items(self, subject: Subject) -> list[Item]:
        attributes = set(self._key_attributes)
        if self._store.erasure.mode == "anonymise":
            # The marker makes erasure idempotent; hashed or randomised values are only replaced where present.
            attributes.add(ANONYMISED_AT)
            attributes.update(a for a, m in self._store.erasure.attributes.items() if m.strategy in _ONLY_IF_PRESENT)
        return list(self._full_items(subject, attributes))

    def _full_items(self, subject: Subject, attributes: Iterable[str] | None) -> Iterator[Item]:
        """The subject's items with ``attributes`` (None: whole items), fetched lazily, page by page.

        A GSI may project only keys (the sample's by-email index is KEYS_ONLY): when more than the keys is
        needed, the keys found are fetched from the table with BatchGetItem, 100 at a time.
        """
        # Each spelling the store may hold is a separate exact query; an item is yielded once whichever matched.
        seen: set[str] = set()
        for spelling in self._spellings(subject):  # none: the subject has no such identifier (not a customer)
            for item in self._items_for(spelling, attributes):
                key = canonical_json(self._key(item))
                if key not in seen:
                    seen.add(key)
                    self._matched(subject, spelling)
                    yield item

    def _items_for(self, value: str, attributes: Iterable[str] | None) -> Iterator[Item]:
        """The items whose lookup attribute is exactly ``value`` (one spelling)."""
        wanted = None if attributes is None else set(attributes)
        index = self._store.lookup.index
        keys_only = set(self._key_attributes) | {self._store.lookup.key_attribute}
        if index and (wanted is None or not wanted <= keys_only):
            found = query_items(
                self._client, self._name, self._store, value, self._key_attributes, page_size=self._page_size
            )
            batch: list[Item] = []
            for item in found:
                batch.append(self._key(self._checked(item)))
                if len(batch) == BATCH_GET_LIMIT:
                    yield from self._batch_get(batch, wanted)
                    batch = []
            if batch:
                yield from self._batch_get(batch, wanted)
            return
        for item in query_items(self._client, self._name, self._store, value, wanted, page_size=self._page_size):
            yield self._checked(item)

    def _checked(self, item: Item) -> Item:
        missing = [a for a in self._key_attributes if a not in item]
        if missing:
            raise StoreMisconfigured(
                f"store {self._name} ({self._store.resource}): items lack key attributes {missing} "
                "named in the data map"
            )
        return item

    def _batch_get(self, keys: list[Item], attributes: set[str] | None) -> Iterator[Item]:
        """Get up to 100 items by key, retrying UnprocessedKeys with capped exponential backoff and full jitter."""
        request: dict[str, Any] = {"Keys": keys, "ConsistentRead": True}
        if attributes is not None:
            names, projection = _projection(attributes | set(self._key_attributes))
            request.update(ProjectionExpression=projection, ExpressionAttributeNames=names)
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(self._backoff(attempt))
            with self._calling("BatchGetItem"):
                response = self._client.batch_get_item(RequestItems={self._store.resource: request})
            for item in response.get("Responses", {}).get(self._store.resource, []):
                yield self._checked(item)  # an item deleted since the query is simply absent
            unprocessed = response.get("UnprocessedKeys", {}).get(self._store.resource)
            if not unprocessed or not unprocessed.get("Keys"):
                return
            request = unprocessed  # carries the projection and consistency of the original request
        raise StoreThrottled(
            f"store {self._name} ({self._store.resource}): {len(request['Keys'])} keys still unprocessed "
            f"after {self._max_attempts} BatchGetItem attempts"
        )

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt))

    def _update(
        self, item: Item, expression: str, names: Mapping[str, str], values: Mapping[str, Any], condition: str = ""
    ) -> bool:
        """One conditional UpdateItem on an existing item; False when the condition failed (the item vanished
        since it was found, or ``condition`` no longer holds)."""
        # attribute_exists: UpdateItem would otherwise recreate an item deleted since the query.
        condition = "attribute_exists(#pk)" + (f" AND {condition}" if condition else "")
        with self._calling("UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._store.resource,
                    Key=self._key(item),
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#pk": self._key_attributes[0], **names},
                    ExpressionAttributeValues=dict(values),
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

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
                self._sleep(self._backoff(attempt))
            with self._calling("BatchWriteItem"):
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
        names = {"#m": ANONYMISED_AT}
        values: dict[str, Any] = {":now": {"S": format_utc(timestamps.now())}}
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
        return self._update(item, expression, names, values, "attribute_not_exists(#m)")


def _same(current: Any, wanted: Mapping[str, Any]) -> bool:
    """Whether a stored wire-format value already equals the wanted one (numbers compared as decimals)."""
    if current is None:
        return False
    if "N" in current and "N" in wanted:
        return Decimal(current["N"]) == Decimal(wanted["N"])
    return dict(current) == dict(wanted)
