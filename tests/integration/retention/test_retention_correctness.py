"""Retention never deletes what it cannot date or what a hold protects, refuses a future as_of, leaves no
identifiers in the work bucket, and scans in the deployed number of segments (moto)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from functions.privacy.connectors.base import canonical_json
from functions.privacy.core import timestamps
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.core.settings import RetentionPlanSettings
from functions.privacy.core.timestamps import format_utc
from functions.privacy.operations import retention_runs
from functions.privacy.retention import digest, dynamodb, ses_contacts
from functions.privacy.retention.runs import AsOfInFuture, RetentionRunInput, plan_run
from functions.privacy.retention.service import start_run
from functions.privacy.subjects.holds import all_holds, held_values, place_hold

from .retention_support import AUDIT, WORK, create_engine_resources, holds_table, key_hmac, run_retention
from .test_retention import (
    AS_OF,
    ago,
    by_store,
    contacts,
    customer_ids,
    engine_datamap,
    object_keys,
    put_contact,
    put_customer,
    put_object,
)

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "evidence.schema.json"
CUSTOMERS = "dsr-sample-customers"


@pytest.fixture
def engine(aws, tables, bucket, contact_list):
    create_engine_resources(aws)
    return aws


@pytest.fixture
def import_jobs(monkeypatch):
    """The local adapter that runs SESv2 DELETE import jobs against moto's contact list."""
    from moto.sesv2.responses import SESV2Response

    from local.adapters import sesv2

    monkeypatch.setattr(SESV2Response, "create_import_job", sesv2.sesv2_create_import_job, raising=False)
    monkeypatch.setattr(SESV2Response, "get_import_job", sesv2.sesv2_get_import_job, raising=False)


def put_stamped(aws, customer_id: str, stamp: dict | None) -> None:
    """A customer whose ``updated_at`` is stored exactly as given (None: the attribute is missing)."""
    item = {"customer_id": {"S": customer_id}, "email": {"S": f"{customer_id.lower()}@example.com"}}
    if stamp is not None:
        item["updated_at"] = stamp
    aws.client("dynamodb").put_item(TableName=CUSTOMERS, Item=item)


def key_digest(customer_id: str) -> str:
    return key_hmac(canonical_json({"customer_id": {"S": customer_id}}))


def hold(customer_id: str) -> None:
    place_hold(
        holds_table(),
        subject_hmac=f"hmac-sha256:{customer_id.lower()}",
        identifiers={"email": f"{customer_id.lower()}@example.com", "customer_id": customer_id},
        reason="litigation 2030-17",
        placed_by="operator",
    )


def evidence(aws, key: str) -> dict:
    return json.loads(aws.client("s3").get_object(Bucket=AUDIT, Key=key)["Body"].read())


def test_timestamps_that_cannot_be_read_are_kept_counted_and_listed_as_key_digests(engine):
    aws = engine
    old_epoch = str(int(timestamps.parse_utc(ago(4 * 365), "t").timestamp()))
    young_epoch = str(int(timestamps.parse_utc(ago(10), "t").timestamp()))
    put_stamped(aws, "EMPTY", {"S": ""})
    put_stamped(aws, "US-DATE", {"S": "12/31/2099"})
    put_stamped(aws, "NO-ZONE", {"S": "2020-01-01T00:00:00"})
    put_stamped(aws, "MISSING", None)
    put_stamped(aws, "OLD-EPOCH-TEXT", {"S": old_epoch})
    put_stamped(aws, "OLD-EPOCH-NUMBER", {"N": old_epoch})
    put_stamped(aws, "YOUNG-EPOCH-TEXT", {"S": young_epoch})  # as a string it sorts before 2027-...
    put_stamped(aws, "YOUNG-EPOCH-NUMBER", {"N": young_epoch})
    put_customer(aws, "OLD-ISO", ago(4 * 365))

    result = run_retention(aws, engine_datamap(), AS_OF, stores=["customers"])

    unreadable = {"EMPTY", "US-DATE", "NO-ZONE", "MISSING"}
    assert customer_ids(aws) == unreadable | {"YOUNG-EPOCH-TEXT", "YOUNG-EPOCH-NUMBER"}
    store = by_store(result)["customers"]
    assert (store["expired"], store["skipped_unreadable"]) == (3, 4)
    assert set(store["unreadable_key_digests"]) == {key_digest(c) for c in unreadable}
    record = evidence(aws, f"retention/{result['run_id']}/customers.json")
    assert record["skipped_unreadable"] == 4
    assert set(record["unreadable_key_digests"]) == {key_digest(c) for c in unreadable}
    assert record["expired_keys_digest"] == digest.combine(
        key_digest(c) for c in ("OLD-EPOCH-TEXT", "OLD-EPOCH-NUMBER", "OLD-ISO")
    )
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    assert not [e.message for e in validator.iter_errors(record)]
    assert "EMPTY" not in json.dumps(record) and "@" not in json.dumps(record)
    summary = evidence(aws, result["evidence_key"])
    assert summary["skipped_unreadable"] == 4 and not list(validator.iter_errors(summary))


