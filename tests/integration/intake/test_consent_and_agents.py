"""Withdrawing consent without a code, GPC and authorised agents at intake (moto): the record, mail and evidence."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from functions.privacy.core import clients as aws_clients
from functions.privacy.core.keys import subject_hmac
from functions.privacy.intake import filing as intake
from functions.privacy.intake import verification as codes
from functions.privacy.intake.consent import UnknownTopic
from functions.privacy.intake.filing import Submission
from tests.integration.intake import intake_support
from tests.integration.intake.intake_support import AUDIT
from tests.integration.intake.test_intake_api import call

SUBJECT = "Carol.Consumer@example.com"
AGENT = {"name": "Rights Agency", "email": "Desk@Agency.example"}
SIX_DIGITS = re.compile(r"\b\d{6}\b")


@pytest.fixture
def intake_engine(aws, engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})  # the handler's client cache must not outlive moto
    yield from intake_support.intake_engine(aws, engine_env)


def _events(engine, request_id: str) -> dict[str, dict]:
    s3 = engine.clients.client("s3")
    records = [json.loads(s3.get_object(Bucket=AUDIT, Key=k)["Body"].read()) for k in engine.evidence(request_id)]
    return {r["event"]: r for r in records}


def test_an_opt_out_is_filed_verified_with_no_code_and_the_gpc_signal_in_its_evidence(intake_engine):
    status, body, _ = call(
        "POST", "/requests", {"type": "opt_out", "email": SUBJECT, "jurisdiction": "CCPA"}, headers={"Sec-GPC": "1"}
    )

    assert status == 202 and body["status"] == "verified"
    item = intake_engine.item(body["request_id"])
    assert item["status"] == "verified" and item["verification_waived"] is True and item["gpc"] is True
    events = _events(intake_engine, body["request_id"])
    assert events["received"]["gpc"] is True and events["received"]["request_type"] == "opt_out"
    assert events["verified"]["method"] == "not_required"
    assert intake_engine.emails_to(SUBJECT) == []  # no code: the workflow acts at once and confirms afterwards
    (execution,) = intake_engine.executions()
    assert execution["name"] == body["request_id"]


def test_other_requests_still_wait_for_a_code_and_record_no_signal_without_one(intake_engine):
    status, body, _ = call("POST", "/requests", {"type": "erasure", "email": SUBJECT})
    assert status == 202 and body["status"] == "pending_verification"
    item = intake_engine.item(body["request_id"])
    assert "verification_waived" not in item and "gpc" not in item
    assert set(_events(intake_engine, body["request_id"])) == {"received"}
    assert "gpc" not in _events(intake_engine, body["request_id"])["received"]


def test_the_form_reported_gpc_signal_counts_like_the_header(intake_engine):
    status, body, _ = call("POST", "/requests", {"type": "opt_out", "email": SUBJECT, "gpc": True})
    assert status == 202
    assert _events(intake_engine, body["request_id"])["received"]["gpc"] is True


def test_a_topic_opt_out_keeps_the_topics_with_the_request_and_names_them_in_evidence(intake_engine):
    status, body, _ = call("POST", "/requests", {"type": "opt_out", "email": SUBJECT, "topics": ["newsletter"]})
    assert status == 202
    assert intake_engine.item(body["request_id"])["details"]["topics"] == ["newsletter"]
    assert _events(intake_engine, body["request_id"])["received"]["topics"] == ["newsletter"]


def test_an_unknown_topic_is_a_400_naming_it_and_nothing_is_filed(intake_engine):
    status, body, _ = call(
        "POST", "/requests", {"type": "opt_out", "email": SUBJECT, "topics": ["newsletter", "horoscopes"]}
    )
    assert status == 400 and body["error"] == "unknown_topic"
    assert "horoscopes" in body["message"] and body["problems"] == [
        {"field": "body.topics", "problem": "unknown topic horoscopes"}
    ]
    assert SUBJECT.lower() not in json.dumps(body).lower()
    assert intake_engine.executions() == []
    assert intake_engine.table.scan()["Items"] == []
    with pytest.raises(UnknownTopic):
        intake.file_request(
            Submission(type="opt_out", email=SUBJECT, topics=["sports"]), intake_engine.settings, intake_engine.clients
        )


def test_topics_are_for_opt_outs_only(intake_engine):
    status, body, _ = call("POST", "/requests", {"type": "erasure", "email": SUBJECT, "topics": ["newsletter"]})
    assert status == 422 and body["error"] == "invalid_request"


def test_an_agents_filing_sends_the_code_to_the_consumer_and_only_a_status_mail_to_the_agent(intake_engine):
    status, body, _ = call("POST", "/requests", {"type": "access", "email": SUBJECT, "agent": AGENT})
    assert status == 202 and body["status"] == "pending_verification"
    request_id = body["request_id"]

    engine = intake_engine
    codes.send_code(request_id, "task-token-1", "2099-01-01T00:00:00Z", 3600, engine.settings, engine.clients)

    (to_consumer,) = intake_engine.emails_to(SUBJECT)
    assert intake_support.CODE_IN_EMAIL.search(to_consumer.body)
    (to_agent,) = intake_engine.emails_to(AGENT["email"])
    assert request_id in to_agent.body and "received" in to_agent.body
    assert not SIX_DIGITS.search(to_agent.body.replace(request_id, ""))  # no code, in any form
    assert "Verification code" not in to_agent.body and "http" not in to_agent.body.replace("<!doctype html>", "")
    received = _events(intake_engine, request_id)["received"]
    kms, key = intake_engine.clients.client("kms"), intake_engine.settings.HMAC_KEY_ID
    assert received["agent"] == subject_hmac(kms, key, "agent_email", AGENT["email"].lower())
    assert received["agent"] != received["subject"]
    evidence_text = json.dumps(received).lower()
    assert "agency" not in evidence_text and "rights agency" not in evidence_text
    assert intake_engine.item(request_id)["agent_hmac"] == received["agent"]


def test_an_agent_needs_a_name_and_a_valid_address(intake_engine):
    for agent in ({"email": "desk@agency.example"}, {"name": "A", "email": "nope"}, {"name": "", "email": "a@b.co"}):
        status, body, _ = call("POST", "/requests", {"type": "erasure", "email": SUBJECT, "agent": agent})
        assert status == 422 and body["problems"][0]["field"].startswith("body.agent"), agent


def test_the_new_received_fields_validate_against_the_evidence_schema(intake_engine):
    import jsonschema

    from infra.config import ROOT

    filed = [
        call("POST", "/requests", {"type": "opt_out", "email": SUBJECT, "topics": ["newsletter"], "gpc": True})[1],
        call("POST", "/requests", {"type": "erasure", "email": SUBJECT, "agent": AGENT})[1],
    ]
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "evidence.schema.json").read_text()))
    records = [r for f in filed for r in _events(intake_engine, f["request_id"]).values()]
    assert {"gpc", "topics", "agent"} <= {k for r in records for k in r}
    for record in records:
        assert not [e.message for e in validator.iter_errors(record)], record["event"]
    bad = {**records[0], "agent": "Desk@Agency.example"}  # an address where an HMAC belongs is refused
    assert list(validator.iter_errors(bad))


def test_opt_outs_past_the_addresss_mail_allowance_are_honoured_but_record_that_no_confirmation_goes_out(
    intake_engine,
):
    # The address already had one code today: two opt-out confirmations are left in its allowance of three.
    settings, clients = intake_engine.settings, intake_engine.clients
    erasure = intake.file_request(Submission.model_validate({"type": "erasure", "email": SUBJECT}), settings, clients)
    codes.send_code(erasure.request_id, "task-token", datetime.now(UTC).isoformat(), 3600, settings, clients)
    filed = [
        call("POST", "/requests", {"type": "opt_out", "email": spelling})[1]
        for spelling in (SUBJECT, SUBJECT.upper(), SUBJECT.lower())
    ]

    assert [body["status"] for body in filed] == ["verified"] * 3  # no friction: each is filed and acted on
    items = [intake_engine.item(body["request_id"]) for body in filed]
    assert ["confirmation_suppressed" in item for item in items] == [False, False, True]
    assert items[2]["confirmation_suppressed"] is True
    received = [_events(intake_engine, body["request_id"])["received"] for body in filed]
    assert [r.get("confirmation_suppressed") for r in received] == [None, None, True]
    counter = intake_engine.table.get_item(
        Key={"request_id": f"address#{items[0]['subject_hmac']}", "record": "codes"}
    )["Item"]
    assert len(counter["used_at_epoch"]) == 3  # one code, two confirmations
    assert len(intake_engine.executions()) == 4  # every opt-out still runs


def test_the_topics_route_lists_the_contact_lists_topics_for_anyone_and_may_be_cached(intake_engine):
    status, body, headers = call("GET", "/topics", headers={"Origin": "https://privacy.example.com"})

    expected = sorted(t for s in intake_engine.settings.datamap().stores.values() for t in s.topics)
    assert status == 200 and body == {"topics": expected} and expected == ["newsletter", "product-updates"]
    assert headers["Cache-Control"] == "public, max-age=300"
