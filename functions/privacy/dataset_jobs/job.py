"""One dataset job: claim the queue, visit each lake object once for every queued subject, resume the requests.

plan   claims the queued entries (queue.claim) and lists the keys of every store they name into batch files
       of the work bucket (keys never enter execution history) and a manifest the Distributed Map reads.
batch  for the keys of one batch: reads each key's versions once with the union of the store's queued
       subjects, attributes the rows it finds to their requests, rewrites the object once for all erasures
       (datasets.objects: pinned, conditional, verified, older versions purged) and writes each access
       request's rows to its export parts; per-key results (counts, digests, statuses; no values, no keys)
       go to the work bucket.
finish adds up each entry's results: an entry every object of which is clean gets its store evidence
       (first-time-only, the fields run_store_task writes, with the objects earlier jobs changed for it) and
       its task resumed with the same outcome; an entry whose object changed meanwhile, was deleted while being
       rewritten or was not reached fails its task with StoreUnavailable (the request's Retry queues it again
       for the next job, which carries what this one changed); an object too large or failing verification
       fails it with StoreError. Nothing succeeds that was not checked. The job's files go.

This module imports the dataset formats (pyarrow on demand): only the python3.12 dataset job function runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.connectors.base import EraseResult, ExportResult, StoreUnavailable
from functions.privacy.connectors.registry import connector_for
from functions.privacy.connectors.s3_dataset import KeyHolding, S3DatasetConnector
from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.keys import masking_hasher
from functions.privacy.core.observability import logger
from functions.privacy.core.settings import DatasetJobSettings
from functions.privacy.dataset_jobs import queue
from functions.privacy.dataset_jobs.subjects import QueuedSubjects, queued_subjects
from functions.privacy.datasets.objects import ObjectOutcome, ObjectStatus
from functions.privacy.datasets.selection import Hit
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow import exports
from functions.privacy.request_workflow.store_tasks import record_outcome, task_output
from functions.privacy.retention import work

KEYS_PER_BATCH = 20
PLAN_WRITERS = 16  # concurrent batch-file PUTs while planning (boto3 clients are thread-safe)
# One job takes at most this many queued tasks; the rest wait for the next job (bounds each worker's Selection).
MAX_ENTRIES = 1000
# A key is started only while this much of the invocation is left; keys not reached fail their entries' tasks
# with StoreUnavailable, so those requests are queued again rather than reported clean.
TIME_MARGIN_SECONDS = 420.0
_FAILED = {ObjectStatus.TOO_LARGE, ObjectStatus.FAILED_VERIFICATION}
_TOKEN_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def _connector(store_name: str, settings: DatasetJobSettings, clients: Clients) -> S3DatasetConnector:
    datamap = settings.datamap()

    def no_request_digest(_: str) -> str:  # the job digests per request (QueuedSubjects.digests)
        raise AssertionError("dataset job digests are per request")

    connector = connector_for(
        store_name,
        datamap.stores[store_name],
        clients,
        no_request_digest,
        masking_hasher(clients.client("kms"), settings.HMAC_KEY_ID).digest,
        datamap,
    )
    assert isinstance(connector, S3DatasetConnector)
    return connector


# --- plan ---------------------------------------------------------------------------------------------


def plan_job(job_id: str, settings: DatasetJobSettings, clients: Clients) -> dict[str, Any]:
    """Claim the queue and write the key batches of every store with queued tasks."""
    table = clients.resource_table(settings.DATASET_QUEUE_TABLE)
    lease = timedelta(seconds=settings.DATASET_CLAIM_LEASE_SECONDS)
    entries = queue.claim(table, job_id, timestamps.now(), lease, MAX_ENTRIES)
    s3, bucket, base = clients.client("s3"), settings.DATASET_WORK_BUCKET, job_prefix(job_id)
    if not entries:  # the common case of an hourly job: nothing written, nothing to clean up
        return {"job_id": job_id, "work_bucket": bucket, "entries": 0, "stores": 0, "objects": 0, "batches": 0}
    manifest: list[dict[str, str]] = []
    batches: list[tuple[str, list[str]]] = []
    objects = 0
    for store_name in sorted({e.store for e in entries}):
        keys = list(_connector(store_name, settings, clients).keys())
        objects += len(keys)
        for start in range(0, len(keys), KEYS_PER_BATCH):
            key = f"{base}batches/{store_name}/{len(manifest):06d}.json"
            batches.append((key, keys[start : start + KEYS_PER_BATCH]))
            manifest.append({"store": store_name, "batch": key})
    # One PUT per batch: a million-object lake is 50,000 of them, too slow one by one within the plan's 15 minutes.
    with ThreadPoolExecutor(max_workers=PLAN_WRITERS) as pool:
        list(pool.map(lambda batch: work.put_json(s3, bucket, batch[0], {"keys": batch[1]}), batches))
    manifest_key = f"{base}manifest.json"
    work.put_json(s3, bucket, manifest_key, manifest)
    return {
        "job_id": job_id,
        "work_bucket": bucket,
        "manifest_key": manifest_key,
        "entries": len(entries),
        "stores": len({e.store for e in entries}),
        "objects": objects,
        "batches": len(manifest),
    }


# --- batch --------------------------------------------------------------------------------------------


def run_batch(
    event: Mapping[str, Any],
    settings: DatasetJobSettings,
    clients: Clients,
    time_left: Callable[[], float] = lambda: 900.0,
) -> dict[str, Any]:
    """Visit each key of one batch once for all of the store's claimed entries; results go to the work bucket."""
    job_id, store_name = str(event["job_id"]), str(event["store"])
    s3, bucket = clients.client("s3"), settings.DATASET_WORK_BUCKET
    keys = [str(k) for k in work.get_json(s3, bucket, str(event["batch"]))["keys"]]
    entries = queue.claimed(clients.resource_table(settings.DATASET_QUEUE_TABLE), job_id, store_name)
    connector = _connector(store_name, settings, clients)
    requests_table = clients.resource_table(settings.REQUESTS_TABLE)
    kms = clients.client("kms")
    erasures = queued_subjects(
        [e for e in entries if e.operation == "erase"], connector, requests_table, kms, settings.HMAC_KEY_ID
    )
    accesses = queued_subjects(
        [e for e in entries if e.operation == "export"], connector, requests_table, kms, settings.HMAC_KEY_ID
    )
    lookup = settings.datamap().stores[store_name].lookup.identifier
    visited = 0
    with connector.work_dir() as work_dir:
        for index, key in enumerate(keys):
            if index and time_left() < TIME_MARGIN_SECONDS:
                _put_result(
                    s3, bucket, job_id, store_name, f"unreached-{event['batch']}", {"unreached": len(keys) - index}
                )
                break
            results: dict[str, dict[str, Any]] = {}
            if erasures.selection is not None:
                results.update(erase_key(connector, key, erasures, lookup, work_dir))
            if accesses.selection is not None:
                results.update(_export_key(connector, key, accesses, lookup, settings, clients, work_dir))
            if results:
                _put_result(s3, bucket, job_id, store_name, key, {"entries": results})
            visited += 1
    return {"store": store_name, "keys": len(keys), "visited": visited}


