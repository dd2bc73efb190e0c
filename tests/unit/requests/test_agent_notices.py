"""What an agent's status mail and an opt-out's confirmation say, and what they never carry."""

from __future__ import annotations

import pytest

from functions.privacy.datamap.model import load_datamap
from functions.privacy.request_workflow.confirmation import confirmation_email
from functions.privacy.requests.agent_notices import agent_address, agent_email, resubscribe_note
from infra.config import ROOT

REQUEST = "req-00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("stage", ["received", "completed", "partially_completed"])
def test_the_agents_mail_names_the_request_and_stage_but_no_code_link_or_consumer(stage):
    subject, text, body = agent_email(REQUEST, "access", stage, "Rights <Agency>")
    assert REQUEST in subject and REQUEST in text
    assert "code:" not in text.lower() and "http" not in text and "href" not in body
    assert "&lt;Agency&gt;" in body  # the agent's name is escaped in HTML


def test_an_agent_is_read_from_the_requests_details_only():
    assert agent_address({"details": {"agent": {"name": "A", "email": "a@agency.example"}}}) == "a@agency.example"
    assert agent_address({"details": {"note": "hi"}}) is None and agent_address({}) is None


def test_only_an_opt_outs_confirmation_says_how_to_subscribe_again():
    datamap = load_datamap(ROOT / "datamap.yaml")
    outcome = {"store": "newsletter", "operation": "opt_out", "status": "succeeded", "found": 1, "changed": 1}
    _, text, body = confirmation_email(REQUEST, "opt_out", "completed", datamap, [outcome])
    assert "subscribe again" in text and "subscribe again" in body
    restricted = {**outcome, "operation": "restrict"}
    _, text, _ = confirmation_email(REQUEST, "restriction", "completed", datamap, [restricted])
    assert "subscribe again" not in text
    assert resubscribe_note("erasure") == ("", "")
