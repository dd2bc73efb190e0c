"""Resolve a data subject's identifiers from the email, following the data map's lookups (email -> customer id)."""

from __future__ import annotations

from functions.privacy.connectors.base import StoreMisconfigured, Subject, check_identifier
from functions.privacy.connectors.dynamodb import plain_text, query_items
from functions.privacy.connectors.registry import ClientProvider
from functions.privacy.datamap.model import DataMap


class AmbiguousIdentifier(ValueError):
    """A lookup found several different values for one identifier, so erasing by one would miss the others."""


def resolve_subject(datamap: DataMap, email: str, clients: ClientProvider) -> Subject:
    """The subject's identifiers; one whose lookup finds nothing is simply absent (e.g. not a customer).

    Every value, the email and each one read from a store, is checked against its pattern before use.
    """
    values = {datamap.subject_identifier: _checked(datamap, datamap.subject_identifier, email)}
    for name in datamap.resolution_order()[1:]:
        resolution = datamap.identifiers[name].resolved_by
        assert resolution is not None  # resolution_order lists only resolvable identifiers after the first
        source = values.get(resolution.from_identifier)
        if source is None:
            continue
        store = datamap.stores[resolution.store]
        items = list(query_items(clients.client("dynamodb"), resolution.store, store, source, [resolution.attribute]))
        found = {plain_text(item[resolution.attribute]) for item in items if resolution.attribute in item}
        if items and not found:
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
    return Subject(values)


def _checked(datamap: DataMap, name: str, value: str) -> str:
    return check_identifier(name, value, datamap.identifiers[name].pattern)
