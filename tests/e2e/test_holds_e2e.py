"""Legal holds on the deployed workflow: a held store is kept and reported; release and re-run erases it."""

from __future__ import annotations

import json

import pytest

from functions.privacy.core.keys import subject_hmac
from functions.privacy.requests.record import RequestType
from functions.privacy.subjects import holds
from local.inspect import holdings
from local.workflow import rerun_request, start_request, wait_for_execution
from tests.e2e.rights_support import EventObserver, confirmation_for

pytestmark = pytest.mark.e2e


def test_held_records_are_kept_with_the_exception_then_erased_after_release_and_rerun(local_cloud, fresh_subject):
    datamap, clients, outputs = local_cloud.datamap, local_cloud.clients, local_cloud.outputs
    subject, bystander = fresh_subject("held"), fresh_subject("bystander")
    bystander_before = holdings(datamap, clients, bystander)
    observer = EventObserver(clients, outputs["EventBusName"])
    hmac_value = subject_hmac(clients.client("kms"), outputs["HmacKeyArn"], "email", subject["email"])
    holds_table = clients.resource_table(outputs["HoldsTableName"])
    hold = holds.place_hold(
        holds_table,
        subject_hmac=hmac_value,
        identifiers=subject,
        reason="Litigation L-7 (support tickets)",
        placed_by="operator-e2e",
        store="uploads",
    )

    request_id, arn = start_request(clients, outputs, RequestType.ERASURE, subject["email"])
    execution = wait_for_execution(clients, arn)

    assert execution["status"] == "SUCCEEDED", execution
    result = json.loads(execution["output"])
    assert result["status"] == "partially_completed"
    after = holdings(datamap, clients, subject)
    assert after["uploads"] == {"found": 4, "personal": 4}  # two files, two versions: kept under the hold
    assert after["customers"]["found"] == 0 and after["newsletter"]["found"] == 0 and after["orders"]["personal"] == 0
    s3 = clients.client("s3")
    record = json.loads(s3.get_object(Bucket=outputs["AuditBucketName"], Key=result["evidence_key"])["Body"].read())
    assert record["stores"]["uploads"] == {
        "status": "held",
        "operation": "erase",
        "holds": [hold.hold_id],
        "exceptions": ["legal hold: Litigation L-7 (support tickets)"],
    }
    (text,) = confirmation_for(local_cloud.outbox, request_id)
    assert "partially" in text.lower() or "part of your request" in text
    assert "kept: legal hold: Litigation L-7 (support tickets)" in text
    # The request keeps its identifiers (KMS-encrypted) so the operator can re-run it.
    request = clients.resource_table(outputs["RequestsTableName"]).get_item(
        Key={"request_id": request_id, "record": "request"}
    )["Item"]
    assert request["status"] == "partially_completed" and request["subject"]["email"] == subject["email"]
    (event,) = observer.events_for(request_id)
    assert event["detail-type"] == "PrivacyRequestCompleted"
    assert event["detail"]["subject"] == hmac_value and "support" not in event["detail"]["categories"]
    assert subject["email"] not in json.dumps(event)

    holds.release_hold(holds_table, hmac_value, hold.hold_id, released_by="operator-e2e")
    rerun = wait_for_execution(clients, rerun_request(clients, outputs, request_id))

    assert rerun["status"] == "SUCCEEDED", rerun
    second = json.loads(rerun["output"])
    assert second["status"] == "completed" and second["evidence_key"].endswith("-completed_rerun_1.json")
    assert {name: h["personal"] for name, h in holdings(datamap, clients, subject).items()} == dict.fromkeys(
        datamap.stores, 0
    )
    store_records = s3.list_objects_v2(Bucket=outputs["AuditBucketName"], Prefix=f"requests/{request_id}/stores/")
    keys = sorted(o["Key"].rsplit("/", 1)[1] for o in store_records["Contents"])
    assert keys == sorted(f"{name}.erase.json" for name in datamap.stores)  # one record per store, none twice
    customers = json.loads(
        s3.get_object(Bucket=outputs["AuditBucketName"], Key=f"requests/{request_id}/stores/customers.erase.json")[
            "Body"
        ].read()
    )
    assert customers["outcome"]["deleted"] == 1
    request = clients.resource_table(outputs["RequestsTableName"]).get_item(
        Key={"request_id": request_id, "record": "request"}
    )["Item"]
    assert request["status"] == "completed" and "subject" not in request
    assert len(confirmation_for(local_cloud.outbox, request_id)) == 2
    assert holdings(datamap, clients, bystander) == bystander_before
