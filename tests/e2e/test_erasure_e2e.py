"""Issue 2 end to end: the deployed request state machine erases a subject on the local cloud."""

from __future__ import annotations

import json

import pytest

from functions.privacy.requests.record import RequestType
from local.inspect import holdings
from local.workflow import start_request, wait_for_execution

pytestmark = pytest.mark.e2e


def test_erasure_through_the_deployed_workflow_removes_the_data_and_leaves_locked_evidence(local_cloud, lake_people):
    datamap, clients, outputs = local_cloud.datamap, local_cloud.clients, local_cloud.outputs
    subject, bystander = lake_people("erase", "bystander")  # sharing lake files: only the subject's rows go
    bystander_before = holdings(datamap, clients, bystander)
    before = holdings(datamap, clients, subject)
    # The suppression list is the exception: an entry there is kept on erasure, so it never counts as personal.
    assert all(h["personal"] for name, h in before.items() if datamap.stores[name].kind.value != "ses_suppression")

    request_id, arn = start_request(clients, outputs, RequestType.ERASURE, subject["email"])
    execution = wait_for_execution(clients, arn)

    assert execution["status"] == "SUCCEEDED", execution
    assert arn.endswith(f":{request_id}")  # executions are named after request ids
    result = json.loads(execution["output"])
    assert result["status"] == "completed"
    after = holdings(datamap, clients, subject)
    assert {name: h["personal"] for name, h in after.items()} == dict.fromkeys(datamap.stores, 0)
    assert after["orders"]["found"] == 3  # invoices kept for tax, anonymised
    assert after["suppression"]["found"] == 1  # added, so no future marketing reaches the address
    assert holdings(datamap, clients, bystander) == bystander_before

    s3 = clients.client("s3")
    bucket = outputs["AuditBucketName"]
    raw = s3.get_object(Bucket=bucket, Key=result["evidence_key"])["Body"].read().decode()
    evidence = json.loads(raw)
    assert evidence["status"] == "completed" and set(evidence["stores"]) == set(datamap.stores)
    assert subject["email"] not in raw and "@" not in raw
    head = s3.head_object(Bucket=bucket, Key=result["evidence_key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(s3.exceptions.ClientError):
        s3.delete_object(Bucket=bucket, Key=result["evidence_key"], VersionId=head["VersionId"])
    assert s3.get_object(Bucket=bucket, Key=result["evidence_key"])["Body"].read().decode() == raw

    record = clients.resource_table(outputs["RequestsTableName"]).get_item(
        Key={"request_id": request_id, "record": "request"}
    )["Item"]
    assert record["status"] == "completed" and "subject" not in record  # raw identifiers dropped on close
