"""Restriction, objection and opt-out against moto: markers, tags and unsubscribes on the subject's data only."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from functions.privacy.connectors.base import StoreError, Subject
from functions.privacy.connectors.registry import connector_for

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})
GRACE = Subject({"email": "grace@example.com", "customer_id": "c10"})
CUSTOMERS, ORDERS = "dsr-sample-customers", "dsr-sample-orders"
MARKER = "privacy_restricted"


def _connector(datamap, aws, digest, keyed_hash, store_name):
    return connector_for(store_name, datamap.stores[store_name], aws, digest, keyed_hash, datamap)


def _items(tables: Any, table: str) -> dict[str, dict[str, Any]]:
    items = tables.scan(TableName=table, ConsistentRead=True)["Items"]
    return {"/".join(i[k]["S"] for k in ("customer_id", "order_id") if k in i): i for i in items}


def _tags(s3: Any, bucket: str, key: str, version: str | None = None) -> dict[str, str]:
    params = {"VersionId": version} if version else {}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **params)["TagSet"]}


# --- dynamodb ----------------------------------------------------------------------------------------


def test_restriction_marks_each_of_the_subjects_items_with_a_timestamp(
    datamap, aws, tables, digest, keyed_hash, calls_to
):
    for n in range(130):  # many customer records share the address: found through the keys-only GSI
        tables.put_item(TableName=CUSTOMERS, Item={"customer_id": {"S": f"c1-{n}"}, "email": {"S": "ada@example.com"}})
    tables.put_item(TableName=CUSTOMERS, Item={"customer_id": {"S": "c10"}, "email": {"S": "grace@example.com"}})
    for customer in ("c1", "c10"):
        tables.put_item(TableName=ORDERS, Item={"customer_id": {"S": customer}, "order_id": {"S": "o1"}})
    updates, gets, queries = calls_to(tables, "UpdateItem"), calls_to(tables, "BatchGetItem"), calls_to(tables, "Query")

    customers = _connector(datamap, aws, digest, keyed_hash, "customers").restrict(ADA)
    orders = _connector(datamap, aws, digest, keyed_hash, "orders").restrict(ADA)

    assert (customers.found, customers.changed, customers.attributes) == (130, 130, [MARKER])
    assert (orders.found, orders.changed) == (1, 1)
    marked = {k: i for k, i in _items(tables, CUSTOMERS).items() if MARKER in i}
    assert set(marked) == {f"c1-{n}" for n in range(130)}
    assert all(datetime.fromisoformat(i[MARKER]["S"]).tzinfo for i in marked.values())  # ISO timestamps
    assert MARKER in _items(tables, ORDERS)["c1/o1"] and MARKER not in _items(tables, ORDERS)["c10/o1"]
    # Lower bound: one UpdateItem per item (no batch update exists), the GSI's keys fetched 100 at a time.
    assert len(updates) == 131
    assert len(gets) <= math.ceil(130 / 100)
    assert len(queries) <= 2 + 2  # one page per store here, plus a final empty page at most each

    again = _connector(datamap, aws, digest, keyed_hash, "customers").restrict(ADA)
    assert (again.found, again.changed, again.unchanged) == (130, 0, 130)
    assert len(updates) == 131  # already marked: nothing written twice
    first_marks = {k: i[MARKER] for k, i in marked.items()}
    assert {k: i[MARKER] for k, i in _items(tables, CUSTOMERS).items() if MARKER in i} == first_marks


def test_opt_out_means_nothing_for_tables_and_buckets(datamap, aws, tables, bucket, digest, keyed_hash, any_calls):
    calls = any_calls(tables) + any_calls(aws.client("s3"))
    for store_name in ("customers", "orders", "uploads"):
        result = _connector(datamap, aws, digest, keyed_hash, store_name).opt_out(ADA)
        assert result.not_applicable and result.changed == 0
    assert calls == []


# --- s3 ----------------------------------------------------------------------------------------------


def test_restriction_tags_every_current_object_keeping_existing_tags(
    datamap, aws, bucket, digest, keyed_hash, calls_to
):
    s3 = aws.client("s3")
    old = s3.put_object(Bucket=bucket, Key="users/c1/ticket.txt", Body=b"v1")["VersionId"]
    current = s3.put_object(Bucket=bucket, Key="users/c1/ticket.txt", Body=b"v2", Tagging="team=support")["VersionId"]
    for n in range(4):
        s3.put_object(Bucket=bucket, Key=f"users/c1/files/{n}.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="users/c10/ticket.txt", Body=b"grace", Tagging="team=support")
    puts, gets = calls_to(s3, "PutObjectTagging"), calls_to(s3, "GetObjectTagging")
    listings = calls_to(s3, "ListObjectVersions")
    connector = _connector(datamap, aws, digest, keyed_hash, "uploads")

    result = connector.restrict(ADA)
    tag_reads = len(gets)  # before this test's own reads below

    assert (result.found, result.changed, result.attributes) == (5, 5, [MARKER])
    assert _tags(s3, bucket, "users/c1/ticket.txt", current) == {"team": "support", MARKER: "true"}
    assert _tags(s3, bucket, "users/c1/ticket.txt", old) == {}  # only the current version is the object
    assert all(_tags(s3, bucket, f"users/c1/files/{n}.txt") == {MARKER: "true"} for n in range(4))
    assert _tags(s3, bucket, "users/c10/ticket.txt") == {"team": "support"}
    # No batch tagging call exists (short of S3 Batch Operations): one Get and one Put per current object.
    assert len(puts) == 5 and all(call["VersionId"] for call in puts)
    assert tag_reads == 5 and len(listings) == 1

    again = connector.restrict(ADA)
    assert (again.found, again.changed, again.unchanged) == (5, 0, 5)
    assert len(puts) == 5


def test_an_object_with_ten_tags_is_reported_not_stripped(datamap, aws, bucket, digest, keyed_hash):
    s3 = aws.client("s3")
    ten = "&".join(f"t{n}=v" for n in range(10))
    s3.put_object(Bucket=bucket, Key="users/c1/full.txt", Body=b"x", Tagging=ten)

    result = _connector(datamap, aws, digest, keyed_hash, "uploads").restrict(ADA)

    assert (result.found, result.changed) == (1, 0)
    assert result.exceptions == ["1 objects already carry 10 tags; the restriction tag was not added"]
    assert _tags(s3, bucket, "users/c1/full.txt") == {f"t{n}": "v" for n in range(10)}


# --- ses contact list ---------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["restrict", "opt_out"])
def test_restriction_and_opt_out_unsubscribe_the_contact_from_every_topic(
    datamap, aws, contact_list, digest, keyed_hash, any_calls, operation
):
    sesv2 = aws.client("sesv2")
    opted_in = [{"TopicName": t, "SubscriptionStatus": "OPT_IN"} for t in ("newsletter", "product-updates")]
    for email in ("ada@example.com", "grace@example.com"):
        sesv2.create_contact(
            ContactListName=contact_list, EmailAddress=email, TopicPreferences=opted_in, AttributesData='{"x": 1}'
        )
    connector = _connector(datamap, aws, digest, keyed_hash, "newsletter")

    result = getattr(connector, operation)(ADA)

    ada = sesv2.get_contact(ContactListName=contact_list, EmailAddress="ada@example.com")
    assert ada["UnsubscribeAll"] is True
    assert sorted((p["TopicName"], p["SubscriptionStatus"]) for p in ada["TopicPreferences"]) == [
        ("newsletter", "OPT_OUT"),
        ("product-updates", "OPT_OUT"),
    ]
    assert ada["AttributesData"] == '{"x": 1}'  # the contact stays as it was otherwise
    grace = sesv2.get_contact(ContactListName=contact_list, EmailAddress="grace@example.com")
    assert grace["UnsubscribeAll"] is False and grace["TopicPreferences"] == opted_in
    assert (result.found, result.changed, result.key_digests) == (1, 1, ['digest:{"email":"ada@example.com"}'])

    calls = any_calls(sesv2)
    again = getattr(connector, operation)(ADA)
    assert (again.found, again.changed, again.unchanged) == (1, 0, 1)
    assert calls == ["GetContact"]  # SES allows 1 call/s: a rerun only reads


def test_unsubscribing_someone_not_on_the_list_changes_nothing(datamap, aws, contact_list, digest, keyed_hash):
    result = _connector(datamap, aws, digest, keyed_hash, "newsletter").opt_out(ADA)
    assert (result.found, result.changed) == (0, 0)
    assert aws.client("sesv2").list_contacts(ContactListName=contact_list)["Contacts"] == []


# --- ses suppression list -----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["restrict", "opt_out"])
def test_restriction_and_opt_out_put_the_address_on_the_suppression_list(
    datamap, aws, suppression_list, digest, keyed_hash, any_calls, operation
):
    sesv2 = aws.client("sesv2")
    connector = _connector(datamap, aws, digest, keyed_hash, "suppression")

    result = getattr(connector, operation)(ADA)

    entry = sesv2.get_suppressed_destination(EmailAddress="ada@example.com")["SuppressedDestination"]
    assert entry["Reason"] == "COMPLAINT"
    with pytest.raises(sesv2.exceptions.NotFoundException):
        sesv2.get_suppressed_destination(EmailAddress="grace@example.com")
    assert (result.changed, result.key_digests) == (1, ['digest:{"email":"ada@example.com"}'])

    calls = any_calls(sesv2)
    again = getattr(connector, operation)(ADA)
    assert (again.found, again.changed, again.unchanged) == (1, 0, 1)
    assert calls == ["GetSuppressedDestination"]


def test_an_existing_bounce_entry_is_left_as_it_is(datamap, aws, suppression_list, digest, keyed_hash):
    sesv2 = aws.client("sesv2")
    sesv2.put_suppressed_destination(EmailAddress="ada@example.com", Reason="BOUNCE")

    result = _connector(datamap, aws, digest, keyed_hash, "suppression").opt_out(ADA)

    assert (result.found, result.unchanged) == (1, 1)
    assert sesv2.get_suppressed_destination(EmailAddress="ada@example.com")["SuppressedDestination"]["Reason"] == (
        "BOUNCE"
    )


# --- failures name no personal data -------------------------------------------------------------------

SECRET = Subject({"email": "ada.secret@example.com", "customer_id": "c1secret"})


@pytest.mark.parametrize(
    ("store_name", "service", "responses", "failing", "code", "run"),
    [
        (
            "customers",
            "dynamodb",
            [("query", {"Items": [{"customer_id": {"S": "c1secret"}, "email": {"S": "ada.secret@example.com"}}]})],
            "batch_get_item",
            "ProvisionedThroughputExceededException",
            lambda c: c.restrict(SECRET),
        ),
        (
            "orders",
            "dynamodb",
            [("query", {"Items": [{"customer_id": {"S": "c1secret"}, "order_id": {"S": "o1"}}]})],
            "update_item",
            "ValidationException",
            lambda c: c.rectify(SECRET, {"shipping_address": "secret street"}),
        ),
        (
            "uploads",
            "s3",
            [
                (
                    "list_object_versions",
                    {"Versions": [{"Key": "users/c1secret/secret.txt", "VersionId": "v1", "IsLatest": True}]},
                )
            ],
            "put_object_tagging",
            "SlowDown",
            lambda c: c.restrict(SECRET),
        ),
        (
            "newsletter",
            "sesv2",
            [("get_contact", {"EmailAddress": "ada.secret@example.com", "UnsubscribeAll": False})],
            "update_contact",
            "TooManyRequestsException",
            lambda c: c.opt_out(SECRET),
        ),
    ],
)
def test_a_failing_change_raises_a_named_error_without_personal_data(
    datamap, aws, digest, keyed_hash, store_name, service, responses, failing, code, run
):
    client = aws.client(service)
    connector = _connector(datamap, aws, digest, keyed_hash, store_name)
    with Stubber(client) as stub:
        for operation, response in responses:
            stub.add_response(operation, response)
        if service == "s3":
            stub.add_response("get_object_tagging", {"TagSet": []})
        stub.add_client_error(failing, service_error_code=code, service_message="ada.secret c1secret secret street")
        with pytest.raises(StoreError) as raised:
            run(connector)
    message = str(raised.value)
    assert code in message and datamap.stores[store_name].resource in message
    assert "secret" not in message and raised.value.__suppress_context__
