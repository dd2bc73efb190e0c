"""Re-running a request (execution <request_id>--rerun-<n>): what a redrive would do; verification never skipped."""

from __future__ import annotations

import json

import pytest

from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from local.inspect import holdings
from local.workflow import rerun_request, wait_for_execution
from tests.e2e.intake_support import emails_for

pytestmark = pytest.mark.e2e


def _file(local_cloud, email, status, **attributes):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    return requests.create_request(
        table, RequestType.ERASURE, {"email": email}, status=status, attributes=attributes or None
    ).request_id


def _status(local_cloud, request_id):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    return table.get_item(Key={"request_id": request_id, "record": "request"})["Item"]["status"]


def test_a_failed_request_reruns_without_a_new_code_and_a_completed_one_is_not_run_again(local_cloud, fresh_subject):
    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    subject = fresh_subject("rerun")
    # Verified, then failed (e.g. a store was down): the operator's redrive reopens it before the re-run.
    request_id = _file(local_cloud, subject["email"], "failed", verified_at="2026-01-01T00:00:00Z")
    table = local_cloud.clients.resource_table(outputs["RequestsTableName"])
    assert requests.reopen_failed(table, request_id) and _status(local_cloud, request_id) == "verified"

    execution = wait_for_execution(clients, rerun_request(clients, outputs, request_id))

    assert execution["status"] == "SUCCEEDED" and execution["name"] == f"{request_id}--rerun-1"
    assert json.loads(execution["output"])["status"] == "completed"
    assert {n: h["personal"] for n, h in holdings(datamap, clients, subject).items()} == dict.fromkeys(
        datamap.stores, 0
    )
    assert not [text for _, text in emails_for(local_cloud.outbox, request_id) if "Verification code" in text]

    again = wait_for_execution(clients, rerun_request(clients, outputs, request_id))
    assert again["status"] == "SUCCEEDED" and again["name"] == f"{request_id}--rerun-2"
    assert "evidence_key" not in json.loads(again["output"])  # closed: nothing ran
    assert _status(local_cloud, request_id) == "completed"


def test_a_request_that_failed_before_verification_is_never_run_by_a_rerun(local_cloud, fresh_subject):
    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    subject = fresh_subject("unverified")
    before = holdings(datamap, clients, subject)
    request_id = _file(local_cloud, subject["email"], "failed", verification_failed=True)
    table = local_cloud.clients.resource_table(outputs["RequestsTableName"])
    assert not requests.reopen_failed(table, request_id)  # the operator's redrive refuses it

    execution = wait_for_execution(clients, rerun_request(clients, outputs, request_id))

    assert execution["status"] == "FAILED"
    history = clients.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
    assert any(e.get("executionFailedEventDetails", {}).get("error") == "RequestNotRunnable" for e in history["events"])
    assert holdings(datamap, clients, subject) == before


