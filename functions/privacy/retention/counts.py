"""The counts every retention step reports; they add up across pages, segments, batches and rounds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.privacy.retention import digest

# How many keys of records with an unreadable timestamp a store lists (as keyed digests): enough to
# find and fix the writer, few enough to keep the evidence and execution state small.
UNREADABLE_KEYS_LISTED = 5


class Counts(BaseModel):
    scanned: int = 0
    expired: int = 0
    skipped_held: int = 0
    skipped_retained: int = 0
    failed: int = 0
    skipped_unreadable: int = 0  # timestamp missing or unreadable: never expired, reported instead
    unreadable_key_digests: list[str] = []
    expired_keys_digest: str = digest.EMPTY

    def unreadable(self, key_digest: str) -> None:
        self.skipped_unreadable += 1
        if len(self.unreadable_key_digests) < UNREADABLE_KEYS_LISTED:
            self.unreadable_key_digests.append(key_digest)

    def merge(self, other: Counts) -> Counts:
        return Counts(
            scanned=self.scanned + other.scanned,
            expired=self.expired + other.expired,
            skipped_held=self.skipped_held + other.skipped_held,
            skipped_retained=self.skipped_retained + other.skipped_retained,
            failed=self.failed + other.failed,
            skipped_unreadable=self.skipped_unreadable + other.skipped_unreadable,
            unreadable_key_digests=[*self.unreadable_key_digests, *other.unreadable_key_digests][
                :UNREADABLE_KEYS_LISTED
            ],
            expired_keys_digest=digest.combine([self.expired_keys_digest, other.expired_keys_digest]),
        )

    @classmethod
    def total(cls, parts: list[dict[str, Any]]) -> Counts:
        result = cls()
        for part in parts:
            result = result.merge(cls.model_validate({k: v for k, v in part.items() if k in cls.model_fields}))
        return result

    @classmethod
    def kept_by_late_holds(cls, batch_results: list[dict[str, Any]] | None) -> Counts:
        """Move what object batches found held at delete time from expired to skipped_held (digest too).

        Rounds count a version as expired when they plan its batch; a hold placed before the batch
        ran kept it, so the store's totals take it back out.
        """
        held = [r for r in batch_results or [] if r.get("held")]
        count = sum(int(r["held"]) for r in held)
        return cls(
            expired=-count,
            skipped_held=count,
            expired_keys_digest=digest.combine(digest.negate(r["held_keys_digest"]) for r in held),
        )
