"""One dataset object's rewrite on a versioned bucket: the subject's rows leave every version, nothing else changes."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.privacy.datamap.model import Mask, MaskStrategy
from functions.privacy.datasets.csv_format import CsvFormat
from functions.privacy.datasets.format import RewriteStats
from functions.privacy.datasets.formats import format_for
from functions.privacy.datasets.jsonl import JsonLinesFormat
from functions.privacy.datasets.objects import ObjectStatus, export_object, rewrite_object
from functions.privacy.datasets.selection import Selection

LAKE = "privacy-sample-lake"
KEY = "orders/2026/11/part-0001.jsonl"
IDS = {"customer_id": "customer.id", "email": "customer.email"}
JSONL = JsonLinesFormat()
CallsTo = Callable[[Any, str], list[dict[str, Any]]]


def line(customer_id: object, email: str = "x@example.com") -> bytes:
    return (json.dumps({"order": f"o-{customer_id}", "customer": {"id": customer_id, "email": email}}) + "\n").encode()


def subjects(*customer_ids: str, emails: tuple[str, ...] = (), **options: Any) -> Selection:
    return Selection(
        identifiers=IDS, values={"customer_id": frozenset(customer_ids), "email": frozenset(emails)}, **options
    )


ORDERS = [line(7), line(42, "ann@example.com"), line(8), line(9, "ann@example.com"), line(10)]
KEPT = ORDERS[0] + ORDERS[2] + ORDERS[4]
ANN = subjects("42", emails=("ann@example.com",))


@pytest.fixture
def s3(aws: Any) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=LAKE)
    client.put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Enabled"})
    return client


def versions(s3: Any, key: str = KEY) -> list[str]:
    """Every version and delete marker id of the key (newest version first, then markers)."""
    listing = s3.list_object_versions(Bucket=LAKE, Prefix=key)
    return [v["VersionId"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []) if v["Key"] == key]


def version_bytes(s3: Any) -> list[bytes]:
    listing = s3.list_object_versions(Bucket=LAKE, Prefix=KEY).get("Versions", [])
    return [s3.get_object(Bucket=LAKE, Key=KEY, VersionId=v["VersionId"])["Body"].read() for v in listing]


def put(s3: Any, body: bytes, key: str = KEY, **params: Any) -> str:
    return str(s3.put_object(Bucket=LAKE, Key=key, Body=body, **params)["VersionId"])


def test_erasure_rewrites_the_object_keeping_every_header_and_deletes_every_older_version(
    aws: Any, s3: Any, tmp_path: Path
) -> None:
    kms_key = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    s3.put_bucket_ownership_controls(Bucket=LAKE, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    put(s3, ORDERS[1] + ORDERS[0])  # history written before the job: it holds Ann too
    s3.delete_object(Bucket=LAKE, Key=KEY)  # and a delete marker between the versions
    source = put(
        s3,
        b"".join(ORDERS),
        ContentType="application/x-ndjson",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="orders.jsonl"',
        ContentLanguage="en-GB",
        CacheControl="max-age=3600",
        Expires=datetime(2031, 1, 1, tzinfo=UTC),
        Metadata={"pipeline": "orders-export", "schema": "v3"},
        Tagging="team=data&classification=personal",
        StorageClass="STANDARD_IA",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key,
        BucketKeyEnabled=True,
        GrantRead='uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"',
    )
    before = s3.head_object(Bucket=LAKE, Key=KEY)

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.REWRITTEN
    assert (outcome.rows_before, outcome.rows_after, outcome.removed_rows) == (5, 3, 2)
    assert outcome.source_version_id == source and outcome.older_versions_deleted == 3
    assert outcome.source_sha256 == hashlib.sha256(b"".join(ORDERS)).hexdigest()
    assert outcome.new_sha256 == hashlib.sha256(KEPT).hexdigest()
    assert outcome.hits == {("customer_id", "42"): 1, ("email", "ann@example.com"): 2}
    assert versions(s3) == [outcome.new_version_id]
    assert version_bytes(s3) == [KEPT]
    after = s3.head_object(Bucket=LAKE, Key=KEY)
    for header in (
        "ContentType",
        "ContentEncoding",
        "ContentDisposition",
        "ContentLanguage",
        "CacheControl",
        "Expires",
        "Metadata",
        "StorageClass",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "BucketKeyEnabled",
    ):
        assert after.get(header) == before.get(header) and after.get(header) is not None, header
    tags = s3.get_object_tagging(Bucket=LAKE, Key=KEY)["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("classification", "personal"), ("team", "data")]
    grants = s3.get_object_acl(Bucket=LAKE, Key=KEY)["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"} in [
        g["Grantee"] for g in grants if g["Permission"] == "READ"
    ]
    dumped = json.dumps(outcome.model_dump(mode="json"))
    assert "hits" not in outcome.model_dump() and "ann@example.com" not in dumped and '"42"' not in dumped
    assert list(tmp_path.iterdir()) == []  # no spool of rows is left behind


def test_acl_grants_are_not_sent_when_the_bucket_owner_enforces_ownership(
    s3: Any, tmp_path: Path, calls_to: CallsTo
) -> None:
    s3.put_bucket_ownership_controls(
        Bucket=LAKE, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    put(s3, b"".join(ORDERS), ServerSideEncryption="AES256")
    puts = calls_to(s3, "PutObject")
    acl_reads = calls_to(s3, "GetObjectAcl")

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.REWRITTEN and version_bytes(s3) == [KEPT]
    assert acl_reads == [] and not any(name.startswith("Grant") for name in puts[0])
    assert puts[0]["IfMatch"] and puts[0]["ChecksumAlgorithm"] == "SHA256"
    assert s3.head_object(Bucket=LAKE, Key=KEY)["ServerSideEncryption"] == "AES256"


def test_a_writer_between_pin_and_put_wins_and_nothing_is_deleted(aws: Any, s3: Any, tmp_path: Path) -> None:
    source = put(s3, b"".join(ORDERS))
    writer = boto3.client("s3", region_name="us-east-1")  # another process appending to the lake
    theirs = b"".join(ORDERS) + line(11)
    written: list[str] = []

    def concurrent_write(**_: Any) -> None:
        if not written:
            written.append(put(writer, theirs))

    s3.meta.events.register("before-call.s3.PutObject", concurrent_write)

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.CONFLICT and outcome.reason
    assert outcome.new_version_id is None and outcome.older_versions_deleted == 0 and outcome.puts == 1
    assert versions(s3) == [written[0], source]
    assert version_bytes(s3) == [theirs, b"".join(ORDERS)]


class _KeepsOneSubjectRow(JsonLinesFormat):
    """A faulty rewriter: it reports Ann's rows removed but writes one of them back."""

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        stats = super().rewrite(source, sink, selection)
        sink.write(ORDERS[1])
        return stats


