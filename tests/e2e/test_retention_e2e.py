"""Issue 6 end to end: the deployed retention state machine expires old records on the local cloud.

Runs use an as_of in 2020 and backdated records of their own, so the other tests' fresh data (written
now, after as_of) is never old enough to expire.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from functions.privacy.retention.progress import retention_progress
from functions.privacy.subjects.holds import place_hold
from local.aging import age_contacts, age_objects
from local.workflow import wait_for_execution

pytestmark = pytest.mark.e2e

OLD = datetime(2015, 3, 1, tzinfo=UTC)
RECENT = datetime(2019, 6, 1, tzinfo=UTC)  # within every period as of 2020-01-01


def seed(local_cloud, tag: str) -> dict[str, str]:
    """A customer, three uploads (old, old but held, recent) and a contact, all but one backdated."""
    stores, clients = local_cloud.datamap.stores, local_cloud.clients
    ddb = clients.client("dynamodb")
    for cid, when in ((f"R{tag}OLD", OLD), (f"R{tag}NEW", RECENT), (f"R{tag}HELD", OLD)):
        ddb.put_item(
            TableName=stores["customers"].resource,
            Item={
                "customer_id": {"S": cid},
                "email": {"S": f"{cid.lower()}@example.com"},
                "updated_at": {"S": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            },
        )
    s3, bucket = clients.client("s3"), stores["uploads"].resource
    for cid, when in ((f"R{tag}OLD", OLD), (f"R{tag}NEW", RECENT), (f"R{tag}HELD", OLD)):
        key = f"users/{cid}/ticket.txt"
        s3.put_object(Bucket=bucket, Key=key, Body=b"support ticket")
        age_objects(bucket, [key], when)
    # A date no parser can read for certain: kept and counted, never expired (it sorts before "2020-").
    ddb.put_item(
        TableName=stores["customers"].resource,
        Item={"customer_id": {"S": f"R{tag}BAD"}, "email": {"S": "bad@example.com"}, "updated_at": {"S": "12/31/2099"}},
    )
    ses, contact_list = clients.client("sesv2"), stores["newsletter"].resource
    for cid, when in ((f"R{tag}OLD", OLD), (f"R{tag}NEW", RECENT)):
        ses.create_contact(ContactListName=contact_list, EmailAddress=f"{cid.lower()}@example.com")
        age_contacts(contact_list, [f"{cid.lower()}@example.com"], when)
    place_hold(
        clients.resource_table(local_cloud.outputs["HoldsTableName"]),
        subject_hmac=f"hmac-sha256:{tag}",
        identifiers={"email": f"r{tag.lower()}held@example.com", "customer_id": f"R{tag}HELD"},
        reason="dispute 17",
        placed_by="e2e",
    )
    return {"bucket": bucket, "table": stores["customers"].resource, "list": contact_list}


def start(local_cloud, as_of: str, dry_run: bool = False) -> str:
    sfn = local_cloud.clients.client("stepfunctions")
    return sfn.start_execution(
        stateMachineArn=local_cloud.outputs["RetentionStateMachineArn"],
        input=json.dumps({"as_of": as_of, "dry_run": dry_run}),
    )["executionArn"]


def exists(local_cloud, where: dict[str, str], cid: str) -> dict[str, bool]:
    clients = local_cloud.clients
    item = clients.client("dynamodb").get_item(TableName=where["table"], Key={"customer_id": {"S": cid}})
    versions = clients.client("s3").list_object_versions(Bucket=where["bucket"], Prefix=f"users/{cid}/")
    contacts = clients.client("sesv2").list_contacts(ContactListName=where["list"])["Contacts"]
    return {
        "item": "Item" in item,
        "object": bool(versions.get("Versions")),
        "contact": any(c["EmailAddress"] == f"{cid.lower()}@example.com" for c in contacts),
    }


def test_scheduled_style_run_expires_old_records_keeps_held_and_recent_ones_and_leaves_evidence(local_cloud):
    where = seed(local_cloud, "A")
    sfn = local_cloud.clients.client("stepfunctions")
    arn = start(local_cloud, "2020-01-01T00:00:00Z")
    seen: list[tuple[int, int]] = []
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        seen.append(retention_progress(arn, sfn))
    execution = wait_for_execution(local_cloud.clients, arn, timeout=180)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["status"] == "completed" and output["as_of"] == "2020-01-01T00:00:00Z"
    assert exists(local_cloud, where, "RAOLD") == {"item": False, "object": False, "contact": False}
    assert exists(local_cloud, where, "RANEW") == {"item": True, "object": True, "contact": True}
    assert exists(local_cloud, where, "RAHELD")["item"] and exists(local_cloud, where, "RAHELD")["object"]
    stores = {s["store"]: s for s in output["stores"]}
    assert stores["customers"]["expired"] == 1 and stores["customers"]["skipped_held"] == 1
    assert stores["uploads"]["expired"] == 1 and stores["uploads"]["skipped_held"] == 1
    assert stores["newsletter"]["expired"] == 1
    assert exists(local_cloud, where, "RABAD")["item"] and stores["customers"]["skipped_unreadable"] >= 1
    work = local_cloud.clients.client("s3").list_objects_v2(Bucket=local_cloud.outputs["RetentionWorkBucketName"])
    left = [o["Key"] for o in work.get("Contents", [])]
    assert not [k for k in left if k.endswith(".csv") or "/batch-" in k or "cursor" in k]  # no identifiers stay
    plan = _planned(local_cloud, arn)
    assert {s.get("total_segments") for s in plan["stores"] if s["kind"] == "dynamodb"} == {3}  # retention_segments

    s3, audit = local_cloud.clients.client("s3"), local_cloud.outputs["AuditBucketName"]
    for store in local_cloud.datamap.stores:
        if store == "orders" or stores.get(store):
            raw = s3.get_object(Bucket=audit, Key=f"retention/{output['run_id']}/{store}.json")["Body"].read().decode()
            record = json.loads(raw)
            assert record["kind"] == "retention_run" and record["expired"] == stores[store]["expired"]
            assert "@" not in raw and "RAOLD" not in raw
    summary = json.loads(s3.get_object(Bucket=audit, Key=output["evidence_key"])["Body"].read())
    assert summary["status"] == "completed"
    assert all(done <= total for done, total in seen)
    assert retention_progress(arn, sfn) == (1, 1)

    replay = wait_for_execution(local_cloud.clients, start(local_cloud, "2020-01-01T00:00:00Z"), timeout=180)
    assert all(s["expired"] == 0 for s in json.loads(replay["output"])["stores"])  # nothing left to expire


def _planned(local_cloud, arn: str) -> dict:
    """The planning step's output, from the execution's history."""
    sfn = local_cloud.clients.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    for event in events:
        details = event.get("taskSucceededEventDetails") or event.get("lambdaFunctionSucceededEventDetails")
        if details and '"run_id"' in details.get("output", "") and '"stores"' in details["output"]:
            output = json.loads(details["output"])
            plan = output.get("Payload", output)
            if all("expire_before" in s for s in plan["stores"]):
                return plan
    raise AssertionError("no planning step output in the execution history")


def test_a_store_failing_mid_run_is_named_and_the_other_stores_complete(local_cloud, monkeypatch):
    from moto.s3.exceptions import S3AccessDeniedError
    from moto.s3.models import S3Backend

    where = seed(local_cloud, "B")
    failures = threading.Event()
    delete_objects = S3Backend.delete_objects

    def refuse_deletes(self, bucket_name, *args, **kwargs):
        if bucket_name == where["bucket"]:
            failures.set()
            raise S3AccessDeniedError()  # injected fault: the uploads bucket refuses deletes
        return delete_objects(self, bucket_name, *args, **kwargs)

    # The fault is injected into the service (moto runs in this process): the Lambdas' own modules and clients
    # belong to their execution environments, as they would on AWS.
    with monkeypatch.context() as fault:
        fault.setattr(S3Backend, "delete_objects", refuse_deletes)
        execution = wait_for_execution(local_cloud.clients, start(local_cloud, "2020-01-02T00:00:00Z"), timeout=240)
    s3 = local_cloud.clients.client("s3")

    assert failures.is_set()
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["status"] == "partially_completed"
    stores = {s["store"]: s for s in output["stores"]}
    assert stores["uploads"]["status"] == "failed" and stores["uploads"]["error"]
    assert exists(local_cloud, where, "RBOLD")["object"]  # planned but never deleted
    assert not exists(local_cloud, where, "RBOLD")["item"] and not exists(local_cloud, where, "RBOLD")["contact"]
    assert all(stores[s]["status"] == "succeeded" for s in ("customers", "orders", "newsletter"))
    audit = local_cloud.outputs["AuditBucketName"]
    assert output["evidence_key"].startswith(f"retention/{output['run_id']}/attempts/")
    assert json.loads(s3.get_object(Bucket=audit, Key=output["evidence_key"])["Body"].read())["status"] == (
        "partially_completed"
    )