def test_a_store_that_keeps_failing_yields_partially_completed_and_a_rerun_finishes_without_acting_twice(
    local_cloud, fresh_subject, monkeypatch
):
    from moto.core.exceptions import JsonRESTError
    from moto.sesv2.models import SESV2Backend

    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    subject, bystander = fresh_subject("flaky"), fresh_subject("bystander")
    bystander_before = holdings(datamap, clients, bystander)
    original = SESV2Backend.delete_contact

    def refuse(self, email, contact_list_name):
        if email == subject["email"]:  # a failure no retry fixes: recorded, not lost
            raise JsonRESTError("AccessDeniedException", "denied")
        return original(self, email, contact_list_name)

    monkeypatch.setattr(SESV2Backend, "delete_contact", refuse)
    request_id = _file(local_cloud, subject["email"], "verified")
    execution = wait_for_execution(clients, rerun_request(clients, outputs, request_id))

    assert execution["status"] == "SUCCEEDED"
    result = json.loads(execution["output"])
    assert result["status"] == "partially_completed"
    s3, audit = clients.client("s3"), outputs["AuditBucketName"]
    record = json.loads(s3.get_object(Bucket=audit, Key=result["evidence_key"])["Body"].read())
    assert record["stores"]["newsletter"]["status"] == "failed"
    assert record["stores"]["newsletter"]["error"] == "StoreMisconfigured"
    after = holdings(datamap, clients, subject)
    assert after["newsletter"]["found"] == 1 and after["customers"]["found"] == 0
    assert _status(local_cloud, request_id) == "partially_completed"

    monkeypatch.setattr(SESV2Backend, "delete_contact", original)
    deletes = []
    monkeypatch.setattr(
        SESV2Backend, "delete_contact", lambda self, email, name: deletes.append(name) or original(self, email, name)
    )
    rerun = wait_for_execution(clients, rerun_request(clients, outputs, request_id))

    assert rerun["status"] == "SUCCEEDED" and json.loads(rerun["output"])["status"] == "completed"
    assert deletes == [datamap.stores["newsletter"].resource]  # only the store that failed acted again
    assert {n: h["personal"] for n, h in holdings(datamap, clients, subject).items()} == dict.fromkeys(
        datamap.stores, 0
    )
    listed = s3.list_objects_v2(Bucket=audit, Prefix=f"requests/{request_id}/stores/")["Contents"]
    assert len(listed) == len(datamap.stores)  # one evidence record per store across both executions
    assert holdings(datamap, clients, bystander) == bystander_before


def test_a_rerun_of_a_partially_completed_access_request_serves_every_stores_data_under_the_first_link(
    local_cloud, fresh_subject, monkeypatch
):
    import io
    import zipfile

    from moto.core.exceptions import JsonRESTError
    from moto.sesv2.models import SESV2Backend

    from functions.privacy.request_workflow import exports

    clients, outputs, datamap = local_cloud.clients, local_cloud.outputs, local_cloud.datamap
    subject = fresh_subject("access")
    with_data = {name for name, held in holdings(datamap, clients, subject).items() if held["found"]}
    assert "newsletter" in with_data and len(with_data) >= 3
    original = SESV2Backend.get_contact

    def refuse(self, email, contact_list_name):
        if email == subject["email"]:  # no retry fixes it: the newsletter store's task is recorded failed
            raise JsonRESTError("AccessDeniedException", "denied")
        return original(self, email, contact_list_name)

    monkeypatch.setattr(SESV2Backend, "get_contact", refuse)
    table = local_cloud.clients.resource_table(outputs["RequestsTableName"])
    filed = requests.create_request(table, RequestType.ACCESS, {"email": subject["email"]}, status="verified")
    request_id = filed.request_id
    s3, bucket, key = clients.client("s3"), outputs["ExportBucketName"], exports.archive_key(request_id)

    def archive() -> tuple[dict[str, str], set[str], dict[str, bytes]]:
        obj = s3.get_object(Bucket=bucket, Key=key)
        with zipfile.ZipFile(io.BytesIO(obj["Body"].read())) as zipped:
            files = {name: zipped.read(name) for name in zipped.namelist()}
        stores = {name.split("/", 1)[0] for name in files if name != exports.MANIFEST_NAME}
        return obj["Metadata"], stores, files

    first = wait_for_execution(clients, rerun_request(clients, outputs, request_id))
    assert first["status"] == "SUCCEEDED" and json.loads(first["output"])["status"] == "partially_completed"
    metadata, stores, _ = archive()
    assert metadata == {"complete": "false"} and stores == with_data - {"newsletter"}

    monkeypatch.setattr(SESV2Backend, "get_contact", original)
    rerun = wait_for_execution(clients, rerun_request(clients, outputs, request_id))

    assert rerun["status"] == "SUCCEEDED" and json.loads(rerun["output"])["status"] == "completed"
    metadata, stores, files = archive()  # the same key the first confirmation's link signs
    assert metadata == {"complete": "true"} and stores == with_data
    (contact,) = json.loads(files["newsletter/records.json"])
    assert contact["EmailAddress"] == subject["email"]
    customers = json.loads(files["customers/records.json"])
    assert [c["customer_id"] for c in customers] == [subject["customer_id"]]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=exports.parts_prefix(request_id))