class _LosesARow(JsonLinesFormat):
    """A faulty rewriter: it drops a row it does not count as removed."""

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        scratch = io.BytesIO()
        stats = super().rewrite(source, scratch, selection)
        sink.write(scratch.getvalue().split(b"\n", 1)[1])
        return stats


class _RenamesAColumn(CsvFormat):
    """A faulty rewriter: the header it writes no longer names the email column."""

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        scratch = io.BytesIO()
        stats = super().rewrite(source, scratch, selection)
        sink.write(scratch.getvalue().replace(b",email", b",e_mail", 1))
        return stats


CSV_KEY = "orders/2026/11/part-0001.csv"
CSV_ORDERS = b"order,customer_id,email\r\no-1,42,ann@example.com\r\no-2,7,x@example.com\r\n"
CSV_ANN = Selection(
    identifiers={"customer_id": "customer_id", "email": "email"}, values={"customer_id": frozenset({"42"})}
)


@pytest.mark.parametrize(
    ("faulty", "key", "body", "selection", "reason"),
    [
        (_KeepsOneSubjectRow(), KEY, b"".join(ORDERS), ANN, "the new version still holds selected rows"),
        (_LosesARow(), KEY, b"".join(ORDERS), ANN, "the new version has 2 rows, expected 5 - 2"),
        (
            _RenamesAColumn(),
            CSV_KEY,
            CSV_ORDERS,
            CSV_ANN,
            "the new version could not be checked (DatasetColumnsMissing)",
        ),
    ],
)
def test_a_new_version_that_fails_verification_is_deleted_and_the_source_stays_current(
    s3: Any, tmp_path: Path, faulty: Any, key: str, body: bytes, selection: Selection, reason: str
) -> None:
    older = put(s3, body.splitlines(keepends=True)[0], key=key)
    source = put(s3, body, key=key)

    outcome = rewrite_object(s3, bucket=LAKE, key=key, dataset_format=faulty, selection=selection, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.FAILED_VERIFICATION and outcome.reason == reason
    assert outcome.new_version_id and outcome.older_versions_deleted == 0
    assert versions(s3, key) == [source, older]
    assert s3.get_object(Bucket=LAKE, Key=key)["Body"].read() == body
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("lock", ["legal_hold", "retention"])
def test_object_lock_on_any_version_blocks_the_rewrite(aws: Any, tmp_path: Path, lock: str) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=LAKE, ObjectLockEnabledForBucket=True)
    older = put(s3, ORDERS[0])
    if lock == "legal_hold":
        s3.put_object_legal_hold(Bucket=LAKE, Key=KEY, VersionId=older, LegalHold={"Status": "ON"})
    else:
        until = datetime.now(UTC) + timedelta(days=30)
        s3.put_object_retention(
            Bucket=LAKE, Key=KEY, VersionId=older, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
        )
    source = put(s3, b"".join(ORDERS))

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.BLOCKED and "Object Lock" in (outcome.reason or "")
    assert outcome.puts == 0 and outcome.rows_before == 5
    assert versions(s3) == [source, older]
    assert version_bytes(s3) == [b"".join(ORDERS), ORDERS[0]]