def test_only_the_first_five_unreadable_keys_are_listed_however_many_segments_find_them(engine):
    aws = engine
    for n in range(8):
        put_stamped(aws, f"BAD{n}", {"S": "yesterday"})

    result = run_retention(aws, engine_datamap(), AS_OF, stores=["customers"], segments=3)

    store = by_store(result)["customers"]
    assert store["skipped_unreadable"] == 8 and store["expired"] == 0
    assert len(store["unreadable_key_digests"]) == 5
    assert set(store["unreadable_key_digests"]) <= {key_digest(f"BAD{n}") for n in range(8)}
    assert len(customer_ids(aws)) == 8


def test_a_run_that_deletes_refuses_an_as_of_in_the_future_but_a_dry_run_may_look_ahead(engine, tmp_path):
    aws = engine
    put_customer(aws, "OLD", ago(4 * 365))
    now = timestamps.now()
    tomorrow = format_utc(now + timedelta(days=1))
    with pytest.raises(AsOfInFuture, match="later than now"):
        plan_run(engine_datamap(), RetentionRunInput(as_of=tomorrow), execution="e", work_bucket=WORK, now=now)
    # The state machine's input as the planning Lambda parses it: the same refusal.
    with pytest.raises(AsOfInFuture):
        start_run(
            RetentionRunInput.model_validate({"as_of": AS_OF, "dry_run": False}), "e", _plan_settings(1, tmp_path)
        )

    assert plan_run(engine_datamap(), RetentionRunInput(as_of=tomorrow, dry_run=True), execution="e", work_bucket=WORK)
    soon = format_utc(now + timedelta(minutes=4))  # clock skew between the caller and the planner
    assert plan_run(engine_datamap(), RetentionRunInput(as_of=soon), execution="e", work_bucket=WORK, now=now)
    assert customer_ids(aws) == {"OLD"}


def test_the_cli_refuses_a_future_as_of_before_starting_anything(engine):
    sfn = engine.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/retention"
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(name="retention", definition=definition, roleArn=role)["stateMachineArn"]
    later = timestamps.now() + timedelta(days=365)

    with pytest.raises(AsOfInFuture):
        retention_runs.start_run(sfn, machine, as_of=later, dry_run=False)
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []

    arn = retention_runs.start_run(sfn, machine, as_of=later, dry_run=False, allow_future=True)
    assert json.loads(sfn.describe_execution(executionArn=arn)["input"])["allow_future"] is True
    retention_runs.start_run(sfn, machine, as_of=later, dry_run=True)
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 2