def _put_result(s3: Any, bucket: str, job_id: str, store: str, key: str, body: dict[str, Any]) -> None:
    # Named by a hash: the key itself (which may carry an identifier) is not written anywhere.
    name = hashlib.sha256(key.encode()).hexdigest()
    work.put_json(s3, bucket, f"{job_prefix(job_id)}results/{store}/{name}.json", body)


def erase_key(
    connector: S3DatasetConnector, key: str, queued: QueuedSubjects, lookup: str, work_dir: Any
) -> dict[str, dict[str, Any]]:
    """One key for every queued erasure of its store: each version read once, the object rewritten at most once;
    per entry, its share (bench/lake_bench.py measures this function)."""
    assert queued.selection is not None
    holdings = connector.key_holdings(key, queued.selection, queued.owners, work_dir)
    if not holdings:
        return {}
    outcome: ObjectOutcome | None = None
    if any(h.personal for h in holdings.values()):
        try:
            outcome = connector.clean_key(key, queued.selection, holdings, work_dir)
        except StoreUnavailable:  # deleted while being rewritten: the next job lists it again
            outcome = ObjectOutcome(status=ObjectStatus.CONFLICT)
    anonymise = queued.selection.mode == "anonymise"
    return {
        entry_id: _erase_result(connector, key, holding, outcome, anonymise, queued, entry_id, lookup)
        for entry_id, holding in holdings.items()
    }


