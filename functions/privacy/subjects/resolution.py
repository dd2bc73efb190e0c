"""Resolve a data subject's identifiers from the email, following the data map's lookups (email -> customer id).

The one resolution erasure, access, holds and retention share: each lookup tries every spelling the store may
hold (the value as typed and its normalised form, as the data map declares), so a customer stored as
``Alice@Example.com`` is found from ``alice@example.com`` typed into a form, and the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from functions.privacy.connectors.base import StoreMisconfigured, Subject, check_identifier
from functions.privacy.connectors.dynamodb import plain_text, query_items
from functions.privacy.connectors.registry import ClientProvider
from functions.privacy.datamap.model import DataMap, spelling_kind


class AmbiguousIdentifier(ValueError):
    """A lookup found several different values for one identifier, so erasing by one would miss the others."""


@dataclass(frozen=True)
class Resolution:
    """The subject, which spelling found each derived identifier, and the identifiers that did not resolve.

    ``unresolved`` names the identifier, the store searched and the stores that could therefore not be
    searched (never a value): what a request's result and evidence report.
    """

    subject: Subject
    matched: dict[str, str] = field(default_factory=dict)  # identifier -> as_typed | normalised
    unresolved: list[dict[str, Any]] = field(default_factory=list)


def resolve(datamap: DataMap, email: str, clients: ClientProvider) -> Resolution:
    """The subject's identifiers; one whose lookup finds nothing is absent (e.g. not a customer) and listed.

    Every value, the email and each one read from a store, is checked against its pattern before use.
    """
    values = {datamap.subject_identifier: _checked(datamap, datamap.subject_identifier, email)}
    matched: dict[str, str] = {}
    unresolved: list[dict[str, Any]] = []
    for name in datamap.resolution_order()[1:]:
        resolution = datamap.identifiers[name].resolved_by
        assert resolution is not None  # resolution_order lists only resolvable identifiers after the first
        source = values.get(resolution.from_identifier)
        if source is None:
            continue
        store = datamap.stores[resolution.store]
        found: set[str] = set()
        any_items = False
        for typed in datamap.lookup_spellings(resolution.store, source):
            spelling = _checked(datamap, resolution.from_identifier, typed)
            items = list(
                query_items(clients.client("dynamodb"), resolution.store, store, spelling, [resolution.attribute])
            )
            values_here = {plain_text(item[resolution.attribute]) for item in items if resolution.attribute in item}
            any_items = any_items or bool(items)
            if values_here and name not in matched:
                matched[name] = spelling_kind(spelling, source)
            found |= values_here
        if any_items and not found:
            # A record exists but the attribute is not returned: most likely the GSI does not project it.
            raise StoreMisconfigured(
                f"store {resolution.store} ({store.resource}): records found for identifiers.{name} "
                f"lack attribute {resolution.attribute!r}"
            )
        if len(found) > 1:
            raise AmbiguousIdentifier(
                f"identifiers.{name}: {len(found)} different values in store {resolution.store} for one subject"
            )
        if found:
            values[name] = _checked(datamap, name, found.pop())
        else:
            waiting = sorted(n for n, s in datamap.stores.items() if s.lookup.identifier == name)
            unresolved.append({"identifier": name, "store": resolution.store, "stores_not_searched": waiting})
    return Resolution(Subject(values), matched, unresolved)


def resolve_subject(datamap: DataMap, email: str, clients: ClientProvider) -> Subject:
    """The subject's identifiers (see resolve)."""
    return resolve(datamap, email, clients).subject


def _checked(datamap: DataMap, name: str, value: str) -> str:
    return check_identifier(name, value, datamap.identifiers[name].pattern)