def test_an_object_over_the_size_limit_is_reported_too_large_unread(s3: Any, tmp_path: Path) -> None:
    body = b"".join(ORDERS)
    source = put(s3, body)

    outcome = rewrite_object(
        s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path, max_bytes=len(body) - 1
    )

    assert outcome.status is ObjectStatus.TOO_LARGE and str(len(body)) in (outcome.reason or "")
    assert (outcome.gets, outcome.puts) == (0, 0)
    assert versions(s3) == [source] and version_bytes(s3) == [body]


def test_an_unversioned_bucket_is_blocked_since_nothing_could_be_rolled_back(aws: Any, tmp_path: Path) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=LAKE)
    s3.put_object(Bucket=LAKE, Key=KEY, Body=b"".join(ORDERS))

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.BLOCKED and "versioning" in (outcome.reason or "")
    assert s3.get_object(Bucket=LAKE, Key=KEY)["Body"].read() == b"".join(ORDERS)


def test_a_second_run_finds_the_object_clean_and_puts_nothing(s3: Any, tmp_path: Path, calls_to: CallsTo) -> None:
    put(s3, b"".join(ORDERS))
    first = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)
    puts = calls_to(s3, "PutObject")
    deletes = calls_to(s3, "DeleteObject")

    again = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert first.status is ObjectStatus.REWRITTEN
    assert again.status is ObjectStatus.CLEAN and again.source_version_id == first.new_version_id
    assert (again.rows_before, again.removed_rows, again.puts, again.older_versions_deleted) == (3, 0, 0, 0)
    assert puts == [] and deletes == []
    assert versions(s3) == [first.new_version_id] and version_bytes(s3) == [KEPT]


def test_a_run_stopped_between_put_and_deletes_is_finished_by_the_next_run(s3: Any, tmp_path: Path) -> None:
    unrelated = put(s3, ORDERS[0] + ORDERS[2])  # history without Ann stays
    holding = put(s3, b"".join(ORDERS))
    rewritten = put(s3, KEPT)  # the interrupted run's verified PUT; its deletes never happened

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.CLEAN and outcome.puts == 0
    assert outcome.older_versions_deleted == 1
    assert versions(s3) == [rewritten, unrelated]
    assert holding not in versions(s3)
    assert version_bytes(s3) == [KEPT, ORDERS[0] + ORDERS[2]]


