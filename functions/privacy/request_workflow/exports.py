"""Access exports (GDPR Art. 15): store parts in the export bucket, then one streamed zip archive with a manifest.

Connectors write a subject's records page by page and copy objects server-side into
exports/<request_id>/parts/<store>/; packaging streams every part into exports/<request_id>/archive.zip
through an S3 multipart upload, so no Lambda holds a large subject in memory. Only the request id,
keys and counts travel in Step Functions state.

The parts stay until an archive holds every store of the request: a re-run of a partially completed
request re-exports only the stores that failed, and rebuilds the archive from all parts (the link
sent first then serves the whole archive, not the re-run's stores only).
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc
from functions.privacy.datamap.model import DataMap

# S3 multipart parts must be >= 5 MiB (except the last); 8 MiB keeps memory low and part counts small.
PART_SIZE = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
MAX_PARTS = 10_000  # S3's limit per upload: 8 MiB parts allow archives up to ~78 GiB
ARCHIVE_NAME = "archive.zip"
MANIFEST_NAME = "manifest.json"
# S3 user metadata on the archive: "true" once it holds every store's part (the parts are then deleted).
COMPLETE_METADATA = "complete"


class ExportTooLarge(RuntimeError):
    """The archive would need more multipart parts than S3 allows; raise the part size."""


class InvalidArchivePath(ValueError):
    """A connector asked for an archive path outside its store's folder."""


class ExportPartsMissing(RuntimeError):
    """A store exported data but its part is gone (expired?): no archive is built without it.

    The message names the stores only; a re-run re-reads them (see store_tasks).
    """


def export_prefix(request_id: str) -> str:
    return f"exports/{request_id}/"


def parts_prefix(request_id: str) -> str:
    return f"{export_prefix(request_id)}parts/"


def archive_key(request_id: str) -> str:
    return f"{export_prefix(request_id)}{ARCHIVE_NAME}"


def store_parts_prefix(request_id: str, store: str) -> str:
    return f"{parts_prefix(request_id)}{store}/"


def archive_complete(s3: Any, bucket: str, request_id: str) -> bool:
    """Whether the request's archive exists and holds every store's part."""
    try:
        head = s3.head_object(Bucket=bucket, Key=archive_key(request_id))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return bool(head.get("Metadata", {}).get(COMPLETE_METADATA) == "true")


def has_parts(s3: Any, bucket: str, request_id: str, store: str) -> bool:
    """Whether the store's folder under the request's parts holds any file."""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=store_parts_prefix(request_id, store), MaxKeys=1)
    return bool(listing.get("KeyCount", 0))


def _json_default(value: Any) -> Any:
    # DynamoDB hands back Decimal, sets and bytes; the archive is plain JSON.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value"):  # boto3 Binary
        return base64.b64encode(bytes(value.value)).decode()
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


class MultipartWriter:
    """A write-only, unseekable file object that uploads to S3 in parts of ``part_size`` bytes.

    zipfile writes to unseekable streams with data descriptors, so the archive never needs to be
    held whole: at most one part is buffered.
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        part_size: int = PART_SIZE,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self._s3, self._bucket, self._key, self._part_size = s3, bucket, key, part_size
        self._upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, Metadata=metadata or {}
        )["UploadId"]
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0
        self.closed = False

    # zipfile probes these on the stream it writes to.
    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.bytes_written

    def flush(self) -> None:
        pass

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.bytes_written += len(data)
        while len(self._buffer) >= self._part_size:
            self._upload(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]
        return len(data)

    def _upload(self, body: bytes) -> None:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ExportTooLarge(f"more than {MAX_PARTS} parts of {self._part_size} bytes")
        etag = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
        )["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    @property
    def part_count(self) -> int:
        return len(self._parts)

    def close(self) -> None:
        if self.closed:
            return
        if self._buffer or not self._parts:
            self._upload(bytes(self._buffer))  # the last part may be smaller than 5 MiB
            self._buffer.clear()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )
        self.closed = True

    def abort(self) -> None:
        if not self.closed:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self.closed = True


class S3ExportSink:
    """The ExportSink connectors write to: one folder per store under the request's parts prefix."""

    def __init__(self, s3: Any, bucket: str, request_id: str, *, part_size: int = PART_SIZE) -> None:
        self._s3, self._bucket, self._request_id, self._part_size = s3, bucket, request_id, part_size
        self._record_files: dict[str, int] = {}

    def _key(self, path: str) -> str:
        return parts_prefix(self._request_id) + path

    def write_records(
        self, store: str, records: Iterable[Mapping[str, Any]], *, name: str | None = None
    ) -> tuple[str, int, int]:
        """Stream records as one JSON array to ``<store>/records[-n].json`` (or ``<store>/<name>``, which the dataset
        job uses for one part per lake object); returns (path, count, bytes)."""
        if name is not None:
            path = f"{store}/{name}"
        else:
            n = self._record_files[store] = self._record_files.get(store, 0) + 1
            path = f"{store}/records.json" if n == 1 else f"{store}/records-{n}.json"
        writer = MultipartWriter(
            self._s3, self._bucket, self._key(path), part_size=self._part_size, content_type="application/json"
        )
        count = 0
        try:
            writer.write(b"[")
            for record in records:
                writer.write((b",\n" if count else b"\n") + json.dumps(record, default=_json_default).encode())
                count += 1
            writer.write(b"\n]\n")
            writer.close()
        except BaseException:
            writer.abort()
            raise
        return path, count, writer.bytes_written

    def copy_object(self, store: str, bucket: str, key: str, version_id: str | None, relative_name: str) -> int:
        """Server-side copy (managed: multipart UploadPartCopy for large objects) into ``<store>/objects/``."""
        parts = relative_name.split("/")
        if not relative_name or relative_name.startswith("/") or any(p in {"", ".", ".."} for p in parts):
            raise InvalidArchivePath(f"store {store}: object path is not a plain relative path")
        source: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version_id:
            source["VersionId"] = version_id
        head = self._s3.head_object(**source)
        self._s3.copy(source, self._bucket, self._key(f"{store}/objects/{relative_name}"))
        return int(head["ContentLength"])


