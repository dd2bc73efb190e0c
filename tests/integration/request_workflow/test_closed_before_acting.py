"""A request cancelled or refused after planning: its store tasks act on nothing (the claim on the record fails),
and the workflow's grace wait sits between planning and the first erasure task (moto, sample stores)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import boto3
import pytest

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.request_workflow.planning import plan_request
from functions.privacy.request_workflow.store_tasks import RequestClosedMeanwhile, erase_store
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestStatus, RequestType
from infra.config import ROOT
from local.inspect import holdings
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import ErasureSettings

ASL = ROOT / "statemachines" / "request.asl.json"


@pytest.fixture
def engine(engine_env, tables, bucket, contact_list, suppression_list):
    with lambda_environment(engine_env):
        yield ErasureSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))


@pytest.mark.parametrize("closed", [RequestStatus.CANCELLED, RequestStatus.REFUSED])
def test_a_request_closed_after_planning_is_not_acted_on_in_any_store(engine, datamap, closed):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    before = holdings(datamap, clients, alice)
    table = clients.resource_table("requests")
    record = requests.create_request(table, RequestType.ERASURE, {"email": alice["email"]})
    plan = plan_request(record.request_id, settings, clients)  # in_progress, nothing claimed yet

    assert requests.close_unacted(table, record.request_id, closed, datetime.now(UTC), drop_identifiers=False)
    for task in plan["tasks"]:
        with pytest.raises(RequestClosedMeanwhile):
            erase_store(record.request_id, task["store"], settings, clients)

    assert holdings(datamap, clients, alice) == before
    item = requests.request_item(table, record.request_id)
    assert item["status"] == closed.value and "acting_since" not in item
    stores = clients.client("s3").list_objects_v2(Bucket="audit-bucket", Prefix=f"requests/{record.request_id}/stores/")
    assert stores.get("KeyCount", 0) == 0


def test_once_one_store_was_acted_on_the_request_can_no_longer_be_closed(engine, datamap):
    settings, clients = engine
    alice, *_ = seed_sample_subjects(datamap, clients)
    table = clients.resource_table("requests")
    record = requests.create_request(table, RequestType.ERASURE, {"email": alice["email"]})
    plan = plan_request(record.request_id, settings, clients)
    erase_store(record.request_id, plan["tasks"][0]["store"], settings, clients)

    closed = requests.close_unacted(
        table, record.request_id, RequestStatus.CANCELLED, datetime.now(UTC), drop_identifiers=True
    )

    assert closed is False
    item = requests.request_item(table, record.request_id)
    assert item["status"] == "in_progress" and item["subject"]["email"] == alice["email"]


def _definition(grace_seconds: int) -> dict:
    text = ASL.read_text().replace("${ErasureGraceSeconds}", str(grace_seconds))
    text = re.sub(r'"\$\{(\w+)\}"', lambda m: json.dumps(f"{m.group(1)}-placeholder"), text)
    return json.loads(re.sub(r"\$\{\w+\}", "1", text))


def test_only_an_erasure_waits_out_the_grace_period_after_planning_and_before_acting():
    states = _definition(3600)["States"]
    assert states["PlanStoreTasks"]["Next"] == "ErasureGrace"
    assert states["ErasureGrace"]["Parameters"] == {"seconds": 3600}
    (rule,) = states["InErasureGrace"]["Choices"]
    assert rule["Next"] == "WaitErasureGrace" and states["InErasureGrace"]["Default"] == "ActOnStores"
    assert {"Variable": "$.operation", "StringEquals": "erase"} in rule["And"]
    assert {"Variable": "$.grace.seconds", "NumericGreaterThan": 0} in rule["And"]
    assert states["WaitErasureGrace"] == {
        "Type": "Wait",
        "Comment": states["WaitErasureGrace"]["Comment"],
        "SecondsPath": "$.grace.seconds",
        "Next": "ActOnStores",
    }


def test_marking_a_request_failed_never_overwrites_a_cancel_or_refusal():
    mark = _definition(0)["States"]["MarkRequestFailed"]
    assert mark["Parameters"]["ConditionExpression"] == "NOT #status IN (:cancelled, :refused)"
    assert mark["Retry"][0] == {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "MaxAttempts": 0}
    assert mark["Catch"][0]["Next"] == "RequestClosedMeanwhile"
