"""S3 connector: a subject's objects live under a key prefix; erasure deletes every version and delete marker.

Deleting only the current version would add a delete marker and keep the data in older versions.
Export copies current objects server-side (bodies never pass through the Lambda); restriction tags them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from functions.privacy.connectors.base import (
    ChangeResult,
    EraseResult,
    ExportResult,
    ExportSink,
    FindResult,
    KeyDigester,
    StoreConnector,
    StoreMisconfigured,
    Subject,
    canonical_json,
)
from functions.privacy.connectors.errors import THROTTLE_CODES, store_error
from functions.privacy.datamap.model import Normalisation, Store, StoreKind

DELETE_OBJECTS_LIMIT = 1000  # DeleteObjects accepts at most 1,000 keys per call
MAX_OBJECT_TAGS = 10  # S3 allows at most 10 tags per object
RESTRICTED_TAG_VALUE = "true"


class S3Connector(StoreConnector):
    """One subject's objects under the data map's key prefix in one bucket: find, export, erase, restrict."""

    kind = StoreKind.S3

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        identifier_pattern: re.Pattern[str] | str,
        *,
        normalisation: Normalisation = "exact",
        page_size: int | None = None,
    ) -> None:
        super().__init__(store_name, store, client, digest, identifier_pattern, normalisation)
        self._page_size = page_size

    def _misconfiguration(self, store: Store) -> str | None:
        return None if store.lookup.key_template else "s3 stores need a key_template"

    def prefixes(self, subject: Subject) -> list[tuple[str, str]]:
        """(spelling, key prefix) for every spelling the store may hold; empty when the subject lacks the
        identifier the template needs."""
        identifier = self._store.lookup.identifier
        found = []
        for spelling in self._spellings(subject):
            prefix = self._store.lookup.key_template.format(**{identifier: spelling})  # type: ignore[union-attr]  # _misconfiguration refuses an s3 store without one
            if not prefix.endswith("/"):  # the data map enforces this; without it users/c1 would match users/c10
                raise StoreMisconfigured(f"store {self._name}: key_template must end with '/'")
            found.append((spelling, prefix))
        return found

    def find(self, subject: Subject) -> FindResult:
        versions = self._versions(subject)
        # Delete markers count too: their key names still carry the identifier.
        return FindResult(found=len(versions), personal=len(versions), key_digests=self._digests(versions))

    def erase(self, subject: Subject) -> EraseResult:
        versions = self._versions(subject)
        for start in range(0, len(versions), DELETE_OBJECTS_LIMIT):
            self._delete_chunk(versions[start : start + DELETE_OBJECTS_LIMIT])
        return EraseResult(found=len(versions), deleted=len(versions), key_digests=self._digests(versions))

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        """Copy every current object server-side into the archive, listing page by page (no body is read here)."""
        objects = size = 0
        digests: list[str] = []
        for spelling, prefix, page in self._subject_pages(subject):
            for entry in _current(page):
                self._matched(subject, spelling)
                key, version = entry["Key"], entry["VersionId"]
                relative = key[len(prefix) :]  # the prefix holds the subject's id; the archive does not need it
                size += sink.copy_object(self._name, self._store.resource, key, version, relative)
                objects += 1
                digests.append(self._version_digest(key, version))
        # The object names stay out of the result (it travels in workflow state); the folder is enough.
        return ExportResult(
            objects=objects, bytes=size, files=[f"{self._name}/objects/"] if objects else [], key_digests=digests
        )

    def rectify(self, subject: Subject, corrections: Mapping[str, Any]) -> ChangeResult:
        return self.not_applicable()  # objects are files, not attributes; the data map allows none here

    def restrict(self, subject: Subject) -> ChangeResult:
        """Tag every current object version ``<restriction_marker>=true``, keeping its other tags.

        S3 has no batch tagging call outside S3 Batch Operations jobs, so one Get and (if needed) one Put per
        object; objects already tagged are left alone, so a rerun only reads.
        """
        marker = self._store.restriction_marker
        found = changed = unchanged = full = 0
        digests: list[str] = []
        for spelling, _, page in self._subject_pages(subject):
            for entry in _current(page):
                self._matched(subject, spelling)
                found += 1
                params = {"Bucket": self._store.resource, "Key": entry["Key"], "VersionId": entry["VersionId"]}
                with self._calling("GetObjectTagging"):
                    tags = self._client.get_object_tagging(**params)["TagSet"]
                if {"Key": marker, "Value": RESTRICTED_TAG_VALUE} in tags:
                    unchanged += 1
                    continue
                kept = [t for t in tags if t["Key"] != marker]
                if len(kept) >= MAX_OBJECT_TAGS:
                    full += 1  # reported, not overwritten: dropping the owner's tags could break their lifecycle
                    continue
                with self._calling("PutObjectTagging"):
                    self._client.put_object_tagging(
                        **params, Tagging={"TagSet": [*kept, {"Key": marker, "Value": RESTRICTED_TAG_VALUE}]}
                    )
                changed += 1
                digests.append(self._version_digest(entry["Key"], entry["VersionId"]))
        exceptions = [f"{full} objects already carry {MAX_OBJECT_TAGS} tags; the restriction tag was not added"]
        return ChangeResult(
            found=found,
            changed=changed,
            unchanged=unchanged,
            attributes=[marker] if changed else [],
            key_digests=digests,
            exceptions=exceptions if full else [],
        )

    def opt_out(self, subject: Subject) -> ChangeResult:
        return self.not_applicable()  # marketing consent lives in the SES stores

    def _pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        """ListObjectVersions pages under ``prefix``, fetched lazily (a subject may have many objects)."""
        pagination = {"PageSize": self._page_size} if self._page_size else {}
        with self._calling("ListObjectVersions"):
            yield from self._client.get_paginator("list_object_versions").paginate(
                Bucket=self._store.resource, Prefix=prefix, PaginationConfig=pagination
            )

    def _versions(self, subject: Subject) -> list[dict[str, str]]:
        """Every object version and delete marker under the subject's prefix, as DeleteObjects entries."""
        versions = []
        for spelling, _, page in self._subject_pages(subject):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                self._matched(subject, spelling)
                versions.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        return versions

    def _subject_pages(self, subject: Subject) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(spelling, prefix, listing page) under each of the subject's prefixes (spellings are distinct, and
        every prefix ends with '/', so no object is listed twice)."""
        for spelling, prefix in self.prefixes(subject):
            for page in self._pages(prefix):
                yield spelling, prefix, page

    def _delete_chunk(self, chunk: list[dict[str, str]]) -> None:
        with self._calling("DeleteObjects"):
            response = self._client.delete_objects(
                Bucket=self._store.resource, Delete={"Objects": chunk, "Quiet": True}
            )
        errors = Counter(str(e.get("Code", "Unknown")) for e in response.get("Errors", []))
        if errors:
            # Name the worst code (throttling first, so the workflow retries); never the keys, they hold ids.
            code = next((c for c in errors if c in THROTTLE_CODES), errors.most_common(1)[0][0])
            failed = sum(errors.values())
            raise store_error(self._name, self._store.resource, f"DeleteObjects ({failed} of {len(chunk)})", code)

    def _digests(self, versions: list[dict[str, str]]) -> list[str]:
        return [self._version_digest(v["Key"], v["VersionId"]) for v in versions]

    def _version_digest(self, key: str, version_id: str) -> str:
        return self._digest(canonical_json({"key": key, "version_id": version_id}))


def _current(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A listing page's current objects: the latest version of each key that is not deleted (a key whose latest
    entry is a delete marker has no current object)."""
    return [v for v in page.get("Versions", []) if v.get("IsLatest")]
