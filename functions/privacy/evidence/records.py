"""Evidence records: canonical, hash-linked JSON written once to the Object Lock audit bucket.

Records hold counts, keyed HMACs and digests only, never personal data: the bucket is in
COMPLIANCE mode and can never be emptied. Writing is idempotent by key, so a retried or redriven
task finds its record and returns it instead of writing a second one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

SCHEMA = "privacy-evidence/v1"


def canonical(record: dict[str, Any]) -> bytes:
    """Sorted keys, UTF-8, no insignificant whitespace: the bytes that are hashed."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def request_prefix(request_id: str) -> str:
    return f"requests/{request_id}/"


def store_outcome_key(request_id: str, store: str, operation: str) -> str:
    return f"{request_prefix(request_id)}stores/{store}.{operation}.json"


def chain_prefix(request_id: str) -> str:
    return f"{request_prefix(request_id)}chain/"


def list_versions(s3: Any, bucket: str, prefixes: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every version and delete marker under ``prefixes``, by key, oldest first.

    Each entry: version_id, modified, delete_marker. An unversioned bucket (a copy) lists one
    version per key with version id "null".
    """
    versions: dict[str, list[dict[str, Any]]] = {}
    for prefix in prefixes:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for marker, entries in ((False, page.get("Versions", [])), (True, page.get("DeleteMarkers", []))):
                for entry in entries:
                    versions.setdefault(entry["Key"], []).append(
                        {
                            "version_id": entry.get("VersionId") or "null",
                            "modified": entry["LastModified"],
                            "delete_marker": marker,
                            "latest": entry.get("IsLatest", False),
                        }
                    )
    for entries in versions.values():
        # Times are whole seconds, so several versions can share one. On a tie the current version is the newer
        # one, and otherwise S3's own order decides: it lists each key's versions newest first, so reversed and
        # sorted stably they come oldest first.
        entries.reverse()
        entries.sort(key=lambda v: (v["modified"], v["latest"]))
    return versions


def read_version(s3: Any, bucket: str, key: str, version_id: str) -> bytes:
    if version_id == "null":  # an unversioned copy: the only version is the current object
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()


def objects_of(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The versions that hold bytes (not delete markers), oldest first."""
    return [v for v in versions if not v["delete_marker"]]


def read_record(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any], str] | None:
    """The record at ``key`` and the SHA-256 of its bytes, or None if it was never written.

    A record hidden by a delete marker is still the record: its first version is returned, so a
    retry never writes a second version over it.
    """
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        hidden = objects_of(list_versions(s3, bucket, (key,)).get(key, []))
        if not hidden:
            return None
        body = read_version(s3, bucket, key, hidden[0]["version_id"])
    return json.loads(body), sha256(body)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def put_if_absent(s3: Any, bucket: str, key: str, body: bytes) -> bool:
    """PUT only if no object exists at ``key`` (S3 conditional write); False if one already does."""
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            IfNoneMatch="*",
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",  # Object Lock buckets require an integrity checksum on PUT
            Metadata={"sha256": sha256(body)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
            return False
        raise
    return True


def write_record(s3: Any, bucket: str, key: str, record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Write ``record`` once; if a record already exists at ``key`` return that one instead."""
    existing = read_record(s3, bucket, key)
    if existing is not None:
        return existing
    record = {"schema": SCHEMA, "recorded_at": _now(), **record}
    body = canonical(record)
    if not put_if_absent(s3, bucket, key, body):
        existing = read_record(s3, bucket, key)
        assert existing is not None
        return existing
    return record, sha256(body)


def append_request_event(
    s3: Any,
    bucket: str,
    request_id: str,
    event: str,
    fields: dict[str, Any],
    *,
    attempts: int = 10,
    repeatable: bool = False,
) -> tuple[str, dict[str, Any], str]:
    """Append ``event`` to the request's hash chain; returns (key, record, sha256).

    The chain is requests/<id>/chain/<seq>-<event>.json, each record carrying its predecessor's
    SHA-256. One chain per request keeps concurrent requests parallel. An event already in the
    chain is returned instead of appended again (retries and redrives), and a conditional PUT on the
    next sequence number stops two writers from forking the chain. A ``repeatable`` event (one per occurrence,
    e.g. each archive download) is appended every time, at its own sequence number, never over another.
    """
    prefix = chain_prefix(request_id)
    for _ in range(attempts):
        # Versions, not current objects: a record hidden by a delete marker still holds its place.
        keys = sorted(key for key, versions in list_versions(s3, bucket, (prefix,)).items() if objects_of(versions))
        for key in [] if repeatable else keys:
            if key.endswith(f"-{event}.json"):
                existing = read_record(s3, bucket, key)
                assert existing is not None
                return key, existing[0], existing[1]
        previous = read_record(s3, bucket, keys[-1]) if keys else None
        record = {
            "schema": SCHEMA,
            "recorded_at": _now(),
            "kind": "request_event",
            "event": event,
            "request_id": request_id,
            "sequence": len(keys),
            "prev_sha256": previous[1] if previous else None,
            **fields,
        }
        body = canonical(record)
        key = f"{prefix}{len(keys):04d}-{event}.json"
        if put_if_absent(s3, bucket, key, body):
            return key, record, sha256(body)
    raise RuntimeError(f"could not append {event} to the evidence chain of {request_id}: too much contention")


def operator_action_key(action: str, action_id: str, at: datetime | None = None) -> str:
    """operator/YYYY/MM/DD/<timestamp>-<id>-<action>.json: one record per operator action, listed by day."""
    at = at or datetime.now(UTC)
    return f"operator/{at:%Y/%m/%d}/{at:%Y%m%dT%H%M%S}-{action_id}-{action}.json"


def write_operator_action(
    s3: Any, bucket: str, action: str, action_id: str, fields: dict[str, Any], *, at: datetime | None = None
) -> tuple[str, dict[str, Any], str]:
    """Record an operator action (hold placed or released, deadline extended, execution redriven, request filed).

    ``action_id`` makes the write idempotent (the same action retried finds its record). ``fields``
    must hold no personal data: subjects appear as HMACs, operators by their operator name.
    """
    key = operator_action_key(action, action_id, at)
    record, digest = write_record(
        s3, bucket, key, {"kind": "operator_action", "action": action, "action_id": action_id, **fields}
    )
    return key, record, digest


def retention_record_key(run_id: str, store: str) -> str:
    """retention/<run id>/<store>.json: one record per store and retention run."""
    return f"retention/{run_id}/{store}.json"


def retention_replay_record_key(run_id: str, execution: str, store: str) -> str:
    """retention/<run id>/replays/<execution>/<store>.json: a replay of a run that expired more records."""
    return f"retention/{run_id}/replays/{execution}/{store}.json"
