"""The work bucket: key batches, scan cursors and import files that hold identifiers.

It is encrypted with the stack's KMS key and its objects expire after one day (lifecycle rule), so
identifiers copied there for a run do not outlive it; it is never the Object Lock audit bucket.
"""

from __future__ import annotations

import json
from typing import Any


def prefix(run_id: str, execution: str, store: str) -> str:
    # Scoped by execution: a replay of the same run re-plans instead of trusting another run's files.
    return f"runs/{run_id}/{execution}/{store}/"


def put_json(s3: Any, bucket: str, key: str, value: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value, separators=(",", ":")).encode())


def get_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def save_round(
    s3: Any,
    bucket: str,
    round_base: str,
    batches: list[str],
    next_cursor: dict[str, Any] | None,
    cursor_key: str | None,
    *,
    names: tuple[str, str] = ("manifest.json", "cursor.json"),
) -> tuple[str, str | None]:
    """Write a listing round's manifest (and the cursor the next round starts from); returns both keys.

    The cursor this round started from is deleted only once the round is saved: a retried invocation still
    finds the cursor it started from.
    """
    manifest_name, cursor_name = names
    manifest_key = f"{round_base}{manifest_name}"
    put_json(s3, bucket, manifest_key, [{"batch": k} for k in batches])
    saved_cursor = None
    if next_cursor is not None:
        saved_cursor = f"{round_base}{cursor_name}"
        put_json(s3, bucket, saved_cursor, next_cursor)
    if cursor_key:
        s3.delete_object(Bucket=bucket, Key=cursor_key)
    return manifest_key, saved_cursor
