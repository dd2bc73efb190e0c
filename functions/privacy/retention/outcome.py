"""Retention evidence: one record per store that completed, and one summary per run.

Records hold counts and the keyed digest of expired keys, never keys. They are written once by key
(evidence.write_record), so a replay of a run finds the first run's records and leaves them as they
are, unless the replay expired records: then it writes its own record under replays/<execution>/. A
store that failed gets no record at its key (so a rerun after the fix can still record the
store's outcome); the failure is named in the run's summary instead. A run that ended
partially_completed writes its summary under attempts/<execution>.json, keeping summary.json for the
run that completes.

Lake (s3_dataset) stores count rows (scanned, expired, skipped_*) and objects (``objects``: read, rewritten,
deleted, blocked, failed), and list the objects they could not handle cleanly (``object_outcomes``: key
digest, versions, sha256s and row counts). A lake store with a failed object (a conflict, one too large, a
failed verification) is ``partially_completed``, not succeeded: its record says what was expired, and the
run ends partially_completed so a rerun picks up what is left.
"""

from __future__ import annotations

from typing import Any

from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.evidence import records as evidence
from functions.privacy.retention.counts import OBJECT_FIELDS, Counts

COUNT_FIELDS = ("scanned", "expired", "skipped_held", "skipped_retained", "skipped_unreadable", "failed")


def _evidence_counts(counts: dict[str, int]) -> dict[str, int]:
    """Counts as docs/evidence.schema.json names them (``failures``, not the output's ``failed``)."""
    return {("failures" if name == "failed" else name): value for name, value in counts.items()}


def summary_key(run_id: str, execution: str, completed: bool) -> str:
    return f"retention/{run_id}/summary.json" if completed else f"retention/{run_id}/attempts/{execution}.json"


def record_store(
    s3: Any, audit_bucket: str, datamap: DataMap, plan: dict[str, Any], store_name: str, units: list[dict[str, Any]]
) -> dict[str, Any]:
    """Add up a store's units (segments, rounds, one job), write its evidence, return its summary entry."""
    counts = Counts.total(units)
    store = datamap.stores[store_name]
    key = evidence.retention_record_key(plan["run_id"], store_name)
    lake = store.kind is StoreKind.S3_DATASET
    objects = {f: getattr(counts, f) for f in OBJECT_FIELDS}
    status, error = "succeeded", None
    if lake and counts.objects_failed:
        status = "partially_completed"
        error = f"{counts.objects_failed} lake object(s) could not be handled (see object_outcomes in its evidence)"
    fields = {
        "kind": "retention_run",
        "run_id": plan["run_id"],
        "as_of": plan["as_of"],
        "dry_run": plan["dry_run"],
        "store": store_name,
        "store_kind": store.kind.value,
        "categories": list(store.categories),
        "expire_before": plan["expire_before"],
        "erasure_mode": store.erasure.mode,
        **_evidence_counts({f: getattr(counts, f) for f in COUNT_FIELDS}),
        # Records whose timestamp could not be read were kept; the first few keys, as keyed digests.
        "unreadable_key_digests": counts.unreadable_key_digests,
        "expired_keys_digest": counts.expired_keys_digest,
        "execution": plan["execution"],
    }
    if lake:
        fields.update(status=status, objects=objects, object_outcomes=counts.object_outcomes)
    record, sha = evidence.write_record(s3, audit_bucket, key, fields)
    if record.get("execution") != plan["execution"] and counts.expired:
        # A replay of the same as_of that still expired records (e.g. a hold was released since, or older
        # data arrived): the first run's record does not cover them, so this execution gets its own.
        key = evidence.retention_replay_record_key(plan["run_id"], plan["execution"], store_name)
        record, sha = evidence.write_record(s3, audit_bucket, key, fields)
    return {
        "store": store_name,
        "status": status,
        **{f: getattr(counts, f) for f in COUNT_FIELDS},
        "unreadable_key_digests": counts.unreadable_key_digests,
        **({"objects": objects} if lake else {}),
        **({"error": error} if error else {}),
        "evidence_key": key,
        "evidence_sha256": sha,
        # This execution's own execution name may differ from the recorded one on a replay.
        "evidence_execution": record.get("execution"),
    }


def failed_store(store_name: str, error: str) -> dict[str, Any]:
    return {"store": store_name, "status": "failed", **dict.fromkeys(COUNT_FIELDS, 0), "error": error}


def summarize_run(s3: Any, audit_bucket: str, plan: dict[str, Any], stores: list[dict[str, Any]]) -> dict[str, Any]:
    """The execution's output, and the run's summary evidence record."""
    completed = all(s["status"] == "succeeded" for s in stores)
    output_stores = [
        {"store": s["store"], "status": s["status"], **{f: s.get(f, 0) for f in COUNT_FIELDS}}
        | ({"unreadable_key_digests": s["unreadable_key_digests"]} if s.get("unreadable_key_digests") else {})
        | ({"objects": s["objects"]} if s.get("objects") else {})
        | ({"error": s["error"]} if s.get("error") else {})
        for s in stores
    ]
    key = summary_key(plan["run_id"], plan["execution"], completed)
    fields = {
        "kind": "retention_run",
        "record": "summary",
        "run_id": plan["run_id"],
        "as_of": plan["as_of"],
        "dry_run": plan["dry_run"],
        "execution": plan["execution"],
        "status": "completed" if completed else "partially_completed",
        **_evidence_counts({f: sum(s[f] for s in output_stores) for f in COUNT_FIELDS}),
        "stores": output_stores,
        "store_records": {s["store"]: s["evidence_sha256"] for s in stores if s.get("evidence_sha256")},
    }
    record, sha = evidence.write_record(s3, audit_bucket, key, fields)
    if record.get("execution") != plan["execution"] and fields["expired"]:
        key = evidence.retention_replay_record_key(plan["run_id"], plan["execution"], "summary")  # see record_store
        _, sha = evidence.write_record(s3, audit_bucket, key, fields)
    return {
        "run_id": plan["run_id"],
        "as_of": plan["as_of"],
        "dry_run": plan["dry_run"],
        "status": "completed" if completed else "partially_completed",
        "stores": output_stores,
        "evidence_key": key,
        "evidence_sha256": sha,
    }