def test_an_object_of_only_the_subjects_rows_loses_every_version(s3: Any, tmp_path: Path) -> None:
    key = "orders/2026/11/ann.csv"
    header = b"order,customer_id,email\r\n"
    put(s3, header + b"o-1,42,ann@example.com\r\n", key=key)
    s3.delete_object(Bucket=LAKE, Key=key)
    put(s3, header + b"o-2,42,ann@example.com\r\no-3,99,ann@example.com\r\n", key=key)
    put(s3, b"unrelated", key=key + ".bak")  # a longer key under the same prefix is another object
    csv = subjects("42", emails=("ann@example.com",))
    csv = Selection(identifiers={"customer_id": "customer_id", "email": "email"}, values=csv.values)

    outcome = rewrite_object(s3, bucket=LAKE, key=key, dataset_format=CsvFormat(), selection=csv, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.DELETED
    assert (outcome.rows_before, outcome.rows_after, outcome.removed_rows) == (2, 0, 2)
    assert outcome.older_versions_deleted == 3 and outcome.puts == 0
    assert versions(s3, key) == []
    assert s3.get_object(Bucket=LAKE, Key=key + ".bak")["Body"].read() == b"unrelated"


def test_anonymise_masks_the_subjects_rows_and_verifies_them_gone(s3: Any, tmp_path: Path) -> None:
    put(s3, b"".join(ORDERS))
    masks = {
        "customer.id": Mask(strategy=MaskStrategy.FIXED, value="anonymised"),
        "customer.email": Mask(strategy=MaskStrategy.NULL),
    }

    outcome = rewrite_object(
        s3,
        bucket=LAKE,
        key=KEY,
        dataset_format=JSONL,
        selection=subjects("42", emails=("ann@example.com",), mode="anonymise", masks=masks),
        work_dir=tmp_path,
    )

    assert outcome.status is ObjectStatus.REWRITTEN and (outcome.masked_rows, outcome.rows_after) == (2, 5)
    rows = [json.loads(raw) for raw in io.BytesIO(version_bytes(s3)[0])]
    assert [row["customer"] for row in rows] == [
        {"id": 7, "email": "x@example.com"},
        {"id": "anonymised", "email": None},
        {"id": 8, "email": "x@example.com"},
        {"id": "anonymised", "email": None},
        {"id": 10, "email": "x@example.com"},
    ]
    assert len(versions(s3)) == 1


def test_expired_rows_leave_the_object_and_held_rows_stay(s3: Any, tmp_path: Path) -> None:
    def stamped(customer_id: int, at: str) -> bytes:
        record = {"customer": {"id": customer_id, "email": "x@example.com"}, "ordered_at": at}
        return (json.dumps(record) + "\n").encode()

    old, held, recent = (
        stamped(1, "2019-01-01T00:00:00Z"),
        stamped(2, "2019-02-01T00:00:00Z"),
        stamped(3, "2026-11-01T00:00:00Z"),
    )
    put(s3, old + held + recent)
    retention = Selection(
        identifiers=IDS,
        timestamp="ordered_at",
        expire_before=datetime(2020, 1, 1, tzinfo=UTC),
        held={"customer_id": frozenset({"2"})},
    )

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=retention, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.REWRITTEN
    assert (outcome.expired_rows, outcome.held_rows, outcome.removed_rows) == (1, 1, 1)
    assert version_bytes(s3) == [held + recent]


def test_export_groups_the_subjects_rows_by_the_value_they_hold(s3: Any, tmp_path: Path) -> None:
    put(s3, b"".join(ORDERS))

    exported = export_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert exported == {
        ("customer_id", "42"): [json.loads(ORDERS[1])],
        ("email", "ann@example.com"): [json.loads(ORDERS[1]), json.loads(ORDERS[3])],
    }
    assert list(tmp_path.iterdir()) == []


def test_anonymise_keeping_the_identifier_is_not_rewritten_again_on_the_next_run(
    s3: Any, tmp_path: Path, calls_to: CallsTo
) -> None:
    put(s3, b"".join(ORDERS))
    by_id = subjects("42", mode="anonymise", masks={"customer.email": Mask(strategy=MaskStrategy.NULL)})
    first = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=by_id, work_dir=tmp_path)
    puts = calls_to(s3, "PutObject")

    again = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=by_id, work_dir=tmp_path)

    assert (first.status, first.masked_rows) == (ObjectStatus.REWRITTEN, 1)
    assert (again.status, again.masked_rows, again.puts) == (ObjectStatus.CLEAN, 0, 0) and puts == []
    masked = json.loads(version_bytes(s3)[0].splitlines()[1])
    assert masked["customer"] == {"id": 42, "email": None} and len(versions(s3)) == 1


