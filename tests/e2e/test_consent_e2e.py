"""Withdrawing consent and authorised agents through HTTP on the local cloud: the contact's topic preferences,
the suppression list, the confirmation and the agent's mail, and what the evidence records."""

from __future__ import annotations

import email
import json
import re
import time
from email import policy

import pytest

from functions.privacy.core.keys import subject_hmac
from tests.e2e import intake_support as support
from tests.e2e.intake_support import CODE_LINE, ApiClient, email_text, read_code

pytestmark = pytest.mark.e2e

AGENT = {"name": "Rights Agency", "email": "desk@agency.example"}


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


@pytest.fixture(scope="module")
def api(intake) -> ApiClient:
    return ApiClient(intake.url)


def _mail_to(outbox, address: str, request_id: str, count: int = 1, timeout: float = 60.0) -> list[str]:
    """Texts of the outbox messages to ``address`` that mention the request, once ``count`` have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        texts = []
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if address.lower() in str(message["To"]).lower() and request_id in (text := email_text(path)):
                texts.append(text)
        if len(texts) >= count or time.monotonic() > deadline:
            return texts
        time.sleep(0.3)


def _evidence(local_cloud, request_id: str) -> dict[str, dict]:
    s3, bucket = local_cloud.clients.client("s3"), local_cloud.outputs["AuditBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"requests/{request_id}/chain/")["Contents"]]
    records = [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    return {r["event"]: r for r in records}


def _contact(local_cloud, address: str) -> tuple[dict[str, str], bool]:
    store = local_cloud.datamap.stores["newsletter"]
    contact = local_cloud.clients.client("sesv2").get_contact(ContactListName=store.resource, EmailAddress=address)
    return {p["TopicName"]: p["SubscriptionStatus"] for p in contact["TopicPreferences"]}, contact["UnsubscribeAll"]


def _suppressed(local_cloud, address: str) -> bool:
    sesv2 = local_cloud.clients.client("sesv2")
    try:
        sesv2.get_suppressed_destination(EmailAddress=address)
    except sesv2.exceptions.NotFoundException:
        return False
    return True


def test_a_topic_opt_out_with_gpc_needs_no_code_and_withdraws_that_topic_only(api, intake, local_cloud, fresh_subject):
    subject, bystander = fresh_subject("topic"), fresh_subject("bystander")

    answer = api.file({"type": "opt_out", "email": subject["email"], "topics": ["newsletter"]}, **{"Sec-GPC": "1"})

    assert answer.status_code == 202 and answer.json()["status"] == "verified", answer.text
    filed = answer.json()
    final = api.wait_for(filed["request_id"], filed["status_token"])
    assert final["status"] == "completed", final
    assert _contact(local_cloud, subject["email"]) == ({"newsletter": "OPT_OUT", "product-updates": "OPT_IN"}, False)
    assert not _suppressed(local_cloud, subject["email"])  # in part: the address still gets what it wants
    assert _contact(local_cloud, bystander["email"]) == ({"newsletter": "OPT_IN", "product-updates": "OPT_IN"}, False)
    (confirmation,) = _mail_to(intake.outbox, subject["email"], filed["request_id"])
    assert "subscribe again" in confirmation and not CODE_LINE.search(confirmation)
    events = _evidence(local_cloud, filed["request_id"])
    assert events["received"]["gpc"] is True and events["received"]["topics"] == ["newsletter"]
    assert events["verified"]["method"] == "not_required" and "completed" in events


def test_a_full_opt_out_needs_no_code_suppresses_the_address_and_confirms_it(api, intake, local_cloud, fresh_subject):
    subject = fresh_subject("fullout")

    answer = api.file({"type": "opt_out", "email": subject["email"], "jurisdiction": "CCPA"})

    filed = answer.json()
    assert filed["status"] == "verified"
    assert api.wait_for(filed["request_id"], filed["status_token"])["status"] == "completed"
    assert _contact(local_cloud, subject["email"]) == ({"newsletter": "OPT_OUT", "product-updates": "OPT_OUT"}, True)
    assert _suppressed(local_cloud, subject["email"])
    (confirmation,) = _mail_to(intake.outbox, subject["email"], filed["request_id"])
    assert "unsubscribed" in confirmation and "subscribe again" in confirmation
    assert "gpc" not in _evidence(local_cloud, filed["request_id"])["received"]


def test_an_unknown_topic_is_refused_by_name_and_nothing_changes(api, local_cloud, fresh_subject):
    subject = fresh_subject("badtopic")
    answer = api.file({"type": "opt_out", "email": subject["email"], "topics": ["horoscopes"]})
    assert answer.status_code == 400 and answer.json()["error"] == "unknown_topic"
    assert "horoscopes" in answer.json()["message"]
    assert _contact(local_cloud, subject["email"]) == ({"newsletter": "OPT_IN", "product-updates": "OPT_IN"}, False)


def test_an_agent_files_an_access_request_the_consumer_verifies_and_the_agent_never_sees_code_or_link(
    api, intake, local_cloud, fresh_subject
):
    subject = fresh_subject("consumer")
    answer = api.file({"type": "access", "email": subject["email"], "jurisdiction": "CCPA", "agent": AGENT})
    assert answer.status_code == 202, answer.text
    filed = answer.json()
    request_id = filed["request_id"]

    code = read_code(intake.outbox, request_id)  # sent to the consumer's own address
    (to_consumer,) = _mail_to(intake.outbox, subject["email"], request_id)
    assert CODE_LINE.search(to_consumer).group(1) == code
    assert api.verify(request_id, code).status_code == 200
    assert api.wait_for(request_id, filed["status_token"])["status"] == "completed"

    consumer_mail = _mail_to(intake.outbox, subject["email"], request_id, count=2)
    assert any("Download link:" in text for text in consumer_mail)  # the archive goes to the consumer
    agent_mail = _mail_to(intake.outbox, AGENT["email"], request_id, count=2)
    assert len(agent_mail) == 2
    assert "was received" in agent_mail[0] and "is complete" in agent_mail[1]
    for text in agent_mail:
        assert code not in text and not CODE_LINE.search(text)
        assert "Download link" not in text and not re.search(r"https?://", text)
        assert subject["email"] not in text
    received = _evidence(local_cloud, request_id)["received"]
    kms, key = local_cloud.clients.client("kms"), local_cloud.outputs["HmacKeyArn"]
    assert received["agent"] == subject_hmac(kms, key, "agent_email", AGENT["email"])
    text = json.dumps(_evidence(local_cloud, request_id)).lower()
    assert "agency" not in text and AGENT["email"] not in text


def test_opt_outs_past_the_mail_allowance_are_honoured_without_another_confirmation(
    api, intake, local_cloud, fresh_subject
):
    subject = fresh_subject("repeat")
    filed = [api.file({"type": "opt_out", "email": subject["email"]}).json() for _ in range(4)]

    finals = [api.wait_for(f["request_id"], f["status_token"])["status"] for f in filed]
    assert finals == ["completed"] * 4  # each one honoured, none asked for anything
    assert _contact(local_cloud, subject["email"]) == ({"newsletter": "OPT_OUT", "product-updates": "OPT_OUT"}, True)
    confirmed = [len(_mail_to(intake.outbox, subject["email"], f["request_id"], timeout=5)) for f in filed[:3]]
    assert confirmed == [1, 1, 1]  # three a day, as for codes; a confirmation arrives although suppressed
    assert _mail_to(intake.outbox, subject["email"], filed[3]["request_id"], timeout=5) == []
    events = _evidence(local_cloud, filed[3]["request_id"])
    assert events["received"]["confirmation_suppressed"] is True and "completed" in events
    assert "confirmation_suppressed" not in _evidence(local_cloud, filed[0]["request_id"])["received"]
