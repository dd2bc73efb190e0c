"""The counts every retention step reports; they add up across pages, segments, batches and rounds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.privacy.retention import digest


class Counts(BaseModel):
    scanned: int = 0
    expired: int = 0
    skipped_held: int = 0
    skipped_retained: int = 0
    failed: int = 0
    expired_keys_digest: str = digest.EMPTY

    def merge(self, other: Counts) -> Counts:
        return Counts(
            scanned=self.scanned + other.scanned,
            expired=self.expired + other.expired,
            skipped_held=self.skipped_held + other.skipped_held,
            skipped_retained=self.skipped_retained + other.skipped_retained,
            failed=self.failed + other.failed,
            expired_keys_digest=digest.combine([self.expired_keys_digest, other.expired_keys_digest]),
        )

    @classmethod
    def total(cls, parts: list[dict[str, Any]]) -> Counts:
        result = cls()
        for part in parts:
            result = result.merge(cls.model_validate({k: v for k, v in part.items() if k in cls.model_fields}))
        return result
