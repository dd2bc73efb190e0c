"""Lake (s3_dataset) retention: rows past the store's period leave the shared files, object by object.

A planning round lists the store's current objects under its prefix (ListObjectsV2, paginated) and writes
key batches of up to KEYS_PER_BATCH keys plus a manifest to the work bucket, as the S3 path does; the
workflow's Distributed Map hands each batch to the dataset retention function (python3.12 with pyarrow),
which rewrites each object with datasets.objects.rewrite_object and a retention Selection: a row whose
timestamp is at or before the store's cut-off goes unless a legal hold covers one of its identifier values
(holds are read again before every object); a row whose timestamp cannot be read stays and is counted.
The rewrite is the erasure's own (pinned version, conditional PUT, verification, older versions deleted),
and an object whose every row expired loses every version. A dry run reads and counts only.

Objects that could not be handled (changed meanwhile, too large, failing verification, unreadable) are
counted as failed and listed as digests, versions and counts: the store ends partially_completed. Objects
that cannot be written at all (Object Lock, an unversioned bucket, an archived storage class) are counted
and listed as blocked. A batch that runs short of Lambda time saves the keys it has not reached and asks to
be called again.

This module imports the dataset formats (Parquet loads pyarrow on demand): only the python3.12 dataset
retention function imports it (service.py does not, so the python3.11 functions never load it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

from functions.privacy.connectors.base import KeyDigester, canonical_json
from functions.privacy.connectors.errors import StoreThrottled, StoreUnavailable, error_code, mapped_errors, store_error
from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import RetentionExpirySettings
from functions.privacy.core.timestamps import parse_utc
from functions.privacy.datamap.model import DataMap, Store
from functions.privacy.datasets.format import DatasetFormat
from functions.privacy.datasets.formats import format_for
from functions.privacy.datasets.objects import GONE_CODES, ObjectOutcome, ObjectStatus, rewrite_object
from functions.privacy.datasets.selection import Selection
from functions.privacy.retention import digest, service, work
from functions.privacy.retention.counts import UNREADABLE_KEYS_LISTED, Counts
from functions.privacy.subjects.holds import Hold, all_holds

# A lake object may take minutes to rewrite (up to about 3 GiB fit the function's /tmp): 20 keys a batch,
# and a new object is started only while this much of the invocation is left (at least one per call).
KEYS_PER_BATCH = 20
TIME_MARGIN_SECONDS = 420.0
LISTING_MARGIN_SECONDS = 60.0
# Keeps the Distributed Map's aggregated output (a few hundred bytes of counts per batch) below 256 KiB.
MAX_BATCHES_PER_ROUND = 100
_FAILED = {ObjectStatus.TOO_LARGE, ObjectStatus.CONFLICT, ObjectStatus.FAILED_VERIFICATION}
# What the evidence lists of an object not handled cleanly: digests, versions and counts, never a value.
_LISTED_FIELDS = {
    "status",
    "source_version_id",
    "new_version_id",
    "source_sha256",
    "new_sha256",
    "rows_before",
    "rows_after",
    "expired_rows",
    "held_rows",
    "unreadable_rows",
    "older_versions_deleted",
    "reason",
}


def held_columns(holds: Iterable[Hold], datamap: DataMap, store_name: str) -> dict[str, frozenset[str]]:
    """Per identifier with a column in the store: the normalised values of the holds covering the store."""
    store = datamap.stores[store_name]
    assert store.dataset is not None
    covering = [h for h in holds if h.covers(store_name, store)]
    return {
        name: frozenset(datamap.normalise(name, h.identifiers[name]) for h in covering if name in h.identifiers)
        for name in store.dataset.columns
    }


def retention_selection(
    datamap: DataMap, store: Store, expire_before: str, held: Mapping[str, frozenset[str]]
) -> Selection:
    """Rows at or before ``expire_before`` expire unless held (Selection expires rows strictly before its time)."""
    assert store.dataset is not None and store.retention_timestamp
    # Stored times are read to the second or the microsecond: one microsecond later makes "at or before" exact.
    cutoff = parse_utc(expire_before, "expire_before") + timedelta(microseconds=1)
    return Selection(
        identifiers=dict(store.dataset.columns),
        timestamp=store.retention_timestamp,
        expire_before=cutoff,
        held=dict(held),
        normalise=datamap.normalise,
    )


def plan_round(
    *,
    datamap: DataMap,
    store_name: str,
    plan: dict[str, Any],
    round_number: int,
    cursor_key: str | None,
    client: Any,
    s3: Any,
    time_left: Callable[[], float] = lambda: 900.0,
    max_batches: int = MAX_BATCHES_PER_ROUND,
    keys_per_batch: int = KEYS_PER_BATCH,
    page_size: int = 1000,
) -> dict[str, Any]:
    """List the next part of the store's current objects into key batches; returns the manifest key and cursor.

    Batches are written in a dry run too: the dry run reads every object to count what would expire.
    The cursor (a continuation token, which encodes a key name) stays in the work bucket.
    """
    store = datamap.stores[store_name]
    assert store.dataset is not None
    base = work.prefix(plan["run_id"], plan["execution"], store_name)
    params: dict[str, Any] = {"Bucket": store.resource, "Prefix": store.dataset.prefix, "MaxKeys": page_size}
    if cursor_key:
        params.update(work.get_json(s3, plan["work_bucket"], cursor_key))
    batches: list[str] = []
    batch: list[str] = []
    listed = 0

    def flush() -> None:
        if not batch:
            return
        key = f"{base}round-{round_number:05d}/dataset-batch-{len(batches):05d}.json"
        work.put_json(s3, plan["work_bucket"], key, {"bucket": store.resource, "keys": batch})
        batches.append(key)
        batch.clear()

    next_cursor: dict[str, str] | None = None
    while True:
        with mapped_errors(store_name, store.resource, "ListObjectsV2"):
            page = client.list_objects_v2(**params)
        for entry in page.get("Contents", []):
            if int(entry.get("Size", 0)) == 0:
                continue  # folder placeholders and _SUCCESS markers hold no rows
            listed += 1
            batch.append(entry["Key"])
            if len(batch) == keys_per_batch:
                flush()
        if not page.get("IsTruncated"):
            break
        params.pop("StartAfter", None)
        params["ContinuationToken"] = page["NextContinuationToken"]
        if len(batches) >= max_batches or time_left() < LISTING_MARGIN_SECONDS:
            next_cursor = {"ContinuationToken": params["ContinuationToken"]}
            break
    flush()
    manifest_key, saved_cursor = work.save_round(
        s3,
        plan["work_bucket"],
        f"{base}round-{round_number:05d}/",
        batches,
        next_cursor,
        cursor_key,
        names=("dataset-manifest.json", "dataset-cursor.json"),
    )
    return {
        "manifest_key": manifest_key,
        "batches": len(batches),
        "listed": listed,
        "cursor_key": saved_cursor,
        "more": saved_cursor is not None,
    }


def expire_batch(
    *,
    datamap: DataMap,
    store_name: str,
    plan: dict[str, Any],
    batch_key: str,
    held: Callable[[], Mapping[str, frozenset[str]]],
    client: Any,
    s3: Any,
    key_hmac: KeyDigester,
    time_left: Callable[[], float] = lambda: 900.0,
    work_root: str | Path | None = None,
) -> tuple[Counts, bool]:
    """Expire the rows of one key batch's objects; returns the counts and whether keys are left for another call.

    ``plan`` needs ``work_bucket``, ``expire_before`` and ``dry_run``. The batch file (key names) is deleted
    once every key is done (a retry that finds it gone has nothing left to do) and rewritten with the keys not
    reached when time runs short.
    """
    try:
        batch = work.get_json(s3, plan["work_bucket"], batch_key)
    except s3.exceptions.NoSuchKey:
        return Counts(), False
    store = datamap.stores[store_name]
    assert store.dataset is not None
    dataset_format = format_for(store.dataset.format)
    worker = _Worker(store_name, store, batch["bucket"], dataset_format, client, key_hmac, bool(plan["dry_run"]))
    keys: list[str] = list(batch["keys"])
    done = 0
    # Spools and rewrites hold rows of many people: the directory goes however the batch ends.
    with tempfile.TemporaryDirectory(prefix="privacy-retention-", dir=work_root) as path:
        for key in keys:
            if done and time_left() < TIME_MARGIN_SECONDS:
                break
            # Holds as of this object, not as of the round's planning (which may be hours earlier).
            selection = retention_selection(datamap, store, plan["expire_before"], held())
            worker.expire(key, selection, Path(path))
            done += 1
    if done < len(keys):
        work.put_json(s3, plan["work_bucket"], batch_key, {**batch, "keys": keys[done:]})
        return worker.counts, True
    s3.delete_object(Bucket=plan["work_bucket"], Key=batch_key)
    return worker.counts, False


class _Worker:
    """One batch's objects: each rewritten (or, in a dry run, scanned) and counted."""

    def __init__(
        self,
        store_name: str,
        store: Store,
        bucket: str,
        dataset_format: DatasetFormat,
        client: Any,
        key_hmac: KeyDigester,
        dry_run: bool,
    ) -> None:
        self.store_name, self.store, self.bucket = store_name, store, bucket
        self.format, self.client, self.key_hmac, self.dry_run = dataset_format, client, key_hmac, dry_run
        self.counts = Counts()

    def expire(self, key: str, selection: Selection, work_dir: Path) -> None:
        operation = "scan object" if self.dry_run else "rewrite object"
        try:
            outcome = rewrite_object(
                self.client,
                bucket=self.bucket,
                key=key,
                dataset_format=self.format,
                selection=selection,
                work_dir=work_dir,
                dry_run=self.dry_run,  # reads exactly what a run would, writes nothing
            )
        except ClientError as exc:
            code = error_code(exc)
            if code in GONE_CODES:
                return  # deleted since the listing: nothing of it is left to expire
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            error = store_error(self.store_name, self.store.resource, operation, code, status)
            if isinstance(error, StoreThrottled | StoreUnavailable):
                raise error from None  # the workflow retries the batch with backoff
            self._failed(key, f"{operation} failed with {code}")
            return
        except (botocore_errors.ConnectionError, botocore_errors.HTTPClientError) as exc:
            failure = type(exc).__name__
            raise StoreUnavailable(
                f"store {self.store_name} ({self.store.resource}): {operation} failed with {failure}"
            ) from None
        except Exception as exc:  # noqa: BLE001 (a file a format cannot read fails that object, not the batch)
            # The type only: a reader's message may quote the row it failed on.
            self._failed(key, f"{operation} failed ({type(exc).__name__})")
            return
        self._count(key, outcome)

    def _count(self, key: str, outcome: ObjectOutcome) -> None:
        counts = self.counts
        counts.objects += 1
        counts.scanned += outcome.rows_before
        counts.skipped_held += outcome.held_rows
        if outcome.unreadable_rows:
            counts.skipped_unreadable += outcome.unreadable_rows
            if len(counts.unreadable_key_digests) < UNREADABLE_KEYS_LISTED:
                counts.unreadable_key_digests.append(self._key_digest(key))
        if outcome.status in {ObjectStatus.REWRITTEN, ObjectStatus.DELETED}:
            counts.expired += outcome.expired_rows
            if outcome.status is ObjectStatus.REWRITTEN:
                counts.objects_rewritten += 1
            else:
                counts.objects_deleted += 1
            version = canonical_json({"key": key, "version_id": outcome.source_version_id})
            counts.expired_keys_digest = digest.add(counts.expired_keys_digest, [self.key_hmac(version)])
        elif outcome.status is ObjectStatus.BLOCKED:
            counts.objects_blocked += 1
            counts.listed(self._entry(key, outcome))
        elif outcome.status in _FAILED:
            counts.objects_failed += 1
            counts.failed += 1
            counts.listed(self._entry(key, outcome))

    def _failed(self, key: str, reason: str) -> None:
        self.counts.objects += 1
        self.counts.objects_failed += 1
        self.counts.failed += 1
        self.counts.listed({"key_digest": self._key_digest(key), "status": "failed", "reason": reason})

    def _entry(self, key: str, outcome: ObjectOutcome) -> dict[str, Any]:
        return {
            "key_digest": self._key_digest(key),
            **outcome.model_dump(mode="json", include=_LISTED_FIELDS, exclude_none=True),
        }

    def _key_digest(self, key: str) -> str:
        return self.key_hmac(canonical_json({"key": key}))


