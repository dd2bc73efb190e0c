"""Access exports against moto: every store kind streams the subject's data, and only the subject's, to the sink."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from functions.privacy.connectors.base import StoreThrottled, Subject
from functions.privacy.connectors.dynamodb import DynamoDBConnector
from functions.privacy.connectors.registry import connector_for
from functions.privacy.connectors.s3 import S3Connector
from tests.integration.connectors.export_sink import MemorySink

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})
GRACE = Subject({"email": "grace@example.com", "customer_id": "c10"})  # c10 shares c1's prefix
CUSTOMERS = "dsr-sample-customers"


def _connector(datamap, aws, digest, keyed_hash, store_name):
    client = aws.client({"dynamodb": "dynamodb", "s3": "s3"}.get(datamap.stores[store_name].kind.value, "sesv2"))
    return connector_for(store_name, datamap.stores[store_name], aws, digest, keyed_hash, datamap), client


def _dynamodb(datamap, client, digest, keyed_hash, store_name, **kwargs: Any) -> DynamoDBConnector:
    pattern = re.compile(datamap.identifiers[datamap.stores[store_name].lookup.identifier].pattern)
    return DynamoDBConnector(store_name, datamap.stores[store_name], client, digest, keyed_hash, pattern, **kwargs)


def _customer(n: int, email: str) -> dict[str, Any]:
    return {
        "customer_id": {"S": f"{email[0]}{n:04d}"},
        "email": {"S": email},
        "name": {"S": f"Customer {n}"},
        "visits": {"N": str(n)},
        "balance": {"N": "12.50"},
        "newsletter": {"BOOL": n % 2 == 0},
        "tags": {"SS": ["b", "a"]},
        "address": {"M": {"city": {"S": "London"}, "lines": {"L": [{"S": "1 Main St"}]}}},
        "avatar": {"B": b"\x00\x01"},
    }


def test_export_of_250_items_found_through_the_keys_only_gsi_fetches_them_100_at_a_time(
    datamap, tables, digest, keyed_hash, calls_to
):
    for n in range(250):
        tables.put_item(TableName=CUSTOMERS, Item=_customer(n, "ada@example.com"))
    for n in range(5):
        tables.put_item(TableName=CUSTOMERS, Item=_customer(n, "grace@example.com"))
    queries, gets = calls_to(tables, "Query"), calls_to(tables, "BatchGetItem")
    connector = _dynamodb(datamap, tables, digest, keyed_hash, "customers", page_size=60)
    # Each record's arrival notes how many BatchGetItem calls were made so far: streaming means few.
    sink = MemorySink(on_record=lambda: len(gets))

    result = connector.export(ADA, sink)

    records = sink.parts["customers"]
    assert (result.records, len(records), result.files) == (250, 250, ["customers/records.jsonl"])
    assert result.bytes > 0 and len(result.key_digests) == 250
    assert {r["email"] for r in records} == {"ada@example.com"}
    first = next(r for r in records if r["customer_id"] == "a0002")
    assert first == {  # the whole item as plain JSON, not only the keys the GSI projects
        "customer_id": "a0002",
        "email": "ada@example.com",
        "name": "Customer 2",
        "visits": 2,
        "balance": 12.5,
        "newsletter": True,
        "tags": ["a", "b"],
        "address": {"city": "London", "lines": ["1 Main St"]},
        "avatar": "AAE=",
    }
    assert [len(c["RequestItems"][CUSTOMERS]["Keys"]) for c in gets] == [100, 100, 50]
    assert len(gets) == math.ceil(250 / 100)
    assert len(queries) <= math.ceil(250 / 60) + 1  # the GSI query paginated (keys only), plus the last page
    assert sink.observed[0] == 1  # the first record was written before the second batch was fetched


def test_export_by_the_table_key_pages_through_the_query_without_batch_gets(
    datamap, tables, digest, keyed_hash, calls_to
):
    for customer, count in (("c1", 30), ("c10", 3)):
        for n in range(count):
            item = {"customer_id": {"S": customer}, "order_id": {"S": f"o{n:03d}"}, "total": {"N": "9.99"}}
            tables.put_item(TableName="dsr-sample-orders", Item=item)
    queries, gets = calls_to(tables, "Query"), calls_to(tables, "BatchGetItem")
    connector = _dynamodb(datamap, tables, digest, keyed_hash, "orders", page_size=7)
    sink = MemorySink(on_record=lambda: len(queries))

    result = connector.export(ADA, sink)

    assert result.records == 30
    assert sorted(r["order_id"] for r in sink.parts["orders"]) == [f"o{n:03d}" for n in range(30)]
    assert {r["customer_id"] for r in sink.parts["orders"]} == {"c1"}
    assert sink.parts["orders"][0]["total"] == 9.99
    assert gets == [] and len(queries) == math.ceil(30 / 7)
    assert sink.observed[0] == 1  # streamed: the first record left before the second page was read


class FlakyBatchGets:
    """Wraps a DynamoDB client so BatchGetItem leaves keys unprocessed, as DynamoDB does under load (moto never)."""

    def __init__(self, client: Any, rounds: int) -> None:
        self._client, self._rounds = client, rounds
        self.batch_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        ((table, request),) = RequestItems.items()
        self.batch_sizes.append(len(request["Keys"]))
        if self._rounds:
            self._rounds -= 1
            half = request["Keys"][: len(request["Keys"]) // 2]
            response = self._client.batch_get_item(RequestItems={table: {**request, "Keys": half}}) if half else {}
            rest = {**request, "Keys": request["Keys"][len(half) :]}
            return {**response, "UnprocessedKeys": {table: rest}}
        return self._client.batch_get_item(RequestItems=RequestItems)


def test_unprocessed_keys_are_retried_with_backoff_until_every_item_is_exported(datamap, tables, digest, keyed_hash):
    for n in range(40):
        tables.put_item(TableName=CUSTOMERS, Item=_customer(n, "ada@example.com"))
    flaky, delays = FlakyBatchGets(tables, rounds=2), []
    connector = _dynamodb(datamap, flaky, digest, keyed_hash, "customers", sleep=delays.append)
    sink = MemorySink()

    result = connector.export(ADA, sink)

    assert result.records == 40 and len({r["customer_id"] for r in sink.parts["customers"]}) == 40
    assert flaky.batch_sizes == [40, 20, 10]  # each retry asks only for what was left unprocessed
    assert len(delays) == 2 and all(d >= 0 for d in delays)


def test_keys_unprocessed_for_every_attempt_raise_store_throttled(datamap, tables, digest, keyed_hash):
    tables.put_item(TableName=CUSTOMERS, Item=_customer(1, "ada@example.com"))
    tables.put_item(TableName=CUSTOMERS, Item=_customer(2, "ada@example.com"))
    flaky = FlakyBatchGets(tables, rounds=99)
    connector = _dynamodb(datamap, flaky, digest, keyed_hash, "customers", max_attempts=3, sleep=lambda _: None)
    with pytest.raises(StoreThrottled, match="still unprocessed after 3 BatchGetItem attempts") as raised:
        connector.export(ADA, MemorySink())
    assert "ada" not in str(raised.value)


def test_export_copies_current_objects_server_side_byte_for_byte(datamap, aws, bucket, digest, any_calls, calls_to):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="export-test")
    s3.put_object(Bucket=bucket, Key="users/c1/ticket.txt", Body=b"old draft")
    s3.put_object(Bucket=bucket, Key="users/c1/ticket.txt", Body=b"final text")
    s3.put_object(Bucket=bucket, Key="users/c1/photos/me.png", Body=bytes(range(256)) * 40)
    s3.put_object(Bucket=bucket, Key="users/c1/deleted.txt", Body=b"gone")
    s3.delete_object(Bucket=bucket, Key="users/c1/deleted.txt")  # only a delete marker is current
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"users/c1/many/{n}.txt", Body=f"note {n}".encode())
    s3.put_object(Bucket=bucket, Key="users/c10/ticket.txt", Body=b"grace's")
    connector = S3Connector(
        "uploads",
        datamap.stores["uploads"],
        s3,
        digest,
        re.compile(datamap.identifiers["customer_id"].pattern),
        page_size=3,
    )
    operations, listings = any_calls(s3), calls_to(s3, "ListObjectVersions")
    sink = MemorySink(s3)

    result = connector.export(ADA, sink)
    during_export = list(operations)

    expected = {
        "uploads/objects/ticket.txt": b"final text",
        "uploads/objects/photos/me.png": bytes(range(256)) * 40,
        **{f"uploads/objects/many/{n}.txt": f"note {n}".encode() for n in range(5)},
    }
    assert {name: sink.body(name) for name in sink.copied} == expected
    assert (result.objects, result.bytes) == (7, sum(len(b) for b in expected.values()))
    assert result.files == ["uploads/objects/"]  # object names (they may hold personal data) stay out of state
    assert len(result.key_digests) == 7
    # The connector lists and the sink copies server-side: no object body passes through the Lambda.
    assert set(during_export) == {"ListObjectVersions", "CopyObject", "HeadObject"}
    assert len(listings) == math.ceil(10 / 3)  # 8 versions + 1 marker + 1 old version under the prefix, paged


def test_export_of_the_contact_holds_topics_and_timestamps(datamap, aws, contact_list, digest, keyed_hash):
    sesv2 = aws.client("sesv2")
    sesv2.create_contact(
        ContactListName=contact_list,
        EmailAddress="ada@example.com",
        TopicPreferences=[{"TopicName": "newsletter", "SubscriptionStatus": "OPT_IN"}],
        AttributesData='{"first_name": "Ada"}',
    )
    sesv2.create_contact(ContactListName=contact_list, EmailAddress="grace@example.com")
    connector, _ = _connector(datamap, aws, digest, keyed_hash, "newsletter")
    sink = MemorySink()

    result = connector.export(ADA, sink)

    assert (result.records, result.files) == (1, ["newsletter/records.jsonl"])
    (record,) = sink.parts["newsletter"]
    assert record["EmailAddress"] == "ada@example.com"
    assert record["TopicPreferences"] == [{"TopicName": "newsletter", "SubscriptionStatus": "OPT_IN"}]
    assert record["UnsubscribeAll"] is False
    assert record["AttributesData"] == '{"first_name": "Ada"}'
    assert record["CreatedTimestamp"] and record["LastUpdatedTimestamp"]


def test_export_of_the_suppression_entry(datamap, aws, suppression_list, digest, keyed_hash):
    sesv2 = aws.client("sesv2")
    sesv2.put_suppressed_destination(EmailAddress="ada@example.com", Reason="BOUNCE")
    sesv2.put_suppressed_destination(EmailAddress="grace@example.com", Reason="COMPLAINT")
    connector, _ = _connector(datamap, aws, digest, keyed_hash, "suppression")
    sink = MemorySink()

    result = connector.export(ADA, sink)

    assert result.records == 1
    (record,) = sink.parts["suppression"]
    assert (record["EmailAddress"], record["Reason"]) == ("ada@example.com", "BOUNCE")
    assert record["LastUpdateTime"]


@pytest.mark.parametrize("store_name", ["customers", "orders", "uploads", "newsletter", "suppression"])
def test_a_subject_with_nothing_in_a_store_exports_nothing(
    datamap, aws, tables, bucket, contact_list, suppression_list, digest, keyed_hash, store_name
):
    connector, _ = _connector(datamap, aws, digest, keyed_hash, store_name)
    sink = MemorySink(aws.client("s3"))

    result = connector.export(Subject({"email": "nobody@example.com", "customer_id": "c404"}), sink)

    assert result.model_dump() == {
        "records": 0,
        "objects": 0,
        "bytes": 0,
        "files": [],
        "key_digests": [],
        "matched_spelling": None,
    }
    assert sink.parts == {} and sink.copied == {}
