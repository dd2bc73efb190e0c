"""S3 dataset connector: one subject's rows in shared data-lake files (Parquet, JSON Lines, CSV) under a prefix.

Find reads every version (a noncurrent version still holds the person); erase rewrites each object holding the
subject with datasets.objects (pinned, conditional, verified, older versions purged) and refuses to report success
for an object it could not clean. The request workflow's re-check uses find per request; erasure and access run in
the batching dataset job (functions/privacy/dataset_jobs), which uses the per-key methods below for every queued
subject at once, so one object is read and rewritten once per job.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

from functions.privacy.connectors.base import (
    ChangeResult,
    EraseResult,
    ExportResult,
    ExportSink,
    FindResult,
    KeyDigester,
    KeyedHasher,
    StoreConnector,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
    Subject,
    canonical_json,
    check_identifier,
)
from functions.privacy.connectors.errors import error_code, store_error
from functions.privacy.datamap.model import Identifier, MaskStrategy, Store, StoreKind, spellings
from functions.privacy.datasets.format import DatasetFormat
from functions.privacy.datasets.formats import format_for
from functions.privacy.datasets.objects import (
    GONE_CODES,
    ObjectOutcome,
    ObjectStatus,
    export_object,
    rewrite_object,
)
from functions.privacy.datasets.ranged import RangedObject
from functions.privacy.datasets.selection import Hit, Selection, dotted

# What the keyed_hash and random masks write (DerivedKeys.digest, secrets.token_hex(16)): with no marker column
# in a lake file, a masked cell is recognised by its shape.
_MASKED_SHAPES = {
    MaskStrategy.KEYED_HASH: re.compile(r"[0-9a-f]{64}"),
    MaskStrategy.RANDOM: re.compile(r"[0-9a-f]{32}"),
}
_CHUNK = 8 * 1024 * 1024


@dataclass
class _Version:
    key: str
    version_id: str
    etag: str
    size: int
    latest: bool


@dataclass
class _Holding:
    """What one key's versions hold for the subject (counts only)."""

    current: int = 0  # subject rows in the current version
    current_personal: int = 0  # of those, rows not yet masked (all of them for delete stores)
    history_personal: int = 0  # personal rows in noncurrent versions
    versions: list[str] = field(default_factory=list)  # version ids holding personal rows
    has_current: bool = False

    @property
    def personal(self) -> int:
        return self.current_personal + self.history_personal

    def add(self, version: _Version, rows: int, personal: int) -> None:
        """Count one version's subject rows (current or history) and note it when it holds personal rows."""
        if version.latest:
            self.current, self.current_personal = rows, personal
        else:
            self.history_personal += personal
        if personal:
            self.versions.append(version.version_id)


@dataclass
class KeyHolding(_Holding):
    """One request's share of one key in a dataset job, with the (identifier, spelling) pairs that found it."""

    hits: set[Hit] = field(default_factory=set)


class _Gone(Exception):
    """An object or version deleted by someone since the listing: it no longer holds anyone."""


