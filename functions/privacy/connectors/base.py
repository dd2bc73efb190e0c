"""The interface every store kind implements, and the values and errors connectors exchange.

Results carry counts and keyed digests of record keys only: they travel through Step Functions
state and into evidence, so they must never hold personal data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, Field

from functions.privacy.connectors.errors import (  # re-exported: connectors and callers name them from here
    StoreError as StoreError,
)
from functions.privacy.connectors.errors import (
    StoreMisconfigured as StoreMisconfigured,
)
from functions.privacy.connectors.errors import (
    StoreThrottled as StoreThrottled,
)
from functions.privacy.connectors.errors import (
    StoreUnavailable as StoreUnavailable,
)
from functions.privacy.connectors.errors import (
    mapped_errors,
)
from functions.privacy.datamap.model import Normalisation, Store, StoreKind, spelling_kind, spellings

# Maps a record key (already canonicalised to text) to a keyed digest; see privacy.digests.
KeyDigester = Callable[[str], str]
# Maps an attribute value to its keyed hash for the keyed_hash masking strategy.
KeyedHasher = Callable[[str], str]


class InvalidIdentifier(ValueError):
    """An identifier value does not match its data-map pattern (it could widen a key prefix)."""


class InvalidCorrection(ValueError):
    """A rectification correction is not allowed or has the wrong type; the message names the attribute, never
    the value. Raised before any store is changed."""


@dataclass(frozen=True)
class Subject:
    """A data subject's identifiers, resolved from the email through the data map's links.

    Values are personal data: never log a Subject, only counts and HMACs derived from it.
    """

    identifiers: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.identifiers.get(name)

    def __repr__(self) -> str:  # keep identifiers out of tracebacks and logs
        return f"Subject(identifiers={sorted(self.identifiers)})"


def identifier_value(subject: Subject, name: str, pattern: re.Pattern[str]) -> str | None:
    """The subject's value for an identifier, checked against its data-map pattern before any store call.

    None means the subject has no such identifier (e.g. not a customer): there is nothing to look up.
    """
    value = subject.get(name)
    return None if value is None else check_identifier(name, value, pattern)


def check_identifier(name: str, value: str, pattern: re.Pattern[str] | str) -> str:
    """Return ``value`` if it matches the identifier's pattern, else raise InvalidIdentifier (without the value)."""
    # fullmatch, not match: a pattern's `$` also matches before a trailing newline.
    if not re.fullmatch(pattern, value):
        raise InvalidIdentifier(f"identifier {name} does not match its data-map pattern")
    return value


def canonical_json(key: Mapping[str, Any]) -> str:
    """The canonical text of a record key (sorted keys, no spaces) that KeyDigester digests."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plain_response(value: Any) -> Any:
    """An AWS response value as plain JSON for an export (timestamps as ISO 8601)."""
    if isinstance(value, datetime):
        # The store's own value in the subject's copy, fractions and all: data, not a time the engine writes.
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain_response(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain_response(v) for k, v in value.items()}
    return value


class _Outcome(BaseModel):
    # Which spelling of the lookup identifier found the records (as_typed or normalised), never the value.
    matched_spelling: str | None = None


class FindResult(_Outcome):
    """What a store holds about a subject."""

    found: int = 0
    # Records still holding personal data (for anonymise stores, those not yet masked).
    personal: int = 0
    key_digests: list[str] = Field(default_factory=list)


class EraseResult(_Outcome):
    """What an erasure did in one store."""

    found: int = 0
    deleted: int = 0
    anonymised: int = 0
    kept: int = 0
    # ses_suppression: the address was not on the account suppression list and was added (see decisions.md).
    added: int = 0
    key_digests: list[str] = Field(default_factory=list)
    exceptions: list[str] = Field(default_factory=list, description="Why records were kept, if any")
    # s3_dataset: one entry per object acted on (key digest, versions, sha256s, row counts, schema hash, status);
    # left out when empty, so other stores' outcomes are unchanged and an export's `objects` count is not shadowed.
    objects: list[dict[str, Any]] = Field(
        default_factory=list,
        exclude_if=lambda objects: not objects,
        description="Per-object evidence of a dataset rewrite; no values, no raw keys",
    )


class ExportResult(_Outcome):
    """What an access export collected from one store (the data itself went to the sink)."""

    records: int = 0
    objects: int = 0
    bytes: int = 0
    files: list[str] = Field(default_factory=list, description="Archive paths written for this store")
    key_digests: list[str] = Field(default_factory=list, description="Keyed digests of the exported record keys")


class ChangeResult(_Outcome):
    """What a rectification, restriction or opt-out changed in one store."""

    found: int = 0
    changed: int = 0
    unchanged: int = 0  # already in the requested state (a rerun changes nothing twice)
    not_applicable: bool = False  # the operation means nothing for this store kind
    attributes: list[str] = Field(default_factory=list, description="Attribute names changed, never values")
    key_digests: list[str] = Field(default_factory=list)
    exceptions: list[str] = Field(default_factory=list)


class ExportSink(Protocol):
    """Where a connector writes a subject's data for the access archive (an S3 prefix in the export bucket).

    Connectors stream: records are written page by page and objects are copied server-side, so no
    Lambda holds a large subject in memory.
    """

    def write_records(self, store: str, records: Iterable[Mapping[str, Any]]) -> tuple[str, int, int]:
        """Write JSON records as the store's part; returns (archive path, record count, bytes)."""
        ...

    def copy_object(self, store: str, bucket: str, key: str, version_id: str | None, relative_name: str) -> int:
        """Copy one S3 object into the archive under ``<store>/objects/<relative_name>``; returns its size."""
        ...