def _list_parts(s3: Any, bucket: str, request_id: str) -> list[dict[str, Any]]:
    prefix = parts_prefix(request_id)
    return [
        {"key": obj["Key"], "path": obj["Key"][len(prefix) :], "size": obj["Size"]}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]


def manifest(
    request_id: str, datamap: DataMap, outcomes: list[dict[str, Any]], files: list[dict[str, Any]]
) -> dict[str, Any]:
    """What Art. 15(1) requires beyond the data: purposes, legal bases, retention and recipients per category."""
    by_store = {o["store"]: o for o in outcomes}
    stores: dict[str, Any] = {}
    used: set[str] = set()
    for name, store in datamap.stores.items():
        outcome = by_store.get(name, {})
        if outcome.get("records") or outcome.get("objects"):
            used.update(store.categories)  # Art. 15(1)(b): the categories concerned, not every one we process
        stores[name] = {
            "categories": list(store.categories),
            "status": outcome.get("status", "not_run"),
            "records": outcome.get("records", 0),
            "objects": outcome.get("objects", 0),
            "files": sorted(f["path"] for f in files if f["path"].startswith(f"{name}/")),
        }
    categories = {
        name: {
            "description": c.description,
            "purpose": c.purpose,
            "legal_basis": c.legal_basis,
            "retention_period": c.retention,
            "recipients": {r: datamap.recipients[r].description for r in c.recipients},
        }
        for name, c in datamap.categories.items()
        if name in used
    }
    return {
        "request_id": request_id,
        "generated_at": format_utc(timestamps.now()),
        "categories": categories,
        "stores": stores,
    }


def _stores_with_parts(files: list[dict[str, Any]]) -> set[str]:
    return {f["path"].split("/", 1)[0] for f in files}


def package_export(
    request_id: str,
    outcomes: list[dict[str, Any]],
    datamap: DataMap,
    s3: Any,
    bucket: str,
    *,
    part_size: int = PART_SIZE,
) -> dict[str, Any]:
    """Stream the parts of every store of the request into one zip (with manifest.json).

    The archive is marked complete (S3 metadata ``complete=true``) when every store's task succeeded;
    only then are the parts deleted, so a re-run that re-exports the failed stores rebuilds the archive
    from all of them. A store that exported data but has no part raises ExportPartsMissing rather than
    build an archive without it. Idempotent: a retried task finds the complete archive and returns it.
    """
    key = archive_key(request_id)
    files = _list_parts(s3, bucket, request_id)
    if not files and archive_complete(s3, bucket, request_id):
        head = s3.head_object(Bucket=bucket, Key=key)
        return {
            "archive_key": key,
            "archive_bytes": int(head["ContentLength"]),
            "upload_parts": 0,
            "files": 0,
            "complete": True,
        }
    present = _stores_with_parts(files)
    failed = [o["store"] for o in outcomes if o.get("status") != "succeeded"]
    missing = sorted(
        o["store"]
        for o in outcomes
        if o.get("status") == "succeeded" and (o.get("records") or o.get("objects")) and o["store"] not in present
    )
    if missing:
        raise ExportPartsMissing(f"request {request_id}: no export part for store(s) {', '.join(missing)}")
    complete = not failed
    writer = MultipartWriter(
        s3,
        bucket,
        key,
        part_size=part_size,
        content_type="application/zip",
        metadata={COMPLETE_METADATA: "true" if complete else "false"},
    )
    try:
        with zipfile.ZipFile(writer, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            archive.writestr(MANIFEST_NAME, json.dumps(manifest(request_id, datamap, outcomes, files), indent=2))
            for part in files:
                body = s3.get_object(Bucket=bucket, Key=part["key"])["Body"]
                with archive.open(part["path"], mode="w", force_zip64=True) as member:
                    for chunk in body.iter_chunks(READ_CHUNK):
                        member.write(chunk)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if complete:  # a partial archive keeps its parts for the re-run that completes it
        for start in range(0, len(files), 1000):  # DeleteObjects takes 1000 keys per call
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": f["key"]} for f in files[start : start + 1000]], "Quiet": True},
            )
    return {
        "archive_key": key,
        "archive_bytes": writer.bytes_written,
        "upload_parts": writer.part_count,
        "files": len(files),
        "complete": complete,
    }
