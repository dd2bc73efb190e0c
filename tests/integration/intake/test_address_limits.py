"""Codes and wrong guesses are bounded per address across its requests, not only per request: a new filing
buys neither a fresh code beyond 3 a day nor fresh guesses beyond 10 a day; the filer cannot tell."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.privacy.core import clients as aws_clients
from functions.privacy.intake import filing as intake
from functions.privacy.intake import verification as codes
from functions.privacy.intake.filing import Submission
from functions.privacy.requests import verification
from functions.privacy.requests.verification import AddressAllowance
from tests.integration.intake import intake_support
from tests.integration.intake.intake_support import AUDIT
from tests.integration.intake.test_intake_api import call

VICTIM = "victim@example.com"


@pytest.fixture
def intake_engine(aws, engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})  # the API handler's client cache must not outlive moto
    yield from intake_support.intake_engine(aws, engine_env)


def _file(engine, email=VICTIM):
    submission = Submission.model_validate({"type": "erasure", "email": email})
    return intake.file_request(submission, engine.settings, engine.clients)


def _send_code(engine, request_id, now=None):
    now = now or datetime.now(UTC)
    codes.send_code(request_id, "task-token", now.isoformat(), 3600, engine.settings, engine.clients, now=now)
    return engine.code_sent_for(request_id)


def _wrong(code):
    return f"{(int(code) + 1) % 10**6:06d}"


def _counters(engine):
    items = engine.table.scan()["Items"]
    return [item for item in items if item["request_id"].startswith("address#")]


def test_a_fourth_filing_in_a_day_is_accepted_alike_but_mails_no_code(intake_engine):
    # Spelled three ways: one address, one allowance.
    first = [_file(intake_engine, email) for email in (VICTIM, "Victim@Example.com", " VICTIM@example.com")]
    for filed in first:
        _send_code(intake_engine, filed.request_id)
    fourth = _file(intake_engine, "victim@EXAMPLE.com")

    assert (fourth.status, set(vars(fourth))) == (first[0].status, set(vars(first[0])))  # same answer as ever
    with pytest.raises(codes.CodeLimitReached) as limited:
        _send_code(intake_engine, fourth.request_id)

    assert type(limited.value).__name__ == "CodeLimitReached"  # the error name the workflow catches
    assert "@" not in str(limited.value)
    assert len(intake_engine.emails_to(VICTIM)) == 3
    item = intake_engine.item(fourth.request_id)
    assert "code_digest" not in item and item["code_limit_reached_at"]
    (counter,) = _counters(intake_engine)
    assert counter["request_id"] == f"address#{item['subject_hmac']}" and counter["record"] == "codes"
    assert len(counter["used_at_epoch"]) == 3 and "victim" not in json.dumps(counter, default=str).lower()
    assert int(counter["expires_at_epoch"]) > datetime.now(UTC).timestamp() + 23 * 3600  # DynamoDB TTL


def test_codes_are_mailed_again_once_the_day_has_passed(intake_engine):
    start = datetime.now(UTC) - timedelta(hours=25)
    for offset in range(3):
        _send_code(intake_engine, _file(intake_engine).request_id, now=start + timedelta(minutes=offset))
    later = _file(intake_engine)
    _send_code(intake_engine, later.request_id)
    assert len(intake_engine.emails_to(VICTIM)) == 4
    other = _file(intake_engine, "someone.else@example.com")
    _send_code(intake_engine, other.request_id)  # another address has its own allowance
    assert len(intake_engine.emails_to("someone.else@example.com")) == 1


def test_a_code_limited_request_is_rejected_with_the_limit_in_its_evidence(intake_engine):
    for _ in range(3):
        _send_code(intake_engine, _file(intake_engine).request_id)
    fourth = _file(intake_engine)
    with pytest.raises(codes.CodeLimitReached):
        _send_code(intake_engine, fourth.request_id)

    result = codes.reject_unverified(
        fourth.request_id, "CodeLimitReached", intake_engine.settings, intake_engine.clients
    )

    body = intake_engine.clients.client("s3").get_object(Bucket=AUDIT, Key=result["evidence_key"])["Body"].read()
    record = json.loads(body)
    assert (record["event"], record["reason"]) == ("rejected_unverified", "address_code_limit")
    item = intake_engine.item(fourth.request_id)
    assert item["status"] == "rejected_unverified" and item["failure"] == "address_code_limit"
    assert "subject" not in item and "@" not in body.decode()


def test_ten_wrong_guesses_across_requests_close_the_address_for_the_day(intake_engine):
    filed = [_file(intake_engine) for _ in range(3)]
    sent = [_send_code(intake_engine, f.request_id) for f in filed]
    for request, code in zip(filed[:2], sent[:2], strict=True):  # five wrong on each: both rejected
        for _ in range(verification.MAX_ATTEMPTS - 1):
            with pytest.raises(codes.CodeIncorrect):
                codes.verify_code(request.request_id, _wrong(code), intake_engine.settings, intake_engine.clients)
        with pytest.raises(codes.VerificationRejected):
            codes.verify_code(request.request_id, _wrong(code), intake_engine.settings, intake_engine.clients)

    # The third request has all its own five attempts, yet the address has none left today: even the right
    # code is refused, before it is compared, and the request is neither verified nor its attempts counted.
    status, body, _ = call("POST", f"/requests/{filed[2].request_id}/verify", {"code": sent[2]})
    assert (status, body["error"]) == (403, "address_guess_limit")
    item = intake_engine.item(filed[2].request_id)
    assert item["status"] == "pending_verification" and int(item["code_attempts"]) == 0
    address = item["subject_hmac"]
    table = intake_engine.table
    assert verification.allowance_left(table, address, AddressAllowance.GUESSES, datetime.now(UTC)) == 0
    tomorrow = datetime.now(UTC) + timedelta(hours=24, seconds=5)
    assert verification.allowance_left(table, address, AddressAllowance.GUESSES, tomorrow) == 10


def test_two_filings_at_once_cannot_both_take_the_last_code(intake_engine):
    table, now = intake_engine.table, datetime.now(UTC)
    address = "hmac-sha256:" + "ab" * 32
    assert all(verification.use_allowance(table, address, AddressAllowance.CODES, now) for _ in range(2))
    stale = table.get_item(Key=verification.address_key(address, AddressAllowance.CODES))["Item"]
    assert verification.use_allowance(table, address, AddressAllowance.CODES, now)
    # A writer that read before the third use finds its version gone and reads again: limit reached.
    original_get = table.get_item
    reads = iter([{"Item": stale}])
    table.get_item = lambda **kw: next(reads, None) or original_get(**kw)
    assert not verification.use_allowance(table, address, AddressAllowance.CODES, now)
    assert (
        len(original_get(Key=verification.address_key(address, AddressAllowance.CODES))["Item"]["used_at_epoch"]) == 3
    )
