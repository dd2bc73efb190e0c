"""What every dataset file format (Parquet, JSON Lines, CSV) offers the job: scan, rewrite and export rows.

A format works on seekable binary files (a ranged S3 reader or a spooled /tmp file), streams row group by
row group or line by line, and reports counts and schema hashes only: results travel into workflow
state and evidence, so they never hold a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Protocol

from pydantic import BaseModel, Field

from functions.privacy.datasets.selection import Hit, Selection


class ScanResult(BaseModel):
    """What one file holds for a Selection, found without changing it."""

    model_config = {"arbitrary_types_allowed": True}

    rows: int = 0
    subject_rows: int = 0  # rows holding a queued subject's value
    expired_rows: int = 0  # rows past retention and not held (0 unless the Selection expires)
    held_rows: int = 0
    unreadable_rows: int = 0  # rows whose timestamp could not be read (never expired)
    malformed_rows: int = 0  # JSON Lines / CSV records that do not parse: kept byte for byte, never acted on
    # (identifier, value) -> rows: the job attributes rows to requests with it; never leaves the worker.
    hits: Counter[Hit] = Field(default_factory=Counter, exclude=True)
    # Each distinct set of (identifier, value) pairs a subject row holds -> rows: the job attributes each row to
    # every request owning one of its values without reading the rows again (a row holding a subject's email and
    # customer id counts once for that subject).
    row_hits: Counter[frozenset[Hit]] = Field(default_factory=Counter, exclude=True)
    # Parquet: row groups read to confirm and whether the file has bloom filters on the identifier columns.
    row_groups: int = 0
    row_groups_read: int = 0
    bloom_filters: bool | None = None

    @property
    def acts(self) -> bool:
        """Whether a rewrite would change the file."""
        return bool(self.subject_rows or self.expired_rows)


class RewriteStats(BaseModel):
    """What a rewrite did to one file (rows_after == rows_before - removed_rows)."""

    model_config = {"arbitrary_types_allowed": True}

    rows_before: int
    rows_after: int
    removed_rows: int = 0
    masked_rows: int = 0
    expired_rows: int = 0
    held_rows: int = 0
    unreadable_rows: int = 0
    malformed_rows: int = 0  # kept byte for byte (JSON Lines / CSV records that do not parse)
    schema_hash: str = Field(description="sha256 of the file's schema (names, physical and logical types)")
    hits: Counter[Hit] = Field(default_factory=Counter, exclude=True)


class DatasetFormat(Protocol):
    """One file format. ``source`` is positioned anywhere; implementations seek as they need."""

    name: str

    def scan(self, source: BinaryIO, selection: Selection) -> ScanResult:
        """Count the rows the Selection acts on (Parquet: footer, statistics and bloom filters first)."""
        ...

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        """Write ``source`` to ``sink`` without the selected rows (or with them masked), keeping everything else."""
        ...

    def subject_rows(self, source: BinaryIO, selection: Selection) -> Iterator[tuple[set[Hit], Mapping[str, Any]]]:
        """Each subject row as a JSON-ready record, with the queued values it holds (the access export)."""
        ...

    def schema_hash(self, source: BinaryIO) -> str:
        """The file's schema hash, to check a rewrite changed no column or type."""
        ...
