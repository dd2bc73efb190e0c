"""S3 connector: a subject's objects live under a key prefix; erasure deletes every version and delete marker.

Deleting only the current version would add a delete marker and keep the data in older versions.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ..datamap import Store, StoreKind
from .base import (
    EraseResult,
    FindResult,
    KeyDigester,
    StoreMisconfigured,
    Subject,
    canonical_json,
    identifier_value,
)
from .errors import THROTTLE_CODES, mapped_errors, store_error

DELETE_OBJECTS_LIMIT = 1000  # DeleteObjects accepts at most 1,000 keys per call


class S3Connector:
    """Finds and erases one subject's object versions under the data map's key prefix in one bucket."""

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        identifier_pattern: re.Pattern[str] | str,
        *,
        page_size: int | None = None,
    ) -> None:
        if store.kind is not StoreKind.S3 or not store.lookup.key_template:
            raise StoreMisconfigured(f"store {store_name} is not an s3 store with a key_template")
        self._name, self._store, self._client, self._digest = store_name, store, client, digest
        self._pattern = re.compile(identifier_pattern)  # a compiled pattern passes through unchanged
        self._page_size = page_size

    def prefix(self, subject: Subject) -> str | None:
        """The subject's key prefix, or None when the subject lacks the identifier the template needs."""
        identifier = self._store.lookup.identifier
        value = identifier_value(subject, identifier, self._pattern)
        if value is None:
            return None
        prefix = self._store.lookup.key_template.format(**{identifier: value})  # type: ignore[union-attr]
        if not prefix.endswith("/"):  # the data map enforces this; without it users/c1 would match users/c10
            raise StoreMisconfigured(f"store {self._name}: key_template must end with '/'")
        return prefix

    def find(self, subject: Subject) -> FindResult:
        versions = self._versions(subject)
        # Delete markers count too: their key names still carry the identifier.
        return FindResult(found=len(versions), personal=len(versions), key_digests=self._digests(versions))

    def erase(self, subject: Subject) -> EraseResult:
        versions = self._versions(subject)
        for start in range(0, len(versions), DELETE_OBJECTS_LIMIT):
            self._delete_chunk(versions[start : start + DELETE_OBJECTS_LIMIT])
        return EraseResult(found=len(versions), deleted=len(versions), key_digests=self._digests(versions))

    def _versions(self, subject: Subject) -> list[dict[str, str]]:
        """Every object version and delete marker under the subject's prefix, as DeleteObjects entries."""
        prefix = self.prefix(subject)
        if prefix is None:
            return []
        pagination = {"PageSize": self._page_size} if self._page_size else {}
        versions: list[dict[str, str]] = []
        with mapped_errors(self._name, self._store.resource, "ListObjectVersions"):
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=self._store.resource, Prefix=prefix, PaginationConfig=pagination
            )
            for page in pages:
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    versions.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        return versions

    def _delete_chunk(self, chunk: list[dict[str, str]]) -> None:
        with mapped_errors(self._name, self._store.resource, "DeleteObjects"):
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
        return [self._digest(canonical_json({"key": v["Key"], "version_id": v["VersionId"]})) for v in versions]
