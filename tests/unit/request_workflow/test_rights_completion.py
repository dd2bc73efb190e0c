"""How a request's status and its confirmation read, from the store outcomes alone."""

from __future__ import annotations

import pytest

from functions.privacy.datamap.model import load_datamap
from functions.privacy.request_workflow.completion import request_status
from functions.privacy.request_workflow.confirmation import confirmation_email, store_sentence
from infra.config import ROOT

OK = {"store": "customers", "operation": "erase", "status": "succeeded", "deleted": 1}
HELD = {"store": "uploads", "operation": "erase", "status": "held", "exceptions": ["legal hold: L-1"]}
FAILED = {"store": "newsletter", "operation": "erase", "status": "failed", "error": "StoreUnavailable"}


@pytest.mark.parametrize(
    ("outcomes", "rechecks", "status"),
    [
        ([OK], [], "completed"),
        ([OK, HELD], [], "partially_completed"),  # the hold is temporary: the request stays open for a re-run
        ([HELD], [], "partially_completed"),
        ([OK, FAILED], [], "partially_completed"),
        ([FAILED], [], "failed"),
        ([OK], [{"store": "customers", "residual": 1}], "partially_completed"),
        ([], [], "completed"),  # e.g. a rectification with nothing to change
    ],
)
def test_status_follows_the_store_outcomes(outcomes, rechecks, status):
    assert request_status(outcomes, rechecks) == status


def test_each_store_line_says_what_was_done_or_kept_and_why():
    assert store_sentence(OK) == "deleted 1 record"
    assert store_sentence(HELD) == "kept: legal hold: L-1"
    assert store_sentence(FAILED).startswith("not done yet")
    anonymised = {"operation": "erase", "status": "succeeded", "anonymised": 3, "kept": 3, "exceptions": ["tax"]}
    assert store_sentence(anonymised) == "removed your details from 3 records we must keep (kept because: tax)"
    rectified = {"operation": "rectify", "status": "succeeded", "found": 1, "changed": 1, "attributes": ["name"]}
    assert store_sentence(rectified) == "corrected 1 record (name)"
    restricted = {"operation": "restrict", "status": "succeeded", "found": 2, "changed": 1, "unchanged": 1}
    assert store_sentence(restricted) == "marked as restricted 2 records"
    assert store_sentence({"operation": "opt_out", "status": "succeeded", "not_applicable": True}) == (
        "nothing to do here"
    )


def test_the_access_confirmation_carries_the_link_and_its_expiry():
    datamap = load_datamap(ROOT / "datamap.yaml")
    outcomes = [{"store": "orders", "operation": "export", "status": "succeeded", "records": 3, "objects": 0}]
    subject, text, html = confirmation_email(
        "req-1", "access", "completed", datamap, outcomes, "https://example/link", "2026-12-06 10:00"
    )
    assert "req-1" in subject and "Download link: https://example/link" in text
    assert "expires at 2026-12-06 10:00 (UTC)" in text and "orders (" in text and "3 records and 0 files" in text
    assert 'href="https://example/link"' in html
