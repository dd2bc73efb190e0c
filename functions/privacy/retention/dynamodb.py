"""DynamoDB retention: one parallel-scan segment per call, expired items deleted 25 at a time.

The scan filters on the data map's retention timestamp (ISO 8601 UTC strings compare in time order),
so only candidates cross the wire; deletes use BatchWriteItem with UnprocessedItems retried, and
stores whose erasure mode is ``anonymise`` are masked and kept instead. A segment that runs short of
Lambda time saves its cursor (which holds key values) in the work bucket and asks to be called again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from functions.privacy.connectors.base import KeyDigester, KeyedHasher, canonical_json
from functions.privacy.connectors.dynamodb import ANONYMISED_AT, BATCH_WRITE_LIMIT, DynamoDBConnector, plain_text
from functions.privacy.connectors.errors import mapped_errors
from functions.privacy.datamap.model import DataMap, Store
from functions.privacy.retention import digest, work
from functions.privacy.retention.counts import Counts

# Leave this much of the invocation for the last page's deletes and saving the cursor.
TIME_MARGIN_SECONDS = 90.0


def expire_segment(
    *,
    datamap: DataMap,
    store_name: str,
    plan: dict[str, Any],
    segment: int,
    total_segments: int,
    held: Iterable[str],
    client: Any,
    s3: Any,
    key_hmac: KeyDigester,
    keyed_hash: KeyedHasher,
    cursor_key: str | None = None,
    time_left: Callable[[], float] = lambda: 900.0,
    page_size: int | None = None,
) -> tuple[Counts, str | None]:
    """Expire one scan segment; returns its counts and, if it stopped early, the cursor object's key."""
    store = datamap.stores[store_name]
    assert store.table is not None and store.retention_timestamp and store.lookup.key_attribute
    connector = DynamoDBConnector(
        store_name, store, client, key_hmac, keyed_hash, datamap.identifiers[store.lookup.identifier].pattern
    )
    identifier = store.lookup.identifier  # holds keep normalised values: so is each record's (subjects.holds)
    held_match = lambda value, held: datamap.normalise(identifier, value) in held  # noqa: E731
    run = _SegmentRun(store, connector, plan, frozenset(held), key_hmac, held_match=held_match)
    params = _scan_parameters(store, plan, segment, total_segments, page_size)
    if cursor_key:
        params["ExclusiveStartKey"] = work.get_json(s3, plan["work_bucket"], cursor_key)
    while True:
        with mapped_errors(store_name, store.resource, "Scan"):
            page = client.scan(**params)
        run.work_page(page)
        last = page.get("LastEvaluatedKey")
        if not last:
            run.flush(final=True)
            return run.counts, None
        params["ExclusiveStartKey"] = last
        if time_left() < TIME_MARGIN_SECONDS:
            run.flush(final=True)
            return run.counts, _save_cursor(s3, plan, store_name, segment, last)


def _projected(store: Store) -> list[str]:
    """The attributes a segment reads: the keys, the subject lookup, the timestamp and what masking needs."""
    assert store.table is not None and store.retention_timestamp and store.lookup.key_attribute
    keys = [a for a in (store.table.partition_key, store.table.sort_key) if a]
    projected = {*keys, store.lookup.key_attribute, store.retention_timestamp}
    if store.erasure.mode == "anonymise":
        projected.update(store.erasure.attributes)
    return sorted(projected)


def _scan_parameters(
    store: Store, plan: dict[str, Any], segment: int, total_segments: int, page_size: int | None
) -> dict[str, Any]:
    """A parallel-scan segment that returns only candidates older than the purpose cut-off."""
    names = {f"#p{i}": a for i, a in enumerate(_projected(store))}
    ts_name = next(n for n, a in names.items() if a == store.retention_timestamp)
    condition = f"{ts_name} <= :purpose"
    if store.erasure.mode == "anonymise":
        names["#anon"] = ANONYMISED_AT
        condition += " AND attribute_not_exists(#anon)"  # masked on an earlier run: nothing left to expire
    params: dict[str, Any] = {
        "TableName": store.resource,
        "Segment": segment,
        "TotalSegments": total_segments,
        "FilterExpression": condition,
        "ProjectionExpression": ", ".join(n for n in names if n.startswith("#p")),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":purpose": {"S": plan["purpose_before"]}},
    }
    if page_size:
        params["Limit"] = page_size
    return params


def _save_cursor(s3: Any, plan: dict[str, Any], store_name: str, segment: int, last: dict[str, Any]) -> str:
    """Keep where the segment stopped (key values: in the work bucket, never in execution state)."""
    key = f"{work.prefix(plan['run_id'], plan['execution'], store_name)}segment-{segment}.cursor.json"
    work.put_json(s3, plan["work_bucket"], key, last)
    return key


@dataclass
class _SegmentRun:
    """One segment's pass over its pages: what each candidate is, the counts, and deletes batched by 25."""

    store: Store
    connector: DynamoDBConnector
    plan: dict[str, Any]
    held_values: frozenset[str]
    key_hmac: KeyDigester
    counts: Counts = field(default_factory=Counts)
    pending: list[dict[str, Any]] = field(default_factory=list)  # items to delete, flushed in full batches
    # Held values are normalised: a record's value is normalised the same way before it is compared.
    held_match: Callable[[str, frozenset[str]], bool] = lambda value, held: value in held

    @property
    def keys(self) -> list[str]:
        assert self.store.table is not None
        return [a for a in (self.store.table.partition_key, self.store.table.sort_key) if a]

    def work_page(self, page: dict[str, Any]) -> None:
        self.counts.scanned += page.get("ScannedCount", 0)
        expired_digests: list[str] = []
        for item in page.get("Items", []):
            verdict = self._verdict(item)
            if verdict == "retained":
                self.counts.skipped_retained += 1  # only a legally retained category still needs it
            elif verdict == "held":
                self.counts.skipped_held += 1
            elif self._expire(item):
                self.counts.expired += 1
                expired_digests.append(self.key_hmac(canonical_json({k: item[k] for k in self.keys})))
        self.flush(final=False)
        self.counts.expired_keys_digest = digest.add(self.counts.expired_keys_digest, expired_digests)

    def _verdict(self, item: dict[str, Any]) -> str:
        """``retained`` (younger than its period, or a store retention skips), ``held``, or ``expire``."""
        assert self.store.retention_timestamp and self.store.lookup.key_attribute
        timestamp = self.store.retention_timestamp
        ts = plain_text(item[timestamp]) if timestamp in item else ""
        if ts > self.plan["expire_before"] or self.store.erasure.mode == "skip":
            return "retained"
        lookup = item.get(self.store.lookup.key_attribute)
        if lookup is not None and self.held_match(plain_text(lookup), self.held_values):
            return "held"
        return "expire"

    def _expire(self, item: dict[str, Any]) -> bool:
        """Mask or queue the item for deletion (nothing in a dry run); False if it vanished or was masked meanwhile."""
        if self.plan["dry_run"]:
            return True
        if self.store.erasure.mode == "anonymise":
            return bool(self.connector._anonymise(item))  # noqa: SLF001 (same package)
        self.pending.append(item)
        return True

    def flush(self, final: bool) -> None:
        while self.pending and (final or len(self.pending) >= BATCH_WRITE_LIMIT):
            batch, self.pending[:] = self.pending[:BATCH_WRITE_LIMIT], self.pending[BATCH_WRITE_LIMIT:]
            self.connector._delete_batch([{k: item[k] for k in self.keys} for item in batch])  # noqa: SLF001
