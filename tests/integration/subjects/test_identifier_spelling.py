"""Issue 13 cases 1 and 2: a subject is found whichever spelling of the address a store holds or a requester
types, and a hold placed with one spelling protects the records stored under another (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.intake.filing import Submission
from functions.privacy.operations.actions import Tables
from functions.privacy.operations.holds import place_hold
from functions.privacy.request_workflow.completion import complete_request
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.request_workflow.store_tasks import erase_store, recheck_store, run_store_task
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from local.seed import seed_subject
from tests.integration.engine_settings import ErasureSettings
from tests.integration.retention.retention_support import HOLDS, create_engine_resources, run_retention

MIXED = ("Alice Mixed", "Alice@Example.com", "C2001")
LOWER = ("Bob Lower", "bob@example.com", "C2002")


def _customer(clients, customer_id: str) -> dict | None:
    table = clients.resource_table("dsr-sample-customers")
    return table.get_item(Key={"customer_id": customer_id}, ConsistentRead=True).get("Item")


def _orders(clients, customer_id: str) -> list[dict]:
    table = clients.resource_table("dsr-sample-orders")
    return table.query(KeyConditionExpression=boto3.dynamodb.conditions.Key("customer_id").eq(customer_id))["Items"]


def _filed(clients, settings, kind: RequestType, typed: str) -> str:
    # The address goes through the intake model, as a form filing does (it used to lower-case it).
    email = Submission(type=kind.value, email=typed).email
    table = clients.resource_table(settings.REQUESTS_TABLE)
    return requests.create_request(table, kind, {"email": email}).request_id


def _erase(clients, settings, request_id: str) -> dict:
    plan = plan_request(request_id, settings, clients)
    outcomes = [erase_store(request_id, t["store"], settings, clients) for t in plan["tasks"]]
    rechecks = [recheck_store(request_id, t["store"], settings, clients) for t in plan["tasks"]]
    done = complete_request(request_id, outcomes, rechecks, settings, clients)
    body = clients.client("s3").get_object(Bucket=settings.AUDIT_BUCKET, Key=done["evidence_key"])["Body"].read()
    return {"plan": plan, "outcomes": {o["store"]: o for o in outcomes}, "evidence": json.loads(body)}


def test_erasure_finds_the_customer_as_typed_and_by_the_normalised_spelling(
    engine_env, tables, bucket, contact_list, suppression_list, datamap
):
    with lambda_environment(engine_env):
        settings, clients = ErasureSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))
        now = datetime.now(UTC)
        seed_subject(datamap, clients, MIXED, now)
        seed_subject(datamap, clients, LOWER, now)

        # Typed as stored: intake keeps the spelling, so the customer and her orders are found and erased.
        mixed = _erase(clients, settings, _filed(clients, settings, RequestType.ERASURE, "Alice@Example.com"))
        assert _customer(clients, "C2001") is None
        assert all("privacy_anonymised_at" in o for o in _orders(clients, "C2001"))
        assert mixed["outcomes"]["customers"]["deleted"] == 1
        assert mixed["outcomes"]["customers"]["matched_spelling"] == "as_typed"
        assert mixed["evidence"]["status"] == "completed" and "unresolved_identifiers" not in mixed["evidence"]

        # Stored lower case, typed with capitals: the normalised spelling finds her.
        lower = _erase(clients, settings, _filed(clients, settings, RequestType.ERASURE, "Bob@Example.COM"))
        assert _customer(clients, "C2002") is None
        assert lower["outcomes"]["customers"]["matched_spelling"] == "normalised"
        assert lower["outcomes"]["orders"]["anonymised"] == 3


def test_an_identifier_that_does_not_resolve_is_named_in_the_result_without_its_value(
    engine_env, tables, bucket, contact_list, suppression_list, datamap
):
    with lambda_environment(engine_env):
        settings, clients = ErasureSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))
        seed_subject(datamap, clients, MIXED, datetime.now(UTC))
        # Stored as Alice@Example.com, typed alice@example.com: an exact key lookup cannot see the capitals.
        result = _erase(clients, settings, _filed(clients, settings, RequestType.ERASURE, "alice@example.com"))
        named = [
            {
                "identifier": "customer_id",
                "store": "customers",
                "stores_not_searched": ["lake_clicks", "lake_orders", "orders", "uploads"],
            }
        ]
        assert result["plan"]["unresolved"] == named
        assert result["evidence"]["unresolved_identifiers"] == named
        assert "alice@example.com" not in json.dumps(result["evidence"]).lower()
        assert _customer(clients, "C2001") is not None  # reported, not silently "completed" as if erased


def test_access_as_typed_exports_the_mixed_case_customer(
    engine_env, tables, bucket, contact_list, suppression_list, datamap
):
    with lambda_environment(engine_env):
        settings, clients = ErasureSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))
        seed_subject(datamap, clients, MIXED, datetime.now(UTC))
        request_id = _filed(clients, settings, RequestType.ACCESS, "Alice@Example.com")
        plan = plan_request(request_id, settings, clients)
        exported = {
            t["store"]: run_store_task(request_id, t["store"], "export", settings, clients) for t in plan["tasks"]
        }
        assert exported["customers"]["records"] == 1 and exported["orders"]["records"] == 3
        assert exported["customers"]["matched_spelling"] == "as_typed"
        s3 = clients.client("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.EXPORT_BUCKET).get("Contents", [])]
        customers_part = next(k for k in keys if "customers" in k)
        body = s3.get_object(Bucket=settings.EXPORT_BUCKET, Key=customers_part)["Body"].read().decode()
        assert "Alice@Example.com" in body and "C2001" in body


def test_hold_placed_with_another_spelling_protects_the_customer_and_her_orders_from_retention(
    aws, engine_env, tables, bucket, contact_list, suppression_list, datamap
):
    with lambda_environment(engine_env):
        clients = Clients(boto3.session.Session(region_name="us-east-1"))
        # Records old enough to expire: the customer is stored lower case, the operator types capitals.
        seed_subject(datamap, clients, ("Dana Held", "dana@example.com", "C2003"), datetime(2020, 1, 1, tzinfo=UTC))
        seed_subject(datamap, clients, ("Eve Free", "eve@example.com", "C2004"), datetime(2020, 1, 1, tzinfo=UTC))
        create_engine_resources(aws)  # the retention run's own holds table, audit and work buckets
        tables_ = Tables("requests", HOLDS, engine_env["AUDIT_BUCKET"], engine_env["HMAC_KEY_ID"], "")
        hold = place_hold(tables_, clients, datamap, email="Dana@Example.com", reason="litigation L-13", operator="dpo")
        assert hold.identifiers["customer_id"] == "C2003" and hold.unresolved == []
        result = run_retention(aws, datamap, "2031-01-01T00:00:00Z", stores=["customers", "orders"])
    stores = {s["store"]: s for s in result["stores"]}
    assert _customer(clients, "C2003") is not None and _customer(clients, "C2004") is None
    dana_orders = _orders(clients, "C2003")
    assert len(dana_orders) == 3 and not any("privacy_anonymised_at" in o for o in dana_orders)
    assert all("privacy_anonymised_at" in o for o in _orders(clients, "C2004"))
    assert stores["customers"]["skipped_held"] == 1 and stores["orders"]["skipped_held"] == 3
