"""The DynamoDB connector against moto: what erasure removes, keeps and masks, and how it fails."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from botocore.stub import Stubber

from functions.privacy.connectors.base import (
    InvalidIdentifier,
    StoreMisconfigured,
    StoreThrottled,
    StoreUnavailable,
    Subject,
)
from functions.privacy.connectors.dynamodb import ANONYMISED_AT, DynamoDBConnector
from functions.privacy.connectors.registry import connector_for
from functions.privacy.datamap.model import Erasure

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})
# c10 shares c1's prefix: a begins_with or prefix bug would reach it.
GRACE = Subject({"email": "grace@example.com", "customer_id": "c10"})


def _pattern(datamap: Any, store_name: str) -> re.Pattern[str]:
    return re.compile(datamap.identifiers[datamap.stores[store_name].lookup.identifier].pattern)


def _connector(datamap, tables, digest, keyed_hash, store_name="orders", store=None, **kwargs) -> DynamoDBConnector:
    store = store or datamap.stores[store_name]
    return DynamoDBConnector(store_name, store, tables, digest, keyed_hash, _pattern(datamap, store_name), **kwargs)


def _put_order(tables: Any, customer_id: str, order_id: str, **attributes: str) -> None:
    item = {"customer_id": {"S": customer_id}, "order_id": {"S": order_id}, "total": {"N": "12.50"}}
    item.update({k: {"S": v} for k, v in attributes.items()})
    tables.put_item(TableName="dsr-sample-orders", Item=item)


def _orders(tables: Any, customer_id: str) -> dict[str, dict[str, Any]]:
    response = tables.query(
        TableName="dsr-sample-orders",
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": customer_id}},
        ConsistentRead=True,
    )
    assert "LastEvaluatedKey" not in response
    return {item["order_id"]["S"]: item for item in response["Items"]}


def _key_digest(customer_id: str, order_id: str) -> str:
    return "digest:" + json.dumps(
        {"customer_id": {"S": customer_id}, "order_id": {"S": order_id}}, sort_keys=True, separators=(",", ":")
    )


# --- delete ------------------------------------------------------------------------------------------


def test_erasure_deletes_60_items_across_pages_in_batches_of_25_and_spares_c10(
    datamap, tables, digest, keyed_hash, calls_to
):
    store = datamap.stores["orders"].model_copy(update={"erasure": Erasure(mode="delete")})
    for n in range(60):
        _put_order(tables, "c1", f"o{n:03d}", buyer_name="Ada Lovelace")
    for n in range(5):
        _put_order(tables, "c10", f"o{n:03d}", buyer_name="Grace Hopper")
    queries, batches = calls_to(tables, "Query"), calls_to(tables, "BatchWriteItem")
    connector = _connector(datamap, tables, digest, keyed_hash, store=store, page_size=7)

    found = connector.find(ADA)
    assert (found.found, found.personal) == (60, 60)
    assert sorted(found.key_digests) == sorted(_key_digest("c1", f"o{n:03d}") for n in range(60))
    assert len(queries) == math.ceil(60 / 7)  # the query really paginated

    result = connector.erase(ADA)

    assert (result.found, result.deleted, result.kept, result.exceptions) == (60, 60, 0, [])
    assert sorted(result.key_digests) == sorted(found.key_digests)
    assert _orders(tables, "c1") == {}
    assert sorted(_orders(tables, "c10")) == [f"o{n:03d}" for n in range(5)]
    assert len(batches) <= math.ceil(60 / 25)
    sizes = [len(call["RequestItems"]["dsr-sample-orders"]) for call in batches]
    assert sizes == [25, 25, 10]
    deleted = [r["DeleteRequest"]["Key"] for call in batches for r in call["RequestItems"]["dsr-sample-orders"]]
    assert {k["customer_id"]["S"] for k in deleted} == {"c1"}
    assert connector.erase(ADA).deleted == 0  # a redrive finds nothing left and changes nothing


def test_erasure_through_a_gsi_deletes_by_the_base_table_key(datamap, tables, digest, keyed_hash):
    tables.put_item(
        TableName="dsr-sample-customers", Item={"customer_id": {"S": "c1"}, "email": {"S": "ada@example.com"}}
    )
    tables.put_item(
        TableName="dsr-sample-customers", Item={"customer_id": {"S": "c10"}, "email": {"S": "grace@example.com"}}
    )
    connector = _connector(datamap, tables, digest, keyed_hash, "customers")

    result = connector.erase(ADA)

    assert (result.found, result.deleted) == (1, 1)
    assert result.key_digests == ['digest:{"customer_id":{"S":"c1"}}']
    remaining = tables.scan(TableName="dsr-sample-customers")["Items"]
    assert [item["customer_id"]["S"] for item in remaining] == ["c10"]


class FlakyBatchWrites:
    """Wraps a client so BatchWriteItem leaves items unprocessed, as DynamoDB does under load (moto never does)."""

    def __init__(self, client: Any, leave_unprocessed: int, rounds: int) -> None:
        self._client, self._leave, self._rounds = client, leave_unprocessed, rounds
        self.batch_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        ((table, requests),) = RequestItems.items()
        self.batch_sizes.append(len(requests))
        if self._rounds > 0:
            self._rounds -= 1
            processed, unprocessed = requests[: -self._leave], requests[-self._leave :]
            if processed:
                self._client.batch_write_item(RequestItems={table: processed})
            return {"UnprocessedItems": {table: unprocessed}}
        return self._client.batch_write_item(RequestItems=RequestItems)


def test_unprocessed_items_are_retried_with_backoff_until_all_are_deleted(datamap, tables, digest, keyed_hash):
    store = datamap.stores["orders"].model_copy(update={"erasure": Erasure(mode="delete")})
    for n in range(30):
        _put_order(tables, "c1", f"o{n:03d}")
    flaky, delays = FlakyBatchWrites(tables, leave_unprocessed=4, rounds=2), []
    connector = DynamoDBConnector(
        "orders", store, flaky, digest, keyed_hash, _pattern(datamap, "orders"), sleep=delays.append
    )

    result = connector.erase(ADA)

    assert result.deleted == 30
    assert _orders(tables, "c1") == {}
    # First batch: 21 of 25 done, the 4 left over are refused once more, then done; the last 5 go through.
    assert flaky.batch_sizes == [25, 4, 4, 5]
    assert len(delays) == 2 and all(0 <= d <= 2.0 for d in delays)


def test_items_left_unprocessed_for_every_attempt_raise_store_throttled(datamap, tables, digest, keyed_hash):
    store = datamap.stores["orders"].model_copy(update={"erasure": Erasure(mode="delete")})
    for n in range(3):
        _put_order(tables, "c1", f"o{n:03d}")
    flaky, delays = FlakyBatchWrites(tables, leave_unprocessed=1, rounds=1000), []
    connector = DynamoDBConnector(
        "orders", store, flaky, digest, keyed_hash, _pattern(datamap, "orders"), max_attempts=4, sleep=delays.append
    )

    with pytest.raises(StoreThrottled, match="1 deletes still unprocessed after 4 BatchWriteItem attempts"):
        connector.erase(ADA)

    assert len(flaky.batch_sizes) == 4  # bounded: no fifth attempt
    assert len(delays) == 3


# --- anonymise --------------------------------------------------------------------------------------


def _seed_orders_for_anonymising(tables: Any) -> None:
    personal = {"buyer_name": "Ada Lovelace", "shipping_address": "12 St James's Square", "phone": "+44 20 7946 0000"}
    _put_order(tables, "c1", "o1", buyer_email="ada@example.com", card_last4="4242", **personal)
    _put_order(tables, "c1", "o2", buyer_email="ada@example.com", **personal)
    _put_order(tables, "c1", "o3", buyer_name="Ada Lovelace")  # no email: nothing to hash, none must appear
    _put_order(tables, "c10", "o1", buyer_name="Grace Hopper", buyer_email="grace@example.com", phone="+1 555 0100")


def test_erasure_keeps_orders_anonymised_for_tax(datamap, tables, digest, keyed_hash):
    _seed_orders_for_anonymising(tables)
    before, before_c10 = _orders(tables, "c1"), _orders(tables, "c10")
    connector = connector_for("orders", datamap.stores["orders"], _Clients(tables), digest, keyed_hash, datamap)

    result = connector.erase(ADA)

    assert (result.found, result.anonymised, result.kept, result.deleted) == (3, 3, 3, 0)
    assert result.exceptions == [datamap.stores["orders"].erasure.reason]
    assert sorted(result.key_digests) == sorted(_key_digest("c1", o) for o in ("o1", "o2", "o3"))
    orders = _orders(tables, "c1")
    assert sorted(orders) == ["o1", "o2", "o3"]  # the invoices are still there
    for order_id, order in orders.items():
        assert order["buyer_name"] == {"S": "REDACTED"}
        assert not {"shipping_address", "phone", "card_last4"} & set(order)
        assert order["total"] == before[order_id]["total"]  # what the tax office needs is untouched
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", order[ANONYMISED_AT]["S"])
    hashed = keyed_hash("ada@example.com")
    assert orders["o1"]["buyer_email"] == orders["o2"]["buyer_email"] == {"S": hashed}  # joins still work
    assert "buyer_email" not in orders["o3"]
    assert _orders(tables, "c10") == before_c10


def test_second_erasure_of_anonymised_orders_changes_nothing(datamap, tables, digest, keyed_hash):
    _seed_orders_for_anonymising(tables)
    connector = _connector(datamap, tables, digest, keyed_hash)
    connector.erase(ADA)
    after_first = _orders(tables, "c1")

    again = connector.erase(ADA)
    found = connector.find(ADA)

    assert (again.found, again.anonymised, again.kept, again.key_digests) == (3, 0, 3, [])
    assert _orders(tables, "c1") == after_first  # no double hashing, no new timestamps
    assert (found.found, found.personal) == (3, 0)


def test_find_counts_only_unmasked_orders_as_personal(datamap, tables, digest, keyed_hash):
    _seed_orders_for_anonymising(tables)
    tables.update_item(
        TableName="dsr-sample-orders",
        Key={"customer_id": {"S": "c1"}, "order_id": {"S": "o3"}},
        UpdateExpression="SET #m = :t",
        ExpressionAttributeNames={"#m": ANONYMISED_AT},
        ExpressionAttributeValues={":t": {"S": "2024-01-01T00:00:00+00:00"}},
    )

    found = _connector(datamap, tables, digest, keyed_hash).find(ADA)

    assert (found.found, found.personal) == (3, 2)


def test_random_mask_replaces_a_present_value_and_adds_none(datamap, tables, digest, keyed_hash):
    erasure = Erasure.model_validate(
        {"mode": "anonymise", "reason": "kept for tax", "attributes": {"buyer_name": {"strategy": "random"}}}
    )
    store = datamap.stores["orders"].model_copy(update={"erasure": erasure})
    _put_order(tables, "c1", "o1", buyer_name="Ada Lovelace")
    _put_order(tables, "c1", "o2")

    _connector(datamap, tables, digest, keyed_hash, store=store).erase(ADA)

    orders = _orders(tables, "c1")
    assert re.fullmatch(r"[0-9a-f]{32}", orders["o1"]["buyer_name"]["S"])
    assert "buyer_name" not in orders["o2"]


def test_skip_mode_keeps_records_and_records_the_reason(datamap, tables, digest, keyed_hash):
    store = datamap.stores["orders"].model_copy(update={"erasure": Erasure(mode="skip", reason="litigation hold")})
    _put_order(tables, "c1", "o1", buyer_name="Ada Lovelace")
    before = _orders(tables, "c1")

    result = _connector(datamap, tables, digest, keyed_hash, store=store).erase(ADA)

    assert (result.found, result.kept, result.deleted, result.anonymised) == (1, 1, 0, 0)
    assert result.exceptions == ["litigation hold"]
    assert _orders(tables, "c1") == before


# --- identifiers and errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["../c1", "c1/", "*", "c1\n", "", "c1 OR 1=1"])
def test_malicious_identifier_is_rejected_before_any_call(datamap, tables, digest, keyed_hash, any_calls, value):
    calls = any_calls(tables)
    connector = _connector(datamap, tables, digest, keyed_hash)

    for operation in (connector.find, connector.erase):
        with pytest.raises(InvalidIdentifier) as raised:
            operation(Subject({"email": "ada@example.com", "customer_id": value}))
        assert str(raised.value) == "identifier customer_id does not match its data-map pattern"

    assert calls == []


def test_subject_without_the_lookup_identifier_has_nothing_here(datamap, tables, digest, keyed_hash, any_calls):
    calls = any_calls(tables)
    connector = _connector(datamap, tables, digest, keyed_hash)
    not_a_customer = Subject({"email": "nobody@example.com"})

    assert connector.find(not_a_customer).found == 0
    assert connector.erase(not_a_customer).found == 0
    assert calls == []


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ProvisionedThroughputExceededException", 400, StoreThrottled),
        ("ThrottlingException", 400, StoreThrottled),
        ("RequestLimitExceeded", 400, StoreThrottled),
        ("InternalServerError", 500, StoreUnavailable),
        ("ServiceUnavailable", 503, StoreUnavailable),
    ],
)
def test_aws_errors_map_to_named_store_errors(datamap, tables, digest, keyed_hash, code, status, expected):
    connector = _connector(datamap, tables, digest, keyed_hash)
    with Stubber(tables) as stub:
        stub.add_client_error("query", service_error_code=code, service_message="customer c1", http_status_code=status)
        with pytest.raises(expected) as raised:
            connector.erase(ADA)
    assert str(raised.value) == f"store orders (dsr-sample-orders): Query failed with {code}"
    assert raised.value.__suppress_context__  # the AWS message (which may echo values) stays out of tracebacks


def test_missing_table_is_misconfigured_and_the_message_holds_no_personal_data(datamap, aws, digest, keyed_hash):
    dynamodb = aws.client("dynamodb")  # no tables created
    connector = _connector(datamap, dynamodb, digest, keyed_hash)
    subject = Subject({"email": "ada.secret@example.com", "customer_id": "cust-secret-42"})

    with pytest.raises(StoreMisconfigured) as raised:
        connector.erase(subject)

    message = str(raised.value)
    assert "orders" in message and "dsr-sample-orders" in message and "ResourceNotFoundException" in message
    assert "secret" not in message and "secret" not in repr(raised.value)
    assert raised.value.__cause__ is None


class _Clients:
    def __init__(self, dynamodb: Any) -> None:
        self._dynamodb = dynamodb

    def client(self, service: str) -> Any:
        assert service == "dynamodb"
        return self._dynamodb
