"""The subjects of one store's queued tasks as one Selection, and which task each identifier value belongs to.

Identifiers are read from the requests table (never copied to the queue or the work bucket) and live only in
the worker's memory. Each (identifier, spelling) pair maps back to the queued entries holding it, so a row the
job removes is attributed to every request whose subject it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from functions.privacy.connectors.base import KeyDigester, Subject
from functions.privacy.connectors.s3_dataset import S3DatasetConnector
from functions.privacy.core.keys import key_digester
from functions.privacy.datamap.model import spelling_kind
from functions.privacy.dataset_jobs.queue import Entry
from functions.privacy.datasets.selection import Hit, Selection
from functions.privacy.requests import record as requests


@dataclass
class QueuedSubjects:
    """One operation's entries of one store: their union Selection and the owners of each value."""

    selection: Selection | None
    owners: dict[Hit, frozenset[str]] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)  # entry id -> entry
    subjects: dict[str, Subject] = field(default_factory=dict)
    digests: dict[str, KeyDigester] = field(default_factory=dict)

    def matched_spelling(self, entry_id: str, hits: Iterable[Hit], lookup: str) -> str | None:
        """as_typed / normalised: which spelling of the lookup identifier found this entry's rows."""
        value = self.subjects[entry_id].get(lookup)
        spellings = sorted(spelling for name, spelling in hits if name == lookup)
        if value is None or not spellings:
            return None
        kinds = {spelling_kind(s, value) for s in spellings}
        return "as_typed" if "as_typed" in kinds else sorted(kinds)[0]


def queued_subjects(
    entries: Iterable[Entry],
    connector: S3DatasetConnector,
    requests_table: Any,
    kms: Any,
    hmac_key_id: str,
) -> QueuedSubjects:
    """The entries' subjects, read from the requests table, merged into one Selection."""
    return merge_subjects(
        (
            (
                entry,
                Subject(requests.get_identifiers(requests_table, entry.request_id)),
                key_digester(kms, hmac_key_id, entry.request_id).digest,
            )
            for entry in entries
        ),
        connector,
    )


def merge_subjects(
    queued_entries: Iterable[tuple[Entry, Subject, KeyDigester]], connector: S3DatasetConnector
) -> QueuedSubjects:
    """Merge the entries' selections (the connector checks each identifier as the per-request path does)."""
    values: dict[str, set[str]] = {}
    owners: dict[Hit, set[str]] = {}
    queued = QueuedSubjects(selection=None)
    template: Selection | None = None
    for entry, subject, digest in queued_entries:
        queued.entries[entry.entry] = entry
        queued.subjects[entry.entry] = subject
        queued.digests[entry.entry] = digest
        selection = connector.selection_for(subject)
        if selection is None:
            continue  # no identifier this store has a column for: nothing of the subject can be here
        template = template or selection
        for name, spellings in selection.values.items():
            values.setdefault(name, set()).update(spellings)
            for spelling in spellings:
                owners.setdefault((name, spelling), set()).add(entry.entry)
    if template is not None:
        queued.selection = Selection(
            identifiers=template.identifiers,
            values={name: frozenset(v) for name, v in values.items()},
            mode=template.mode,
            masks=template.masks,
            keyed_hash=template.keyed_hash,
        )
        queued.owners = {hit: frozenset(o) for hit, o in owners.items()}
    return queued
