"""The counts every retention step reports; they add up across pages, segments, batches and rounds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.privacy.retention import digest

# How many keys of records with an unreadable timestamp a store lists (as keyed digests): enough to
# find and fix the writer, few enough to keep the evidence and execution state small.
UNREADABLE_KEYS_LISTED = 5
# How many lake objects a store's evidence describes one by one (those not cleanly handled: failed or
# blocked), as digests, versions and counts: what an operator needs to find them, and a bounded state.
OBJECTS_LISTED = 20
# Lake (s3_dataset) object counts: how many current objects were read, and what became of them.
OBJECT_FIELDS = ("objects", "objects_rewritten", "objects_deleted", "objects_blocked", "objects_failed")


class Counts(BaseModel):
    scanned: int = 0
    expired: int = 0
    skipped_held: int = 0
    skipped_retained: int = 0
    failed: int = 0
    skipped_unreadable: int = 0  # timestamp missing or unreadable: never expired, reported instead
    unreadable_key_digests: list[str] = []
    expired_keys_digest: str = digest.EMPTY
    # s3_dataset stores only: rows are what scanned/expired/skipped_* count there; these count objects.
    objects: int = 0
    objects_rewritten: int = 0
    objects_deleted: int = 0  # every row expired: every version of the key went
    objects_blocked: int = 0  # Object Lock, an unversioned bucket or an archived class: nothing written
    objects_failed: int = 0  # conflict, too large, failed verification or unreadable: also counted in failed
    object_outcomes: list[dict[str, Any]] = []  # the first OBJECTS_LISTED blocked or failed objects

    def listed(self, entry: dict[str, Any]) -> None:
        if len(self.object_outcomes) < OBJECTS_LISTED:
            self.object_outcomes.append(entry)

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
            **{name: getattr(self, name) + getattr(other, name) for name in OBJECT_FIELDS},
            object_outcomes=[*self.object_outcomes, *other.object_outcomes][:OBJECTS_LISTED],
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
