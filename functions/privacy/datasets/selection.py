"""Which rows of a dataset file a job acts on: the queued subjects' identifier values, and expired rows.

One Selection serves every format (Parquet, JSON Lines, CSV), so a row means the same thing in each.
Values are personal data: a Selection is never logged, put in workflow state or written to evidence.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from functions.privacy.core import timestamps
from functions.privacy.datamap.model import Mask, MaskStrategy

# (identifier name, value as stored): one queued subject's spelling; the job maps it back to requests.
Hit = tuple[str, str]
KeyedHasher = Callable[[str], str]


@dataclass(frozen=True)
class Selection:
    """The rows a job removes (or masks) in one dataset store.

    ``identifiers`` maps each identifier name to the dotted path of its column (``user.email`` reaches
    into a nested JSON object or a Parquet struct); ``values`` maps it to every spelling of every queued
    subject's value. A row is a subject row when any identifier column holds one of those values, compared
    as text (a Parquet INT64 customer id 42 matches "42").

    Retention: with ``expire_before`` set, a row whose ``timestamp`` column is older is expired unless one
    of its identifier values is in ``held`` (normalised hold values); a timestamp that cannot be read is
    never expired (counted as unreadable).
    """

    identifiers: Mapping[str, str]
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    mode: Literal["delete", "anonymise"] = "delete"
    masks: Mapping[str, Mask] = field(default_factory=dict)  # dotted path -> mask (anonymise)
    timestamp: str | None = None
    expire_before: datetime | None = None
    held: Mapping[str, frozenset[str]] = field(default_factory=dict)
    normalise: Callable[[str, str], str] = lambda _identifier, value: value  # (identifier, value) -> hold form
    keyed_hash: KeyedHasher | None = None  # for MaskStrategy.KEYED_HASH

    def __repr__(self) -> str:  # keep values out of tracebacks and logs
        counts = {name: len(v) for name, v in self.values.items()}
        return f"Selection(identifiers={sorted(self.identifiers)}, values={counts}, retention={self.expires})"

    @property
    def expires(self) -> bool:
        return self.expire_before is not None and self.timestamp is not None

    def subject_hits(self, row_values: Mapping[str, Any]) -> set[Hit]:
        """The queued (identifier, value) pairs a row holds; ``row_values`` maps identifier name -> cell."""
        hits: set[Hit] = set()
        for name, cell in row_values.items():
            if cell is None:
                continue
            text = cell if isinstance(cell, str) else str(cell)
            if text in self.values.get(name, ()):
                hits.add((name, text))
        return hits

    def expiry(self, row_values: Mapping[str, Any], stamp: Any) -> Literal["keep", "expired", "held", "unreadable"]:
        """Past retention: ``expired``, ``held`` (past but under a hold), ``unreadable`` or ``keep``."""
        if not self.expires:
            return "keep"
        moment = timestamps.parse_stored(stamp)
        if moment is None:
            return "unreadable"
        assert self.expire_before is not None
        if moment >= self.expire_before:
            return "keep"
        for name, cell in row_values.items():
            if cell is not None and self.normalise(name, str(cell)) in self.held.get(name, ()):
                return "held"
        return "expired"

    def masked(self, path: str, cell: Any) -> Any:
        """The value anonymise writes for one masked cell (None for the null strategy)."""
        mask = self.masks[path]
        if cell is None or mask.strategy is MaskStrategy.NULL:
            return None
        if mask.strategy is MaskStrategy.FIXED:
            return mask.value
        if mask.strategy is MaskStrategy.KEYED_HASH:
            if self.keyed_hash is None:
                raise ValueError(f"column {path}: keyed_hash masking needs the stack's key")
            return self.keyed_hash(cell if isinstance(cell, str) else str(cell))

        return secrets.token_hex(16)


def dotted(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path in a nested record (None when any step is missing or not an object)."""
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current
