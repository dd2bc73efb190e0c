"""The requester's cancel through the intake Lambda (proxy events, moto): what the record, the execution and the
evidence hold afterwards, and the race with the store tasks decided on the record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.privacy.core import clients as aws_clients
from functions.privacy.evidence import records as evidence
from functions.privacy.intake.verification import reject_unverified, send_code
from functions.privacy.requests import record as requests
from functions.privacy.requests import verification as requests_verification
from tests.integration.intake import intake_support
from tests.integration.intake.test_intake_api import call, file


@pytest.fixture
def intake_engine(aws, engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})
    yield from intake_support.intake_engine(aws, engine_env)


def _cancel(request_id: str, token: str | None) -> tuple[int, dict]:
    headers = {"X-Status-Token": token} if token is not None else {}
    status, body, _ = call("POST", f"/requests/{request_id}/cancel", headers=headers)
    return status, body


def _filed_with_code(engine) -> tuple[str, str, str]:
    _, filed, _ = file()
    request_id = filed["request_id"]
    send_code(request_id, "task-token", datetime.now(UTC).isoformat(), 600, engine.settings, engine.clients)
    return request_id, filed["status_token"], engine.code_sent_for(request_id)


def _execution_status(engine, request_id: str) -> str:
    (execution,) = [e for e in engine.executions() if e["name"] == request_id]
    return str(execution["status"])


def test_cancel_while_pending_verification_closes_it_stops_it_and_drops_the_identifiers(intake_engine):
    request_id, token, code = _filed_with_code(intake_engine)
    assert _execution_status(intake_engine, request_id) == "RUNNING"

    assert _cancel(request_id, token) == (200, {"request_id": request_id, "status": "cancelled"})

    item = intake_engine.item(request_id)
    assert item["status"] == "cancelled"
    assert not {"subject", "details", "task_token", "code_digest"} & set(item)
    assert item["subject_hmac"]  # the keyed HMAC stays, as for any closed request
    assert _execution_status(intake_engine, request_id) == "ABORTED"
    cancelled = [k for k in intake_engine.evidence(request_id) if k.endswith("-cancelled.json")]
    assert cancelled and item["evidence_key"] == cancelled[0]
    body, _ = evidence.read_record(intake_engine.clients.client("s3"), intake_support.AUDIT, cancelled[0])
    assert body["previous_status"] == "pending_verification" and body["by"] == "requester"
    assert "alice" not in str(body)
    # The code no longer works: the same answer as for a request that is done with.
    status, answer, _ = call("POST", f"/requests/{request_id}/verify", {"code": code})
    assert (status, answer["error"]) == (409, "not_awaiting_verification")
    status, answer, _ = call("GET", f"/requests/{request_id}", headers={"X-Status-Token": token})
    assert (status, answer["status"], answer["result"]["evidence_key"]) == (200, "cancelled", cancelled[0])


def test_a_second_cancel_answers_the_same_and_writes_one_cancelled_record(intake_engine):
    request_id, token, _ = _filed_with_code(intake_engine)
    assert _cancel(request_id, token)[0] == 200
    assert _cancel(request_id, token) == (200, {"request_id": request_id, "status": "cancelled"})
    assert len([k for k in intake_engine.evidence(request_id) if k.endswith("-cancelled.json")]) == 1


def test_a_wrong_or_missing_token_is_the_same_404_as_an_unknown_id_and_changes_nothing(intake_engine):
    request_id, token, _ = _filed_with_code(intake_engine)
    unknown = _cancel("req-00000000-0000-4000-8000-000000000000", token)
    assert unknown[0] == 404
    assert _cancel(request_id, "not-the-token") == unknown
    assert _cancel(request_id, None) == unknown
    item = intake_engine.item(request_id)
    assert item["status"] == "pending_verification" and item["subject"]
    assert _execution_status(intake_engine, request_id) == "RUNNING"
    assert not [k for k in intake_engine.evidence(request_id) if k.endswith("-cancelled.json")]


def test_once_a_store_task_claimed_the_request_cancel_is_409_and_nothing_changes(intake_engine):
    request_id, token, _ = _filed_with_code(intake_engine)
    table = intake_engine.table
    table.update_item(
        Key={"request_id": request_id, "record": "request"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "in_progress"},
    )
    assert requests.claim_for_acting(table, request_id, datetime.now(UTC))

    status, body = _cancel(request_id, token)

    assert (status, body["error"]) == (409, "not_cancellable")
    item = intake_engine.item(request_id)
    assert item["status"] == "in_progress" and item["subject"]["email"] == "alice@example.com"
    assert _execution_status(intake_engine, request_id) == "RUNNING"


def test_after_a_cancel_no_store_task_may_claim_it_and_planning_cannot_revive_it(intake_engine):
    request_id, token, _ = _filed_with_code(intake_engine)
    assert _cancel(request_id, token)[0] == 200
    table = intake_engine.table

    assert requests.claim_for_acting(table, request_id, datetime.now(UTC)) is False
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        requests.record_resolution(table, request_id, {"email": "alice@example.com"}, "hmac")
    item = intake_engine.item(request_id)
    assert item["status"] == "cancelled" and "subject" not in item and "acting_since" not in item


def test_a_completed_request_cannot_be_cancelled(intake_engine):
    request_id, token, _ = _filed_with_code(intake_engine)
    intake_engine.table.update_item(
        Key={"request_id": request_id, "record": "request"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "completed"},
    )
    status, body = _cancel(request_id, token)
    assert (status, body["error"]) == (409, "not_cancellable")
    assert intake_engine.item(request_id)["status"] == "completed"


def test_a_code_timeout_after_a_cancel_keeps_the_request_cancelled_and_its_evidence_chain(intake_engine):
    # On AWS the stop ends the execution; if its code wait timed out first, the rejection must not undo the close.
    request_id, token, _ = _filed_with_code(intake_engine)
    assert _cancel(request_id, token)[0] == 200

    result = reject_unverified(request_id, "States.Timeout", intake_engine.settings, intake_engine.clients)

    assert result == {"request_id": request_id, "status": "cancelled"}
    item = intake_engine.item(request_id)
    assert item["status"] == "cancelled" and "failure" not in item
    assert not [k for k in intake_engine.evidence(request_id) if k.endswith("-rejected_unverified.json")]
    table = intake_engine.clients.resource_table(intake_engine.settings.REQUESTS_TABLE)
    # The conditional write refuses too, should a cancel land between the read and the write.
    assert requests_verification.mark_rejected(table, request_id, "code_expired", datetime.now(UTC)) is False
    assert intake_engine.item(request_id)["status"] == "cancelled"
