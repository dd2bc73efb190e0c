"""Retention against moto: what expires, what survives (holds, legal retention, the boundary), and evidence."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from functions.privacy.core.timestamps import format_utc as format_ts
from functions.privacy.core.timestamps import parse_utc
from functions.privacy.retention.runs import run_id
from functions.privacy.subjects.holds import place_hold
from local.aging import age_contacts, age_objects

from .retention_support import AUDIT, create_engine_resources, holds_table, run_retention

AS_OF = "2031-01-01T00:00:00Z"


@pytest.fixture
def engine(aws, tables, bucket, contact_list):
    create_engine_resources(aws)
    return aws


def ago(days: int, seconds: int = 0) -> str:
    return format_ts(parse_utc(AS_OF, "as_of") - timedelta(days=days, seconds=seconds))


def put_customer(aws, customer_id: str, updated_at: str) -> None:
    aws.client("dynamodb").put_item(
        TableName="dsr-sample-customers",
        Item={
            "customer_id": {"S": customer_id},
            "email": {"S": f"{customer_id.lower()}@example.com"},
            "name": {"S": "Sample Person"},
            "updated_at": {"S": updated_at},
        },
    )


def put_order(aws, customer_id: str, order_id: str, ordered_at: str) -> None:
    aws.client("dynamodb").put_item(
        TableName="dsr-sample-orders",
        Item={
            "customer_id": {"S": customer_id},
            "order_id": {"S": order_id},
            "buyer_name": {"S": "Sample Person"},
            "buyer_email": {"S": "buyer@example.com"},
            "card_last4": {"S": "4242"},
            "ordered_at": {"S": ordered_at},
        },
    )


def put_object(aws, bucket: str, key: str, days_old: float, versions: int = 1) -> None:
    for v in range(versions):
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=f"v{v}".encode())
    age_objects(bucket, [key], parse_utc(AS_OF, "as_of") - timedelta(days=days_old))


def put_contact(aws, contact_list: str, address: str, days_old: float) -> None:
    aws.client("sesv2").create_contact(ContactListName=contact_list, EmailAddress=address)
    age_contacts(contact_list, [address], parse_utc(AS_OF, "as_of") - timedelta(days=days_old))


def customer_ids(aws) -> set[str]:
    items = aws.client("dynamodb").scan(TableName="dsr-sample-customers")["Items"]
    return {i["customer_id"]["S"] for i in items}


def object_keys(aws, bucket: str) -> list[str]:
    page = aws.client("s3").list_object_versions(Bucket=bucket)
    return sorted(v["Key"] for v in page.get("Versions", []))


def contacts(aws, contact_list: str) -> set[str]:
    return {c["EmailAddress"] for c in aws.client("sesv2").list_contacts(ContactListName=contact_list)["Contacts"]}


def by_store(result: dict) -> dict[str, dict]:
    return {s["store"]: s for s in result["stores"]}


@pytest.fixture
def use_import_jobs(monkeypatch):
    """The local adapter that runs SESv2 DELETE import jobs against moto's contact list (decorator mode)."""
    from moto.sesv2.responses import SESV2Response

    from local.adapters import sesv2

    monkeypatch.setattr(SESV2Response, "create_import_job", sesv2.sesv2_create_import_job, raising=False)
    monkeypatch.setattr(SESV2Response, "get_import_job", sesv2.sesv2_get_import_job, raising=False)


def test_boundary_record_at_exactly_the_limit_expires_and_one_second_younger_survives(
    engine, bucket, contact_list, use_import_jobs
):
    aws = engine
    put_customer(aws, "AT-LIMIT", ago(3 * 365))
    put_customer(aws, "YOUNGER", ago(3 * 365, seconds=-1))
    put_customer(aws, "OLD", ago(4 * 365))
    put_object(aws, bucket, "users/AT-LIMIT/a.txt", 2 * 365, versions=2)
    put_object(aws, bucket, "users/YOUNGER/a.txt", 2 * 365 - 1 / 86400)
    put_contact(aws, contact_list, "at-limit@example.com", 2 * 365)
    put_contact(aws, contact_list, "younger@example.com", 2 * 365 - 1 / 86400)

    result = run_retention(aws, engine_datamap(), AS_OF)

    assert result["status"] == "completed"
    assert customer_ids(aws) == {"YOUNGER"}
    assert object_keys(aws, bucket) == ["users/YOUNGER/a.txt"]
    assert contacts(aws, contact_list) == {"younger@example.com"}
    stores = by_store(result)
    assert (stores["customers"]["scanned"], stores["customers"]["expired"]) == (3, 2)
    assert (stores["uploads"]["scanned"], stores["uploads"]["expired"]) == (3, 2)  # both versions of the old key
    assert (stores["newsletter"]["scanned"], stores["newsletter"]["expired"]) == (2, 1)


