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
