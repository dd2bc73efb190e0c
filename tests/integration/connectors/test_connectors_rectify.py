"""Rectification against moto: only attributes the data map allows, type-checked before any write, never twice."""

from __future__ import annotations

import math
from typing import Any

import pytest

from functions.privacy.connectors.base import InvalidCorrection, Subject
from functions.privacy.connectors.corrections import validate_corrections
from functions.privacy.connectors.dynamodb import ANONYMISED_AT
from functions.privacy.connectors.registry import connector_for

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})
CUSTOMERS, ORDERS = "dsr-sample-customers", "dsr-sample-orders"


def _connector(datamap, aws, digest, keyed_hash, store_name, store=None):
    return connector_for(store_name, store or datamap.stores[store_name], aws, digest, keyed_hash, datamap)


def _seed(tables: Any, ada_customers: int = 1) -> None:
    for n in range(ada_customers):
        tables.put_item(
            TableName=CUSTOMERS,
            Item={
                "customer_id": {"S": f"c1-{n}" if n else "c1"},
                "email": {"S": "ada@example.com"},
                "name": {"S": "Ada Byron"},
                "phone": {"S": "+44 20 0000 0000"},
                "updated_at": {"S": "2024-01-01T00:00:00+00:00"},
            },
        )
    tables.put_item(
        TableName=CUSTOMERS,
        Item={"customer_id": {"S": "c10"}, "email": {"S": "grace@example.com"}, "name": {"S": "Grace Hopper"}},
    )
    for customer, order in (("c1", "o1"), ("c1", "o2"), ("c10", "o1")):
        tables.put_item(
            TableName=ORDERS,
            Item={
                "customer_id": {"S": customer},
                "order_id": {"S": order},
                "shipping_address": {"S": "old address"},
                "buyer_name": {"S": "someone"},
            },
        )


def _table(tables: Any, table: str) -> dict[str, dict[str, Any]]:
    items = tables.scan(TableName=table, ConsistentRead=True)["Items"]
    return {"/".join(i[k]["S"] for k in ("customer_id", "order_id") if k in i): i for i in items}


def test_rectification_changes_only_the_subjects_allowed_attributes(datamap, aws, tables, digest, keyed_hash, calls_to):
    _seed(tables, ada_customers=120)
    before = {"customers": _table(tables, CUSTOMERS), "orders": _table(tables, ORDERS)}
    corrections = {"name": "Ada Lovelace", "phone": "+44 20 7946 0000", "shipping_address": "12 St James's Square"}
    assert validate_corrections(datamap, corrections) == corrections
    updates, gets = calls_to(tables, "UpdateItem"), calls_to(tables, "BatchGetItem")

    customers = _connector(datamap, aws, digest, keyed_hash, "customers").rectify(ADA, corrections)
    orders = _connector(datamap, aws, digest, keyed_hash, "orders").rectify(ADA, corrections)

    assert (customers.found, customers.changed, customers.unchanged) == (120, 120, 0)
    assert customers.attributes == ["name", "phone"]  # names only; shipping_address is the orders store's
    assert (orders.found, orders.changed, orders.attributes) == (2, 2, ["shipping_address"])
    after = {"customers": _table(tables, CUSTOMERS), "orders": _table(tables, ORDERS)}
    for key, item in after["customers"].items():
        if key == "c10":
            assert item == before["customers"]["c10"]  # Grace untouched
            continue
        assert item["name"] == {"S": "Ada Lovelace"} and item["phone"] == {"S": "+44 20 7946 0000"}
        assert item["updated_at"] == before["customers"][key]["updated_at"]  # nothing else changed
    assert after["orders"]["c1/o1"]["shipping_address"] == {"S": "12 St James's Square"}
    assert after["orders"]["c1/o1"]["buyer_name"] == {"S": "someone"}
    assert after["orders"]["c10/o1"] == before["orders"]["c10/o1"]
    # No batch update exists: one UpdateItem per item; the keys-only GSI needs the items fetched 100 at a time.
    assert len(updates) == 120 + 2
    assert len(gets) == math.ceil(120 / 100)

    again = _connector(datamap, aws, digest, keyed_hash, "customers").rectify(ADA, corrections)
    assert (again.found, again.changed, again.unchanged, again.key_digests) == (120, 0, 120, [])
    assert len(updates) == 122  # a rerun changes nothing twice


def test_numbers_and_booleans_are_written_with_their_dynamodb_types(datamap, aws, tables, digest, keyed_hash):
    _seed(tables)
    store = datamap.stores["customers"].model_copy(
        update={"rectifiable": {"name": "string", "loyalty_points": "number", "vip": "boolean", "ratio": "number"}}
    )
    connector = _connector(datamap, aws, digest, keyed_hash, "customers", store)

    result = connector.rectify(ADA, {"loyalty_points": 12, "vip": True, "ratio": 0.1})

    item = _table(tables, CUSTOMERS)["c1"]
    assert (item["loyalty_points"], item["vip"], item["ratio"]) == ({"N": "12"}, {"BOOL": True}, {"N": "0.1"})
    assert result.changed == 1
    # 12.0 is the same number as 12: nothing to change on a rerun.
    assert connector.rectify(ADA, {"loyalty_points": 12.0, "vip": True, "ratio": 0.1}).unchanged == 1