def engine_datamap():
    from functions.privacy.datamap.model import load_datamap, with_resource_names
    from tests.integration.conftest import ACCOUNT, REGION, SAMPLE

    return with_resource_names(load_datamap(SAMPLE), ACCOUNT, REGION)


def test_held_records_survive_and_are_counted(engine, bucket, contact_list, use_import_jobs):
    aws = engine
    for cid in ("HELD", "FREE"):
        put_customer(aws, cid, ago(5 * 365))
        put_object(aws, bucket, f"users/{cid}/ticket.txt", 5 * 365)
        put_contact(aws, contact_list, f"{cid.lower()}@example.com", 5 * 365)
    put_object(aws, bucket, "users/HELD1/ticket.txt", 5 * 365)  # shares a prefix start with the held subject
    place_hold(
        holds_table(),
        subject_hmac="hmac-sha256:held",
        identifiers={"email": "held@example.com", "customer_id": "HELD"},
        reason="litigation 2030-17",
        placed_by="operator",
    )

    result = run_retention(aws, engine_datamap(), AS_OF)

    assert customer_ids(aws) == {"HELD"}
    assert object_keys(aws, bucket) == ["users/HELD/ticket.txt"]
    assert contacts(aws, contact_list) == {"held@example.com"}
    stores = by_store(result)
    assert [stores[s]["skipped_held"] for s in ("customers", "uploads", "newsletter")] == [1, 1, 1]
    assert [stores[s]["expired"] for s in ("customers", "uploads", "newsletter")] == [1, 2, 1]


def test_legally_retained_records_are_kept_until_their_legal_period_ends(engine):
    aws = engine
    datamap = engine_datamap()
    # A table holding a legally retained category next to one that is not: the legal period wins.
    customers = datamap.stores["customers"].model_copy(update={"categories": ["contact", "orders"]})
    datamap = datamap.model_copy(update={"stores": {**datamap.stores, "customers": customers}})
    put_customer(aws, "FIVE-YEARS", ago(5 * 365))  # past contact's 3 years, within orders' 7
    put_customer(aws, "EIGHT-YEARS", ago(8 * 365))
    put_order(aws, "C1", "o-8y", ago(8 * 365))
    put_order(aws, "C1", "o-6y", ago(6 * 365))

    result = run_retention(aws, datamap, AS_OF, stores=["customers", "orders"])

    assert customer_ids(aws) == {"FIVE-YEARS"}
    assert by_store(result)["customers"]["skipped_retained"] == 1
    orders = {i["order_id"]["S"]: i for i in aws.client("dynamodb").scan(TableName="dsr-sample-orders")["Items"]}
    # orders' erasure mode is anonymise: the invoice stays, masked, once its 7 years are over.
    assert orders["o-8y"]["buyer_name"]["S"] == "REDACTED" and "card_last4" not in orders["o-8y"]
    assert "privacy_anonymised_at" in orders["o-8y"]
    assert orders["o-6y"]["buyer_name"]["S"] == "Sample Person" and orders["o-6y"]["card_last4"]["S"] == "4242"
    assert by_store(result)["orders"]["expired"] == 1

    again = run_retention(aws, datamap, "2031-06-01T00:00:00Z", stores=["orders"])
    assert by_store(again)["orders"]["expired"] == 0  # masked once; the filter skips it from then on