def parquet_orders(ids: list[str]) -> bytes:
    table = pa.table(
        {
            "customer": pa.array([{"id": c, "email": f"{c}@example.com"} for c in ids]),
            "amount": pa.array([i * 7 % 1000 for i in range(len(ids))], pa.int64()),
            # a column no find needs, larger than the identifiers: what a ranged find does not read
            "basket": pa.array([hashlib.sha256(str(i).encode()).hexdigest() * 2 for i in range(len(ids))]),
        },
        metadata={b"origin": b"orders-export v3"},
    )
    sink = io.BytesIO()
    blooms = {"customer.id": {"ndv": 2000, "fpp": 0.01}, "customer.email": {"ndv": 2000, "fpp": 0.01}}
    pq.write_table(table, sink, row_group_size=2000, compression="zstd", bloom_filter_options=blooms)
    return sink.getvalue()


PARQUET_KEY = "orders/2026/11/part-0001.parquet"
PARQUET_IDS = [f"{'az'[i % 2]}-other-{i}" for i in range(20_000)]


def test_parquet_erasure_rewrites_the_file_and_a_clean_run_reads_only_its_tail(s3: Any, tmp_path: Path) -> None:
    ids = list(PARQUET_IDS)
    ids[12_345] = ids[17_001] = "c-42"
    raw = parquet_orders(ids)
    put(s3, raw, key=PARQUET_KEY, ContentType="application/vnd.apache.parquet", Metadata={"schema": "v3"})
    parquet = format_for("parquet")
    chosen = Selection(identifiers=IDS, values={"customer_id": frozenset({"c-42"})})

    outcome = rewrite_object(
        s3, bucket=LAKE, key=PARQUET_KEY, dataset_format=parquet, selection=chosen, work_dir=tmp_path
    )
    again = rewrite_object(
        s3, bucket=LAKE, key=PARQUET_KEY, dataset_format=parquet, selection=chosen, work_dir=tmp_path
    )

    assert outcome.status is ObjectStatus.REWRITTEN
    assert (outcome.rows_before, outcome.rows_after, outcome.removed_rows) == (20_000, 19_998, 2)
    assert outcome.source_sha256 == hashlib.sha256(raw).hexdigest()
    stored = s3.get_object(Bucket=LAKE, Key=PARQUET_KEY)
    assert stored["ContentType"] == "application/vnd.apache.parquet" and stored["Metadata"] == {"schema": "v3"}
    written = pq.read_table(io.BytesIO(stored["Body"].read()))
    assert written.column("customer").combine_chunks().field("id").to_pylist() == [c for c in ids if c != "c-42"]
    assert written.schema.metadata == {b"origin": b"orders-export v3"}
    assert versions(s3, PARQUET_KEY) == [outcome.new_version_id]
    # The second run finds the file clean from its footer and bloom filters: a small part of it, no PUT.
    assert again.status is ObjectStatus.CLEAN and again.puts == 0 and again.source_sha256 is None
    assert again.rows_before == 19_998 and again.bytes_read < stored["ContentLength"] * 0.25
    assert list(tmp_path.iterdir()) == []


