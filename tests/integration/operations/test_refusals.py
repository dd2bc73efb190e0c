"""`dsr requests refuse`'s domain function on moto: the record closed as refused, the execution stopped, the
requester told why and where to complain, evidence with the reason and ground, identifiers dropped after mailing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto.ses.models import ses_backends

from functions.privacy.core.clients import Clients
from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import OperatorError, Tables
from functions.privacy.operations.refusals import Ground, RefusalRefused, refuse_request
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import Jurisdiction, RequestStatus, RequestType

SENDER = "privacy@example.com"


@pytest.fixture
def engine(aws):
    aws.client("dynamodb").create_table(
        TableName="requests",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}, {"AttributeName": "record", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "request_id", "AttributeType": "S"},
            {"AttributeName": "record", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.client("s3").create_bucket(Bucket="audit")
    aws.client("ses").verify_email_identity(EmailAddress=SENDER)
    # moto records executions without running them: they stay RUNNING until stopped.
    machine = aws.client("stepfunctions").create_state_machine(
        name="requests",
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    return Tables("requests", "holds", "audit", "key", machine), Clients()


def _filed(engine, request_type=RequestType.ACCESS, jurisdiction=Jurisdiction.GDPR, status="verified"):
    tables, clients = engine
    record = requests.create_request(
        clients.resource_table("requests"), request_type, {"email": "bob@example.com"}, jurisdiction, status=status
    )
    sfn = clients.client("stepfunctions")
    sfn.start_execution(stateMachineArn=tables.state_machine_arn, name=record.request_id, input="{}")
    return record.request_id


def _mails_to(address):
    return [
        m for m in ses_backends["123456789012"]["us-east-1"].sent_messages if address in m.destinations["ToAddresses"]
    ]


def _refuse(engine, request_id, reason="Fifth identical request this month", ground=Ground.EXCESSIVE):
    tables, clients = engine
    return refuse_request(
        tables, clients, sender=SENDER, request_id=request_id, reason=reason, ground=ground, operator="op-7"
    )


def test_a_refusal_closes_stops_mails_the_remedies_records_evidence_and_drops_identifiers(engine):
    request_id = _filed(engine)
    tables, clients = engine

    refusal = _refuse(engine, request_id)

    item = requests.request_item(clients.resource_table("requests"), request_id)
    assert item["status"] == "refused" and "subject" not in item and item["evidence_key"] == refusal.evidence_key
    (execution,) = clients.client("stepfunctions").list_executions(stateMachineArn=tables.state_machine_arn)[
        "executions"
    ]
    assert execution["status"] == "ABORTED" and refusal.stopped == [request_id]
    (mail,) = _mails_to("bob@example.com")
    assert "Fifth identical request this month" in mail.body
    assert "supervisory authority" in mail.body and "judicial remedy" in mail.body
    assert "repetitive" in mail.body  # the ground, in words
    body, _ = evidence.read_record(clients.client("s3"), "audit", refusal.evidence_key)
    assert (body["event"], body["ground"], body["reason"]) == (
        "refused",
        "excessive",
        "Fifth identical request this month",
    )
    assert body["requester_told"] is True and body["previous_status"] == "verified"
    assert "bob@" not in json.dumps(body)


def test_a_denied_ccpa_deletion_names_the_california_remedies(engine):
    request_id = _filed(engine, RequestType.ERASURE, Jurisdiction.CCPA, status="pending_verification")
    _refuse(engine, request_id, "Records kept to complete the transaction you asked for", Ground.LEGAL_EXCEPTION)
    (mail,) = _mails_to("bob@example.com")
    assert "California Privacy Protection Agency" in mail.body and "Attorney General" in mail.body
    assert "not deleted" in mail.body


def test_a_reason_with_an_email_address_is_refused_before_anything_changes(engine):
    request_id = _filed(engine)
    tables, clients = engine
    with pytest.raises(OperatorError, match="personal data"):
        _refuse(engine, request_id, reason="asked by bob@example.com again")
    item = requests.request_item(clients.resource_table("requests"), request_id)
    assert item["status"] == "verified" and item["subject"]["email"] == "bob@example.com"
    assert not _mails_to("bob@example.com")


def test_a_request_a_store_task_claimed_cannot_be_refused(engine):
    request_id = _filed(engine)
    _, clients = engine
    table = clients.resource_table("requests")
    assert requests.claim_for_acting(table, request_id, datetime.now(UTC))
    with pytest.raises(RefusalRefused, match="no store has acted on"):
        _refuse(engine, request_id)
    assert requests.request_item(table, request_id)["status"] == RequestStatus.VERIFIED.value
    assert not _mails_to("bob@example.com")


def test_refusing_again_finishes_without_a_second_record_or_mail(engine):
    request_id = _filed(engine)
    first = _refuse(engine, request_id)
    second = _refuse(engine, request_id)
    assert second.evidence_key == first.evidence_key and second.message_id is None
    assert len(_mails_to("bob@example.com")) == 1