def test_dry_run_changes_nothing_but_reports_the_same_counts(engine, bucket, contact_list, use_import_jobs):
    aws = engine
    for n in range(30):
        put_customer(aws, f"C{n}", ago(4 * 365 if n % 3 else 100))
        put_object(aws, bucket, f"users/C{n}/t.txt", 3 * 365 if n % 2 else 10)
        put_contact(aws, contact_list, f"c{n}@example.com", 3 * 365 if n % 5 else 1)
    before = (customer_ids(aws), object_keys(aws, bucket), contacts(aws, contact_list))

    dry = run_retention(aws, engine_datamap(), AS_OF, dry_run=True)
    assert (customer_ids(aws), object_keys(aws, bucket), contacts(aws, contact_list)) == before
    real = run_retention(aws, engine_datamap(), AS_OF)

    assert dry["run_id"] != real["run_id"] and dry["dry_run"] is True
    assert dry["stores"] == real["stores"]
    assert [by_store(real)[s]["expired"] for s in ("customers", "uploads", "newsletter")] == [20, 15, 24]
    assert len(customer_ids(aws)) == 10


def test_replay_with_the_same_as_of_is_a_no_op_and_keeps_the_first_evidence(engine, bucket, contact_list):
    aws = engine
    for n in range(5):
        put_customer(aws, f"C{n}", ago(4 * 365))
        put_customer(aws, f"K{n}", ago(10))
    datamap = engine_datamap()
    first = run_retention(aws, datamap, AS_OF, execution="exec-1", stores=["customers"])
    record_key = f"retention/{run_id(AS_OF, False)}/customers.json"
    s3 = aws.client("s3")
    first_record = s3.get_object(Bucket=AUDIT, Key=record_key)["Body"].read()

    replay = run_retention(aws, datamap, AS_OF, execution="exec-2", stores=["customers"])

    assert by_store(first)["customers"]["expired"] == 5
    assert by_store(replay)["customers"]["expired"] == 0 and by_store(replay)["customers"]["scanned"] == 5
    assert len(customer_ids(aws)) == 5
    versions = s3.list_object_versions(Bucket=AUDIT, Prefix=record_key)["Versions"]
    assert len(versions) == 1  # written once: the replay found the record and left it
    record = json.loads(first_record)
    assert record["kind"] == "retention_run" and record["expired"] == 5 and record["execution"] == "exec-1"
    assert "@example.com" not in first_record.decode() and "C0" not in first_record.decode()
    summaries = s3.list_objects_v2(Bucket=AUDIT, Prefix=f"retention/{run_id(AS_OF, False)}/summary")["KeyCount"]
    assert summaries == 1
    schema = json.loads((Path(__file__).resolve().parents[3] / "docs" / "evidence.schema.json").read_text())
    for obj in s3.list_objects_v2(Bucket=AUDIT, Prefix="retention/")["Contents"]:
        jsonschema.validate(json.loads(s3.get_object(Bucket=AUDIT, Key=obj["Key"])["Body"].read()), schema)


def sha256_of(s3, key: str) -> str:
    return hashlib.sha256(s3.get_object(Bucket=AUDIT, Key=key)["Body"].read()).hexdigest()


def test_a_replay_that_still_expires_records_leaves_its_own_evidence(engine, bucket, contact_list):
    aws = engine
    put_customer(aws, "C0", ago(4 * 365))
    datamap = engine_datamap()
    run_retention(aws, datamap, AS_OF, execution="exec-1", stores=["customers"])
    put_customer(aws, "LATE", ago(4 * 365))  # old data that arrived (or a hold released) after the first run

    replay = run_retention(aws, datamap, AS_OF, execution="exec-2", stores=["customers"])

    assert by_store(replay)["customers"]["expired"] == 1 and "LATE" not in customer_ids(aws)
    s3, run = aws.client("s3"), run_id(AS_OF, False)
    first = json.loads(s3.get_object(Bucket=AUDIT, Key=f"retention/{run}/customers.json")["Body"].read())
    own_key = f"retention/{run}/replays/exec-2/customers.json"
    own = json.loads(s3.get_object(Bucket=AUDIT, Key=own_key)["Body"].read())
    assert (first["execution"], first["expired"]) == ("exec-1", 1)
    assert (own["execution"], own["expired"], own["kind"]) == ("exec-2", 1, "retention_run")
    summary = json.loads(s3.get_object(Bucket=AUDIT, Key=replay["evidence_key"])["Body"].read())
    assert replay["evidence_key"] == f"retention/{run}/replays/exec-2/summary.json"
    assert summary["expired"] == 1 and summary["store_records"]["customers"] == sha256_of(s3, own_key)
    assert "LATE" not in json.dumps(own)