def test_a_hold_placed_while_a_segment_scans_keeps_its_subject(engine):
    aws = engine
    for cid in ("FIRST", "SECOND", "THIRD"):
        put_customer(aws, cid, ago(4 * 365))
    client, datamap = aws.client("dynamodb"), engine_datamap()
    plan = {**_store_plan(datamap, "customers"), "dry_run": False}
    scans: list[int] = []

    def hold_everyone_after_the_first_page(**_: object) -> None:
        scans.append(1)
        if len(scans) == 1:
            for cid in ("FIRST", "SECOND", "THIRD"):
                hold(cid)

    client.meta.events.register("after-call.dynamodb.Scan", hold_everyone_after_the_first_page)
    counts, cursor = dynamodb.expire_segment(
        datamap=datamap,
        store_name="customers",
        plan=plan,
        segment=0,
        total_segments=1,
        held=lambda: held_values(all_holds(holds_table()), datamap, "customers"),
        client=client,
        s3=aws.client("s3"),
        key_hmac=key_hmac,
        keyed_hash=lambda text: "kh:" + key_hmac(text)[:16],
        page_size=1,
    )

    # The first page's item was queued for deletion before the hold; the batch is checked again.
    assert cursor is None and customer_ids(aws) == {"FIRST", "SECOND", "THIRD"}
    assert (counts.expired, counts.skipped_held) == (0, 3)


def test_a_hold_placed_after_an_object_round_was_planned_keeps_its_objects(engine, bucket):
    aws = engine
    put_object(aws, bucket, "users/LATE/a.txt", 5 * 365)
    put_object(aws, bucket, "users/FREE/a.txt", 5 * 365)
    (free,) = [v for v in aws.client("s3").list_object_versions(Bucket=bucket)["Versions"] if "FREE" in v["Key"]]

    result = run_retention(aws, engine_datamap(), AS_OF, stores=["uploads"], before_batches=lambda: hold("LATE"))

    assert object_keys(aws, bucket) == ["users/LATE/a.txt"]
    store = by_store(result)["uploads"]
    assert (store["expired"], store["skipped_held"]) == (1, 1)
    versions = aws.client("s3").list_object_versions(Bucket=bucket).get("Versions", [])
    assert [v["Key"] for v in versions] == ["users/LATE/a.txt"]
    record = evidence(aws, f"retention/{result['run_id']}/uploads.json")
    assert (record["expired"], record["skipped_held"]) == (1, 1)
    # The digest covers only what was deleted, so it still proves which versions the run expired.
    deleted = key_hmac(canonical_json({"key": free["Key"], "version_id": free["VersionId"]}))
    assert record["expired_keys_digest"] == digest.combine([deleted])


def test_a_hold_placed_while_contacts_are_listed_keeps_the_contact(engine, contact_list, import_jobs):
    aws = engine
    put_contact(aws, contact_list, "late@example.com", 5 * 365)
    put_contact(aws, contact_list, "free@example.com", 5 * 365)
    sesv2, datamap = aws.client("sesv2"), engine_datamap()
    sesv2.meta.events.register("after-call.sesv2.ListContacts", lambda **_: hold("LATE"))

    counts = ses_contacts.expire_contacts(
        datamap=datamap,
        store_name="newsletter",
        plan={**_store_plan(datamap, "newsletter"), "dry_run": False},
        held=lambda: held_values(all_holds(holds_table()), datamap, "newsletter"),
        client=sesv2,
        s3=aws.client("s3"),
        key_hmac=key_hmac,
        sleep=lambda _: None,
    )

    assert contacts(aws, contact_list) == {"late@example.com"}
    assert (counts.expired, counts.skipped_held) == (1, 1)


def test_the_work_bucket_holds_no_identifiers_once_the_run_ends(engine, bucket, contact_list, import_jobs):
    aws = engine
    for cid in ("ANN", "BOB"):
        put_customer(aws, cid, ago(4 * 365))
        put_object(aws, bucket, f"users/{cid}/a.txt", 5 * 365)
        put_contact(aws, contact_list, f"{cid.lower()}@example.com", 5 * 365)

    result = run_retention(aws, engine_datamap(), AS_OF)

    assert result["status"] == "completed" and contacts(aws, contact_list) == set()
    s3c = aws.client("s3")
    left = [o["Key"] for o in s3c.list_objects_v2(Bucket=WORK).get("Contents", [])]
    assert not [k for k in left if k.endswith(".csv") or "/batch-" in k or "cursor" in k]
    for key in left:  # manifests name batch files only
        body = s3c.get_object(Bucket=WORK, Key=key)["Body"].read().decode()
        assert "@" not in body and "users/" not in body, key