def _erase_result(
    connector: S3DatasetConnector,
    key: str,
    holding: KeyHolding,
    outcome: ObjectOutcome | None,
    anonymise: bool,
    queued: QueuedSubjects,
    entry_id: str,
    lookup: str,
) -> dict[str, Any]:
    """One request's share of one key, as connector.erase counts it for a single subject."""
    result: dict[str, Any] = {
        "found": holding.current,
        "kept": holding.current if anonymise else 0,
        "deleted": 0,
        "anonymised": 0,
        "status": "clean",
        "matched_spelling": queued.matched_spelling(entry_id, holding.hits, lookup),
    }
    if not holding.personal or outcome is None:
        return result  # nothing of this subject left to remove here (a re-run is a no-op)
    digest = queued.digests[entry_id]
    status = outcome.status
    if status is ObjectStatus.CONFLICT:
        result["status"] = "conflict"
    elif status in _FAILED:
        result["status"] = status.value
    elif status is ObjectStatus.BLOCKED:
        result["status"] = "blocked"
        result["reason"] = outcome.reason or "blocked"
        if not anonymise:
            result["kept"] += holding.current_personal or holding.history_personal
    else:
        result["deleted" if not anonymise else "anonymised"] = holding.current_personal
        result["key_digests"] = [connector.version_digest(key, v, digest) for v in holding.versions]
    # removed_rows and masked_rows are the object's (every subject of the job); subject_rows are this request's.
    result["object"] = {**connector.object_evidence(key, outcome, digest), "subject_rows": holding.current_personal}
    return result


def _export_key(
    connector: S3DatasetConnector,
    key: str,
    queued: QueuedSubjects,
    lookup: str,
    settings: DatasetJobSettings,
    clients: Clients,
    work_dir: Any,
) -> dict[str, dict[str, Any]]:
    assert queued.selection is not None
    found = connector.export_key(key, queued.selection, work_dir)
    if found is None:
        return {}
    version_id, grouped = found
    rows_of: dict[str, list[Mapping[str, Any]]] = {}
    hits_of: dict[str, set[Hit]] = {}
    seen: dict[str, set[int]] = {}
    for hit, rows in sorted(grouped.items()):
        for entry_id in queued.owners.get(hit, ()):
            hits_of.setdefault(entry_id, set()).add(hit)
            for row in rows:
                if id(row) not in seen.setdefault(entry_id, set()):  # a row holding two identifiers
                    seen[entry_id].add(id(row))
                    rows_of.setdefault(entry_id, []).append(row)
    results: dict[str, dict[str, Any]] = {}
    s3 = clients.client("s3")
    for entry_id, rows in rows_of.items():
        entry, digest = queued.entries[entry_id], queued.digests[entry_id]
        version_digest = connector.version_digest(key, version_id, digest)
        sink = exports.S3ExportSink(s3, settings.EXPORT_BUCKET, entry.request_id)
        # One part per object, named by the request's digest of it: a re-run overwrites instead of duplicating.
        path, count, size = sink.write_records(entry.store, rows, name=f"records-{version_digest[:24]}.json")
        results[entry_id] = {
            "records": count,
            "objects": 1,
            "bytes": size,
            "files": [path],
            "key_digests": [version_digest],
            "status": "clean",
            "matched_spelling": queued.matched_spelling(entry_id, hits_of[entry_id], lookup),
        }
    return results


# --- finish -------------------------------------------------------------------------------------------


def finish_job(job_id: str, failed: bool, settings: DatasetJobSettings, clients: Clients) -> dict[str, Any]:
    """Record and resume every claimed entry (or fail it for a retry), then remove the job's files."""
    table = clients.resource_table(settings.DATASET_QUEUE_TABLE)
    s3, bucket = clients.client("s3"), settings.DATASET_WORK_BUCKET
    entries = queue.claimed(table, job_id)
    shares, unreached = _results(s3, bucket, job_id)
    counts: Counter[str] = Counter()
    sfn = clients.client("stepfunctions")
    for entry in entries:
        share = shares.get((entry.store, entry.entry), [])
        error: str | None
        if failed:
            error, cause = "StoreUnavailable", "the dataset job failed before this store was done; queued again"
        elif unreached.get(entry.store):
            error, cause = (
                "StoreUnavailable",
                f"{unreached[entry.store]} object(s) not reached by the job; queued again",
            )
        else:
            error, cause = _verdict(share)
        released = False
        if error is None:
            output = _record(entry, [*entry.carried, *share], settings, clients)
            resumed = _resume(sfn, entry, "send_task_success", output=output)
            counts["succeeded" if resumed else "gone"] += 1
        else:
            changed = _changed(share) if error == "StoreUnavailable" else []
            if changed:  # released before its task hears of the failure, so the retry re-queues it with these kept
                released = queue.release(table, job_id, entry, changed)
            _resume(sfn, entry, "send_task_failure", error=error, cause=cause)
            counts["retried" if error == "StoreUnavailable" else "failed"] += 1
        if not released:
            queue.done(table, job_id, entry)
    _remove_files(s3, bucket, job_id)
    return {"job_id": job_id, "entries": len(entries), **counts}


