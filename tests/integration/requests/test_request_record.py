"""The requests table's one owner: the small named writes other capabilities call instead of update_item."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from functions.privacy.requests import record as requests
from functions.privacy.requests.record import Jurisdiction, RequestType

RECEIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def table(aws):
    aws.client("dynamodb").create_table(
        TableName="requests",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}, {"AttributeName": "record", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "request_id", "AttributeType": "S"},
            {"AttributeName": "record", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return boto3.resource("dynamodb", region_name="us-east-1").Table("requests")


def test_a_due_date_moves_once_and_keeps_the_original(table):
    record = requests.create_request(table, RequestType.ERASURE, {"email": "a@example.com"}, received=RECEIVED)
    assert record.due_at == "2027-01-01T09:00:00Z"
    moved = requests.extend_due_date(
        table,
        record.request_id,
        previous_due_at=record.due_at,
        due_at="2027-03-01T09:00:00Z",
        extended_at="2026-12-02T10:00:00Z",
    )
    again = requests.extend_due_date(
        table,
        record.request_id,
        previous_due_at="2027-03-01T09:00:00Z",
        due_at="2027-04-01T09:00:00Z",
        extended_at="2026-12-03T10:00:00Z",
    )
    item = requests.request_item(table, record.request_id)
    assert (moved, again) == (True, False)
    assert (item["due_at"], item["original_due_at"], item["extended_at"]) == (
        "2027-03-01T09:00:00Z",
        "2027-01-01T09:00:00Z",
        "2026-12-02T10:00:00Z",
    )


def test_a_stale_due_date_does_not_move(table):
    record = requests.create_request(
        table, RequestType.ACCESS, {"email": "b@example.com"}, Jurisdiction.CCPA, received=RECEIVED
    )
    assert not requests.extend_due_date(
        table,
        record.request_id,
        previous_due_at="2026-01-01T00:00:00Z",
        due_at="2027-03-01T09:00:00Z",
        extended_at="2026-12-02T10:00:00Z",
    )
    assert requests.get_request(table, record.request_id).due_at == record.due_at


def test_each_notified_execution_is_remembered_once(table):
    record = requests.create_request(table, RequestType.ERASURE, {"email": "c@example.com"}, received=RECEIVED)
    for execution in (record.request_id, f"{record.request_id}--rerun-1", record.request_id):
        requests.record_notified(table, record.request_id, execution)
    notified = requests.request_item(table, record.request_id)["notified_executions"]
    assert set(notified) == {record.request_id, f"{record.request_id}--rerun-1"}


def test_the_operator_view_has_no_identifiers_and_one_time_format(table):
    record = requests.create_request(table, RequestType.ERASURE, {"email": "d@example.com"}, received=RECEIVED)
    table.update_item(
        Key={"request_id": record.request_id, "record": "request"},
        UpdateExpression="SET completed_at = :c",
        ExpressionAttributeValues={":c": "2026-12-05T10:11:12.345Z"},
    )
    view = requests.public_view(requests.request_item(table, record.request_id))
    assert "subject" not in view
    assert view["completed_at"] == "2026-12-05T10:11:12Z" and view["received_at"] == "2026-12-01T09:00:00Z"
