"""The safe rewrite (and the access export) of one S3 dataset object: pin the version, scan, rewrite to /tmp,
PutObject If-Match with every header kept, verify the new version, then delete older versions or roll back.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from functions.privacy.core import timestamps
from functions.privacy.datasets.format import DatasetFormat, RewriteStats, ScanResult
from functions.privacy.datasets.ranged import RangedObject
from functions.privacy.datasets.selection import Hit, Selection

# PutObject's single-request limit; larger objects would need multipart, whose completion moto (5.2.5) only
# checks against If-None-Match, so an If-Match rewrite of them could not be tested: they are too_large.
MAX_OBJECT_BYTES = 5 * 1024**3
_CHUNK = 8 * 1024 * 1024
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_ARCHIVED = {"GLACIER", "DEEP_ARCHIVE"}  # GetObject needs a restore first (Glacier Instant Retrieval reads)
# HeadObject fields PutObject takes back under the same name: the headers a reader of the lake relies on.
_COPIED_HEADERS = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "Expires",
    "WebsiteRedirectLocation",
)
_GRANT_PARAMS = {
    "READ": "GrantRead",
    "READ_ACP": "GrantReadACP",
    "WRITE_ACP": "GrantWriteACP",
    "FULL_CONTROL": "GrantFullControl",
}


# Error codes of a version or object deleted by someone since it was listed: it no longer holds anyone.
GONE_CODES = frozenset({"NoSuchVersion", "NoSuchKey", "404"})


class ObjectStatus(StrEnum):
    CLEAN = "clean"  # nothing to act on (noncurrent versions that still held selected rows are deleted)
    REWRITTEN = "rewritten"
    DELETED = "deleted"  # every row went: every version of the key is deleted rather than an empty file kept
    BLOCKED = "blocked"  # Object Lock, an unversioned bucket or an archived storage class: nothing written
    TOO_LARGE = "too_large"
    CONFLICT = "conflict"  # the object changed after it was pinned: left for the next job, nothing deleted
    FAILED_VERIFICATION = "failed_verification"  # the new version was deleted again; the source is current


class ObjectOutcome(BaseModel):
    """What happened to one object: versions, digests and counts only (it goes into workflow state and evidence)."""

    model_config = {"arbitrary_types_allowed": True}

    status: ObjectStatus
    source_version_id: str | None = None
    new_version_id: str | None = None
    source_sha256: str | None = None
    new_sha256: str | None = None
    rows_before: int = 0
    rows_after: int = 0
    removed_rows: int = 0
    masked_rows: int = 0
    expired_rows: int = 0
    held_rows: int = 0
    unreadable_rows: int = 0
    malformed_rows: int = 0
    schema_hash: str | None = None
    older_versions_deleted: int = 0
    bytes_read: int = 0
    gets: int = 0
    puts: int = 0
    reason: str | None = Field(default=None, description="Why the object was not rewritten; never holds a value")
    # (identifier, value) -> rows: the job attributes rows to requests with it; never leaves the worker.
    hits: Counter[Hit] = Field(default_factory=Counter, exclude=True)


@dataclass(frozen=True)
class _Pinned:
    """The version a run reads and replaces; every read names it, and the PUT is conditional on its ETag."""

    version_id: str
    etag: str
    size: int
    last_modified: datetime
    head: Mapping[str, Any]


class _Reader:
    """Reads of pinned versions, counting what S3 served: ranged (a Parquet find) or spooled whole to /tmp."""

    def __init__(self, s3: Any, bucket: str, key: str, work_dir: Path, *, ranged: bool) -> None:
        self.s3, self.bucket, self.key, self.work_dir = s3, bucket, key, work_dir
        self.ranged = ranged
        self.gets = 0
        self.bytes_read = 0

    @contextmanager
    def scannable(self, version_id: str, etag: str, size: int) -> Iterator[tuple[BinaryIO, str | None]]:
        """The version to scan, and its sha256 when it was read whole (a ranged read has none)."""
        if not self.ranged:
            with self.spooled(version_id, etag) as spooled:
                yield spooled
            return
        ranged = RangedObject(self.s3, self.bucket, self.key, version_id=version_id, etag=etag, size=size)
        try:
            yield cast(BinaryIO, ranged), None
        finally:
            self.gets += ranged.gets
            self.bytes_read += ranged.bytes_read

    @contextmanager
    def spooled(self, version_id: str, etag: str | None = None) -> Iterator[tuple[BinaryIO, str]]:
        """The version as a seekable /tmp file and its sha256; the file is removed however the block ends."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key, "VersionId": version_id}
        if etag:
            params["IfMatch"] = etag
        path = self.work_dir / f"object-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        try:
            with path.open("w+b") as spool:
                body = self.s3.get_object(**params)["Body"]
                self.gets += 1
                while chunk := body.read(_CHUNK):
                    digest.update(chunk)
                    spool.write(chunk)
                    self.bytes_read += len(chunk)
                spool.seek(0)
                yield spool, digest.hexdigest()
        finally:
            path.unlink(missing_ok=True)  # the spool holds rows: nothing is left in /tmp after the object


