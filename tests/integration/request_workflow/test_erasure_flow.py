"""The erasure use case without Step Functions: plan -> erase every store -> re-check -> evidence (moto)."""

from __future__ import annotations

import json

import boto3
import pytest

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.evidence import records as evidence
from functions.privacy.request_workflow.completion import complete_request
from functions.privacy.request_workflow.planning import OPERATIONS, plan_request
from functions.privacy.request_workflow.store_tasks import erase_store, recheck_store
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from local.inspect import holdings
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import ErasureSettings

AUDIT = "audit-bucket"


@pytest.fixture
def engine(engine_env, tables, bucket, contact_list, suppression_list):
    """The engine's own resources (see engine_env in conftest) with the sample stores, and its settings."""
    with lambda_environment(engine_env):
        yield ErasureSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))


def _erase(request_id, settings, clients):
    plan = plan_request(request_id, settings, clients)
    outcomes = [erase_store(request_id, t["store"], settings, clients) for t in plan["tasks"]]
    rechecks = [recheck_store(request_id, t["store"], settings, clients) for t in plan["tasks"]]
    return plan, outcomes, complete_request(request_id, outcomes, rechecks, settings, clients)


def test_erasure_removes_the_subject_keeps_orders_anonymised_for_tax_and_leaves_others(engine, datamap):
    settings, clients = engine
    alice, *others = seed_sample_subjects(datamap, clients)
    before = {o["email"]: holdings(datamap, clients, o) for o in others}
    record = requests.create_request(clients.resource_table("requests"), RequestType.ERASURE, {"email": alice["email"]})

    plan, outcomes, result = _erase(record.request_id, settings, clients)

    assert result["status"] == "completed"
    assert {t["store"] for t in plan["tasks"]} == set(datamap.stores)
    # The kind routes each task to its function in the workflow (s3_dataset: the dataset store task).
    assert {t["store"]: t["kind"] for t in plan["tasks"]} == {n: s.kind.value for n, s in datamap.stores.items()}
    by_store = {o["store"]: o for o in outcomes}
    assert by_store["customers"]["deleted"] == 1
    assert by_store["orders"]["anonymised"] == 3 and by_store["orders"]["exceptions"]
    assert by_store["uploads"]["deleted"] == 4  # two files, two versions each
    assert by_store["newsletter"]["deleted"] == 1
    # Kept (added) on the suppression list so no marketing reaches the address again, with the reason recorded.
    assert by_store["suppression"]["kept"] == 1 and by_store["suppression"]["exceptions"]
    suppressed = clients.client("sesv2").get_suppressed_destination(EmailAddress=alice["email"])
    assert suppressed["SuppressedDestination"]["Reason"] == "COMPLAINT"
    after = holdings(datamap, clients, alice)
    assert {name: counts["personal"] for name, counts in after.items()} == dict.fromkeys(datamap.stores, 0)
    assert after["orders"]["found"] == 3  # invoices kept, masked
    assert {o["email"]: holdings(datamap, clients, o) for o in others} == before

    body = json.loads(clients.client("s3").get_object(Bucket=AUDIT, Key=result["evidence_key"])["Body"].read())
    assert result["evidence_key"].startswith(evidence.chain_prefix(record.request_id))
    assert body["subject"].startswith("hmac-sha256:")
    assert body["stores"]["orders"]["exceptions"] == [datamap.stores["orders"].erasure.reason]
    raw = json.dumps(body) + "".join(
        clients.client("s3").get_object(Bucket=AUDIT, Key=o["evidence_key"])["Body"].read().decode() for o in outcomes
    )
    for value in alice.values():
        assert value not in raw


def test_rerunning_a_store_task_returns_the_recorded_outcome_and_writes_nothing_new(engine, datamap):
    settings, clients = engine
    alice = seed_sample_subjects(datamap, clients, count=1)[0]
    record = requests.create_request(clients.resource_table("requests"), RequestType.ERASURE, {"email": alice["email"]})
    _, first, _ = _erase(record.request_id, settings, clients)

    again = [erase_store(record.request_id, o["store"], settings, clients) for o in first]

    assert again == first  # same counts, same evidence hash: nothing deleted twice
    rechecks = [recheck_store(record.request_id, o["store"], settings, clients) for o in first]
    complete_request(record.request_id, again, rechecks, settings, clients)
    versions = clients.client("s3").list_object_versions(Bucket=AUDIT)["Versions"]
    assert len(versions) == len(first) + 1  # one record per store plus the completion record


def test_unknown_address_gets_an_empty_but_complete_erasure(engine, datamap):
    settings, clients = engine
    seed_sample_subjects(datamap, clients)
    record = requests.create_request(
        clients.resource_table("requests"), RequestType.ERASURE, {"email": "nobody@example.org"}
    )
    _, outcomes, result = _erase(record.request_id, settings, clients)
    assert result["status"] == "completed"
    assert all(o["found"] == 0 for o in outcomes)


def test_every_request_type_plans_one_store_operation():
    # The workflow acts on every right in the policy; objection stops processing as restriction does.
    assert set(OPERATIONS) == set(RequestType)
    assert OPERATIONS[RequestType.OBJECTION] == OPERATIONS[RequestType.RESTRICTION] == "restrict"
