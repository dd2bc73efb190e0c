"""Lake (s3_dataset) retention against moto: expired rows leave every version, held, young and undatable rows stay.

The sample map's lake stores: lake_clicks (gzip JSON Lines, customer_id at user.customer_id, ts), lake_orders
(Parquet, customer.id and customer.email, ordered_at) and lake_tickets (CSV, email, created_at).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.datamap.model import load_datamap, with_resource_names
from functions.privacy.retention.runs import store_cutoffs
from functions.privacy.subjects.holds import place_hold
from tests.integration.conftest import ACCOUNT, REGION, SAMPLE

from .retention_support import AUDIT, WORK, create_engine_resources, holds_table, run_retention

AS_OF = "2031-01-01T00:00:00Z"
DATAMAP = with_resource_names(load_datamap(SAMPLE), ACCOUNT, REGION)
LAKE = DATAMAP.stores["lake_clicks"].resource
CLICKS = "events/clicks/part-0000.jsonl.gz"
ALL_OLD = "events/clicks/part-0001.jsonl.gz"
ORDERS = "exports/orders/part-0000.parquet"
TICKETS = "exports/tickets/part-0000.csv"
SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "evidence.schema.json").read_text())


@pytest.fixture
def engine(aws, tables, bucket, contact_list):
    create_engine_resources(aws)
    place_hold(
        holds_table(),
        subject_hmac="hmac-sha256:held",
        identifiers={"email": "held@example.com", "customer_id": "HELD"},
        reason="litigation 2030-17",
        placed_by="operator",
    )
    return aws


def at(store: str, days: float) -> str:
    """``days`` before the store's cut-off (negative: younger than it)."""
    cutoff = store_cutoffs(DATAMAP, DATAMAP.stores[store], AS_OF).expire_before
    return format_utc(parse_utc(cutoff, "cutoff") - timedelta(days=days))


def click(customer_id: str, ts: str, n: int) -> dict[str, Any]:
    return {"row_id": f"r{n}", "user": {"customer_id": customer_id}, "ts": ts}


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode(), mtime=0)


def put(aws, key: str, body: bytes) -> str:
    return str(aws.client("s3").put_object(Bucket=LAKE, Key=key, Body=body)["VersionId"])


def versions(aws, key: str) -> list[dict[str, Any]]:
    listing = aws.client("s3").list_object_versions(Bucket=LAKE, Prefix=key)
    return [v for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []) if v["Key"] == key]


def version_bodies(aws, key: str) -> list[bytes]:
    s3 = aws.client("s3")
    return [
        s3.get_object(Bucket=LAKE, Key=key, VersionId=v["VersionId"])["Body"].read()
        for v in versions(aws, key)
        if "ETag" in v  # versions, not delete markers
    ]


def clicks_rows(body: bytes) -> list[str]:
    return [json.loads(line)["row_id"] for line in gzip.decompress(body).decode().splitlines()]


def by_store(result: dict) -> dict[str, dict]:
    return {s["store"]: s for s in result["stores"]}


def seed_clicks(aws) -> None:
    """Two versions of a shared file (the older one holds expired rows too) and a file of expired rows only."""
    old, young = at("lake_clicks", 30), at("lake_clicks", -30)
    put(aws, CLICKS, jsonl([click("FREE", old, 0), click("GONE", old, 9)]))
    put(
        aws,
        CLICKS,
        jsonl(
            [
                click("FREE", old, 1),  # expired
                click("HELD", old, 2),  # expired, but under a legal hold
                click("FREE", young, 3),  # not yet expired
                click("FREE", "12/31/2099", 4),  # unreadable: never expired
                click("OTHER", at("lake_clicks", 0), 5),  # exactly at the cut-off: expires
            ]
        ),
    )
    put(aws, ALL_OLD, jsonl([click("FREE", old, 6)]))
    put(aws, ALL_OLD, jsonl([click("FREE", old, 7), click("OTHER", old, 8)]))


def test_expired_rows_leave_every_version_and_held_young_and_undatable_rows_stay(engine):
    aws = engine
    seed_clicks(aws)

    result = run_retention(aws, DATAMAP, AS_OF, stores=["lake_clicks"])

    assert result["status"] == "completed"
    assert [clicks_rows(body) for body in version_bodies(aws, CLICKS)] == [["r2", "r3", "r4"]]  # one version left
    assert versions(aws, ALL_OLD) == []  # every row expired: no version (and no delete marker) is left
    clicks = by_store(result)["lake_clicks"]
    assert clicks["status"] == "succeeded"
    assert (clicks["scanned"], clicks["expired"], clicks["skipped_held"], clicks["skipped_unreadable"]) == (7, 4, 1, 1)
    assert clicks["objects"] == {
        "objects": 2, "objects_rewritten": 1, "objects_deleted": 1, "objects_blocked": 0, "objects_failed": 0
    }  # fmt: skip
    record = json.loads(
        aws.client("s3").get_object(Bucket=AUDIT, Key=f"retention/{result['run_id']}/lake_clicks.json")["Body"].read()
    )
    assert record["store_kind"] == "s3_dataset" and record["status"] == "succeeded" and record["object_outcomes"] == []
    assert len(record["unreadable_key_digests"]) == 1 and record["expired_keys_digest"] != "0" * 64
    text = json.dumps(record)
    assert "FREE" not in text and "HELD" not in text and "events/clicks" not in text
    jsonschema.validate(record, SCHEMA)
    work = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=WORK).get("Contents", [])]
    assert work and not [k for k in work if "dataset-batch-" in k]  # batch files (lake keys) go once used