def test_a_segment_cursor_is_deleted_once_the_segment_has_resumed_from_it(engine):
    aws = engine
    for n in range(3):
        put_customer(aws, f"C{n}", ago(4 * 365))
    datamap, s3c = engine_datamap(), aws.client("s3")
    plan = {**_store_plan(datamap, "customers"), "dry_run": False}
    common = {
        "datamap": datamap,
        "store_name": "customers",
        "plan": plan,
        "segment": 0,
        "total_segments": 1,
        "held": lambda: frozenset(),
        "client": aws.client("dynamodb"),
        "s3": s3c,
        "key_hmac": key_hmac,
        "keyed_hash": lambda text: text,
        "page_size": 1,
    }

    _, cursor = dynamodb.expire_segment(**common, time_left=lambda: 0.0)  # out of time after one page
    assert cursor and s3c.list_objects_v2(Bucket=WORK, Prefix=cursor)["KeyCount"] == 1
    _, finished = dynamodb.expire_segment(**common, cursor_key=cursor)

    assert finished is None and customer_ids(aws) == set()
    assert s3c.list_objects_v2(Bucket=WORK).get("KeyCount", 0) == 0


def test_a_run_scans_each_table_in_the_deployed_number_of_segments(engine, calls_to, tmp_path):
    aws = engine
    for n in range(12):
        put_customer(aws, f"C{n:02d}", ago(4 * 365))
    run = RetentionRunInput(as_of=AS_OF, allow_future=True)
    plan = start_run(run, "exec-segments", _plan_settings(3, tmp_path))  # RETENTION_SEGMENTS=3, as infra sets it
    entry = next(s for s in plan["stores"] if s["store"] == "customers")
    scans = calls_to(aws.client("dynamodb"), "Scan")
    datamap = engine_datamap()
    store_plan = {**{k: plan[k] for k in ("run_id", "as_of", "dry_run", "execution", "work_bucket")}, **entry}

    for segment in entry["segments"]:
        dynamodb.expire_segment(
            datamap=datamap,
            store_name="customers",
            plan=store_plan,
            segment=segment,
            total_segments=entry["total_segments"],
            held=lambda: frozenset(),
            client=aws.client("dynamodb"),
            s3=aws.client("s3"),
            key_hmac=key_hmac,
            keyed_hash=lambda text: text,
        )

    assert sorted((c["Segment"], c["TotalSegments"]) for c in scans) == [(0, 3), (1, 3), (2, 3)]
    assert customer_ids(aws) == set()


def _plan_settings(segments: int, tmp_path: Path) -> RetentionPlanSettings:
    """The planning function's settings as the stack sets them (the bundled data map, with resource names)."""
    path = tmp_path / "datamap.json"
    path.write_text(engine_datamap().model_dump_json(by_alias=True), encoding="utf-8")
    env = {"RETENTION_WORK_BUCKET": WORK, "RETENTION_SEGMENTS": str(segments), "DATAMAP_FILE": str(path)}
    with lambda_environment(env):
        return RetentionPlanSettings.load()


def _store_plan(datamap, store: str) -> dict:
    plan = plan_run(
        datamap, RetentionRunInput(as_of=AS_OF, allow_future=True), execution="e", work_bucket=WORK, segments=1
    )
    entry = next(s for s in plan["stores"] if s["store"] == store)
    return {**{k: plan[k] for k in ("run_id", "as_of", "dry_run", "execution", "work_bucket")}, **entry}
