"""Issue 5: personal data never reaches the audit bucket or the logs. Seed known people, run every request type (and a
retention run when the stack has one), then search every object version and every captured log line for them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from functions.privacy.requests.record import RequestType
from local.seed import SAMPLE_PEOPLE, _fake_value
from local.workflow import wait_for_execution
from tests.e2e import intake_support as support
from tests.e2e.evidence_support import all_versions, capture_lambda_logs, cloudwatch_lines, read_version
from tests.e2e.intake_support import ApiClient, read_code

pytestmark = pytest.mark.e2e

CORRECTED_NAME = "Quentin Correctedname"


class Seeded:
    """The personal values the seed wrote: emails, names and addresses match in any case; customer ids and phone
    numbers exactly (lowercased, an id like C1001 could turn up inside a hex digest by chance)."""

    def __init__(self, people: list[dict[str, str]], names: list[str]) -> None:
        self.any_case = {p["email"].lower() for p in people} | {n.lower() for n in [*names, CORRECTED_NAME]}
        self.exact = {p["customer_id"] for p in people}
        for index in range(1, 4):  # local.seed._fake_value's phone numbers and street addresses
            self.exact.add(_fake_value("phone", "", "", index))
            self.any_case.add(_fake_value("address", "", "", index).lower())

    def leaks(self, text: str) -> list[str]:
        lowered = text.lower()
        return sorted({v for v in self.any_case if v in lowered} | {v for v in self.exact if v in text})


@pytest.fixture(scope="module")
def api(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield ApiClient(served.url), served


def test_no_seeded_personal_value_appears_in_evidence_logs_or_execution_history(
    local_cloud, fresh_subject, api, capsys
):
    client, served = api
    clients, outputs = local_cloud.clients, local_cloud.outputs
    s3, bucket = clients.client("s3"), outputs["AuditBucketName"]
    people = {request_type: fresh_subject("pii") for request_type in RequestType}
    names = [f"Pii Test{p['customer_id'].lstrip('T').lstrip('0')}" for p in people.values()]
    seeded = Seeded([*people.values(), *local_cloud.subjects], [*names, *(p[0] for p in SAMPLE_PEOPLE)])
    captured, detach = capture_lambda_logs()
    try:
        filed = {}
        for request_type, person in people.items():
            californian = request_type is RequestType.DISCLOSURE_NOTICE  # a California-only right
            body = {
                "type": request_type.value,
                "email": person["email"],
                "jurisdiction": "CCPA" if californian else "GDPR",
            }
            if request_type is RequestType.RECTIFICATION:
                body["corrections"] = {"name": CORRECTED_NAME}
            answer = client.file(body)
            assert answer.status_code == 202, answer.text
            filed[request_type] = answer.json()
        for request in filed.values():
            if request["status"] == "verified":
                continue  # an opt_out needs no code (CCPA 7026, GDPR 7(3)): it was filed verified
            verified = client.verify(request["request_id"], read_code(served.outbox, request["request_id"]))
            assert verified.status_code == 200, verified.text
        finals = {t: client.wait_for(r["request_id"], r["status_token"]) for t, r in filed.items()}
        # Until every right has its workflow some types may end failed; they still run and leave evidence.
        assert finals[RequestType.ERASURE]["status"] == "completed", finals
        if "RetentionStateMachineArn" in outputs:
            execution = clients.client("stepfunctions").start_execution(
                stateMachineArn=outputs["RetentionStateMachineArn"],
                name=f"pii-scan-{uuid.uuid4()}",
                input=json.dumps({"as_of": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}),
            )
            assert wait_for_execution(clients, execution["executionArn"], timeout=180)["status"] == "SUCCEEDED"
    finally:
        detach()
    printed = capsys.readouterr()

    assert captured.lines, "no Lambda log line was captured: the scan would prove nothing"
    # The scanner finds the values where they belong: the codes were emailed to these addresses.
    outbox = "".join(path.read_text(errors="replace") for path in served.outbox.glob("*.eml"))
    assert {p["email"] for p in people.values()} <= set(seeded.leaks(outbox))
    assert any(r["request_id"] in line for r in filed.values() for line in captured.lines)
    findings = {}
    versions = list(all_versions(s3, bucket))
    for version in versions:
        found = seeded.leaks(read_version(s3, bucket, version).decode("utf-8", "replace"))
        if found:
            findings[f"s3://{bucket}/{version['Key']}?versionId={version['VersionId']}"] = found
    for number, line in enumerate(captured.lines + printed.out.splitlines() + printed.err.splitlines()):
        if found := seeded.leaks(line):
            findings[f"log line {number}: {line[:200]}"] = found
    for number, line in enumerate(cloudwatch_lines(clients)):
        if found := seeded.leaks(line):
            findings[f"CloudWatch line {number}: {line[:200]}"] = found
    sfn = clients.client("stepfunctions")
    for request in filed.values():
        arn = outputs["RequestStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{request['request_id']}"
        history = json.dumps(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"], default=str)
        if found := seeded.leaks(history):
            findings[f"execution history of {request['request_id']}"] = found
    assert len(versions) > 6 * 2  # every request left evidence (received and verified at least)
    assert not findings, findings


def test_a_refused_email_leaves_no_address_in_logs_or_execution_history(local_cloud, api, monkeypatch, capsys):
    from moto.core.exceptions import JsonRESTError
    from moto.sesv2.models import SESV2Backend

    client, _ = api
    clients, outputs = local_cloud.clients, local_cloud.outputs
    refused = f"refused.{uuid.uuid4().hex[:8]}@example.com"
    original = SESV2Backend.send_email

    def reject(self, source, destinations, subject, body):
        if refused in destinations.get("ToAddresses", []):  # SES's own wording names the recipient
            raise JsonRESTError("MessageRejected", f"Email address is not verified: {refused}")
        return original(self, source, destinations, subject, body)

    monkeypatch.setattr(SESV2Backend, "send_email", reject)
    captured, detach = capture_lambda_logs()
    try:
        answer = client.file({"type": "access", "email": refused, "jurisdiction": "GDPR"})
        assert answer.status_code == 202, answer.text
        request = answer.json()
        final = client.wait_for(request["request_id"], request["status_token"])
    finally:
        detach()
    printed = capsys.readouterr()

    # The code could not be sent: the request failed before verification, by the mapped error's name.
    assert final["status"] == "failed", final
    item = clients.resource_table(outputs["RequestsTableName"]).get_item(
        Key={"request_id": request["request_id"], "record": "request"}
    )["Item"]
    assert item["failure"] == "ProviderError" and item["verification_failed"] is True
    sfn = clients.client("stepfunctions")
    arn = outputs["RequestStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{request['request_id']}"
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    failures = [e["taskFailedEventDetails"] for e in events if "taskFailedEventDetails" in e] + [
        e["lambdaFunctionFailedEventDetails"] for e in events if "lambdaFunctionFailedEventDetails" in e
    ]
    history = json.dumps(events, default=str)
    assert "sesv2 SendEmail failed with MessageRejected" in history, failures  # the scan looks where it would be
    lines = captured.lines + cloudwatch_lines(clients) + printed.out.splitlines() + printed.err.splitlines()
    assert any(request["request_id"] in line for line in captured.lines)
    leaks = [line[:200] for line in lines if refused in line.lower()]
    assert not leaks
    assert refused not in history.lower()
