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


def completion_key(request_id: str) -> str:
    return f"{request_prefix(request_id)}completed.json"


def read_record(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any], str] | None:
    """The record at ``key`` and the SHA-256 of its bytes, or None if it was never written."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body), sha256(body)


def write_record(s3: Any, bucket: str, key: str, record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Write ``record`` once; if a record already exists at ``key`` return that one instead."""
    existing = read_record(s3, bucket, key)
    if existing is not None:
        return existing
    record = {"schema": SCHEMA, "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **record}
    body = canonical(record)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",  # Object Lock buckets require an integrity checksum on PUT
        Metadata={"sha256": sha256(body)},
    )
    return record, sha256(body)
