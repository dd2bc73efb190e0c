"""The 1798.83 notice: the year before receipt, exactly the categories flagged recipients get, or an explicit none."""

from __future__ import annotations

import pytest

from functions.privacy.datamap.model import parse_datamap
from functions.privacy.intake.filing import Submission, jurisdiction_problem
from functions.privacy.request_workflow.disclosure import disclosure_email, disclosure_facts, notice_year


def test_the_notice_covers_the_calendar_year_before_receipt():
    assert notice_year("2026-01-01T00:00:00Z") == 2025
    assert notice_year("2026-12-31T23:59:59Z") == 2025


def test_the_notice_lists_exactly_the_categories_flagged_recipients_receive(sample_raw):
    sample_raw["recipients"]["payment_processor"]["direct_marketing"] = True
    datamap = parse_datamap(sample_raw)

    facts = disclosure_facts(datamap, "2026-05-01T10:00:00Z")
    subject, text, body = disclosure_email("req-1", datamap, facts)

    assert facts == {"year": 2025, "categories": ["contact", "orders", "payment"],
                     "recipients": ["affiliates", "payment_processor"]}  # fmt: skip
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line[2:].split(":", 1)[0] for line in listed] == ["contact", "orders", "payment"]
    assert "Corporate affiliates and subsidiaries" in listed[0] and "Card payment processor" in listed[2]
    assert "2025" in subject and "req-1" in subject and "1798.83" in text
    assert text.startswith("Your privacy request req-1: ")  # quoted when the requester replies
    assert body.count("<li>") == 3


def test_none_flagged_says_so_explicitly(sample_raw):
    sample_raw["recipients"]["affiliates"].pop("direct_marketing")
    datamap = parse_datamap(sample_raw)

    facts = disclosure_facts(datamap, "2026-05-01T10:00:00Z")
    _, text, body = disclosure_email("req-2", datamap, facts)

    assert facts["categories"] == [] and facts["recipients"] == []
    assert "In 2025 we did not share any category of personal information with third parties" in text
    assert not [line for line in text.splitlines() if line.startswith("- ")] and "<li>" not in body


def test_the_notice_escapes_data_map_text_in_html(sample_raw):
    sample_raw["categories"]["contact"]["description"] = "Name <script>x</script>"
    datamap = parse_datamap(sample_raw)
    _, _, body = disclosure_email("req-3", datamap, disclosure_facts(datamap, "2026-05-01T10:00:00Z"))
    assert "<script>" not in body and "&lt;script&gt;" in body


@pytest.mark.parametrize(("jurisdiction", "refused"), [("CCPA", False), ("GDPR", True)])
def test_disclosure_notice_is_a_california_right(jurisdiction, refused):
    submission = Submission(type="disclosure_notice", email="a@example.com", jurisdiction=jurisdiction)
    problem = jurisdiction_problem(submission)
    assert (problem is not None) is refused
    if refused:
        assert "CCPA" in problem and "disclosure_notice" in problem
    assert jurisdiction_problem(Submission(type="access", email="a@example.com", jurisdiction="GDPR")) is None
