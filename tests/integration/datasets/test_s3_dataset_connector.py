"""The s3_dataset connector on a versioned lake in moto: the subject's rows leave every file and every version."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import boto3
import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.privacy.connectors.base import StoreError, StoreUnavailable, Subject
from functions.privacy.connectors.registry import connector_for
from functions.privacy.connectors.s3_dataset import S3DatasetConnector
from functions.privacy.datamap.model import Identifier, Store
from functions.privacy.datasets.format import RewriteStats
from functions.privacy.datasets.jsonl import JsonLinesFormat
from functions.privacy.datasets.selection import Selection
from tests.integration.connectors.export_sink import MemorySink

LAKE = "privacy-sample-lake"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "evidence.schema.json"
IDENTIFIERS = {
    "email": Identifier(pattern=r"^[^@\s/]{1,64}@[^@\s/]{1,255}$", normalisation="case_insensitive"),
    "customer_id": Identifier(pattern=r"^[A-Za-z0-9_-]{1,64}$"),
}
ANN = Subject({"email": "Ann@Example.com", "customer_id": "c-42"})
NESTED = {"customer_id": "customer.id", "email": "customer.email"}
FLAT = {"customer_id": "customer_id", "email": "email"}
PARQUET_KEY, JSONL_KEY, CSV_KEY = "clicks/part-0.parquet", "orders/part-0.jsonl.gz", "signups/part-0.csv"
REASON = "Orders are kept for tax; the buyer is masked"
MASK_BUYER = {
    "mode": "anonymise",
    "reason": REASON,
    "attributes": {"customer.email": {"strategy": "null"}, "customer.name": {"strategy": "keyed_hash"}},
}
CallsTo = Callable[[Any, str], list[dict[str, Any]]]


def order(customer_id: str, email: str, number: int) -> dict[str, Any]:
    return {"order": f"o-{number}", "customer": {"id": customer_id, "email": email, "name": f"name {number}"}}


# Ann's rows: one by her customer id, one by her address as she typed it (another customer id).
OTHERS = [order(f"c-{n}", f"user{n}@example.com", n) for n in range(1, 5)]
ANNS = [order("c-42", "ann@example.com", 42), order("c-7", "Ann@Example.com", 7)]
ORDERS = [OTHERS[0], ANNS[0], OTHERS[1], OTHERS[2], ANNS[1], OTHERS[3]]
PARQUET_OTHERS = [order(f"p-{n}", f"p{n}@example.com", n) for n in range(3000)]
PARQUET_ROWS = [*PARQUET_OTHERS[:1000], ANNS[0], *PARQUET_OTHERS[1000:2500], ANNS[1], *PARQUET_OTHERS[2500:]]
CSV_OTHERS = [{"order": f"o-{n}", "customer_id": f"c-{n}", "email": f"user{n}@example.com"} for n in (1, 2, 3)]
CSV_ROWS = [CSV_OTHERS[0], {"order": "o-42", "customer_id": "c-42", "email": "ann@example.com"}, *CSV_OTHERS[1:]]


def parquet_file(rows: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    blooms = {"customer.id": {"ndv": 4000, "fpp": 0.01}, "customer.email": {"ndv": 4000, "fpp": 0.01}}
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=1000, bloom_filter_options=blooms)
    return sink.getvalue()


def jsonl_file(rows: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join((json.dumps(row) + "\n").encode() for row in rows), mtime=0)


def csv_file(rows: list[dict[str, Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["order", "customer_id", "email"])
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def read_rows(key: str, body: bytes) -> list[dict[str, Any]]:
    if key.endswith(".parquet"):
        return list(pq.read_table(io.BytesIO(body)).to_pylist())
    if ".jsonl" in key:
        text = gzip.decompress(body) if key.endswith(".gz") else body
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(body.decode())))


def holds_ann(row: dict[str, Any]) -> bool:
    customer = row.get("customer") or row
    return customer.get("id", customer.get("customer_id")) == "c-42" or str(customer.get("email")).lower() == (
        "ann@example.com"
    )


def dataset_store(fmt: str, prefix: str, columns: dict[str, str], erasure: dict[str, Any] | None = None) -> Store:
    return Store.model_validate(
        {
            "kind": "s3_dataset",
            "resource": LAKE,
            "categories": ["orders"],
            "lookup": {"identifier": "customer_id"},
            "dataset": {"prefix": prefix, "format": fmt, "columns": columns},
            "erasure": erasure or {"mode": "delete"},
        }
    )


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def keyed_hash(text: str) -> str:
    return hashlib.sha256(b"mask\x00" + text.encode()).hexdigest()


@pytest.fixture
def s3(aws: Any) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=LAKE)
    client.put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Enabled"})
    return client


def put(s3: Any, key: str, body: bytes) -> str:
    return str(s3.put_object(Bucket=LAKE, Key=key, Body=body)["VersionId"])


def versions(s3: Any, key: str) -> list[str]:
    listing = s3.list_object_versions(Bucket=LAKE, Prefix=key)
    return [v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key]


def every_version(s3: Any, key: str) -> list[list[dict[str, Any]]]:
    """The rows of every version of the key, newest first."""
    return [read_rows(key, s3.get_object(Bucket=LAKE, Key=key, VersionId=v)["Body"].read()) for v in versions(s3, key)]


@pytest.fixture
def lake(s3: Any, tmp_path: Path) -> dict[str, S3DatasetConnector]:
    """One store per format over the same bucket; the JSON Lines file has an older version holding Ann too."""
    put(s3, PARQUET_KEY, parquet_file(PARQUET_ROWS))
    put(s3, JSONL_KEY, jsonl_file([ANNS[0], OTHERS[0]]))
    put(s3, JSONL_KEY, jsonl_file(ORDERS))
    put(s3, CSV_KEY, csv_file(CSV_ROWS))
    put(s3, "signups/", b"")  # a folder placeholder holds no rows
    stores = {
        "clicks": dataset_store("parquet", "clicks/", NESTED),
        "orders": dataset_store("jsonl", "orders/", NESTED),
        "signups": dataset_store("csv", "signups/", FLAT),
    }
    return {
        name: S3DatasetConnector(name, store, s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path)
        for name, store in stores.items()
    }


def test_find_counts_the_subjects_rows_in_every_format_and_every_version(lake: dict[str, S3DatasetConnector]) -> None:
    found = {name: connector.find(ANN) for name, connector in lake.items()}

    # orders: 2 rows in the current version and 1 in the older one, which still holds her.
    assert {name: (f.found, f.personal, len(f.key_digests)) for name, f in found.items()} == {
        "clicks": (2, 2, 1),
        "orders": (3, 3, 2),
        "signups": (1, 1, 1),
    }
    assert all(c.matched_spelling == "as_typed" for c in lake.values())


def test_erasure_removes_exactly_the_subjects_rows_from_every_file_and_version(
    s3: Any, lake: dict[str, S3DatasetConnector], calls_to: CallsTo, tmp_path: Path
) -> None:
    results = {name: connector.erase(ANN) for name, connector in lake.items()}

    assert {name: (r.found, r.deleted, r.kept) for name, r in results.items()} == {
        "clicks": (2, 2, 0),
        "orders": (2, 2, 0),
        "signups": (1, 1, 0),
    }
    for key, rows in ((PARQUET_KEY, PARQUET_ROWS), (JSONL_KEY, ORDERS), (CSV_KEY, CSV_ROWS)):
        stored = every_version(s3, key)
        assert len(stored) == 1, key  # the source and every older version are gone
        assert stored[0] == [row for row in rows if not holds_ann(row)], key
    evidence = results["orders"].objects
    assert [(o["status"], o["rows_before"], o["rows_after"], o["older_versions_deleted"]) for o in evidence] == [
        ("rewritten", 6, 4, 2)
    ]
    assert evidence[0]["new_version_id"] == versions(s3, JSONL_KEY)[0] and len(evidence[0]["key_digest"]) == 64
    schema = json.loads(SCHEMA.read_text())
    for result in results.values():  # as store_tasks records it
        outcome = result.model_dump(mode="json", exclude={"key_digests", "files"})
        jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/outcome"}).validate(outcome)
    dumped = json.dumps([r.model_dump(mode="json") for r in results.values()])
    dumped = UUID.sub("<version>", dumped)  # moto's version ids are UUIDs, and one in 200 holds "c-42"
    assert "c-42" not in dumped and "ann@example.com" not in dumped.lower() and "part-0" not in dumped
    assert list(tmp_path.iterdir()) == []  # no spool of rows is left behind

    puts, deletes = calls_to(s3, "PutObject"), calls_to(s3, "DeleteObject")
    again = {name: connector.erase(ANN) for name, connector in lake.items()}

    assert puts == [] and deletes == []  # a rerun writes nothing
    assert all((r.found, r.deleted, r.objects) == (0, 0, []) for r in again.values())
    assert all(connector.find(ANN).found == 0 for connector in lake.values())


def test_a_noncurrent_version_holding_the_subject_is_found_and_erased(s3: Any, tmp_path: Path) -> None:
    key, gone = "orders/part-1.jsonl.gz", "orders/part-2.jsonl.gz"
    holding = put(s3, key, jsonl_file(ORDERS))
    clean = put(s3, key, jsonl_file(OTHERS))
    put(s3, gone, jsonl_file([ANNS[1], OTHERS[0]]))
    s3.delete_object(Bucket=LAKE, Key=gone)  # a deleted file whose history still holds her
    connector = S3DatasetConnector(
        "orders", dataset_store("jsonl", "orders/", NESTED), s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path
    )

    before = connector.find(ANN)
    erased = connector.erase(ANN)
    after = connector.find(ANN)

    assert (before.found, before.personal) == (3, 3)
    assert (erased.found, erased.deleted) == (0, 0)  # nothing current held her
    assert sorted(o["older_versions_deleted"] for o in erased.objects) == [1, 1]
    assert len(erased.key_digests) == 2
    assert versions(s3, key) == [clean] and holding not in versions(s3, key)
    assert versions(s3, gone) == []
    assert (after.found, after.personal) == (0, 0)


def test_anonymise_masks_the_named_columns_and_keeps_every_row(s3: Any, tmp_path: Path, calls_to: CallsTo) -> None:
    put(s3, JSONL_KEY, jsonl_file(ORDERS))
    store = dataset_store("jsonl", "orders/", NESTED, MASK_BUYER)
    connector = S3DatasetConnector("orders", store, s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path)

    erased = connector.erase(ANN)

    assert (erased.found, erased.anonymised, erased.kept, erased.deleted) == (2, 2, 2, 0)
    assert erased.exceptions == [REASON]
    [rows] = every_version(s3, JSONL_KEY)
    assert len(rows) == len(ORDERS)
    assert [row for row in rows if row["customer"]["id"] not in {"c-42", "c-7"}] == OTHERS
    masked = [row["customer"] for row in rows if row["customer"]["id"] in {"c-42", "c-7"}]
    assert masked == [
        {"id": "c-42", "email": None, "name": keyed_hash("name 42")},
        {"id": "c-7", "email": None, "name": keyed_hash("name 7")},
    ]
    # Her row is still found by her customer id, but holds nothing of her: the re-check sees no residual.
    after = connector.find(ANN)
    assert (after.found, after.personal) == (1, 0)
    puts = calls_to(s3, "PutObject")
    again = connector.erase(ANN)
    assert puts == [] and (again.found, again.anonymised, again.kept) == (1, 0, 1)


def test_export_returns_the_subjects_rows_only(lake: dict[str, S3DatasetConnector]) -> None:
    sink = MemorySink()

    results = {name: connector.export(ANN, sink) for name, connector in lake.items()}

    assert {name: (r.records, r.objects) for name, r in results.items()} == {
        "clicks": (2, 1),
        "orders": (2, 1),
        "signups": (1, 1),
    }
    assert sink.parts["clicks"] == ANNS and sink.parts["orders"] == ANNS
    assert sink.parts["signups"] == [{"order": "o-42", "customer_id": "c-42", "email": "ann@example.com"}]
    assert all(r.files == [f"{name}/records.jsonl"] and r.bytes > 0 for name, r in results.items())


def test_a_writer_between_read_and_write_makes_the_erasure_retry(s3: Any, lake: dict[str, S3DatasetConnector]) -> None:
    writer = boto3.client("s3", region_name="us-east-1")  # another process appending to the lake
    theirs = csv_file([*CSV_ROWS, {"order": "o-9", "customer_id": "c-9", "email": "user9@example.com"}])
    written: list[str] = []

    def concurrent_write(**_: Any) -> None:
        if not written:
            written.append(put(writer, CSV_KEY, theirs))

    s3.meta.events.register("before-call.s3.PutObject", concurrent_write)
    source = versions(s3, CSV_KEY)[0]

    with pytest.raises(StoreUnavailable, match="1 object\\(s\\) changed while being erased"):
        lake["signups"].erase(ANN)

    assert versions(s3, CSV_KEY) == [written[0], source]  # theirs is current, nothing was deleted


def test_object_lock_reports_the_rows_kept_and_writes_nothing(aws: Any, tmp_path: Path, calls_to: CallsTo) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=LAKE, ObjectLockEnabledForBucket=True)
    source = put(s3, JSONL_KEY, jsonl_file(ORDERS))
    until = datetime.now(UTC) + timedelta(days=30)
    s3.put_object_retention(
        Bucket=LAKE, Key=JSONL_KEY, VersionId=source, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
    )
    connector = S3DatasetConnector(
        "orders", dataset_store("jsonl", "orders/", NESTED), s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path
    )
    puts, deletes = calls_to(s3, "PutObject"), calls_to(s3, "DeleteObject")

    erased = connector.erase(ANN)

    assert (erased.found, erased.deleted, erased.kept) == (2, 0, 2)
    assert len(erased.exceptions) == 1
    assert erased.exceptions[0].startswith("1 object(s) blocked: a version of the object is under Object Lock")
    assert erased.key_digests == [] and [o["status"] for o in erased.objects] == ["blocked"]
    assert puts == [] and deletes == []
    assert versions(s3, JSONL_KEY) == [source] and every_version(s3, JSONL_KEY) == [ORDERS]


class _DeletesAfterListing:
    """The lake's client, except that someone deletes one version right after each listing."""

    def __init__(self, s3: Any, key: str, version_id: str) -> None:
        self._s3, self._key, self._version_id = s3, key, version_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_paginator(self, operation: str) -> Any:
        real = self._s3.get_paginator(operation)
        outer = self

        class _Paginator:
            def paginate(self, **params: Any) -> list[dict[str, Any]]:
                pages = list(real.paginate(**params))
                outer._s3.delete_object(Bucket=LAKE, Key=outer._key, VersionId=outer._version_id)
                return pages

        return _Paginator()


