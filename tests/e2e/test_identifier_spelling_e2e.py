"""Issue 13 cases 1 and 2 end to end: a customer stored with capitals is erased when the request is typed
as stored, one that cannot be found is named in the result, and a hold placed with `dsr holds place` in
another spelling protects the customer and her orders from a retention run."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from boto3.dynamodb.conditions import Key

from functions.privacy.requests.record import RequestType
from local.inspect import holdings
from local.seed import seed_subject
from local.workflow import start_request, wait_for_execution
from tests.e2e import cli_support

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture

OLD = datetime(2011, 1, 1, tzinfo=UTC)  # older than every retention period (orders: 7 years) as of 2020-01-02
# Its own as_of: a retention run is named by its as_of, and test_retention_e2e reads the 2020-01-01 run's records.
AS_OF = "2020-01-02T00:00:00Z"
PLACED = re.compile(r"Placed (hold-[0-9a-f-]+) on (hmac-sha256:[0-9a-f]+)")


def _evidence(local_cloud, key: str) -> dict:
    s3, audit = local_cloud.clients.client("s3"), local_cloud.outputs["AuditBucketName"]
    return json.loads(s3.get_object(Bucket=audit, Key=key)["Body"].read())


def _erase(local_cloud, typed: str) -> tuple[str, dict]:
    request_id, arn = start_request(local_cloud.clients, local_cloud.outputs, RequestType.ERASURE, typed)
    execution = wait_for_execution(local_cloud.clients, arn)
    assert execution["status"] == "SUCCEEDED", execution
    return request_id, json.loads(execution["output"])


def test_a_customer_stored_with_capitals_is_erased_and_one_not_found_is_named(local_cloud):
    datamap, clients = local_cloud.datamap, local_cloud.clients
    mixed = seed_subject(datamap, clients, ("Mia Mixed", "Mia.Mixed@Example.com", "TSP001"), datetime.now(UTC))
    other = seed_subject(datamap, clients, ("Oli Other", "Oli.Other@Example.com", "TSP002"), datetime.now(UTC))

    request_id, result = _erase(local_cloud, "Mia.Mixed@Example.com")  # typed as the sign-up form kept it

    assert result["status"] == "completed"
    after = holdings(datamap, clients, mixed)
    assert after["customers"]["found"] == 0 and after["orders"] == {"found": 3, "personal": 0}
    customers = _evidence(local_cloud, f"requests/{request_id}/stores/customers.erase.json")
    assert customers["outcome"]["deleted"] == 1 and customers["outcome"]["matched_spelling"] == "as_typed"
    assert "unresolved_identifiers" not in _evidence(local_cloud, result["evidence_key"])

    # Typed lower case: an exact index cannot see the capitals, so the result says what was not searched.
    request_id, result = _erase(local_cloud, "oli.other@example.com")
    record = _evidence(local_cloud, result["evidence_key"])
    assert record["unresolved_identifiers"] == [
        {
            "identifier": "customer_id",
            "store": "customers",
            "stores_not_searched": ["lake_clicks", "lake_orders", "orders", "uploads"],
        }
    ]
    assert "@" not in json.dumps(record["unresolved_identifiers"])
    assert holdings(datamap, clients, other)["customers"]["found"] == 1  # not silently reported as erased


def test_a_hold_placed_in_another_spelling_keeps_the_customer_and_her_orders_through_retention(local_cloud, dsr):
    datamap, clients, outputs = local_cloud.datamap, local_cloud.clients, local_cloud.outputs
    held = seed_subject(datamap, clients, ("Hana Held", "hana.held@example.com", "TSP003"), OLD)

    placed = dsr("holds", "place", "--email", "Hana.Held@Example.COM", "--reason", "Litigation LIT-13")
    hold_id, subject_hmac = PLACED.search(placed.output).groups()
    assert "Not resolved" not in placed.output
    item = clients.resource_table(outputs["HoldsTableName"]).get_item(
        Key={"subject_hmac": subject_hmac, "hold_id": hold_id}
    )["Item"]
    assert item["identifiers"]["customer_id"] == "TSP003"  # resolved through the lower-case spelling

    sfn = clients.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=outputs["RetentionStateMachineArn"], input=json.dumps({"as_of": AS_OF}))[
        "executionArn"
    ]
    execution = wait_for_execution(clients, arn, timeout=180)

    assert execution["status"] == "SUCCEEDED", execution
    stores = {s["store"]: s for s in json.loads(execution["output"])["stores"]}
    orders_table = clients.resource_table(datamap.stores["orders"].resource)
    try:
        assert holdings(datamap, clients, held)["customers"] == {"found": 1, "personal": 1}
        orders = orders_table.query(KeyConditionExpression=Key("customer_id").eq("TSP003"))["Items"]
        assert len(orders) == 3 and not any("privacy_anonymised_at" in o for o in orders)
        assert stores["customers"]["skipped_held"] >= 1 and stores["orders"]["skipped_held"] >= 3
    finally:
        # Leave no old, held records behind for the other retention tests of this session.
        dsr("holds", "release", subject_hmac, hold_id)
        clients.resource_table(datamap.stores["customers"].resource).delete_item(Key={"customer_id": "TSP003"})
        for order in orders_table.query(KeyConditionExpression=Key("customer_id").eq("TSP003"))["Items"]:
            orders_table.delete_item(Key={"customer_id": "TSP003", "order_id": order["order_id"]})