def test_a_replay_finds_nothing_more_to_expire(engine):
    aws = engine
    seed_clicks(aws)
    run_retention(aws, DATAMAP, AS_OF, stores=["lake_clicks"], execution="exec-1")
    current = versions(aws, CLICKS)

    replay = by_store(run_retention(aws, DATAMAP, AS_OF, stores=["lake_clicks"], execution="exec-2"))["lake_clicks"]

    assert (replay["expired"], replay["skipped_held"], replay["skipped_unreadable"]) == (0, 1, 1)
    assert replay["objects"]["objects_rewritten"] == 0 and versions(aws, CLICKS) == current


def test_a_dry_run_changes_nothing_and_counts_what_a_run_expires(engine, calls_to):
    aws = engine
    seed_clicks(aws)
    before = {key: (versions(aws, key), version_bodies(aws, key)) for key in (CLICKS, ALL_OLD)}
    s3 = aws.client("s3")
    writes = [calls_to(s3, op) for op in ("PutObject", "DeleteObject", "DeleteObjects")]

    dry = run_retention(aws, DATAMAP, AS_OF, dry_run=True, stores=["lake_clicks"])

    lake_writes = [call for calls in writes for call in calls if call.get("Bucket") == LAKE]
    assert lake_writes == [] and any(call.get("Bucket") == WORK for call in writes[0])  # batches were written
    assert {key: (versions(aws, key), version_bodies(aws, key)) for key in (CLICKS, ALL_OLD)} == before
    real = run_retention(aws, DATAMAP, AS_OF, stores=["lake_clicks"])
    assert dry["dry_run"] is True and dry["status"] == "completed"
    assert by_store(dry)["lake_clicks"] == by_store(real)["lake_clicks"]
    assert by_store(dry)["lake_clicks"]["expired"] == 4


def test_parquet_and_csv_lake_files_keep_exactly_their_held_young_and_undatable_rows(engine):
    aws = engine
    old, young = parse_utc(at("lake_orders", 1), "t"), parse_utc(at("lake_orders", -1), "t")
    table = pa.table(
        {
            "row_id": ["o1", "o2", "o3", "o4"],
            "customer": [
                {"id": "FREE", "email": "free@example.com"},
                {"id": "C-9", "email": "Held@Example.COM"},  # held by its email, spelt otherwise
                {"id": "FREE", "email": "free@example.com"},
                {"id": "HELD", "email": None},  # held by its customer id
            ],
            "ordered_at": pa.array([old, old, young, old], pa.timestamp("us", tz="UTC")),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    put(aws, ORDERS, sink.getvalue())
    tickets = io.StringIO()
    writer = csv.writer(tickets, lineterminator="\n")
    writer.writerows(
        [
            ["ticket", "email", "created_at"],
            ["t1", "free@example.com", at("lake_tickets", 5)],
            ["t2", "held@example.com", at("lake_tickets", 5)],
            ["t3", "free@example.com", ""],  # no timestamp: never expired
        ]
    )
    put(aws, TICKETS, tickets.getvalue().encode())

    result = run_retention(aws, DATAMAP, AS_OF, stores=["lake_orders", "lake_tickets"])

    assert result["status"] == "completed"
    (orders,) = version_bodies(aws, ORDERS)
    assert pq.read_table(io.BytesIO(orders)).column("row_id").to_pylist() == ["o2", "o3", "o4"]
    (tickets_left,) = version_bodies(aws, TICKETS)
    assert [row[0] for row in csv.reader(io.StringIO(tickets_left.decode()))] == ["ticket", "t2", "t3"]
    stores = by_store(result)
    assert (stores["lake_orders"]["expired"], stores["lake_orders"]["skipped_held"]) == (1, 2)
    assert (stores["lake_tickets"]["expired"], stores["lake_tickets"]["skipped_unreadable"]) == (1, 1)


def test_an_object_that_cannot_be_handled_is_a_failure_and_the_run_is_partially_completed(engine):
    aws = engine
    seed_clicks(aws)
    broken = "events/clicks/part-0002.jsonl.gz"
    put(aws, broken, b"\x1f\x8b\x08\x00 not really gzip")

    result = run_retention(aws, DATAMAP, AS_OF, stores=["lake_clicks"])

    assert result["status"] == "partially_completed"
    clicks = by_store(result)["lake_clicks"]
    assert clicks["status"] == "partially_completed" and clicks["failed"] == 1
    assert "1 lake object(s) could not be handled" in clicks["error"]
    assert clicks["objects"]["objects_failed"] == 1 and clicks["objects"]["objects_rewritten"] == 1
    assert [clicks_rows(body) for body in version_bodies(aws, CLICKS)] == [["r2", "r3", "r4"]]  # the others went on
    s3 = aws.client("s3")
    record = json.loads(
        s3.get_object(Bucket=AUDIT, Key=f"retention/{result['run_id']}/lake_clicks.json")["Body"].read()
    )
    (listed,) = record["object_outcomes"]
    assert listed["status"] == "failed" and listed["reason"].startswith("rewrite object failed (")
    assert len(listed["key_digest"]) == 64 and "part-0002" not in json.dumps(record)
    assert record["failures"] == 1 and record["status"] == "partially_completed"
    summary = json.loads(
        s3.get_object(Bucket=AUDIT, Key=f"retention/{result['run_id']}/attempts/exec-1.json")["Body"].read()
    )
    assert summary["status"] == "partially_completed"
    for record_object in s3.list_objects_v2(Bucket=AUDIT, Prefix="retention/")["Contents"]:
        jsonschema.validate(json.loads(s3.get_object(Bucket=AUDIT, Key=record_object["Key"])["Body"].read()), SCHEMA)
