"""End to end through HTTP on the local cloud: file, verify with the emailed code, follow the status."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from functions.privacy.requests.record import RequestType
from local.inspect import holdings
from local.workflow import start_request, wait_for_execution
from tests.e2e import intake_support as support
from tests.e2e.intake_support import TERMINAL, ApiClient, other_code, read_code

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


@pytest.fixture(scope="module")
def api(intake) -> ApiClient:
    return ApiClient(intake.url)


@pytest.fixture(scope="module")
def expiring(api, intake):
    """A request filed at the start of the module and never verified: its code expires while the others run."""
    answer = api.file({"type": "access", "email": "expiring@example.org"})
    assert answer.status_code == 202
    return answer.json()


def _evidence_events(intake, request_id: str) -> list[str]:
    s3 = intake.client("s3")
    listing = s3.list_objects_v2(Bucket=intake.outputs["AuditBucketName"], Prefix=f"requests/{request_id}/chain/")
    return [o["Key"].rsplit("/", 1)[-1].split("-", 1)[1].removesuffix(".json") for o in listing.get("Contents", [])]


def test_each_request_type_is_verified_with_the_emailed_code_and_reaches_a_final_status(
    api, intake, expiring, local_cloud, fresh_subject
):
    # Our own subjects (erasing a shared sample subject would change other tests), one per request: an address
    # is mailed at most 3 codes a day.
    people = {t: fresh_subject(f"dora-{t.value}") for t in RequestType}
    filed = {}
    for request_type in RequestType:
        # disclosure_notice exists in California only (Cal. Civ. Code 1798.83).
        jurisdiction = "CCPA" if request_type in {RequestType.ACCESS, RequestType.DISCLOSURE_NOTICE} else "GDPR"
        body = {"type": request_type.value, "email": people[request_type]["email"], "jurisdiction": jurisdiction}
        if request_type is RequestType.RECTIFICATION:
            body["corrections"] = {"name": "Dora E. Example"}
        answer = api.file(body)
        assert answer.status_code == 202, answer.text
        filed[request_type] = answer.json()
    for request_type, request in filed.items():
        if request_type is RequestType.OPT_OUT:  # needs no code (CCPA 7026, GDPR 7(3)): filed verified
            assert request["status"] == "verified", request
            continue
        verified = api.verify(request["request_id"], read_code(intake.outbox, request["request_id"]))
        assert verified.status_code == 200, (request_type, verified.text)
        assert verified.json() == {"request_id": request["request_id"], "status": "verified"}

    final = {t: api.wait_for(r["request_id"], r["status_token"]) for t, r in filed.items()}

    erasure = final[RequestType.ERASURE]
    assert erasure["status"] == "completed", erasure
    assert erasure["completed_at"] and erasure["result"]["evidence_key"]
    assert all(
        c["personal"] == 0
        for c in holdings(local_cloud.datamap, local_cloud.clients, people[RequestType.ERASURE]).values()
    )
    assert _evidence_events(intake, erasure["request_id"]) == ["received", "verified", "completed"]
    for request_type, status in final.items():
        assert status["type"] == request_type.value
        assert status["status"] in TERMINAL - {"rejected_unverified"}, status
        if status["status"] == "failed":  # rights whose workflow has not landed yet fail by name, honestly
            assert status["result"]["failure"] == "RequestTypeNotSupported", status


def test_wrong_code_five_times_rejects_request(api, intake):
    request = api.file({"type": "erasure", "email": "wrong-codes@example.org"}).json()
    code = read_code(intake.outbox, request["request_id"])

    answers = [api.verify(request["request_id"], other_code(code)) for _ in range(5)]

    assert [a.status_code for a in answers] == [400, 400, 400, 400, 403]
    assert [a.json().get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
    assert answers[4].json()["error"] == "verification_failed"
    assert api.verify(request["request_id"], code).status_code == 403  # the right code is too late now
    status = api.wait_for(request["request_id"], request["status_token"], {"rejected_unverified"})
    assert status["result"]["failure"] == "too_many_wrong_codes"
    _wait_for_event(intake, request["request_id"], "rejected_unverified")


def test_a_code_works_only_once(api, intake):
    request = api.file({"type": "restriction", "email": "reuse@example.org"}).json()
    code = read_code(intake.outbox, request["request_id"])
    assert api.verify(request["request_id"], code).status_code == 200
    again = api.verify(request["request_id"], code)
    assert (again.status_code, again.json()["error"]) == (409, "not_awaiting_verification")


def test_status_without_the_token_is_the_same_404_as_an_unknown_request(api):
    request = api.file({"type": "objection", "email": "token@example.org"}).json()
    assert api.status(request["request_id"], request["status_token"]).status_code == 200
    answers = [
        api.status(request["request_id"], None),
        api.status(request["request_id"], "not-the-token"),
        api.status(f"req-{uuid.uuid4()}", request["status_token"]),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1


def test_known_and_unknown_addresses_get_the_same_answer_and_a_code(api, intake, local_cloud):
    known_email = support.sample_subjects(local_cloud)[0]["email"]
    known = api.file({"type": "access", "email": known_email})
    unknown = api.file({"type": "access", "email": f"nobody-{uuid.uuid4().hex[:8]}@example.net"})
    assert known.status_code == unknown.status_code == 202
    assert known.headers["Content-Type"] == unknown.headers["Content-Type"]
    shape = {k: type(v).__name__ for k, v in known.json().items()}
    assert shape == {k: type(v).__name__ for k, v in unknown.json().items()}
    assert known.json()["status"] == unknown.json()["status"] == "pending_verification"
    for answer in (known, unknown):  # both get a code: the email does not reveal who is a customer either
        assert read_code(intake.outbox, answer.json()["request_id"])


def test_double_submit_with_an_idempotency_key_files_one_request(api, intake):
    body, key = {"type": "restriction", "email": "double@example.org"}, f"form-{uuid.uuid4()}"
    first, second = api.file(body, **{"Idempotency-Key": key}), api.file(body, **{"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    read_code(intake.outbox, first.json()["request_id"])
    assert len(support.emails_for(intake.outbox, first.json()["request_id"])) == 1
    sfn = intake.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=intake.outputs["RequestStateMachineArn"])["executions"]
    assert [e["name"] for e in executions].count(first.json()["request_id"]) == 1


def test_a_request_an_operator_already_verified_needs_no_code(intake, local_cloud, fresh_subject):
    person = fresh_subject("operator")
    request_id, execution_arn = start_request(local_cloud.clients, intake.outputs, RequestType.ERASURE, person["email"])
    execution = wait_for_execution(local_cloud.clients, execution_arn)
    assert execution["status"] == "SUCCEEDED", execution
    texts = [text for _, text in support.emails_for(intake.outbox, request_id)]
    assert not [t for t in texts if support.CODE_LINE.search(t)]  # no code asked for
    assert len(texts) == 1 and "We have completed your request." in texts[0]  # only the confirmation


def _code_lifetime(intake) -> int:
    """The deployed SendVerificationCode timeout, in seconds."""
    sfn = intake.client("stepfunctions")
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=intake.outputs["RequestStateMachineArn"])["definition"]
    )
    return int(definition["States"]["SendVerificationCode"]["TimeoutSeconds"])


def test_expired_code_rejects_request(api, intake, expiring):
    lifetime = _code_lifetime(intake)
    if lifetime > 120:
        pytest.fail(f"codes live {lifetime}s here: synthesize the e2e cloud with verification_timeout_seconds <= 120")
    # Filed when the module started, so most of its lifetime passed while the other tests ran.
    code = read_code(intake.outbox, expiring["request_id"])
    status = api.wait_for(
        expiring["request_id"], expiring["status_token"], {"rejected_unverified"}, timeout=lifetime + 90
    )
    assert status["result"]["failure"] == "code_expired"
    late = api.verify(expiring["request_id"], code)
    assert (late.status_code, late.json()["error"]) == (410, "code_expired")
    _wait_for_event(intake, expiring["request_id"], "rejected_unverified")
    record = (
        intake.client("s3")
        .get_object(Bucket=intake.outputs["AuditBucketName"], Key=status["result"]["evidence_key"])["Body"]
        .read()
    )
    assert json.loads(record)["reason"] == "code_expired"
    assert b"expiring@example.org" not in record


def _wait_for_event(intake, request_id: str, event: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while event not in _evidence_events(intake, request_id):
        assert time.monotonic() < deadline, f"no {event} evidence for {request_id}"
        time.sleep(0.5)
