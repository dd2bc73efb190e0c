"""Every right on the deployed workflow (local cloud): for each, two people are seeded, one asks, the data shows it.

Access returns one archive (with its manifest) through the emailed link; rectification changes the allowed
values; restriction and objection mark records, tag objects and stop marketing; opt-out unsubscribes and
suppresses. Each change is published to downstream recipients, and the bystander is untouched.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests as http

from functions.privacy.core.keys import subject_hmac
from functions.privacy.requests.record import RequestType
from local.api import LocalApi, rest_api_id_from_url
from local.inspect import holdings
from local.workflow import failed_states, start_request, wait_for_execution
from tests.e2e.rights_support import LINK_LINE, EventObserver, confirmation_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def observer(local_cloud):
    return EventObserver(local_cloud.clients, local_cloud.outputs["EventBusName"])


def _snapshot(local_cloud, person):
    """Everything the stores hold about one person, read directly (items, object tags, contact, suppression)."""
    datamap, clients = local_cloud.datamap, local_cloud.clients
    snapshot = {}
    for name, store in datamap.stores.items():
        kind = store.kind.value
        if kind == "dynamodb":
            table = clients.resource_table(store.resource)
            key = store.lookup.key_attribute
            value = person[store.lookup.identifier]
            if store.lookup.index:
                keys = table.query(IndexName=store.lookup.index, KeyConditionExpression=f"{key} = :v",
                                   ExpressionAttributeValues={":v": value})["Items"]  # fmt: skip
                items = [table.get_item(Key=k)["Item"] for k in keys]
            else:
                items = table.query(KeyConditionExpression=f"{key} = :v", ExpressionAttributeValues={":v": value})[
                    "Items"
                ]
            snapshot[name] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))
        elif kind == "s3":
            s3 = clients.client("s3")
            prefix = store.lookup.key_template.format(**person)
            objects = s3.list_objects_v2(Bucket=store.resource, Prefix=prefix).get("Contents", [])
            snapshot[name] = {
                o["Key"]: s3.get_object_tagging(Bucket=store.resource, Key=o["Key"])["TagSet"] for o in objects
            }
        elif kind == "ses_contact_list":
            contact = clients.client("sesv2").get_contact(ContactListName=store.resource, EmailAddress=person["email"])
            snapshot[name] = {
                "topics": sorted((p["TopicName"], p["SubscriptionStatus"]) for p in contact["TopicPreferences"]),
                "unsubscribe_all": contact.get("UnsubscribeAll", False),
            }
        elif kind == "ses_suppression":
            sesv2 = clients.client("sesv2")
            try:
                snapshot[name] = sesv2.get_suppressed_destination(EmailAddress=person["email"])[
                    "SuppressedDestination"
                ]["Reason"]
            except sesv2.exceptions.NotFoundException:
                snapshot[name] = None
    return snapshot


def _run(local_cloud, request_type, email, **kwargs):
    clients, outputs = local_cloud.clients, local_cloud.outputs
    request_id, arn = start_request(clients, outputs, request_type, email, **kwargs)
    execution = wait_for_execution(clients, arn)
    assert execution["status"] == "SUCCEEDED", failed_states(clients, arn)
    return request_id, json.loads(execution["output"])


def _request_item(local_cloud, request_id):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    return table.get_item(Key={"request_id": request_id, "record": "request"})["Item"]


def _evidence_text(local_cloud, request_id):
    """Every evidence record of the request, concatenated (to check no personal data reached the audit bucket)."""
    s3, bucket = local_cloud.clients.client("s3"), local_cloud.outputs["AuditBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"requests/{request_id}/")["Contents"]]
    assert any("/stores/" in k for k in keys)
    return "".join(s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode() for k in keys)


def _hmac(local_cloud, email):
    return subject_hmac(local_cloud.clients.client("kms"), local_cloud.outputs["HmacKeyArn"], "email", email)


def test_access_sends_one_archive_with_the_data_and_a_manifest_through_an_expiring_link(
    local_cloud, fresh_subject, observer
):
    subject, bystander = fresh_subject("access"), fresh_subject("bystander")
    before = _snapshot(local_cloud, subject), _snapshot(local_cloud, bystander)

    request_id, result = _run(local_cloud, RequestType.ACCESS, subject["email"])

    assert result["status"] == "completed"
    (text,) = confirmation_for(local_cloud.outbox, request_id)
    link = LINK_LINE.search(text).group(1)
    assert link.startswith(f"{local_cloud.outputs['ApiUrl']}requests/{request_id}/export?token=")
    rest_api = rest_api_id_from_url(local_cloud.outputs["ApiUrl"])
    with LocalApi(local_cloud.cloud.client, rest_api_id=rest_api, port=0) as api:
        response = http.get(api.local_link(link), timeout=30)  # the API's redirect to a freshly signed S3 URL
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        customers = json.loads(archive.read("customers/records.json"))
        orders = json.loads(archive.read("orders/records.json"))
        contact = json.loads(archive.read("newsletter/records.json"))
        ticket = archive.read("uploads/objects/support/ticket-1.txt").decode()
        everything = b"".join(archive.read(n) for n in names)
    assert names == {
        "manifest.json",
        "customers/records.json",
        "orders/records.json",
        "newsletter/records.json",
        "uploads/objects/support/ticket-1.txt",
        "uploads/objects/support/ticket-2.txt",
    }
    assert [c["email"] for c in customers] == [subject["email"]] and customers[0]["customer_id"] == subject[
        "customer_id"
    ]
    assert len(orders) == 3 and {o["customer_id"] for o in orders} == {subject["customer_id"]}
    assert contact[0]["EmailAddress"] == subject["email"]
    assert ticket.endswith("wrote ticket 1 v2")  # the current version
    assert bystander["email"].encode() not in everything and bystander["customer_id"].encode() not in everything
    assert manifest["stores"]["orders"]["records"] == 3 and manifest["stores"]["uploads"]["objects"] == 2
    assert manifest["categories"]["orders"]["legal_basis"] == "legal_obligation"
    assert manifest["categories"]["marketing"]["recipients"] == {
        "email_service": local_cloud.datamap.recipients["email_service"].description
    }
    assert all(c["purpose"] and c["retention_period"] for c in manifest["categories"].values())
    s3, bucket = local_cloud.clients.client("s3"), local_cloud.outputs["ExportBucketName"]
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"exports/{request_id}/").get("Contents", [])]
    assert listed == [f"exports/{request_id}/archive.zip"]  # parts deleted after packaging
    assert "subject" not in _request_item(local_cloud, request_id)  # completed: identifiers dropped
    recorded = _evidence_text(local_cloud, request_id)
    assert "@" not in recorded and subject["customer_id"] not in recorded and "ticket-1" not in recorded
    assert observer.events_for(request_id) == []  # access changes nothing downstream
    assert (_snapshot(local_cloud, subject), _snapshot(local_cloud, bystander)) == before  # reading changes nothing


def test_rectification_changes_only_the_allowed_values_of_the_subject(local_cloud, fresh_subject, observer):
    subject, bystander = fresh_subject("rectify"), fresh_subject("bystander")
    bystander_before = _snapshot(local_cloud, bystander)
    corrections = {"name": "Corrected Name", "shipping_address": "1 Corrected Road"}

    request_id, result = _run(local_cloud, RequestType.RECTIFICATION, subject["email"], corrections=corrections)

    assert result["status"] == "completed"
    after = _snapshot(local_cloud, subject)
    assert [c["name"] for c in after["customers"]] == ["Corrected Name"]
    assert [o["shipping_address"] for o in after["orders"]] == ["1 Corrected Road"] * 3
    assert after["customers"][0]["email"] == subject["email"]  # only the corrected attributes changed
    assert _snapshot(local_cloud, bystander) == bystander_before
    (event,) = observer.events_for(request_id)
    detail = event["detail"]
    assert detail["request_type"] == "rectification" and detail["subject"] == _hmac(local_cloud, subject["email"])
    assert detail["stores"] == ["customers", "orders"]
    assert "payment_processor" in detail["recipients"] and "Corrected" not in json.dumps(event)
    recorded = _evidence_text(local_cloud, request_id)
    assert "Corrected" not in recorded and "@" not in recorded and '"name"' in recorded  # names, never values
    (text,) = confirmation_for(local_cloud.outbox, request_id)
    assert "corrected 1 record (name)" in text and "corrected 3 records (shipping_address)" in text


def test_a_correction_no_store_allows_fails_the_request_by_name_and_changes_nothing(local_cloud, fresh_subject):
    clients, outputs = local_cloud.clients, local_cloud.outputs
    subject = fresh_subject("badfix")
    before = _snapshot(local_cloud, subject)
    request_id, arn = start_request(
        clients, outputs, RequestType.RECTIFICATION, subject["email"], corrections={"name": "Ok", "card_last4": "9"}
    )
    execution = wait_for_execution(clients, arn)

    assert execution["status"] == "FAILED"
    item = _request_item(local_cloud, request_id)
    assert item["status"] == "failed" and item["failure"] == "InvalidCorrection"
    assert _snapshot(local_cloud, subject) == before
    s3 = clients.client("s3")
    stores = s3.list_objects_v2(Bucket=outputs["AuditBucketName"], Prefix=f"requests/{request_id}/stores/")
    assert "Contents" not in stores  # no store task ran


@pytest.mark.parametrize("request_type", [RequestType.RESTRICTION, RequestType.OBJECTION])
def test_restriction_and_objection_mark_records_tag_objects_and_stop_marketing(
    local_cloud, fresh_subject, observer, request_type
):
    subject, bystander = fresh_subject(request_type.value), fresh_subject("bystander")
    bystander_before = _snapshot(local_cloud, bystander)
    before = _snapshot(local_cloud, subject)

    request_id, result = _run(local_cloud, request_type, subject["email"])

    assert result["status"] == "completed"
    after = _snapshot(local_cloud, subject)
    marker = local_cloud.datamap.stores["customers"].restriction_marker
    assert all(marker in item for item in after["customers"] + after["orders"])
    assert len(after["orders"]) == 3 and after["customers"][0]["name"] == before["customers"][0]["name"]
    assert after["uploads"] and all({"Key": marker, "Value": "true"} in tags for tags in after["uploads"].values())
    assert after["newsletter"]["unsubscribe_all"] is True
    assert {status for _, status in after["newsletter"]["topics"]} == {"OPT_OUT"}
    assert before["suppression"] is None and after["suppression"] is not None
    assert _snapshot(local_cloud, bystander) == bystander_before
    (event,) = observer.events_for(request_id)
    assert event["detail"]["request_type"] == request_type.value
    assert set(event["detail"]["categories"]) == {c for s in local_cloud.datamap.stores.values() for c in s.categories}
    # Restriction keeps the data: nothing was erased (a fresh subject has no lake rows to keep).
    found = holdings(local_cloud.datamap, local_cloud.clients, subject)
    assert all(h["found"] for name, h in found.items() if not name.startswith("lake_"))


def test_opt_out_unsubscribes_from_every_topic_and_suppresses_the_address(local_cloud, fresh_subject, observer):
    subject, bystander = fresh_subject("optout"), fresh_subject("bystander")
    bystander_before = _snapshot(local_cloud, bystander)
    before = _snapshot(local_cloud, subject)

    request_id, result = _run(local_cloud, RequestType.OPT_OUT, subject["email"])

    assert result["status"] == "completed"
    after = _snapshot(local_cloud, subject)
    assert after["newsletter"] == {
        "topics": [(t, "OPT_OUT") for t in sorted(local_cloud.datamap.stores["newsletter"].topics)],
        "unsubscribe_all": True,
    }
    assert after["suppression"] is not None
    assert {k: after[k] for k in ("customers", "orders", "uploads")} == {
        k: before[k] for k in ("customers", "orders", "uploads")
    }  # consent to marketing only: the rest is untouched
    assert _snapshot(local_cloud, bystander) == bystander_before
    (event,) = observer.events_for(request_id)
    assert event["detail"]["categories"] == ["marketing"] and event["detail"]["recipients"] == ["email_service"]
