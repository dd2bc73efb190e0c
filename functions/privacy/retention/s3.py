"""S3 retention: list every version, write key batches of up to 1,000 to the work bucket, delete per batch.

A planning round lists the bucket under the data map's key prefix (ListObjectVersions, paginated) and
writes each batch of expired versions as one JSON object plus a manifest listing the batch objects.
The workflow's Distributed Map reads the manifest (ItemReader) and deletes one batch per item with
one DeleteObjects call. Batches are made here because the local interpreter rejects ItemBatcher; on
AWS this works the same. A round stops after ``max_batches`` or when Lambda time runs short and
saves its listing cursor (a key name: personal data) in the work bucket for the next round.

Holds are read again by each batch just before its DeleteObjects (a hold placed after the round was
planned keeps its subject's objects), and the work files holding key names (batches, cursors) are
deleted once used; the work bucket's one-day lifecycle is only the backstop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from functions.privacy.connectors.base import KeyDigester, StoreError, canonical_json
from functions.privacy.connectors.errors import THROTTLE_CODES, mapped_errors, store_error
from functions.privacy.connectors.s3 import DELETE_OBJECTS_LIMIT
from functions.privacy.core.timestamps import format_utc
from functions.privacy.datamap.model import DataMap
from functions.privacy.retention import digest, work
from functions.privacy.retention.counts import Counts

TIME_MARGIN_SECONDS = 120.0
# Keeps the Distributed Map's aggregated child output (about 16 bytes per batch, 90 with a late hold) below 256 KiB.
MAX_BATCHES_PER_ROUND = 2000


def key_prefix(datamap: DataMap, store_name: str) -> str:
    """The fixed part of the store's key template (users/ for users/{customer_id}/): IAM stops there too."""
    template = datamap.stores[store_name].lookup.key_template or ""
    return template.split("{", 1)[0]


def _ts(value: datetime) -> str:
    return format_utc(value)


def plan_round(
    *,
    datamap: DataMap,
    store_name: str,
    plan: dict[str, Any],
    round_number: int,
    cursor_key: str | None,
    held_prefixes: Iterable[str],
    client: Any,
    s3: Any,
    key_hmac: KeyDigester,
    time_left: Callable[[], float] = lambda: 900.0,
    max_batches: int = MAX_BATCHES_PER_ROUND,
    page_size: int = 1000,
) -> dict[str, Any]:
    """List the next part of the bucket and write its key batches; returns counts, manifest key and cursor."""
    store = datamap.stores[store_name]
    held = tuple(held_prefixes)
    base = work.prefix(plan["run_id"], plan["execution"], store_name)
    params: dict[str, Any] = {"Bucket": store.resource, "Prefix": key_prefix(datamap, store_name), "MaxKeys": page_size}
    if cursor_key:
        params.update(work.get_json(s3, plan["work_bucket"], cursor_key))
    counts = Counts()
    batches: list[str] = []
    batch: list[dict[str, str]] = []
    batch_digests: list[str] = []  # each version's key digest, so a batch can take back what a hold keeps
    digests: list[str] = []

    def flush() -> None:
        if not batch:
            return
        key = f"{base}round-{round_number:05d}/batch-{len(batches):05d}.json"
        if not plan["dry_run"]:
            work.put_json(
                s3, plan["work_bucket"], key, {"bucket": store.resource, "objects": batch, "digests": batch_digests}
            )
            batches.append(key)
        batch.clear()
        batch_digests.clear()

    next_cursor: dict[str, str] | None = None
    while True:
        with mapped_errors(store_name, store.resource, "ListObjectVersions"):
            page = client.list_object_versions(**params)
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            counts.scanned += 1
            if _ts(entry["LastModified"]) > plan["expire_before"]:
                continue
            if entry["Key"].startswith(held):
                counts.skipped_held += 1
                continue
            version = {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            counts.expired += 1
            digests.append(key_hmac(canonical_json({"key": version["Key"], "version_id": version["VersionId"]})))
            batch_digests.append(digests[-1])
            batch.append(version)
            if len(batch) == DELETE_OBJECTS_LIMIT:
                flush()
        if not page.get("IsTruncated"):
            break
        params["KeyMarker"] = page["NextKeyMarker"]
        params["VersionIdMarker"] = page.get("NextVersionIdMarker", "")
        if len(batches) >= max_batches or time_left() < TIME_MARGIN_SECONDS:
            next_cursor = {"KeyMarker": params["KeyMarker"], "VersionIdMarker": params["VersionIdMarker"]}
            break
    flush()
    counts.expired_keys_digest = digest.add(counts.expired_keys_digest, digests)
    manifest_key, saved_cursor = work.save_round(
        s3, plan["work_bucket"], f"{base}round-{round_number:05d}/", batches, next_cursor, cursor_key
    )
    return {
        "counts": counts.model_dump(),
        "manifest_key": manifest_key,
        "batches": len(batches),
        "cursor_key": saved_cursor,
        "more": saved_cursor is not None,
    }


def delete_batch(
    *,
    store_name: str,
    work_bucket: str,
    batch_key: str,
    held_prefixes: Callable[[], Iterable[str]],
    client: Any,
    s3: Any,
) -> dict[str, int | str]:
    """Delete one key batch with one DeleteObjects call, minus keys held by now.

    Returns ``deleted``, and ``held`` with ``held_keys_digest`` when a hold placed since planning kept
    some (only then, so the Distributed Map's aggregated output stays small). The batch file (key
    names) is deleted after its objects are; a retry that finds it gone has nothing left to do.
    """
    try:
        batch = work.get_json(s3, work_bucket, batch_key)
    except s3.exceptions.NoSuchKey:
        return {"deleted": 0}
    held = tuple(held_prefixes())
    objects = [o for o in batch["objects"] if not o["Key"].startswith(held)]
    kept = [d for o, d in zip(batch["objects"], batch["digests"], strict=True) if o["Key"].startswith(held)]
    if len(objects) > DELETE_OBJECTS_LIMIT:
        raise StoreError(f"store {store_name}: batch of {len(objects)} exceeds DeleteObjects' 1,000 keys")
    if objects:
        with mapped_errors(store_name, batch["bucket"], "DeleteObjects"):
            response = client.delete_objects(Bucket=batch["bucket"], Delete={"Objects": objects, "Quiet": True})
        errors = Counter(str(e.get("Code", "Unknown")) for e in response.get("Errors", []))
        if errors:
            # Name the worst code (throttling first, so the workflow retries the batch); never the keys.
            code = next((c for c in errors if c in THROTTLE_CODES), errors.most_common(1)[0][0])
            raise store_error(
                store_name, batch["bucket"], f"DeleteObjects ({sum(errors.values())} of {len(objects)})", code
            )
    s3.delete_object(Bucket=work_bucket, Key=batch_key)
    if not kept:
        return {"deleted": len(objects)}
    return {"deleted": len(objects), "held": len(kept), "held_keys_digest": digest.combine(kept)}