# --- the workflow's steps, wired to the function's settings and clients (the handler stays thin) ---------


def plan_dataset_round(
    plan: dict[str, Any], settings: RetentionExpirySettings, clients: Clients, time_left: Callable[[], float]
) -> dict[str, Any]:
    """PlanDatasetBatches: the next round's manifest; the previous round's batch counts are folded in here."""
    datamap, name = settings.datamap(), plan["store"]
    previous = plan.get("round") or {}
    results = plan.get("dataset_results") or []
    plan = {k: v for k, v in plan.items() if k != "dataset_results"}
    number = int(previous.get("number", -1)) + 1
    result = plan_round(
        datamap=datamap,
        store_name=name,
        plan=plan,
        round_number=number,
        cursor_key=previous.get("cursor_key"),
        client=clients.client("s3"),
        s3=clients.client("s3"),
        time_left=time_left,
    )
    carried = Counts.total([previous.get("counts") or {}, *results])
    return {**plan, "round": {**result, "number": number, "counts": carried.model_dump(exclude_defaults=True)}}


def expire_dataset_batch(
    event: dict[str, Any], settings: RetentionExpirySettings, clients: Clients, time_left: Callable[[], float]
) -> dict[str, Any]:
    """ExpireDatasetBatch: one key batch (a Distributed Map item), resumed while ``more`` is true."""
    datamap, name = settings.datamap(), event["store"]
    counts, more = expire_batch(
        datamap=datamap,
        store_name=name,
        plan=event,
        batch_key=event["batch"],
        held=lambda: held_columns(all_holds(clients.resource_table(settings.HOLDS_TABLE)), datamap, name),
        client=clients.client("s3"),
        s3=clients.client("s3"),
        key_hmac=service.key_hmac(settings, clients, event["run_id"]),
        time_left=time_left,
    )
    carried = Counts.model_validate(event["carry"]) if event.get("carry") else Counts()
    # Only the counts that are not zero: the Distributed Map's aggregated output stays small.
    return {**event, "carry": carried.merge(counts).model_dump(exclude_defaults=True), "more": more}