def rewrite_object(
    s3: Any,
    *,
    bucket: str,
    key: str,
    dataset_format: DatasetFormat,
    selection: Selection,
    work_dir: Path,
    max_bytes: int = MAX_OBJECT_BYTES,
    dry_run: bool = False,
) -> ObjectOutcome:
    """Remove (or mask) the Selection's rows from one object so that no version of it still holds them.

    ``dry_run`` reads exactly what a run would and writes nothing: the status is the one a run would reach
    if nothing changed meanwhile (rewritten or deleted, blocked, too_large or clean), the counts the scan's.
    botocore errors other than a lost If-Match race pass through: the dataset job maps them to named errors.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    pinned = _pin(s3, bucket, key)
    outcome = ObjectOutcome(status=ObjectStatus.CLEAN, source_version_id=pinned.version_id)
    if (blocked := _unwritable(s3, bucket, pinned)) is not None:
        outcome.status, outcome.reason = ObjectStatus.BLOCKED, blocked
        return outcome
    if pinned.size > max_bytes:
        outcome.status = ObjectStatus.TOO_LARGE
        outcome.reason = f"object is {pinned.size} bytes, over the {max_bytes}-byte single-PUT limit of this job"
        return outcome

    # Parquet finds from its footer and bloom filters over ranged GETs, so a clean object is never read whole;
    # a text file is read whole by any scan, so one streaming GET into /tmp serves the scan and the rewrite.
    reader = _Reader(s3, bucket, key, work_dir, ranged=dataset_format.name == "parquet")
    try:
        with ExitStack() as files:
            source, source_sha256 = files.enter_context(reader.scannable(pinned.version_id, pinned.etag, pinned.size))
            outcome.source_sha256 = source_sha256
            scan = dataset_format.scan(source, selection)
            _count_scan(outcome, scan)
            if not scan.acts:
                if not dry_run:
                    _clear_noncurrent(s3, bucket, key, pinned, dataset_format, selection, reader, outcome)
                return outcome
            if (locked := _object_lock(s3, bucket, key)) is not None:
                outcome.status, outcome.reason = ObjectStatus.BLOCKED, locked
                return outcome
            if dry_run:
                _predict(outcome, scan, selection)
                return outcome
            if _every_row_goes(scan, selection):
                # Known from the scan alone (for Parquet, often row-group statistics): nothing is left to write,
                # so the key goes without reading or rewriting the file.
                _delete_whole(s3, bucket, key, pinned, dataset_format, source, scan, outcome)
                return outcome
            if source_sha256 is None:
                source, source_sha256 = files.enter_context(reader.spooled(pinned.version_id, pinned.etag))
                outcome.source_sha256 = source_sha256
            source.seek(0)
            _rewrite(s3, bucket, key, pinned, dataset_format, selection, source, reader, outcome)
            return outcome
    finally:
        outcome.gets, outcome.bytes_read = reader.gets, reader.bytes_read


def export_object(
    s3: Any,
    *,
    bucket: str,
    key: str,
    dataset_format: DatasetFormat,
    selection: Selection,
    work_dir: Path,
) -> dict[Hit, list[Mapping[str, Any]]]:
    """The subject rows of the object's current version, grouped by the (identifier, value) each holds."""
    work_dir.mkdir(parents=True, exist_ok=True)
    pinned = _pin(s3, bucket, key)
    grouped: dict[Hit, list[Mapping[str, Any]]] = {}
    reader = _Reader(s3, bucket, key, work_dir, ranged=dataset_format.name == "parquet")
    with reader.scannable(pinned.version_id, pinned.etag, pinned.size) as (source, _sha256):
        for hits, record in dataset_format.subject_rows(source, selection):
            for hit in sorted(hits):
                grouped.setdefault(hit, []).append(record)
    return grouped


def _pin(s3: Any, bucket: str, key: str) -> _Pinned:
    head = s3.head_object(Bucket=bucket, Key=key)
    return _Pinned(
        version_id=str(head.get("VersionId") or "null"),
        etag=str(head["ETag"]),
        size=int(head["ContentLength"]),
        last_modified=head["LastModified"],
        head=head,
    )