def test_a_failing_store_is_reported_and_the_others_complete(engine, bucket, contact_list, use_import_jobs):
    aws = engine
    put_customer(aws, "OLD", ago(4 * 365))
    put_contact(aws, contact_list, "old@example.com", 3 * 365)
    aws.client("s3").delete_bucket(Bucket=bucket)  # the uploads bucket is gone: NoSuchBucket

    result = run_retention(aws, engine_datamap(), AS_OF)

    assert result["status"] == "partially_completed"
    stores = by_store(result)
    assert stores["uploads"] == {
        "store": "uploads", "status": "failed", "error": "StoreMisconfigured",
        "scanned": 0, "expired": 0, "skipped_held": 0, "skipped_retained": 0, "skipped_unreadable": 0,
        "failed": 0,
    }  # fmt: skip
    assert stores["customers"]["status"] == stores["newsletter"]["status"] == "succeeded"
    assert customer_ids(aws) == set() and contacts(aws, contact_list) == set()
    s3 = aws.client("s3")
    prefix = f"retention/{result['run_id']}/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=AUDIT, Prefix=prefix)["Contents"]}
    stored = ("customers", "orders", "newsletter", "lake_orders", "lake_clicks", "lake_tickets")
    assert keys == {f"{prefix}{s}.json" for s in stored} | {f"{prefix}attempts/exec-1.json"}


def test_deletes_use_full_batches(engine, bucket, calls_to):
    aws = engine
    for n in range(230):
        put_customer(aws, f"C{n:04d}", ago(4 * 365))
    for n in range(1150):
        aws.client("s3").put_object(Bucket=bucket, Key=f"users/C{n % 7}/f{n}.txt", Body=b"x")
    age_objects(
        bucket, [f"users/C{n % 7}/f{n}.txt" for n in range(1150)], parse_utc(AS_OF, "as_of") - timedelta(days=1000)
    )
    writes = calls_to(aws.client("dynamodb"), "BatchWriteItem")
    deletes = calls_to(aws.client("s3"), "DeleteObjects")

    result = run_retention(aws, engine_datamap(), AS_OF, segments=1, stores=["customers", "uploads"])

    assert by_store(result)["customers"]["expired"] == 230 and by_store(result)["uploads"]["expired"] == 1150
    assert len(writes) == math.ceil(230 / 25)
    assert all(len(c["RequestItems"]["dsr-sample-customers"]) <= 25 for c in writes)
    assert len(deletes) == math.ceil(1150 / 1000)
    assert all(len(c["Delete"]["Objects"]) <= 1000 for c in deletes)
    assert customer_ids(aws) == set() and object_keys(aws, bucket) == []


def test_import_job_adapter_deletes_the_listed_contacts(aws, contact_list, use_import_jobs):
    sesv2, s3 = aws.client("sesv2"), aws.client("s3")
    for address in ("a@example.com", "b@example.com", "c@example.com"):
        sesv2.create_contact(ContactListName=contact_list, EmailAddress=address)
    s3.create_bucket(Bucket="imports")
    s3.put_object(Bucket="imports", Key="d.csv", Body=b"emailAddress\na@example.com\nc@example.com\nz@example.com\n")

    job = sesv2.create_import_job(
        ImportDestination={
            "ContactListDestination": {"ContactListName": contact_list, "ContactListImportAction": "DELETE"}
        },
        ImportDataSource={"S3Url": "s3://imports/d.csv", "DataFormat": "CSV"},
    )
    status = sesv2.get_import_job(JobId=job["JobId"])

    assert contacts(aws, contact_list) == {"b@example.com"}
    assert (status["JobStatus"], status["ProcessedRecordsCount"], status["FailedRecordsCount"]) == ("COMPLETED", 2, 1)
