"""Cancel and refusal end to end on the local cloud: through HTTP (the requester) and `dsr requests refuse` (an
operator), asserting on the stores, the request record, the execution and the evidence."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.inspect import holdings
from local.workflow import wait_for_execution
from tests.e2e import intake_support as support
from tests.e2e.cli_support import chain_events, dsr  # noqa: F401 (fixture)
from tests.e2e.evidence_support import evidence_validator
from tests.e2e.intake_support import ApiClient, emails_for, read_code

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


@pytest.fixture(scope="module")
def api(intake) -> ApiClient:
    return ApiClient(intake.url)


def _cancel(api: ApiClient, request_id: str, token: str | None) -> Any:
    headers = {"X-Status-Token": token} if token is not None else {}
    return api.session.post(f"{api.base_url}/requests/{request_id}/cancel", headers=headers, timeout=60)


def _item(local_cloud, request_id: str) -> dict[str, Any]:
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    return table.get_item(Key={"request_id": request_id, "record": "request"}, ConsistentRead=True)["Item"]


def _execution(local_cloud, request_id: str) -> dict[str, Any]:
    machine = local_cloud.outputs["RequestStateMachineArn"]
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + request_id
    return wait_for_execution(local_cloud.clients, arn, timeout=60)


def _chain_record(local_cloud, request_id: str, event: str) -> dict[str, Any]:
    (record,) = [r for r in chain_events(local_cloud, request_id) if r["event"] == event]
    assert not list(evidence_validator().iter_errors(record))
    return record


def _file(api: ApiClient, request_type: str, email: str, **fields: Any) -> tuple[str, str]:
    answer = api.file({"type": request_type, "email": email, **fields})
    assert answer.status_code == 202, answer.text
    return answer.json()["request_id"], answer.json()["status_token"]


def test_cancel_while_pending_verification_stops_the_workflow_and_the_code(api, intake, local_cloud, fresh_subject):
    subject = fresh_subject("cancelpending")
    request_id, token = _file(api, "erasure", subject["email"])
    code = read_code(intake.outbox, request_id)

    answer = _cancel(api, request_id, token)

    assert answer.status_code == 200 and answer.json() == {"request_id": request_id, "status": "cancelled"}
    assert _execution(local_cloud, request_id)["status"] == "ABORTED"
    item = _item(local_cloud, request_id)
    assert item["status"] == "cancelled" and "subject" not in item and "code_digest" not in item
    record = _chain_record(local_cloud, request_id, "cancelled")
    assert record["previous_status"] == "pending_verification" and subject["email"] not in json.dumps(record)
    verify = api.verify(request_id, code)
    assert verify.status_code == 409 and verify.json()["error"] == "not_awaiting_verification"
    assert api.status(request_id, token).json()["status"] == "cancelled"


def test_cancel_during_the_erasure_grace_wait_leaves_every_store_untouched(api, intake, local_cloud, fresh_subject):
    datamap, clients = local_cloud.datamap, local_cloud.clients
    subject = fresh_subject("cancelgrace")
    before = holdings(datamap, clients, subject)
    request_id, token = _file(api, "erasure", subject["email"])
    assert api.verify(request_id, read_code(intake.outbox, request_id)).status_code == 200
    # Planned (in_progress) and waiting out the grace period: no store task has claimed the request.
    deadline = time.monotonic() + 60
    while _item(local_cloud, request_id)["status"] != "in_progress":
        assert time.monotonic() < deadline, "never planned"
        time.sleep(0.05)

    answer = _cancel(api, request_id, token)

    assert answer.status_code == 200, answer.text
    execution = _execution(local_cloud, request_id)
    assert execution["status"] == "ABORTED"
    assert holdings(datamap, clients, subject) == before  # every store still holds all of it
    s3 = clients.client("s3")
    stores = s3.list_objects_v2(Bucket=local_cloud.outputs["AuditBucketName"], Prefix=f"requests/{request_id}/stores/")
    assert stores.get("KeyCount", 0) == 0  # no store task recorded an outcome
    item = _item(local_cloud, request_id)
    assert item["status"] == "cancelled" and "subject" not in item and "acting_since" not in item
    assert _chain_record(local_cloud, request_id, "cancelled")["previous_status"] == "in_progress"
    time.sleep(5)  # past the grace period: nothing resumes
    assert holdings(datamap, clients, subject) == before


def test_a_completed_request_cannot_be_cancelled_and_a_wrong_token_is_404(api, intake, local_cloud, fresh_subject):
    subject = fresh_subject("cancellate")
    request_id, token = _file(api, "access", subject["email"])
    assert api.verify(request_id, read_code(intake.outbox, request_id)).status_code == 200
    assert api.wait_for(request_id, token)["status"] == "completed"

    late = _cancel(api, request_id, token)
    wrong, unknown = _cancel(api, request_id, "not-the-token"), _cancel(api, "req-" + "0" * 8, token)

    assert late.status_code == 409 and late.json()["error"] == "not_cancellable"
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json()) == (404, unknown.json())
    assert _item(local_cloud, request_id)["status"] == "completed"
    assert not [r for r in chain_events(local_cloud, request_id) if r["event"] == "cancelled"]


def test_an_operator_refuses_a_request_with_reasons_through_the_cli(api, intake, local_cloud, fresh_subject, dsr):  # noqa: F811
    subject = fresh_subject("refused")
    request_id, token = _file(api, "erasure", subject["email"], jurisdiction="CCPA")
    read_code(intake.outbox, request_id)

    result = dsr(
        "requests",
        "refuse",
        request_id,
        "--reason",
        "Invoices must be kept for seven years",
        "--ground",
        "legal_exception",
    )

    assert f"Refused {request_id}" in result.output
    assert _execution(local_cloud, request_id)["status"] == "ABORTED"
    item = _item(local_cloud, request_id)
    assert item["status"] == "refused" and "subject" not in item
    mails = [text for _, text in emails_for(intake.outbox, request_id) if "We will not act on this request" in text]
    assert len(mails) == 1 and "Invoices must be kept for seven years" in mails[0]
    assert "California Privacy Protection Agency" in mails[0]
    record = _chain_record(local_cloud, request_id, "refused")
    assert (record["ground"], record["operator"]) == ("legal_exception", "test-operator")
    assert subject["email"] not in json.dumps(record)
    assert api.status(request_id, token).json()["status"] == "refused"
    again = dsr("requests", "refuse", request_id, "--reason", "again", expect=0)
    assert "no address left to email" in again.output


def test_a_reason_with_an_email_address_is_refused_by_the_cli(api, intake, local_cloud, fresh_subject, dsr):  # noqa: F811
    request_id, _ = _file(api, "access", fresh_subject("refusedbad")["email"])
    read_code(intake.outbox, request_id)
    result = dsr("requests", "refuse", request_id, "--reason", "asked by x@example.com", expect=1)
    assert "personal data" in result.output
    assert _item(local_cloud, request_id)["status"] == "pending_verification"
