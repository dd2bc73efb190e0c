"""DynamoDB retention: one parallel-scan segment per call, expired items deleted 25 at a time.

Each item's retention timestamp is parsed here (timestamps.parse_stored), not compared as a string
in a filter: ``""``, ``12/31/2099`` or epoch seconds sort before any ISO date and would expire. An
item whose timestamp cannot be read is never expired; it is counted and its key listed as a digest.
Holds are read again for every scan page, so a hold placed while a segment runs protects what it has
not deleted yet. Deletes use BatchWriteItem with UnprocessedItems retried, and stores whose erasure
mode is ``anonymise`` are masked and kept instead. A segment that runs short of Lambda time saves its
cursor (which holds key values) in the work bucket and asks to be called again; the cursor it
resumed from is deleted once it is no longer needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from functions.privacy.connectors.base import KeyDigester, KeyedHasher, canonical_json
from functions.privacy.connectors.dynamodb import ANONYMISED_AT, BATCH_WRITE_LIMIT, DynamoDBConnector, plain_text
from functions.privacy.connectors.errors import mapped_errors
from functions.privacy.core.timestamps import parse_stored, parse_utc
from functions.privacy.datamap.model import DataMap, Store
from functions.privacy.retention import digest, work
from functions.privacy.retention.counts import Counts
from functions.privacy.subjects.holds import is_held

# Leave this much of the invocation for the last page's deletes and saving the cursor.
TIME_MARGIN_SECONDS = 90.0


def expire_segment(
    *,
    datamap: DataMap,
    store_name: str,
    plan: dict[str, Any],
    segment: int,
    total_segments: int,
    held: Callable[[], Iterable[str]],
    client: Any,
    s3: Any,
    key_hmac: KeyDigester,
    keyed_hash: KeyedHasher,
    cursor_key: str | None = None,
    time_left: Callable[[], float] = lambda: 900.0,
    page_size: int | None = None,
) -> tuple[Counts, str | None]:
    """Expire one scan segment; returns its counts and, if it stopped early, the cursor object's key.

    ``held`` reads the current holds' lookup values; it is called once per scan page.
    """
    store = datamap.stores[store_name]
    assert store.table is not None and store.retention_timestamp and store.lookup.key_attribute
    connector = DynamoDBConnector(
        store_name, store, client, key_hmac, keyed_hash, datamap.identifiers[store.lookup.identifier].pattern
    )
    # Holds keep normalised values: subjects.holds.is_held normalises each record's the same way.
    held_match = partial(is_held, datamap, store_name)
    run = _SegmentRun(store, connector, plan, held, key_hmac, held_match=held_match)
    params = _scan_parameters(store, plan, segment, total_segments, page_size)
    if cursor_key:
        params["ExclusiveStartKey"] = work.get_json(s3, plan["work_bucket"], cursor_key)
    while True:
        with mapped_errors(store_name, store.resource, "Scan"):
            page = client.scan(**params)
        run.work_page(page)
        last = page.get("LastEvaluatedKey")
        if not last or time_left() < TIME_MARGIN_SECONDS:
            run.flush(final=True)
            saved = _save_cursor(s3, plan, store_name, segment, last) if last else None
            if cursor_key:
                # Only now: a retried invocation still finds the cursor it started from.
                s3.delete_object(Bucket=plan["work_bucket"], Key=cursor_key)
            return run.counts, saved
        params["ExclusiveStartKey"] = last


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
    """A parallel-scan segment; the timestamp is judged per item in Python (no string comparison here)."""
    names = {f"#p{i}": a for i, a in enumerate(_projected(store))}
    params: dict[str, Any] = {
        "TableName": store.resource,
        "Segment": segment,
        "TotalSegments": total_segments,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }
    if store.erasure.mode == "anonymise":
        names["#anon"] = ANONYMISED_AT
        params["FilterExpression"] = "attribute_not_exists(#anon)"  # masked on an earlier run: nothing left
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
    read_holds: Callable[[], Iterable[str]]
    key_hmac: KeyDigester
    counts: Counts = field(default_factory=Counts)
    pending: list[dict[str, Any]] = field(default_factory=list)  # items to delete, flushed in full batches
    # Held values are normalised: a record's value is normalised the same way before it is compared.
    held_match: Callable[[str, frozenset[str]], bool] = lambda value, held: value in held
    held_values: frozenset[str] = frozenset()  # as read for the current page
    expire_before: datetime = field(init=False)
    purpose_before: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.expire_before = parse_utc(self.plan["expire_before"], "expire_before")
        self.purpose_before = parse_utc(self.plan["purpose_before"], "purpose_before")

    @property
    def keys(self) -> list[str]:
        assert self.store.table is not None
        return [a for a in (self.store.table.partition_key, self.store.table.sort_key) if a]

    def _key_digest(self, item: dict[str, Any]) -> str:
        return self.key_hmac(canonical_json({k: item[k] for k in self.keys}))

    def work_page(self, page: dict[str, Any]) -> None:
        self.counts.scanned += page.get("ScannedCount", 0)
        # Holds as of this page: also what the items still queued from earlier pages are checked against.
        self.held_values = frozenset(self.read_holds())
        for item in page.get("Items", []):
            verdict = self._verdict(item)
            if verdict == "unreadable":
                self.counts.unreadable(self._key_digest(item))
            elif verdict == "retained":
                self.counts.skipped_retained += 1  # only a legally retained category still needs it
            elif verdict == "held":
                self.counts.skipped_held += 1
            elif verdict == "expire":
                self._expire(item)
        self.flush(final=False)

    def _verdict(self, item: dict[str, Any]) -> str:
        """``unreadable``, ``young`` (purpose not ended), ``retained``, ``held``, or ``expire``."""
        assert self.store.retention_timestamp
        moment = _stored_time(item.get(self.store.retention_timestamp))
        if moment is None:
            return "unreadable"  # never expire what cannot be dated; the evidence counts and lists it
        if moment > self.purpose_before:
            return "young"
        if moment > self.expire_before or self.store.erasure.mode == "skip":
            return "retained"
        return "held" if self._held(item) else "expire"

    def _held(self, item: dict[str, Any]) -> bool:
        assert self.store.lookup.key_attribute
        lookup = item.get(self.store.lookup.key_attribute)
        return lookup is not None and self.held_match(plain_text(lookup), self.held_values)

    def _expired(self, items: list[dict[str, Any]]) -> None:
        self.counts.expired += len(items)
        digests = [self._key_digest(item) for item in items]
        self.counts.expired_keys_digest = digest.add(self.counts.expired_keys_digest, digests)

    def _expire(self, item: dict[str, Any]) -> None:
        """Mask, or queue for deletion (nothing in a dry run); not counted if it vanished or was masked meanwhile."""
        if self.plan["dry_run"]:
            self._expired([item])
        elif self.store.erasure.mode == "anonymise":
            if self.connector._anonymise(item):  # noqa: SLF001 (same package)
                self._expired([item])
        else:
            self.pending.append(item)

    def flush(self, final: bool) -> None:
        while self.pending and (final or len(self.pending) >= BATCH_WRITE_LIMIT):
            batch, self.pending[:] = self.pending[:BATCH_WRITE_LIMIT], self.pending[BATCH_WRITE_LIMIT:]
            # A hold placed since the item was queued (on an earlier page) still protects it.
            held = [item for item in batch if self._held(item)]
            batch = [item for item in batch if not self._held(item)]
            self.counts.skipped_held += len(held)
            if batch:
                self.connector._delete_batch([{k: item[k] for k in self.keys} for item in batch])  # noqa: SLF001
                self._expired(batch)


def _stored_time(value: dict[str, Any] | None) -> datetime | None:
    """The item's timestamp attribute (S or N) as a time, or None (missing, another type, or unreadable)."""
    if not value:
        return None
    if "N" in value:
        return parse_stored(value["N"])  # a number is epoch seconds (DynamoDB TTL style)
    if "S" in value:
        return parse_stored(value["S"])
    return None