class Connector(Protocol):
    """One store kind's operations on one subject; the data map decides which apply and how."""

    def find(self, subject: Subject) -> FindResult: ...

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult: ...

    def erase(self, subject: Subject) -> EraseResult: ...

    def rectify(self, subject: Subject, corrections: Mapping[str, Any]) -> ChangeResult: ...

    def restrict(self, subject: Subject) -> ChangeResult: ...

    def opt_out(self, subject: Subject) -> ChangeResult: ...


class StoreConnector:
    """What every connector shares: the store it serves, its client, the key digester and the identifier check.

    Subclasses set ``kind`` and may add a ``_misconfiguration`` check; AWS calls go through ``_calling`` so
    failures become the named errors the workflow routes on, with messages free of personal data.
    """

    kind: ClassVar[StoreKind]

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        identifier_pattern: re.Pattern[str] | str,
        normalisation: Normalisation = "exact",
    ) -> None:
        if store.kind is not self.kind:
            raise StoreMisconfigured(f"store {store_name} is not a {self.kind.value} store")
        problem = self._misconfiguration(store)
        if problem:
            raise StoreMisconfigured(f"store {store_name}: {problem}")
        self._name, self._store, self._client, self._digest = store_name, store, client, digest
        self._pattern = re.compile(identifier_pattern)  # a compiled pattern passes through unchanged
        self._normalisation: Normalisation = normalisation
        self.matched_spelling: str | None = None  # set by the last lookup that found something

    def _spellings(self, subject: Subject) -> list[str]:
        """Every spelling of the subject's lookup value this store may hold, each checked (as typed first)."""
        value = subject.get(self._store.lookup.identifier)
        if value is None:
            return []
        name = self._store.lookup.identifier
        return [
            check_identifier(name, s, self._pattern)
            for s in spellings(value, self._normalisation, self._store.lookup.stored_as)
        ]

    def _matched(self, subject: Subject, spelling: str) -> None:
        """Note which spelling found the subject's records (reported as as_typed or normalised)."""
        value = subject.get(self._store.lookup.identifier)
        if value is not None and self.matched_spelling is None:
            self.matched_spelling = spelling_kind(spelling, value)

    def _misconfiguration(self, store: Store) -> str | None:
        """What makes ``store`` unusable for this kind beyond its kind (None when it is fine)."""
        return None

    def _identifier(self, subject: Subject) -> str | None:
        """The subject's lookup value for this store, checked against its pattern (None: nothing to look up)."""
        return identifier_value(subject, self._store.lookup.identifier, self._pattern)

    def _calling(self, operation: str) -> AbstractContextManager[None]:
        return mapped_errors(self._name, self._store.resource, operation)

    @staticmethod
    def not_applicable() -> ChangeResult:
        """The operation means nothing for this store kind: no call is made."""
        return ChangeResult(not_applicable=True)