class S3DatasetConnector(StoreConnector):
    """The subject's rows in one s3_dataset store: find, export and erase (delete or mask rows)."""

    kind = StoreKind.S3_DATASET

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        keyed_hash: KeyedHasher,
        identifiers: Mapping[str, Identifier],
        *,
        work_root: str | Path | None = None,
        page_size: int | None = None,
    ) -> None:
        lookup = identifiers.get(store.lookup.identifier)
        if lookup is None:
            raise StoreMisconfigured(f"store {store_name}: unknown identifier {store.lookup.identifier}")
        super().__init__(store_name, store, client, digest, lookup.pattern, lookup.normalisation)
        assert store.dataset is not None  # checked by _misconfiguration
        unknown = sorted(set(store.dataset.columns) - set(identifiers))
        if unknown:
            raise StoreMisconfigured(f"store {store_name}: dataset.columns names unknown identifiers {unknown}")
        self._dataset = store.dataset
        self._identifiers = {name: identifiers[name] for name in store.dataset.columns}
        self._keyed_hash = keyed_hash
        self._format: DatasetFormat = format_for(store.dataset.format)
        self._work_root = None if work_root is None else str(work_root)
        self._page_size = page_size

    def _misconfiguration(self, store: Store) -> str | None:
        return None if store.dataset is not None else "s3_dataset stores need dataset (prefix, format, columns)"

    # --- Connector protocol ---------------------------------------------------------------------

    def find(self, subject: Subject) -> FindResult:
        """Subject rows in every version of every object (current and noncurrent, not delete markers).

        ``personal`` leaves out rows already masked (anonymise stores), so the re-check after an erasure
        counts what still holds the person, as the dynamodb connector does with its marker.
        """
        selection = self.selection_for(subject)
        if selection is None:
            return FindResult()
        found = personal = 0
        digests: list[str] = []
        with self._work_dir() as work_dir:
            for version in self._listing():
                counted = self._count(subject, selection, version, work_dir)
                if counted is None or not counted[0]:
                    continue
                found += counted[0]
                personal += counted[1]
                digests.append(self._version_digest(version.key, version.version_id))
        return FindResult(found=found, personal=personal, key_digests=digests)

    def erase(self, subject: Subject) -> EraseResult:
        """Rewrite every object whose versions hold the subject's personal rows; never report an uncleaned one.

        A lost race (someone wrote the object since it was pinned) raises StoreUnavailable so the workflow
        retries; objects too large or failing verification raise StoreError; objects under Object Lock (or
        otherwise blocked) are reported as kept with the reason.
        """
        selection = self.selection_for(subject)
        if selection is None:
            return EraseResult()
        erasure = self._store.erasure
        result = EraseResult()
        blocked: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        conflicts = 0
        with self._work_dir() as work_dir:
            holdings = self._holdings(subject, selection, work_dir)
            for key, holding in holdings.items():
                result.found += holding.current
                if erasure.mode == "anonymise":
                    result.kept += holding.current  # masked rows stay: the store keeps them for its reason
                if not holding.personal:
                    continue  # nothing of the subject left to remove here: nothing is written (a rerun is a no-op)
                if holding.has_current:
                    outcome = self._rewrite(key, selection, work_dir)
                else:
                    outcome = self._purge_history(key, holding)
                status = outcome.status
                if status is ObjectStatus.CONFLICT:
                    conflicts += 1
                elif status in {ObjectStatus.TOO_LARGE, ObjectStatus.FAILED_VERIFICATION}:
                    failed[status.value] += 1
                elif status is ObjectStatus.BLOCKED:
                    blocked[outcome.reason or "blocked"] += 1
                    if erasure.mode == "delete":
                        result.kept += holding.current_personal or holding.history_personal
                else:
                    result.deleted += outcome.removed_rows if erasure.mode == "delete" else 0
                    result.anonymised += outcome.masked_rows
                    result.key_digests.extend(self._version_digest(key, v) for v in holding.versions)
                result.objects.append(self._object_evidence(key, outcome))
        if conflicts:
            raise StoreUnavailable(
                f"store {self._name} ({self._store.resource}): {conflicts} object(s) changed while being erased; retry"
            )
        if failed:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(failed.items()))
            raise StoreError(f"store {self._name} ({self._store.resource}): objects not erased ({counts})")
        if result.found and erasure.mode == "anonymise" and erasure.reason:
            result.exceptions.append(erasure.reason)
        result.exceptions.extend(f"{n} object(s) blocked: {reason}" for reason, n in sorted(blocked.items()))
        return result

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        """The subject's rows of every current object, as JSON records in one part for this store."""
        selection = self.selection_for(subject)
        if selection is None:
            return ExportResult()
        digests: list[str] = []
        objects = 0

        def records(work_dir: Path) -> Iterator[Mapping[str, Any]]:
            nonlocal objects
            for version in self._listing():
                if not version.latest:
                    continue
                grouped = self._exported(version, selection, work_dir)
                if not grouped:
                    continue
                objects += 1
                digests.append(self._version_digest(version.key, version.version_id))
                seen: set[int] = set()
                for hit, rows in sorted(grouped.items()):
                    self._note_hit(subject, hit)
                    for row in rows:
                        if id(row) not in seen:  # a row holding two identifiers is listed under both
                            seen.add(id(row))
                            yield row

        with self._work_dir() as work_dir:
            stream = records(work_dir)
            first = next(stream, None)
            if first is None:
                return ExportResult()  # nothing here: no empty part in the archive
            path, count, size = sink.write_records(self._name, _chain(first, stream))
        return ExportResult(records=count, objects=objects, bytes=size, files=[path], key_digests=digests)

    def rectify(self, subject: Subject, corrections: Mapping[str, Any]) -> ChangeResult:
        return self.not_applicable()  # the data map allows no rectifiable attributes on lake files

    def restrict(self, subject: Subject) -> ChangeResult:
        # Rows have no per-row marker a processing system could read (unlike an item attribute or an object
        # tag), and a new column would change the files' schema: restriction is not applicable here.
        return self.not_applicable()

    def opt_out(self, subject: Subject) -> ChangeResult:
        return self.not_applicable()  # marketing consent lives in the SES stores

    # --- one key for many subjects (the dataset job) ---------------------------------------------

    def keys(self) -> Iterator[str]:
        """Every key under the prefix with at least one version holding bytes (deleted keys' history included)."""
        last = None
        for version in self._listing():
            if version.key != last:
                last = version.key
                yield version.key

    def key_holdings(
        self, key: str, selection: Selection, owners: Mapping[Hit, frozenset[str]], work_dir: Path
    ) -> dict[str, KeyHolding]:
        """What each owner's (request's) values hold in every version of ``key``: one read of each version.

        A row counts for every owner whose value it holds. Rows are attributed with the format's scan when one
        owner alone is hit (delete stores); otherwise each subject row is read to know whose it is.
        """
        holdings: dict[str, KeyHolding] = {}
        versions = self._versions_of(key)
        has_current = any(v.latest for v in versions)
        for version in versions:
            try:
                with self._aws("GetObject"), self._source(version, work_dir) as source:
                    counted = self._attributed(source, selection, owners)
            except _Gone:
                continue
            for owner, (rows, personal, hits) in counted.items():
                holding = holdings.setdefault(owner, KeyHolding(has_current=has_current))
                holding.hits.update(hits)
                holding.add(version, rows, personal)
        return holdings

    def clean_key(
        self, key: str, selection: Selection, holdings: Mapping[str, KeyHolding], work_dir: Path
    ) -> ObjectOutcome:
        """Remove every owner's rows from ``key`` in one rewrite (or purge the history of a deleted key)."""
        if any(h.has_current for h in holdings.values()):
            return self._rewrite(key, selection, work_dir)
        versions = sorted({v for h in holdings.values() for v in h.versions})
        return self._purge_history(key, _Holding(versions=versions))

    def export_key(
        self, key: str, selection: Selection, work_dir: Path
    ) -> tuple[str, dict[Hit, list[Mapping[str, Any]]]] | None:
        """The current version of ``key`` (its version id) and its subject rows by hit; None when it has none."""
        current = next((v for v in self._versions_of(key) if v.latest), None)
        if current is None:
            return None
        grouped = self._exported(current, selection, work_dir)
        return None if not grouped else (current.version_id, grouped)

    def object_evidence(self, key: str, outcome: ObjectOutcome, digest: KeyDigester) -> dict[str, Any]:
        return self._object_evidence(key, outcome, digest)

    def version_digest(self, key: str, version_id: str, digest: KeyDigester) -> str:
        return self._version_digest(key, version_id, digest)

    @contextmanager
    def work_dir(self) -> Iterator[Path]:
        with self._work_dir() as path:
            yield path

    # --- internals ------------------------------------------------------------------------------

    def selection_for(self, subject: Subject) -> Selection | None:
        """Every checked spelling of every identifier the subject has and the dataset has a column for."""
        values: dict[str, frozenset[str]] = {}
        for name, identifier in self._identifiers.items():
            value = subject.get(name)
            if value is None:
                continue
            found = spellings(value, identifier.normalisation, self._store.lookup.stored_as)
            values[name] = frozenset(check_identifier(name, s, identifier.pattern) for s in found)
        if not values:
            return None
        erasure = self._store.erasure
        return Selection(
            identifiers=dict(self._dataset.columns),
            values=values,
            mode="anonymise" if erasure.mode == "anonymise" else "delete",
            masks=dict(erasure.attributes) if erasure.mode == "anonymise" else {},
            keyed_hash=self._keyed_hash,
        )

    @contextmanager
    def _work_dir(self) -> Iterator[Path]:
        # Spools and rewrites hold rows of many people: the directory goes however the operation ends.
        with tempfile.TemporaryDirectory(prefix="privacy-dataset-", dir=self._work_root) as path:
            yield Path(path)

    def _listing(self) -> Iterator[_Version]:
        """Every object version under the prefix (delete markers left out), page by page, newest first per key."""
        pagination = {"PageSize": self._page_size} if self._page_size else {}
        pages = self._client.get_paginator("list_object_versions").paginate(
            Bucket=self._store.resource, Prefix=self._dataset.prefix, PaginationConfig=pagination
        )
        with self._calling("ListObjectVersions"):
            for page in pages:
                for entry in page.get("Versions", []):
                    if int(entry.get("Size", 0)) == 0:
                        continue  # folder placeholders and _SUCCESS markers hold no rows
                    yield _Version(
                        key=entry["Key"],
                        version_id=str(entry["VersionId"]),
                        etag=str(entry["ETag"]),
                        size=int(entry["Size"]),
                        latest=bool(entry.get("IsLatest")),
                    )

    def _holdings(self, subject: Subject, selection: Selection, work_dir: Path) -> dict[str, _Holding]:
        holdings: dict[str, _Holding] = {}
        for version in self._listing():
            holding = holdings.setdefault(version.key, _Holding())
            holding.has_current = holding.has_current or version.latest
            counted = self._count(subject, selection, version, work_dir)
            if counted is None:
                continue
            holding.add(version, *counted)
        return holdings

    def _versions_of(self, key: str) -> list[_Version]:
        """Every version of exactly ``key`` (a prefix listing also returns longer keys), newest first."""
        pages = self._client.get_paginator("list_object_versions").paginate(Bucket=self._store.resource, Prefix=key)
        versions: list[_Version] = []
        with self._calling("ListObjectVersions"):
            for page in pages:
                for entry in page.get("Versions", []):
                    if entry["Key"] != key or int(entry.get("Size", 0)) == 0:
                        continue
                    versions.append(
                        _Version(
                            key=key,
                            version_id=str(entry["VersionId"]),
                            etag=str(entry["ETag"]),
                            size=int(entry["Size"]),
                            latest=bool(entry.get("IsLatest")),
                        )
                    )
        return versions

    def _attributed(
        self, source: BinaryIO, selection: Selection, owners: Mapping[Hit, frozenset[str]]
    ) -> dict[str, tuple[int, int, set[Hit]]]:
        """owner -> (subject rows, of which personal, hits) in one file.

        Delete stores: from the scan alone (each distinct set of values a row holds, and how many rows hold it),
        so a file is read no more than a single request's find reads it. Anonymise stores read each subject row
        to tell masked rows from personal ones.
        """
        counted: dict[str, tuple[int, int, set[Hit]]] = {}
        if selection.mode == "delete":
            scan = self._format.scan(source, selection)
            for hit_set, rows in scan.row_hits.items():
                for owner in {o for hit in hit_set for o in owners.get(hit, ())}:
                    found, personal, hits = counted.get(owner, (0, 0, set()))
                    mine = {h for h in hit_set if owner in owners.get(h, ())}
                    counted[owner] = (found + rows, personal + rows, hits | mine)
            return counted
        for row_hits, record in self._format.subject_rows(source, selection):
            personal = not self._masked(record)
            for owner in {o for hit in row_hits for o in owners.get(hit, ())}:
                rows, kept, hits = counted.get(owner, (0, 0, set()))
                counted[owner] = (rows + 1, kept + personal, hits | {h for h in row_hits if owner in owners.get(h, ())})
        return counted

    def _count(
        self, subject: Subject, selection: Selection, version: _Version, work_dir: Path
    ) -> tuple[int, int] | None:
        """(subject rows, of which personal) in one version; None when the version was deleted meanwhile."""
        hits: Counter[Hit] = Counter()
        rows = personal = 0
        try:
            with self._aws("GetObject"), self._source(version, work_dir) as source:
                if selection.mode == "anonymise":  # masked rows still match by an identifier the masks keep
                    for row_hits, record in self._format.subject_rows(source, selection):
                        rows += 1
                        personal += not self._masked(record)
                        hits.update(row_hits)
                else:
                    scan = self._format.scan(source, selection)
                    rows = personal = scan.subject_rows
                    hits = scan.hits
        except _Gone:
            return None
        for hit in hits:
            self._note_hit(subject, hit)
        return rows, personal

    def _masked(self, record: Mapping[str, Any]) -> bool:
        """Whether every masked column of a subject row already holds what its mask writes."""
        for path, mask in self._store.erasure.attributes.items():
            cell = record.get(path) if self._dataset.format == "csv" else dotted(record, path)
            if cell is None or cell == "":  # null writes nothing (CSV: an empty field); no mask adds a value
                continue
            text = cell if isinstance(cell, str) else str(cell)
            if mask.strategy is MaskStrategy.FIXED and text == mask.value:
                continue
            shape = _MASKED_SHAPES.get(mask.strategy)
            if shape is not None and shape.fullmatch(text):
                continue
            return False
        return True

    @contextmanager
    def _aws(self, operation: str) -> Iterator[None]:
        """Named errors free of personal data; a version or object deleted since the listing raises _Gone."""
        try:
            with self._calling(operation):
                try:
                    yield
                except ClientError as exc:
                    if error_code(exc) in GONE_CODES:
                        raise _Gone from None
                    raise
        except (StoreError, _Gone):
            raise
        except Exception as exc:
            if type(exc).__name__ == "DatasetColumnsMissing":  # text's and parquet's: the message names columns only
                raise StoreMisconfigured(f"store {self._name} ({self._store.resource}): {exc}") from None
            # The type only: a reader's or writer's message may quote the row it failed on.
            raise StoreError(
                f"store {self._name} ({self._store.resource}): {operation} failed ({type(exc).__name__})"
            ) from None

    @contextmanager
    def _source(self, version: _Version, work_dir: Path) -> Iterator[BinaryIO]:
        """One pinned version as a seekable file: Parquet over ranged GETs (footer and bloom filters first), a
        text file spooled whole to ``work_dir`` (any scan of it reads every byte)."""
        bucket = self._store.resource
        if self._format.name == "parquet":
            ranged = RangedObject(
                self._client, bucket, version.key, version_id=version.version_id, etag=version.etag, size=version.size
            )
            yield cast(BinaryIO, ranged)
            return
        spool = work_dir / f"find-{uuid.uuid4().hex}"
        try:
            body = self._client.get_object(
                Bucket=bucket, Key=version.key, VersionId=version.version_id, IfMatch=version.etag
            )["Body"]
            with spool.open("w+b") as source:
                while chunk := body.read(_CHUNK):
                    source.write(chunk)
                source.seek(0)
                yield cast(BinaryIO, source)
        finally:
            spool.unlink(missing_ok=True)

    def _rewrite(self, key: str, selection: Selection, work_dir: Path) -> ObjectOutcome:
        try:
            with self._aws("rewrite object"):
                return rewrite_object(
                    self._client,
                    bucket=self._store.resource,
                    key=key,
                    dataset_format=self._format,
                    selection=selection,
                    work_dir=work_dir,
                )
        except _Gone:
            # The current version was deleted since the listing: a retry lists again and purges its history.
            raise StoreUnavailable(
                f"store {self._name} ({self._store.resource}): an object was deleted while being erased; retry"
            ) from None

    def _purge_history(self, key: str, holding: _Holding) -> ObjectOutcome:
        """A deleted key (its latest entry a delete marker) whose older versions still hold the subject's rows:
        those versions go, as datasets.objects does for the history of a clean current version."""
        outcome = ObjectOutcome(status=ObjectStatus.CLEAN)
        for version_id in holding.versions:
            try:
                self._client.delete_object(Bucket=self._store.resource, Key=key, VersionId=version_id)
            except ClientError as exc:
                code = error_code(exc)
                if code in GONE_CODES:
                    continue
                if code == "AccessDenied":  # what S3 answers for a version under Object Lock
                    outcome.status = ObjectStatus.BLOCKED
                    outcome.reason = "an older version could not be deleted (AccessDenied: Object Lock or policy)"
                    return outcome
                raise store_error(self._name, self._store.resource, "DeleteObject", code) from None
            outcome.older_versions_deleted += 1
        return outcome

    def _exported(
        self, version: _Version, selection: Selection, work_dir: Path
    ) -> dict[Hit, list[Mapping[str, Any]]] | None:
        try:
            with self._aws("export object"):
                return export_object(
                    self._client,
                    bucket=self._store.resource,
                    key=version.key,
                    dataset_format=self._format,
                    selection=selection,
                    work_dir=work_dir,
                )
        except _Gone:
            return None  # deleted since the listing: it holds nobody now

    def _note_hit(self, subject: Subject, hit: Hit) -> None:
        name, spelling = hit
        if name == self._store.lookup.identifier:
            self._matched(subject, spelling)

    def _object_evidence(self, key: str, outcome: ObjectOutcome, digest: KeyDigester | None = None) -> dict[str, Any]:
        """One object's rewrite as evidence: digests, versions and counts; the key only as a keyed digest."""
        return {
            "key_digest": (digest or self._digest)(canonical_json({"key": key})),
            **outcome.model_dump(
                mode="json",
                include={
                    "status",
                    "source_version_id",
                    "new_version_id",
                    "source_sha256",
                    "new_sha256",
                    "rows_before",
                    "rows_after",
                    "removed_rows",
                    "masked_rows",
                    "schema_hash",
                    "older_versions_deleted",
                    "reason",
                },
            ),
        }

    def _version_digest(self, key: str, version_id: str, digest: KeyDigester | None = None) -> str:
        return (digest or self._digest)(canonical_json({"key": key, "version_id": version_id}))


def _chain(first: Mapping[str, Any], rest: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    yield first
    yield from rest