def _unwritable(s3: Any, bucket: str, pinned: _Pinned) -> str | None:
    """Why this object cannot be rewritten safely at all (None when it can)."""
    # Rolling back and removing older versions both need versions: unversioned, a PUT would overwrite in place.
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled" or pinned.version_id == "null":
        return "bucket versioning is not enabled: a rewrite could neither be rolled back nor purge older versions"
    storage_class = pinned.head.get("StorageClass")
    if storage_class in _ARCHIVED and 'ongoing-request="false"' not in str(pinned.head.get("Restore", "")):
        return f"object is in the {storage_class} storage class and not restored"
    return None


def _object_lock(s3: Any, bucket: str, key: str) -> str | None:
    """A reason when any version of the key is under Object Lock retention or a legal hold (None otherwise)."""
    try:
        config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as error:
        if _code(error) == "ObjectLockConfigurationNotFoundError":
            return None
        raise
    if config.get("ObjectLockEnabled") != "Enabled":
        return None
    now = timestamps.now()
    versions, _markers = _versions(s3, bucket, key)
    for version in versions:
        # HeadObject carries both lock fields (GetObjectRetention is one call more and moto 5.2.5 fails it).
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return "a version of the object is under an Object Lock legal hold"
        until = head.get("ObjectLockRetainUntilDate")
        if until is not None and until > now:
            mode = head.get("ObjectLockMode", "retention")
            return f"a version of the object is under Object Lock {mode} retention until {timestamps.format_utc(until)}"
    return None


def _count_scan(outcome: ObjectOutcome, scan: ScanResult) -> None:
    outcome.rows_before = outcome.rows_after = scan.rows
    outcome.expired_rows, outcome.held_rows = scan.expired_rows, scan.held_rows
    outcome.unreadable_rows, outcome.malformed_rows = scan.unreadable_rows, scan.malformed_rows
    outcome.hits = Counter(scan.hits)


def _clear_noncurrent(
    s3: Any,
    bucket: str,
    key: str,
    pinned: _Pinned,
    dataset_format: DatasetFormat,
    selection: Selection,
    reader: _Reader,
    outcome: ObjectOutcome,
) -> None:
    """The current version is clean: delete older versions that still hold selected rows.

    That is a rewrite interrupted between its PUT and its deletes, or history written before the job ran;
    either way the person is still in the bucket until those versions go.
    """
    holding: list[str] = []
    for version in _older_than(_versions(s3, bucket, key)[0], pinned.version_id):
        with reader.scannable(version["VersionId"], version["ETag"], int(version["Size"])) as (old, _sha256):
            if dataset_format.scan(old, selection).acts:
                holding.append(version["VersionId"])
    if not holding:
        return
    if (locked := _object_lock(s3, bucket, key)) is not None:
        outcome.status, outcome.reason = ObjectStatus.BLOCKED, f"older versions hold selected rows; {locked}"
        return
    for version_id in holding:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    outcome.older_versions_deleted = len(holding)


def _every_row_goes(scan: ScanResult, selection: Selection) -> bool:
    """Whether every row of the file is acted on and removed: expired (not held), or a subject's in delete mode."""
    removed = scan.expired_rows + (scan.subject_rows if selection.mode == "delete" else 0)
    kept = scan.held_rows or scan.unreadable_rows or scan.malformed_rows
    return scan.rows > 0 and removed == scan.rows and not kept


def _delete_whole(
    s3: Any,
    bucket: str,
    key: str,
    pinned: _Pinned,
    dataset_format: DatasetFormat,
    source: BinaryIO,
    scan: ScanResult,
    outcome: ObjectOutcome,
) -> None:
    """Every version of a key whose every row goes, as `_rewrite` does for a file rewritten to no rows."""
    outcome.rows_before, outcome.rows_after = scan.rows, 0
    outcome.removed_rows = scan.rows
    outcome.schema_hash = dataset_format.schema_hash(source)  # Parquet: from the cached footer
    _delete_key(s3, bucket, key, pinned, outcome)


def _delete_key(s3: Any, bucket: str, key: str, pinned: _Pinned, outcome: ObjectOutcome) -> None:
    """Delete every version of a key that serves nobody any more, unless someone wrote it since it was pinned."""
    if str(s3.head_object(Bucket=bucket, Key=key).get("VersionId")) != pinned.version_id:
        # Someone wrote the key since it was pinned: their version is not ours to judge (next job).
        outcome.status = ObjectStatus.CONFLICT
        outcome.reason = "the object changed after it was read; it is left for the next job"
        return
    outcome.status = ObjectStatus.DELETED
    outcome.older_versions_deleted = _delete_versions(s3, bucket, key, pinned)