def test_parquet_export_returns_the_subjects_rows_as_records(s3: Any, tmp_path: Path) -> None:
    ids = list(PARQUET_IDS[:3000])
    ids[2500] = "c-42"
    put(s3, parquet_orders(ids), key=PARQUET_KEY)
    basket = hashlib.sha256(b"2500").hexdigest() * 2
    chosen = Selection(identifiers=IDS, values={"customer_id": frozenset({"c-42"})})

    exported = export_object(
        s3, bucket=LAKE, key=PARQUET_KEY, dataset_format=format_for("parquet"), selection=chosen, work_dir=tmp_path
    )

    assert exported == {
        ("customer_id", "c-42"): [
            {"customer": {"id": "c-42", "email": "c-42@example.com"}, "amount": 500, "basket": basket}
        ]
    }


def test_an_object_rewritten_by_someone_else_before_its_last_rows_go_is_left_for_the_next_job(
    s3: Any, tmp_path: Path
) -> None:
    source = put(s3, ORDERS[1] + ORDERS[3])  # only Ann's rows: the job would delete the key
    writer = boto3.client("s3", region_name="us-east-1")
    theirs: list[str] = []

    def concurrent_write(**_: Any) -> None:
        if not theirs:
            theirs.append(put(writer, ORDERS[1] + ORDERS[3] + ORDERS[0]))

    s3.meta.events.register("before-call.s3.GetObjectLockConfiguration", concurrent_write)

    outcome = rewrite_object(s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path)

    assert outcome.status is ObjectStatus.CONFLICT and outcome.older_versions_deleted == 0
    assert versions(s3) == [theirs[0], source]


def test_a_parquet_object_whose_statistics_show_every_row_expired_is_deleted_without_being_read(
    s3: Any, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "customer": pa.array([{"id": f"c-{i}", "email": f"c-{i}@example.com"} for i in range(5000)]),
            "ordered_at": pa.array([datetime(2015, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(5000)]),
            "basket": pa.array([hashlib.sha256(str(i).encode()).hexdigest() * 4 for i in range(5000)]),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=1000, compression="zstd")
    put(s3, sink.getvalue(), key=PARQUET_KEY)
    put(s3, sink.getvalue(), key=PARQUET_KEY)  # an older version holds the same rows
    expired = Selection(identifiers=IDS, timestamp="ordered_at", expire_before=datetime(2020, 1, 1, tzinfo=UTC))

    outcome = rewrite_object(
        s3, bucket=LAKE, key=PARQUET_KEY, dataset_format=format_for("parquet"), selection=expired, work_dir=tmp_path
    )

    assert outcome.status is ObjectStatus.DELETED
    assert (outcome.rows_before, outcome.rows_after, outcome.expired_rows) == (5000, 0, 5000)
    # One ranged GET of the tail (footer and statistics), never the whole file, and nothing written.
    assert (outcome.gets, outcome.puts) == (1, 0) and outcome.bytes_read < len(sink.getvalue()) / 3
    assert versions(s3, PARQUET_KEY) == []  # every version gone, no delete marker left


def test_a_dry_run_reports_what_a_run_would_do_and_writes_nothing(s3: Any, tmp_path: Path) -> None:
    put(s3, b"".join(ORDERS))
    put(s3, KEPT)  # clean now; the older version still holds Ann's rows
    put(s3, b"".join(ORDERS), key="orders/2026/11/part-0002.jsonl")
    before = {key: versions(s3, key) for key in (KEY, "orders/2026/11/part-0002.jsonl")}

    clean = rewrite_object(
        s3, bucket=LAKE, key=KEY, dataset_format=JSONL, selection=ANN, work_dir=tmp_path, dry_run=True
    )
    acts = rewrite_object(
        s3, bucket=LAKE, key="orders/2026/11/part-0002.jsonl", dataset_format=JSONL, selection=ANN,
        work_dir=tmp_path, dry_run=True,
    )  # fmt: skip

    assert clean.status is ObjectStatus.CLEAN and clean.puts == 0
    assert (acts.status, acts.rows_before, acts.rows_after, acts.removed_rows) == (ObjectStatus.REWRITTEN, 5, 3, 2)
    assert acts.puts == 0 and acts.new_version_id is None
    assert {key: versions(s3, key) for key in before} == before  # no version written or deleted
