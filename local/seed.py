"""Seeds sample data subjects into every store of the data map, so the demo and tests have people to act on.

Seeding follows the data map rather than hard-coded tables, so `DATAMAP=my-map.yaml make up` seeds
the stores of that map too. Values are obviously fake (example.com addresses, invented names).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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
# The sample lake: each s3_dataset store gets LAKE_FILES files, each holding rows of every sample subject
# (LAKE_ROWS_PER_SUBJECT each) among LAKE_OTHERS synthetic people, so erasing one person rewrites shared files.
LAKE_FILES = 2
LAKE_ROWS_PER_SUBJECT = 2
LAKE_OTHERS = 40
_LAKE_SUFFIX = {"parquet": ".parquet", "jsonl": ".jsonl.gz", "csv": ".csv"}


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
    """Seed ``count`` sample people; returns each one's identifiers (for outputs.json and tests).

    The lake is seeded once here, not per subject: every request scans every lake file of a dataset store,
    so a lake that grew with each test's subject would make each request slower than the last.
    """
    when = timestamps.now()
    subjects = [seed_subject(datamap, clients, person, when) for person in SAMPLE_PEOPLE[:count]]
    seed_lake(datamap, clients, subjects, when)
    return subjects


def lake_others(datamap: DataMap, count: int = LAKE_OTHERS) -> list[dict[str, str]]:
    """Synthetic people who share the lake files with the sample subjects (never erased by the demo)."""
    return [
        sample_identifiers(datamap, f"Other {n}", f"other{n}@example.net", f"X{n:05d}") for n in range(1, count + 1)
    ]


def seed_lake(
    datamap: DataMap,
    clients: Any,
    subjects: list[dict[str, str]],
    when: datetime,
    *,
    files: int = LAKE_FILES,
    name: str = "part",
    others: int = LAKE_OTHERS,
) -> list[tuple[str, str]]:
    """Write shared files for every s3_dataset store; returns the (bucket, key) of each file written."""
    people = subjects * LAKE_ROWS_PER_SUBJECT + lake_others(datamap, others)
    written = []
    for store in datamap.stores_of_kind(StoreKind.S3_DATASET).values():
        assert store.dataset is not None  # the data map model requires it for s3_dataset stores
        for part in range(files):
            # Every file holds every sample subject's rows and a share of the others: rows of many people.
            rows = [
                lake_row(store, identifiers, when - timedelta(days=index + part), index)
                for index, identifiers in enumerate(people)
                if identifiers in subjects or index % files == part
            ]
            key = f"{store.dataset.prefix}{name}-{part:04d}{_LAKE_SUFFIX[store.dataset.format]}"
            body = lake_file(store.dataset.format, rows, list(store.dataset.columns.values()))
            clients.client("s3").put_object(Bucket=store.resource, Key=key, Body=body)
            written.append((store.resource, key))
    return written


def lake_row(store: Store, identifiers: Mapping[str, str], when: datetime, index: int) -> dict[str, Any]:
    """One row shaped by the data map: each identifier at its dotted column, the timestamp, masked columns."""
    assert store.dataset is not None
    row: dict[str, Any] = {"row_id": f"r{index:05d}", "amount": index * 3 + 1}
    paths = {path: identifiers[name] for name, path in store.dataset.columns.items()}
    paths.update({path: f"sample {path} {index}" for path in store.erasure.attributes if path not in paths})
    stamp: dict[str, Any] = {store.retention_timestamp: when} if store.retention_timestamp else {}
    for path, value in {**paths, **stamp}.items():
        *parents, leaf = path.split(".")
        node = row
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return row


def lake_file(file_format: str, rows: list[dict[str, Any]], identifier_columns: list[str]) -> bytes:
    """The bytes of one lake file: Parquet with bloom filters on the identifier columns, gzip JSON Lines, CSV."""
    if file_format == "parquet":
        sink = io.BytesIO()
        blooms = {column: {"ndv": 1000, "fpp": 0.01} for column in identifier_columns}
        pq.write_table(pa.Table.from_pylist(rows), sink, compression="zstd", bloom_filter_options=blooms)
        return sink.getvalue()
    if file_format == "jsonl":
        text = "".join(json.dumps(row, separators=(",", ":"), default=format_utc) + "\n" for row in rows)
        return gzip.compress(text.encode(), mtime=0)
    flat = [_flatten(row) for row in rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(flat[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue().encode()


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    # CSV columns are header names: a nested path user.email becomes the header "user.email".
    flat: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = format_utc(value) if isinstance(value, datetime) else value
    return flat
