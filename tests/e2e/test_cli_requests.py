"""`dsr requests` on the local cloud: file on someone's behalf, list, show, extend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.privacy.requests.record import Jurisdiction, RequestType, add_months, create_request
from local.inspect import holdings
from tests.e2e import cli_support
from tests.e2e.cli_support import chain_events, operator_records, wait_for_status
from tests.e2e.intake_support import emails_for

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture


def _filed_id(output: str) -> str:
    return output.split("Filed ", 1)[1].split(" ", 1)[0]


def test_an_operator_files_a_verified_erasure_that_completes(local_cloud, fresh_subject, dsr):
    subject = fresh_subject("letter")
    result = dsr(
        "requests", "file", "--type", "erasure", "--email", subject["email"],
        "--reason", "Signed letter received 2026-11-20, identity checked against the account",
    )  # fmt: skip
    request_id = _filed_id(result.output)
    item = wait_for_status(local_cloud, request_id, {"completed", "partially_completed", "failed"})

    assert item["status"] == "completed"
    assert {
        n: h["personal"] for n, h in holdings(local_cloud.datamap, local_cloud.clients, subject).items()
    } == dict.fromkeys(local_cloud.datamap.stores, 0)
    events = chain_events(local_cloud, request_id)
    assert [e["event"] for e in events][:2] == ["received", "verified"]
    assert events[0]["channel"] == "operator"
    assert events[1]["method"] == "operator" and "Signed letter" in events[1]["reason"]
    filed = [r for r in operator_records(local_cloud, "request_filed") if r["request_id"] == request_id]
    assert filed and filed[0]["operator"] == "test-operator" and subject["email"] not in str(filed)
    assert not emails_for(local_cloud.outbox, request_id) or all(
        "Verification code" not in text for _, text in emails_for(local_cloud.outbox, request_id)
    )  # never asked for a code


def test_filing_refuses_bad_input_with_a_clear_message(dsr):
    result = dsr("requests", "file", "--type", "rectification", "--email", "x@example.com", "--reason", "call",
                 expect=1)  # fmt: skip
    assert "corrections" in result.output and "Traceback" not in result.output
    result = dsr("requests", "file", "--type", "erasure", "--email", "not-an-address", "--reason", "call", expect=1)
    assert "email" in result.output and "Traceback" not in result.output


def _pending_request(local_cloud, email, jurisdiction=Jurisdiction.GDPR, status="in_progress"):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    return create_request(table, RequestType.ACCESS, {"email": email}, jurisdiction, status=status)


def test_list_filters_and_shows_no_personal_data(local_cloud, dsr):
    email = "list.me@example.com"
    record = _pending_request(local_cloud, email, Jurisdiction.CCPA)
    result = dsr("requests", "list", "--status", "in_progress", "--type", "access")
    assert record.request_id in result.output and email not in result.output
    assert "completed" not in result.output.replace("partially_completed", "")
    due_before = dsr("requests", "list", "--due-before", "2000-01-01")
    assert record.request_id not in due_before.output and "0 request(s)" in due_before.output
    assert "not an ISO 8601" in dsr("requests", "list", "--due-before", "soon", expect=1).output
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    late = create_request(table, RequestType.ERASURE, {"email": email}, received=datetime(2025, 1, 1, tzinfo=UTC))
    overdue = dsr("requests", "list", "--deadline", "overdue").output
    assert late.request_id in overdue and record.request_id not in overdue


def test_extension_moves_due_at_writes_evidence_and_emails_the_requester(local_cloud, dsr):
    record = _pending_request(local_cloud, "extend.me@example.com")
    result = dsr("requests", "extend", record.request_id, "--reason", "Records span several archived systems")

    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    item = table.get_item(Key={"request_id": record.request_id, "record": "request"})["Item"]
    old_due = datetime.fromisoformat(record.due_at.replace("Z", "+00:00"))
    assert item["due_at"] == add_months(old_due, 2).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert item["original_due_at"] == record.due_at and item["due_at"] in result.output
    extended = [e for e in chain_events(local_cloud, record.request_id) if e["event"] == "deadline_extended"]
    assert extended and extended[0]["due_at"] == item["due_at"] and extended[0]["previous_due_at"] == record.due_at
    assert any(r["request_id"] == record.request_id for r in operator_records(local_cloud, "deadline_extended"))
    mails = emails_for(local_cloud.outbox, record.request_id)
    assert mails and item["due_at"] in mails[-1][1] and "archived systems" in mails[-1][1]

    again = dsr("requests", "extend", record.request_id, "--reason", "more", expect=1)
    assert "already extended" in again.output


def test_operator_mail_reaches_an_address_on_the_suppression_list(local_cloud, dsr):
    # Someone who withdrew all marketing consent (their address suppressed) still hears about their request.
    address = "suppressed.requester@example.com"
    local_cloud.clients.client("sesv2").put_suppressed_destination(EmailAddress=address, Reason="COMPLAINT")
    record = _pending_request(local_cloud, address)
    dsr("requests", "extend", record.request_id, "--reason", "Records span several archived systems")
    mails = emails_for(local_cloud.outbox, record.request_id)
    assert len(mails) == 1 and "archived systems" in mails[0][1]


def test_extension_refuses_closed_requests_and_dates_beyond_the_law(local_cloud, dsr):
    closed = _pending_request(local_cloud, "closed@example.com", status="completed")
    assert "closed request" in dsr("requests", "extend", closed.request_id, "--reason", "x", expect=1).output
    ccpa = _pending_request(local_cloud, "ccpa@example.com", Jurisdiction.CCPA)
    too_far = dsr("requests", "extend", ccpa.request_id, "--reason", "x", "--until", "2099-01-01", expect=1)
    assert "CCPA allows an extension to" in too_far.output
    assert "does not exist" in dsr("requests", "extend", "req-nope", "--reason", "x", expect=1).output
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    late = create_request(
        table, RequestType.ACCESS, {"email": "late@example.com"}, received=datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert "must come before the due date" in dsr("requests", "extend", late.request_id, "--reason", "x",
                                                  expect=1).output  # fmt: skip


def test_show_gives_the_timeline_store_by_store(local_cloud, fresh_subject, dsr):
    subject = fresh_subject("timeline")
    request_id = _filed_id(
        dsr("requests", "file", "--type", "erasure", "--email", subject["email"], "--reason", "phone call").output
    )
    wait_for_status(local_cloud, request_id, {"completed", "partially_completed", "failed"})
    result = dsr("requests", "show", request_id)
    out = result.output
    assert f"Request {request_id}" in out and "Evidence chain" in out and f"Execution {request_id}" in out
    for event in ("received", "verified", "completed"):
        assert event in out
    for store in local_cloud.datamap.stores:
        assert store in out
    assert subject["email"] not in out