def _predict(outcome: ObjectOutcome, scan: ScanResult, selection: Selection) -> None:
    """A dry run's outcome: the rows a run would remove (or mask) and the status it would reach."""
    outcome.removed_rows = scan.expired_rows + (scan.subject_rows if selection.mode == "delete" else 0)
    outcome.masked_rows = scan.subject_rows if selection.mode == "anonymise" else 0
    outcome.rows_after = scan.rows - outcome.removed_rows
    deleted = outcome.rows_after == 0 and scan.malformed_rows == 0
    outcome.status = ObjectStatus.DELETED if deleted else ObjectStatus.REWRITTEN


def _rewrite(
    s3: Any,
    bucket: str,
    key: str,
    pinned: _Pinned,
    dataset_format: DatasetFormat,
    selection: Selection,
    source: BinaryIO,
    reader: _Reader,
    outcome: ObjectOutcome,
) -> None:
    rewritten = reader.work_dir / f"rewrite-{uuid.uuid4().hex}"
    try:
        with rewritten.open("w+b") as sink:
            stats = dataset_format.rewrite(source, sink, selection)
        outcome.rows_before, outcome.rows_after = stats.rows_before, stats.rows_after
        outcome.removed_rows, outcome.masked_rows = stats.removed_rows, stats.masked_rows
        outcome.expired_rows, outcome.held_rows = stats.expired_rows, stats.held_rows
        outcome.unreadable_rows, outcome.malformed_rows = stats.unreadable_rows, stats.malformed_rows
        outcome.schema_hash, outcome.hits = stats.schema_hash, Counter(stats.hits)
        if stats.rows_after == 0 and stats.malformed_rows == 0:
            # A file of no rows (a CSV header, an empty Parquet footer) serves nobody: the key goes entirely.
            _delete_key(s3, bucket, key, pinned, outcome)
            return

        new_sha256 = _sha256_file(rewritten)
        if new_sha256 == outcome.source_sha256:
            # Nothing changed (an anonymise whose masks were already applied): a PUT would only add a version.
            outcome.status = ObjectStatus.CLEAN
            source.seek(0)
            _clear_noncurrent(s3, bucket, key, pinned, dataset_format, selection, reader, outcome)
            return
        outcome.new_sha256 = new_sha256
        params = _put_params(s3, bucket, key, pinned)
        try:
            with rewritten.open("rb") as body:
                put = s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    IfMatch=pinned.etag,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=base64.b64encode(bytes.fromhex(new_sha256)).decode("ascii"),
                    **params,
                )
        except ClientError as error:
            if _code(error) in _CONFLICT_CODES:
                outcome.status = ObjectStatus.CONFLICT
                outcome.reason = "the object changed after it was read; it is left for the next job"
                return
            raise
        finally:
            outcome.puts += 1
        new_version = str(put["VersionId"])
        outcome.new_version_id = new_version

        source.seek(0)
        try:
            failure = _verify(dataset_format, selection, source, reader, new_version, new_sha256, stats)
        except Exception as error:  # whatever stops the check, an unchecked version must not stay current
            # The type only: a format's message may quote the row it failed on.
            failure = f"the new version could not be checked ({type(error).__name__})"
        if failure is not None:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=new_version)  # the pinned source is current again
            outcome.status, outcome.reason = ObjectStatus.FAILED_VERIFICATION, failure
            return
        outcome.status = ObjectStatus.REWRITTEN
        outcome.older_versions_deleted = _delete_versions(s3, bucket, key, pinned)
    finally:
        rewritten.unlink(missing_ok=True)


def _verify(
    dataset_format: DatasetFormat,
    selection: Selection,
    source: BinaryIO,
    reader: _Reader,
    new_version: str,
    new_sha256: str,
    stats: RewriteStats,
) -> str | None:
    """Why the new version is not the file the job meant to write (None when it is)."""
    source_schema = dataset_format.schema_hash(source)
    with reader.spooled(new_version) as (written, written_sha256):
        if written_sha256 != new_sha256:
            return "the stored bytes differ from the uploaded file"
        scan = dataset_format.scan(written, selection)
        written.seek(0)
        written_schema = dataset_format.schema_hash(written)
    if _still_selected(scan, selection):
        return "the new version still holds selected rows"
    if stats.rows_after != stats.rows_before - stats.removed_rows or scan.rows != stats.rows_after:
        return f"the new version has {scan.rows} rows, expected {stats.rows_before} - {stats.removed_rows}"
    if written_schema != source_schema:
        return "the new version's schema differs from the source's"
    return None


