"""Intake use cases on moto: filing, the code email, verification, rejection and status tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.privacy.intake import filing as intake
from functions.privacy.intake import verification as codes
from functions.privacy.intake.filing import Submission
from functions.privacy.intake.status import request_status
from functions.privacy.requests.record import RequestNotFound, RequestStatus
from tests.integration.intake import intake_support
from tests.integration.intake.intake_support import AUDIT

ALICE = "Alice.Example@Example.com"


@pytest.fixture
def intake_engine(aws, engine_env):
    yield from intake_support.intake_engine(aws, engine_env)


def _file(engine, email=ALICE, **fields):
    submission = Submission.model_validate({"type": "erasure", "email": email, **fields})
    return intake.file_request(submission, engine.settings, engine.clients)


def _send_code(engine, request_id, entered_at=None, timeout=3600):
    entered_at = entered_at or datetime.now(UTC)
    codes.send_code(request_id, "task-token-1", entered_at.isoformat(), timeout, engine.settings, engine.clients)
    return engine.code_sent_for(request_id)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_filing_creates_a_pending_request_with_its_deadline_evidence_and_one_execution(intake_engine):
    filed = _file(intake_engine, note="Please hurry")

    item = intake_engine.item(filed.request_id)
    assert filed.status == item["status"] == "pending_verification"
    received = datetime.fromisoformat(item["received_at"])
    assert item["due_at"] == filed.due_at and datetime.fromisoformat(filed.due_at) - received >= timedelta(days=28)
    assert item["subject"] == {"email": ALICE}  # kept as typed, encrypted, until the request closes
    assert filed.status_token not in json.dumps(item, default=str)  # only its keyed digest is stored
    (execution,) = intake_engine.executions()
    assert execution["name"] == filed.request_id
    described = intake_engine.clients.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"request_id": filed.request_id}

    (key,) = intake_engine.evidence(filed.request_id)
    assert key.endswith("0000-received.json")
    record = intake_engine.clients.client("s3").get_object(Bucket=AUDIT, Key=key)["Body"].read().decode()
    assert json.loads(record)["subject"].startswith("hmac-sha256:")
    assert "example.com" not in record.lower() and "hurry" not in record


def test_ccpa_requests_are_due_in_45_days(intake_engine):
    filed = _file(intake_engine, jurisdiction="CCPA")
    item = intake_engine.item(filed.request_id)
    due = datetime.fromisoformat(filed.due_at) - datetime.fromisoformat(item["received_at"])
    assert due == timedelta(days=45)


def test_status_is_shown_only_to_the_holder_of_the_status_token(intake_engine):
    filed = _file(intake_engine)
    view = request_status(filed.request_id, filed.status_token, intake_engine.settings, intake_engine.clients)
    assert (view.request_id, view.type, view.status, view.due_at) == (
        filed.request_id,
        "erasure",
        "pending_verification",
        filed.due_at,
    )
    for request_id, token in [
        (filed.request_id, None),
        (filed.request_id, ""),
        (filed.request_id, filed.status_token[:-1] + "x"),
        ("req-00000000-0000-0000-0000-000000000000", filed.status_token),
        ("not-an-id" * 300, filed.status_token),
    ]:
        with pytest.raises(RequestNotFound):
            request_status(request_id, token, intake_engine.settings, intake_engine.clients)


def test_the_code_is_emailed_with_the_request_id_and_stored_only_as_a_digest(intake_engine):
    filed = _file(intake_engine)
    code = _send_code(intake_engine, filed.request_id)

    (email,) = intake_engine.emails_to(ALICE)  # to the address as typed
    assert filed.request_id in email.body and code in email.body
    assert email.source == "privacy@example.com"
    item = intake_engine.item(filed.request_id)
    assert code not in json.dumps(item, default=str)
    assert item["task_token"] == "task-token-1" and item["code_attempts"] == 0


def test_the_right_code_verifies_once_and_leaves_evidence(intake_engine):
    filed = _file(intake_engine)
    code = _send_code(intake_engine, filed.request_id)

    status = codes.verify_code(filed.request_id, code, intake_engine.settings, intake_engine.clients)

    assert status is RequestStatus.VERIFIED
    item = intake_engine.item(filed.request_id)
    assert item["status"] == "verified" and "code_digest" not in item
    assert [k.rsplit("/", 1)[-1] for k in intake_engine.evidence(filed.request_id)] == [
        "0000-received.json",
        "0001-verified.json",
    ]
    with pytest.raises(codes.NotAwaitingVerification):
        codes.verify_code(filed.request_id, code, intake_engine.settings, intake_engine.clients)


def test_wrong_code_five_times_rejects_request(intake_engine):
    filed = _file(intake_engine)
    code = _send_code(intake_engine, filed.request_id)

    left = []
    for _ in range(4):
        with pytest.raises(codes.CodeIncorrect) as wrong:
            codes.verify_code(filed.request_id, _wrong(code), intake_engine.settings, intake_engine.clients)
        left.append(wrong.value.attempts_left)
    with pytest.raises(codes.VerificationRejected):
        codes.verify_code(filed.request_id, _wrong(code), intake_engine.settings, intake_engine.clients)

    assert left == [4, 3, 2, 1]
    item = intake_engine.item(filed.request_id)
    assert item["status"] == "rejected_unverified" and item["failure"] == "too_many_wrong_codes"
    assert "subject" not in item and "task_token" not in item  # nothing kept for an unverified requester
    with pytest.raises(codes.VerificationRejected):  # the right code no longer helps
        codes.verify_code(filed.request_id, code, intake_engine.settings, intake_engine.clients)


def test_an_expired_code_is_refused(intake_engine):
    filed = _file(intake_engine)
    entered = datetime.now(UTC) - timedelta(seconds=120)
    code = _send_code(intake_engine, filed.request_id, entered_at=entered, timeout=60)
    with pytest.raises(codes.CodeExpired):
        codes.verify_code(filed.request_id, code, intake_engine.settings, intake_engine.clients)
    assert intake_engine.item(filed.request_id)["status"] == "pending_verification"  # the workflow's timeout decides


def test_a_code_before_any_was_sent_is_not_counted(intake_engine):
    filed = _file(intake_engine)
    with pytest.raises(codes.CodeNotSent):
        codes.verify_code(filed.request_id, "123456", intake_engine.settings, intake_engine.clients)


def test_a_new_code_replaces_the_old_one(intake_engine):
    filed = _file(intake_engine)
    first = _send_code(intake_engine, filed.request_id)
    second = _send_code(intake_engine, filed.request_id)
    if first != second:
        with pytest.raises(codes.CodeIncorrect):
            codes.verify_code(filed.request_id, first, intake_engine.settings, intake_engine.clients)
    assert codes.verify_code(filed.request_id, second, intake_engine.settings, intake_engine.clients) == "verified"


def test_timeout_rejection_is_recorded_with_evidence_and_drops_the_identifiers(intake_engine):
    filed = _file(intake_engine, note="call me")
    _send_code(intake_engine, filed.request_id)

    result = codes.reject_unverified(filed.request_id, "States.Timeout", intake_engine.settings, intake_engine.clients)

    item = intake_engine.item(filed.request_id)
    assert item["status"] == "rejected_unverified" and item["failure"] == "code_expired"
    assert not {"subject", "details", "code_digest", "task_token"} & set(item)
    assert item["evidence_key"] == result["evidence_key"]
    body = intake_engine.clients.client("s3").get_object(Bucket=AUDIT, Key=result["evidence_key"])["Body"].read()
    assert json.loads(body)["reason"] == "code_expired"
    again = codes.reject_unverified(filed.request_id, "States.Timeout", intake_engine.settings, intake_engine.clients)
    assert again["evidence_key"] == result["evidence_key"]  # a retried task writes no second record


def test_an_idempotency_key_makes_a_double_submit_file_one_request(intake_engine):
    submission = Submission(type="erasure", email=ALICE)
    other = Submission(type="access", email=ALICE)
    settings, clients = intake_engine.settings, intake_engine.clients

    first = intake.file_request_once(submission, "key-123456", settings, clients)
    second = intake.file_request_once(submission, "key-123456", settings, clients)
    different_body = intake.file_request_once(other, "key-123456", settings, clients)

    assert first == second
    assert different_body.request_id != first.request_id
    assert len(intake_engine.executions()) == 2
    stored = intake_engine.clients.client("dynamodb").scan(TableName="idempotency")["Items"]
    assert ALICE.lower() not in json.dumps(stored).lower()  # the key is a hash; only the answer is kept


def test_every_channel_files_through_one_path_and_a_retried_start_is_the_same_execution(intake_engine):
    place = intake.api_filing_place(intake_engine.settings)
    submission = Submission.model_validate({"type": "erasure", "email": ALICE, "note": ""})
    by_api = _file(intake_engine, note="")
    by_operator = intake.file(
        submission,
        place,
        intake_engine.clients,
        channel=intake.Channel.OPERATOR,
        checked=intake.IdentityChecked("operator", {"operator": "ops-1", "reason": "letter"}),
    )
    api_item, operator_item = intake_engine.item(by_api.request_id), intake_engine.item(by_operator.request_id)
    # The same subject spelling (as typed: the store may hold exactly it), HMAC and detail filtering whichever
    # way the request came in.
    assert api_item["subject"] == operator_item["subject"] == {"email": ALICE}
    assert api_item["subject_hmac"] == operator_item["subject_hmac"] == by_operator.subject_hmac
    assert "details" not in api_item and "details" not in operator_item  # a blank note is not kept
    assert (api_item["channel"], operator_item["channel"]) == ("api", "operator")
    assert (api_item["status"], operator_item["status"]) == ("pending_verification", "verified")
    assert [k.rsplit("-", 1)[-1] for k in intake_engine.evidence(by_operator.request_id)] == [
        "received.json",
        "verified.json",
    ]
    assert [k.rsplit("-", 1)[-1] for k in intake_engine.evidence(by_api.request_id)] == ["received.json"]

    intake.start_workflow(intake_engine.clients, place.state_machine_arn, by_operator.request_id)  # a retry
    names = sorted(e["name"] for e in intake_engine.executions())
    assert names == sorted([by_api.request_id, by_operator.request_id])
