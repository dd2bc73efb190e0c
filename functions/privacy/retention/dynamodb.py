"""DynamoDB retention: one parallel-scan segment per call, expired items deleted 25 at a time.

The scan filters on the data map's retention timestamp (ISO 8601 UTC strings compare in time order),
so only candidates cross the wire; deletes use BatchWriteItem with UnprocessedItems retried, and
stores whose erasure mode is ``anonymise`` are masked and kept instead. A segment that runs short of
Lambda time saves its cursor (which holds key values) in the work bucket and asks to be called again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from functions.privacy.connectors.base import KeyDigester, KeyedHasher, canonical_json
from functions.privacy.connectors.dynamodb import ANONYMISED_AT, BATCH_WRITE_LIMIT, DynamoDBConnector, plain_text
from functions.privacy.connectors.errors import mapped_errors
from functions.privacy.datamap.model import DataMap
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
    held_values = frozenset(held)
    mode = store.erasure.mode
    connector = DynamoDBConnector(
        store_name, store, client, key_hmac, keyed_hash, datamap.identifiers[store.lookup.identifier].pattern
    )
    keys = [a for a in (store.table.partition_key, store.table.sort_key) if a]
    projected = {*keys, store.lookup.key_attribute, store.retention_timestamp}
    if mode == "anonymise":
        projected.update(store.erasure.attributes)
    names = {f"#p{i}": a for i, a in enumerate(sorted(projected))}
    ts_name = next(n for n, a in names.items() if a == store.retention_timestamp)
    lookup_name = next(n for n, a in names.items() if a == store.lookup.key_attribute)
    flt = f"{ts_name} <= :purpose"
    if mode == "anonymise":
        names["#anon"] = ANONYMISED_AT
        flt += " AND attribute_not_exists(#anon)"  # masked on an earlier run: nothing left to expire
    params: dict[str, Any] = {
        "TableName": store.resource,
        "Segment": segment,
        "TotalSegments": total_segments,
        "FilterExpression": flt,
        "ProjectionExpression": ", ".join(n for n in names if n.startswith("#p")),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":purpose": {"S": plan["purpose_before"]}},
    }
    if page_size:
        params["Limit"] = page_size
    if cursor_key:
        params["ExclusiveStartKey"] = work.get_json(s3, plan["work_bucket"], cursor_key)
    counts = Counts()
    pending: list[dict[str, Any]] = []  # items to delete, flushed in full batches of 25
    dry_run = bool(plan["dry_run"])

    def flush(final: bool) -> None:
        while pending and (final or len(pending) >= BATCH_WRITE_LIMIT):
            batch, pending[:] = pending[:BATCH_WRITE_LIMIT], pending[BATCH_WRITE_LIMIT:]
            connector._delete_batch([{k: item[k] for k in keys} for item in batch])  # noqa: SLF001 (same package)

    while True:
        with mapped_errors(store_name, store.resource, "Scan"):
            page = client.scan(**params)
        counts.scanned += page.get("ScannedCount", 0)
        expired_digests: list[str] = []
        for item in page.get("Items", []):
            lookup = item.get(names[lookup_name])
            ts = plain_text(item[names[ts_name]]) if names[ts_name] in item else ""
            if ts > plan["expire_before"] or mode == "skip":
                counts.skipped_retained += 1  # only a legally retained category still needs it
                continue
            if lookup is not None and plain_text(lookup) in held_values:
                counts.skipped_held += 1
                continue
            if not dry_run:
                if mode == "anonymise":
                    if not connector._anonymise(item):  # noqa: SLF001 (vanished or masked meanwhile)
                        continue
                else:
                    pending.append(item)
            counts.expired += 1
            expired_digests.append(key_hmac(canonical_json({k: item[k] for k in keys})))
        flush(final=False)
        counts.expired_keys_digest = digest.add(counts.expired_keys_digest, expired_digests)
        last = page.get("LastEvaluatedKey")
        if not last:
            flush(final=True)
            return counts, None
        params["ExclusiveStartKey"] = last
        if time_left() < TIME_MARGIN_SECONDS:
            flush(final=True)
            key = f"{work.prefix(plan['run_id'], plan['execution'], store_name)}segment-{segment}.cursor.json"
            work.put_json(s3, plan["work_bucket"], key, last)
            return counts, key
