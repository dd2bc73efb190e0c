"""An in-memory ExportSink for connector tests: records kept as JSON lines, objects copied server-side in moto.

The real sink (an S3 prefix in the export bucket) is the workflow's; this one also records *when* records
arrive, so tests can check that connectors stream instead of collecting everything first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any


class MemorySink:
    def __init__(self, s3: Any = None, bucket: str = "export-test", on_record: Callable[[], Any] | None = None) -> None:
        self.s3, self.bucket, self._on_record = s3, bucket, on_record
        self.parts: dict[str, list[dict[str, Any]]] = {}
        self.observed: list[Any] = []  # what on_record returned as each record arrived
        self.copied: dict[str, str] = {}  # archive name -> source key

    def write_records(self, store: str, records: Iterable[Mapping[str, Any]]) -> tuple[str, int, int]:
        path = f"{store}/records.jsonl"
        part = self.parts.setdefault(store, [])
        size = 0
        for record in records:  # consumed one at a time, as the S3 sink streams them into a multipart upload
            if self._on_record:
                self.observed.append(self._on_record())
            line = json.dumps(record, sort_keys=True) + "\n"  # fails on anything that is not plain JSON
            part.append(json.loads(line))
            size += len(line.encode())
        return path, len(part), size

    def copy_object(self, store: str, bucket: str, key: str, version_id: str | None, relative_name: str) -> int:
        target = f"{store}/objects/{relative_name}"
        source = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        self.s3.copy_object(Bucket=self.bucket, Key=target, CopySource=source)
        self.copied[target] = key
        return int(self.s3.head_object(Bucket=self.bucket, Key=target)["ContentLength"])

    def body(self, name: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=name)["Body"].read()