def test_anonymised_orders_are_not_given_personal_data_back(datamap, aws, tables, digest, keyed_hash):
    _seed(tables)
    tables.update_item(
        TableName=ORDERS,
        Key={"customer_id": {"S": "c1"}, "order_id": {"S": "o1"}},
        UpdateExpression="SET #m = :t REMOVE shipping_address",
        ExpressionAttributeNames={"#m": ANONYMISED_AT},
        ExpressionAttributeValues={":t": {"S": "2025-01-01T00:00:00+00:00"}},
    )

    result = _connector(datamap, aws, digest, keyed_hash, "orders").rectify(ADA, {"shipping_address": "new"})

    orders = _table(tables, ORDERS)
    assert "shipping_address" not in orders["c1/o1"]
    assert orders["c1/o2"]["shipping_address"] == {"S": "new"}
    assert (result.found, result.changed, result.unchanged) == (2, 1, 1)
    assert result.exceptions == ["1 records anonymised by an earlier erasure were not rectified"]


@pytest.mark.parametrize(
    ("corrections", "named"),
    [
        ({"name": 42}, "attribute 'name': expected a string, got a number"),
        ({"name": "   "}, "attribute 'name': must not be empty"),
        ({"phone": None}, "attribute 'phone': expected a string, got null"),
        ({"email": "ada.new.secret@example.com"}, "attribute 'email': no store in the data map allows"),
        ({"customer_id": "c2-secret"}, "attribute 'customer_id': no store"),
        ({"card_last4": "4242"}, "attribute 'card_last4': no store"),
        ({"shipping_address": ["secret street"]}, "attribute 'shipping_address': expected a string, got a list"),
        ({}, "at least one correction"),
        (["name", "secret"], "must be an object"),
    ],
)
def test_a_bad_correction_is_rejected_before_any_store_changes(
    datamap, aws, tables, bucket, contact_list, suppression_list, digest, keyed_hash, any_calls, corrections, named
):
    _seed(tables)
    before = {"customers": _table(tables, CUSTOMERS), "orders": _table(tables, ORDERS)}
    writes = any_calls(tables)

    with pytest.raises(InvalidCorrection, match=named) as raised:
        validate_corrections(datamap, corrections)
    assert "secret" not in str(raised.value) and "4242" not in str(raised.value) and "42 " not in str(raised.value)
    # Each connector also refuses on its own (before its first write) what it would have applied wrongly.
    for store_name in datamap.stores:
        connector = _connector(datamap, aws, digest, keyed_hash, store_name)
        try:
            connector.rectify(ADA, corrections)
        except InvalidCorrection as exc:
            assert "secret" not in str(exc)

    assert {"customers": _table(tables, CUSTOMERS), "orders": _table(tables, ORDERS)} == before
    assert "UpdateItem" not in writes and "BatchWriteItem" not in writes


def test_one_bad_correction_fails_the_whole_request_up_front(datamap):
    # The customers store alone would accept the name; the planning step validates across every store first.
    corrections = {"name": "Ada Lovelace", "shipping_address": ["secret street"], "nickname": "secret"}
    with pytest.raises(InvalidCorrection) as raised:
        validate_corrections(datamap, corrections)
    message = str(raised.value)
    assert "attribute 'shipping_address': expected a string, got a list" in message
    assert "attribute 'nickname': no store in the data map allows rectifying it" in message
    assert "'name'" not in message and "secret" not in message and "Lovelace" not in message


@pytest.mark.parametrize("store_name", ["uploads", "newsletter", "suppression"])
def test_rectification_means_nothing_for_objects_and_ses_and_makes_no_call(
    datamap, aws, bucket, contact_list, suppression_list, digest, keyed_hash, any_calls, store_name
):
    connector = _connector(datamap, aws, digest, keyed_hash, store_name)
    calls = any_calls(aws.client("s3")) + any_calls(aws.client("sesv2"))

    result = connector.rectify(ADA, {"name": "Ada Lovelace"})

    assert result.not_applicable and result.changed == 0
    assert calls == []


def test_a_correction_for_another_stores_attribute_is_not_this_stores(datamap, aws, tables, digest, keyed_hash):
    _seed(tables)
    before = _table(tables, ORDERS)

    result = _connector(datamap, aws, digest, keyed_hash, "orders").rectify(ADA, {"name": "Ada Lovelace"})

    assert result.not_applicable
    assert _table(tables, ORDERS) == before
