"""Opt-outs and agents in the rights workflow on moto: topics withdrawn in part, nothing beyond the opt-out for a
request filed without proof, the confirmation's re-subscribe note and the agent's status mail."""

from __future__ import annotations

import boto3
import pytest
from moto.ses.models import ses_backends

from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.request_workflow.completion import complete_request
from functions.privacy.request_workflow.confirmation import notify_requester
from functions.privacy.request_workflow.planning import VerificationRequired, plan_request
from functions.privacy.request_workflow.store_tasks import run_store_task
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from local.seed import seed_sample_subjects
from tests.integration.engine_settings import RightsWorkflowSettings

AUDIT, EXPORTS, HOLDS, LIST = "audit-bucket", "export-bucket", "holds", "dsr-sample-marketing"
AGENT = {"name": "Rights Agency", "email": "desk@agency.example"}


def _table(dynamodb, name, hash_key, range_key):
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": hash_key, "AttributeType": "S"},
            {"AttributeName": range_key, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def engine(notify_env, tables, bucket, contact_list, suppression_list, datamap, tmp_path):
    env = notify_env
    with lambda_environment(env):
        yield RightsWorkflowSettings.load(), Clients(boto3.session.Session(region_name="us-east-1"))


def _opt_out(clients, email, **details):
    attributes = {"verification_waived": True, **({"details": details} if details else {})}
    return requests.create_request(
        clients.resource_table("requests"), RequestType.OPT_OUT, {"email": email}, attributes=attributes
    ).request_id


def _run(request_id, settings, clients):
    plan = plan_request(request_id, settings, clients)
    outcomes = [run_store_task(request_id, t["store"], t["operation"], settings, clients) for t in plan["tasks"]]
    return plan, outcomes


def _topics(clients, email):
    contact = clients.client("sesv2").get_contact(ContactListName=LIST, EmailAddress=email)
    return dict(sorted((p["TopicName"], p["SubscriptionStatus"]) for p in contact["TopicPreferences"])), contact


def _suppressed(clients, email) -> bool:
    try:
        clients.client("sesv2").get_suppressed_destination(EmailAddress=email)
    except clients.client("sesv2").exceptions.NotFoundException:
        return False
    return True


def test_a_topic_opt_out_withdraws_that_topic_only_and_suppresses_nothing(engine, datamap):
    settings, clients = engine
    alice, bob, *_ = seed_sample_subjects(datamap, clients)
    request_id = _opt_out(clients, alice["email"], topics=["newsletter"])

    plan, outcomes = _run(request_id, settings, clients)

    assert [t["store"] for t in plan["tasks"]] == ["newsletter"]  # no suppression, no table, no bucket
    topics, contact = _topics(clients, alice["email"])
    assert topics == {"newsletter": "OPT_OUT", "product-updates": "OPT_IN"}
    assert contact["UnsubscribeAll"] is False and contact["AttributesData"]  # the contact is otherwise untouched
    assert _topics(clients, bob["email"])[0] == {"newsletter": "OPT_IN", "product-updates": "OPT_IN"}
    assert not _suppressed(clients, alice["email"])
    (outcome,) = outcomes
    assert (outcome["changed"], outcome["attributes"]) == (1, ["TopicPreferences.newsletter"])


def test_a_full_opt_out_unsubscribes_every_topic_and_suppresses_the_address(engine, datamap):
    settings, clients = engine
    alice, bob, *_ = seed_sample_subjects(datamap, clients)

    _run(_opt_out(clients, alice["email"]), settings, clients)

    topics, contact = _topics(clients, alice["email"])
    assert topics == {"newsletter": "OPT_OUT", "product-updates": "OPT_OUT"} and contact["UnsubscribeAll"] is True
    assert _suppressed(clients, alice["email"]) and not _suppressed(clients, bob["email"])


@pytest.mark.parametrize("request_type", [RequestType.ACCESS, RequestType.ERASURE])
def test_a_request_filed_without_proof_can_never_export_or_erase(engine, datamap, request_type):
    settings, clients = engine
    (alice,) = seed_sample_subjects(datamap, clients, count=1)
    table = clients.resource_table("requests")
    request_id = requests.create_request(
        table, request_type, {"email": alice["email"]}, attributes={"verification_waived": True}
    ).request_id
    before = clients.client("dynamodb").scan(TableName="dsr-sample-customers")["Items"]

    with pytest.raises(VerificationRequired):
        plan_request(request_id, settings, clients)
    with pytest.raises(VerificationRequired):
        run_store_task(request_id, "customers", "erase", settings, clients)
    with pytest.raises(VerificationRequired):
        run_store_task(request_id, "customers", "export", settings, clients)

    assert clients.client("dynamodb").scan(TableName="dsr-sample-customers")["Items"] == before
    assert clients.client("s3").list_objects_v2(Bucket=EXPORTS).get("KeyCount", 0) == 0


def test_an_opt_out_filed_without_proof_runs_no_other_operation_even_when_asked(engine, datamap):
    settings, clients = engine
    (alice,) = seed_sample_subjects(datamap, clients, count=1)
    request_id = _opt_out(clients, alice["email"])
    with pytest.raises(VerificationRequired):
        run_store_task(request_id, "customers", "erase", settings, clients)
    assert clients.client("dynamodb").scan(TableName="dsr-sample-customers")["Count"] > 0


def _sent_to(address):
    return [
        m for m in ses_backends["123456789012"]["us-east-1"].sent_messages if address in m.destinations["ToAddresses"]
    ]


def test_the_opt_out_confirmation_says_how_to_resubscribe_and_the_agent_gets_status_only(engine, datamap):
    settings, clients = engine
    (alice,) = seed_sample_subjects(datamap, clients, count=1)
    request_id = _opt_out(clients, alice["email"], agent=AGENT)
    _, outcomes = _run(request_id, settings, clients)
    result = complete_request(request_id, outcomes, [], settings, clients, execution=request_id)

    notify_requester(request_id, result["status"], outcomes, settings, clients, execution=request_id)

    (to_subject,) = _sent_to(alice["email"])
    assert "subscribe again" in to_subject.body and request_id in to_subject.body
    (to_agent,) = _sent_to(AGENT["email"])
    assert request_id in to_agent.body and "is complete" in to_agent.body
    assert "href" not in to_agent.body and "newsletter" not in to_agent.body  # no link, no findings


def test_an_access_archive_link_never_reaches_the_agent(engine, datamap):
    settings, clients = engine
    (alice,) = seed_sample_subjects(datamap, clients, count=1)
    table = clients.resource_table("requests")
    request_id = requests.create_request(
        table, RequestType.ACCESS, {"email": alice["email"]}, attributes={"details": {"agent": AGENT}}
    ).request_id
    export = {"archive_key": f"{request_id}/archive.zip"}
    clients.client("s3").put_object(Bucket=EXPORTS, Key=export["archive_key"], Body=b"zip")
    outcomes = [{"store": "customers", "operation": "export", "status": "succeeded", "records": 1, "objects": 0}]

    notify_requester(request_id, "completed", outcomes, settings, clients, execution=request_id, export=export)

    (to_subject,) = _sent_to(alice["email"])
    assert f"requests/{request_id}/export?token=" in to_subject.body  # the download link, through the API
    (to_agent,) = _sent_to(AGENT["email"])
    assert "export?token" not in to_agent.body and "href" not in to_agent.body and "archive" not in to_agent.body