def test_a_version_deleted_between_listing_and_reading_is_skipped(s3: Any, tmp_path: Path) -> None:
    older = put(s3, JSONL_KEY, jsonl_file([ANNS[0]]))
    put(s3, JSONL_KEY, jsonl_file(ORDERS))
    client = _DeletesAfterListing(s3, JSONL_KEY, older)
    connector = S3DatasetConnector(
        "orders", dataset_store("jsonl", "orders/", NESTED), client, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path
    )

    found = connector.find(ANN)

    assert (found.found, found.personal, len(found.key_digests)) == (2, 2, 1)


class _KeepsOneSubjectRow(JsonLinesFormat):
    """A faulty rewriter: it reports the subject's rows removed but writes one of them back."""

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        stats = super().rewrite(source, sink, selection)
        sink.write((json.dumps(ANNS[0]) + "\n").encode())
        return stats


def test_an_object_failing_verification_fails_the_erasure_without_naming_it(s3: Any, tmp_path: Path) -> None:
    put(s3, "orders/part-0.jsonl", b"".join((json.dumps(row) + "\n").encode() for row in ORDERS))
    connector = S3DatasetConnector(
        "orders", dataset_store("jsonl", "orders/", NESTED), s3, digest, keyed_hash, IDENTIFIERS, work_root=tmp_path
    )
    connector._format = _KeepsOneSubjectRow()

    with pytest.raises(StoreError) as raised:
        connector.erase(ANN)

    assert not isinstance(raised.value, StoreUnavailable)
    assert "1 failed_verification" in str(raised.value) and "part-0" not in str(raised.value)
    assert [len(v) for v in every_version(s3, "orders/part-0.jsonl")] == [len(ORDERS)]  # the source is current


def test_the_registry_gives_dataset_stores_this_connector(datamap: Any) -> None:
    store = dataset_store("csv", "signups/", FLAT)

    class Clients:
        def client(self, service: str) -> Any:
            assert service == "s3"
            return object()

    connector = connector_for("signups", store, Clients(), digest, keyed_hash, datamap)

    assert isinstance(connector, S3DatasetConnector)
    assert connector.restrict(ANN).not_applicable and connector.rectify(ANN, {"name": "x"}).not_applicable
