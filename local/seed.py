"""Seeds sample data subjects into every store of the data map, so the demo and tests have people to act on.

Seeding follows the data map rather than hard-coded tables, so `DATAMAP=my-map.yaml make up` seeds
the stores of that map too. Values are obviously fake (example.com addresses, invented names).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc
from functions.privacy.datamap.model import DataMap, Store, StoreKind

SAMPLE_PEOPLE = [
    ("Alice Example", "alice@example.com", "C1001"),
    ("Bob Example", "bob@example.com", "C1002"),
    # C10011 starts like C1001: erasing Alice must not touch users/C10011/.
    ("Carol Example", "carol@example.com", "C10011"),
]
ORDERS_PER_SUBJECT = 3
FILES_PER_SUBJECT = 2


def sample_identifiers(datamap: DataMap, name: str, email: str, number: str) -> dict[str, str]:
    """Identifier values for one person: the email, and the number for every other identifier."""
    return {ident: (email if ident == datamap.subject_identifier else number) for ident in datamap.identifiers}


def _fake_value(attribute: str, name: str, email: str, index: int) -> str:
    lowered = attribute.lower()
    if "email" in lowered:
        return email
    if "name" in lowered:
        return name
    if "phone" in lowered:
        return f"+44 20 7946 0{index:03d}"
    if "address" in lowered:
        return f"{index} Example Street, Sampletown"
    if "card" in lowered:
        return f"{4000 + index:04d}"
    return f"sample {attribute} {index}"


def dynamodb_items(
    datamap: DataMap, store_name: str, store: Store, identifiers: dict[str, str], name: str, when: datetime
) -> list[dict[str, str]]:
    """Items for one person in one table, shaped by the data map (keys, lookup, masked and rectifiable fields)."""
    schema = store.table
    assert schema is not None
    base: dict[str, str] = {}
    for ident_name, ident in datamap.identifiers.items():
        if ident.resolved_by and ident.resolved_by.store == store_name:
            base[ident.resolved_by.attribute] = identifiers[ident_name]
    assert store.lookup.key_attribute
    base[store.lookup.key_attribute] = identifiers[store.lookup.identifier]
    base.setdefault(schema.partition_key, f"{identifiers[store.lookup.identifier]}")
    count = ORDERS_PER_SUBJECT if schema.sort_key else 1
    items = []
    for index in range(1, count + 1):
        item = dict(base)
        if schema.sort_key:
            item[schema.sort_key] = f"{store_name}-{index:04d}"
        for attribute in [*store.erasure.attributes, *store.rectifiable]:
            item.setdefault(attribute, _fake_value(attribute, name, identifiers[datamap.subject_identifier], index))
        if store.retention_timestamp:
            item[store.retention_timestamp] = format_utc(when - timedelta(days=30 * index))
        items.append(item)
    return items


def seed_subject(datamap: DataMap, clients: Any, person: tuple[str, str, str], when: datetime) -> dict[str, str]:
    name, email, number = person
    identifiers = sample_identifiers(datamap, name, email, number)
    for store_name, store in datamap.stores.items():
        if store.kind is StoreKind.DYNAMODB:
            table = clients.resource_table(store.resource)
            with table.batch_writer() as batch:
                for item in dynamodb_items(datamap, store_name, store, identifiers, name, when):
                    batch.put_item(Item=item)
        elif store.kind is StoreKind.S3:
            s3 = clients.client("s3")
            prefix = (store.lookup.key_template or "").format(**identifiers)
            for index in range(1, FILES_PER_SUBJECT + 1):
                key = f"{prefix}support/ticket-{index}.txt"
                # Two versions of each: erasure must remove history, not just the latest version.
                for version in (1, 2):
                    s3.put_object(
                        Bucket=store.resource, Key=key, Body=f"{name} wrote ticket {index} v{version}".encode()
                    )
        elif store.kind is StoreKind.SES_CONTACT_LIST:
            clients.client("sesv2").create_contact(
                ContactListName=store.resource,
                EmailAddress=email,
                TopicPreferences=[{"TopicName": t, "SubscriptionStatus": "OPT_IN"} for t in store.topics],
                AttributesData=f'{{"name": "{name}"}}',
            )
    return identifiers


def seed_sample_subjects(datamap: DataMap, clients: Any, count: int = len(SAMPLE_PEOPLE)) -> list[dict[str, str]]:
    """Seed ``count`` sample people; returns each one's identifiers (for outputs.json and tests)."""
    when = timestamps.now()
    return [seed_subject(datamap, clients, person, when) for person in SAMPLE_PEOPLE[:count]]