def _results(s3: Any, bucket: str, job_id: str) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], Counter[str]]:
    prefix = f"{job_prefix(job_id)}results/"
    shares: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unreached: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            store = item["Key"][len(prefix) :].split("/", 1)[0]
            body = work.get_json(s3, bucket, item["Key"])
            unreached[store] += int(body.get("unreached", 0))
            for entry_id, share in body.get("entries", {}).items():
                shares.setdefault((store, entry_id), []).append(share)
    return shares, unreached


def _changed(shares: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shares of objects this job rewrote or deleted for the entry (their evidence must not be lost)."""
    return [s for s in shares if s["status"] == "clean" and "object" in s]


def _verdict(shares: list[dict[str, Any]]) -> tuple[str | None, str]:
    statuses = Counter(s["status"] for s in shares)
    if statuses["conflict"]:
        return "StoreUnavailable", f"{statuses['conflict']} object(s) changed while being erased; queued again"
    failed = {k: n for k, n in statuses.items() if k in {s.value for s in _FAILED}}
    if failed:
        return "StoreError", "objects not erased (" + ", ".join(f"{n} {k}" for k, n in sorted(failed.items())) + ")"
    return None, ""


def _record(entry: queue.Entry, shares: list[dict[str, Any]], settings: DatasetJobSettings, clients: Clients) -> str:
    """The store's evidence (first-time-only) and the task output run_store_task would have returned."""
    spelling = next((s["matched_spelling"] for s in shares if s.get("matched_spelling")), None)
    result: EraseResult | ExportResult
    if entry.operation == "erase":
        store = settings.datamap().stores[entry.store]
        blocked = Counter(s["reason"] for s in shares if s["status"] == "blocked")
        result = EraseResult(
            found=sum(s["found"] for s in shares),
            deleted=sum(s["deleted"] for s in shares),
            anonymised=sum(s["anonymised"] for s in shares),
            kept=sum(s["kept"] for s in shares),
            key_digests=[d for s in shares for d in s.get("key_digests", [])],
            objects=[s["object"] for s in shares if "object" in s],
            matched_spelling=spelling,
        )
        if result.found and store.erasure.mode == "anonymise" and store.erasure.reason:
            result.exceptions.append(store.erasure.reason)
        result.exceptions.extend(f"{n} object(s) blocked: {reason}" for reason, n in sorted(blocked.items()))
    else:
        result = ExportResult(
            records=sum(s["records"] for s in shares),
            objects=sum(s["objects"] for s in shares),
            bytes=sum(s["bytes"] for s in shares),
            files=[f for s in shares for f in s["files"]],
            key_digests=[d for s in shares for d in s["key_digests"]],
            matched_spelling=spelling,
        )
    recorded = record_outcome(entry.request_id, entry.store, entry.operation, result, settings, clients)
    key = evidence.store_outcome_key(entry.request_id, entry.store, entry.operation)
    return json.dumps(task_output(entry.store, entry.operation, key, recorded))


def _resume(sfn: Any, entry: queue.Entry, call: str, **params: str) -> bool:
    """Send the task's result; False when the request no longer waits (timed out, stopped): nothing to resume."""
    try:
        getattr(sfn, call)(taskToken=entry.task_token, **params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _TOKEN_GONE:
            logger.warning("queued task no longer waits", extra={"store": entry.store, "operation": entry.operation})
            return False
        raise
    return True


def _remove_files(s3: Any, bucket: str, job_id: str) -> None:
    """Batches list lake keys: they go when the job ends (the bucket's lifecycle rule is the backstop)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=job_prefix(job_id)):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