def _still_selected(scan: ScanResult, selection: Selection) -> bool:
    if scan.expired_rows:
        return True
    # Anonymise keeps the rows: they still match unless every identifier column is among the masked ones.
    if selection.mode == "anonymise" and not set(selection.identifiers.values()) <= set(selection.masks):
        return False
    return scan.subject_rows > 0


def _put_params(s3: Any, bucket: str, key: str, pinned: _Pinned) -> dict[str, Any]:
    """The source version's headers, metadata, tags, storage class, SSE and ACL grants, as PutObject takes them."""
    head = pinned.head
    params: dict[str, Any] = {name: head[name] for name in _COPIED_HEADERS if head.get(name) is not None}
    params["Metadata"] = dict(head.get("Metadata") or {})
    if head.get("StorageClass"):  # HeadObject leaves STANDARD out
        params["StorageClass"] = head["StorageClass"]
    encryption = head.get("ServerSideEncryption")
    if encryption:
        params["ServerSideEncryption"] = encryption
        if str(encryption).startswith("aws:kms"):
            if head.get("SSEKMSKeyId"):
                params["SSEKMSKeyId"] = head["SSEKMSKeyId"]
            if head.get("BucketKeyEnabled") is not None:
                params["BucketKeyEnabled"] = bool(head["BucketKeyEnabled"])
    tags = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=pinned.version_id).get("TagSet", [])
    if tags:
        params["Tagging"] = urlencode([(tag["Key"], tag["Value"]) for tag in tags])
    if _acls_apply(s3, bucket):
        params.update(_grants(s3.get_object_acl(Bucket=bucket, Key=key, VersionId=pinned.version_id)))
    return params


def _acls_apply(s3: Any, bucket: str) -> bool:
    """Whether object ACLs mean anything here (BucketOwnerEnforced disables them and refuses Grant headers)."""
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except ClientError as error:
        if _code(error) == "OwnershipControlsNotFoundError":
            return True
        raise
    return not any(rule.get("ObjectOwnership") == "BucketOwnerEnforced" for rule in rules)


def _grants(acl: Mapping[str, Any]) -> dict[str, str]:
    """GetObjectAcl's grants as PutObject Grant* headers, so the ACL is set in the same request as the bytes."""
    by_param: dict[str, list[str]] = {}
    for grant in acl.get("Grants", []):
        param = _GRANT_PARAMS.get(grant.get("Permission", ""))
        grantee = grant.get("Grantee", {})
        if param is None:
            continue
        if grantee.get("Type") == "CanonicalUser" and grantee.get("ID"):
            who = f'id="{grantee["ID"]}"'
        elif grantee.get("Type") == "Group" and grantee.get("URI"):
            who = f'uri="{grantee["URI"]}"'
        elif grantee.get("EmailAddress"):
            who = f'emailAddress="{grantee["EmailAddress"]}"'
        else:
            continue
        by_param.setdefault(param, []).append(who)
    return {param: ", ".join(grantees) for param, grantees in by_param.items()}


def _versions(s3: Any, bucket: str, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every version and delete marker of exactly this key, newest first (the prefix also matches longer keys)."""
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        versions.extend(v for v in page.get("Versions", []) if v["Key"] == key)
        markers.extend(m for m in page.get("DeleteMarkers", []) if m["Key"] == key)
    return versions, markers


def _older_than(versions: list[dict[str, Any]], version_id: str) -> list[dict[str, Any]]:
    """The versions listed after ``version_id`` (S3 lists a key's versions newest first)."""
    ids = [v["VersionId"] for v in versions]
    return versions[ids.index(version_id) + 1 :] if version_id in ids else []


def _delete_versions(s3: Any, bucket: str, key: str, pinned: _Pinned) -> int:
    """Delete the pinned version and every older one; versions written after it are kept.

    Oldest first, the pinned version last: a run stopped halfway leaves the pinned version in place, and the
    next run finds it again. Delete markers no newer than the pinned version go too (they hide nothing now).
    """
    versions, markers = _versions(s3, bucket, key)
    listed = {v["VersionId"]: v for v in versions}
    # The listing's own time of the pinned version: HeadObject's is whole seconds, the listing's milliseconds.
    cutoff = listed[pinned.version_id]["LastModified"] if pinned.version_id in listed else pinned.last_modified
    doomed = [m["VersionId"] for m in markers if m["LastModified"] <= cutoff]
    doomed += [v["VersionId"] for v in reversed(_older_than(versions, pinned.version_id))]
    if pinned.version_id in listed:
        doomed.append(pinned.version_id)
    for version_id in doomed:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    return len(doomed)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
