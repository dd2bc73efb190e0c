"""Deadline states and the legal limits of an extension (GDPR Art. 12(3), CCPA 1798.130)."""

from datetime import UTC, datetime

import pytest

from functions.privacy.requests.deadlines import DeadlineState, deadline_state, latest_extension, summarise
from functions.privacy.requests.record import Jurisdiction, RequestRecord

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def record(status: str = "in_progress", due_at: str = "2026-12-31T00:00:00Z", request_id: str = "req-1"):
    return RequestRecord(
        request_id=request_id,
        type="erasure",
        jurisdiction="GDPR",
        status=status,
        received_at="2026-11-01T00:00:00Z",
        due_at=due_at,
    )


@pytest.mark.parametrize(
    ("status", "due_at", "state"),
    [
        ("in_progress", "2026-12-31T00:00:00Z", DeadlineState.ON_TRACK),
        ("verified", "2026-12-06T12:00:00Z", DeadlineState.AT_RISK),  # exactly 7 days left
        ("in_progress", "2026-12-06T12:00:01Z", DeadlineState.ON_TRACK),
        ("partially_completed", "2026-11-30T00:00:00Z", DeadlineState.AT_RISK),  # not done: still owed
        ("failed", "2026-11-29T11:59:59Z", DeadlineState.OVERDUE),
        ("pending_verification", "2026-11-01T00:00:00Z", DeadlineState.NOT_COUNTED),
        ("completed", "2026-11-01T00:00:00Z", DeadlineState.CLOSED),
        ("rejected_unverified", "2026-11-01T00:00:00Z", DeadlineState.CLOSED),
    ],
)
def test_deadline_state_counts_only_verified_open_requests(status, due_at, state):
    assert deadline_state(record(status, due_at), NOW) is state


def test_gdpr_allows_two_further_months_clamped_to_the_month_end():
    due = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)
    assert latest_extension(Jurisdiction.GDPR, due) == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)


def test_ccpa_allows_45_further_days():
    due = datetime(2026, 12, 1, tzinfo=UTC)
    assert latest_extension(Jurisdiction.CCPA, due) == datetime(2027, 1, 15, tzinfo=UTC)


def test_summary_sets_unverified_requests_apart():
    summary = summarise(
        [
            record("in_progress", "2026-11-28T00:00:00Z", "req-late"),
            record("verified", "2026-12-01T00:00:00Z", "req-soon"),
            record("pending_verification", "2026-11-02T00:00:00Z", "req-unverified"),
            record("completed", "2026-11-02T00:00:00Z", "req-done"),
        ],
        NOW,
    )
    assert [r.request_id for r in summary.overdue] == ["req-late"]
    assert [r.request_id for r in summary.at_risk] == ["req-soon"]
    assert [r.request_id for r in summary.not_counted] == ["req-unverified"]


def test_text_typed_into_evidence_refuses_addresses_and_blanks():
    from functions.privacy.operations.actions import OperatorError, evidence_text

    assert evidence_text("  Litigation L-42 ", "the reason") == "Litigation L-42"
    with pytest.raises(OperatorError, match="must not contain an email address"):
        evidence_text("call from jane@example.com", "the reason")
    with pytest.raises(OperatorError, match="the operator name is required"):
        evidence_text(" ", "the operator name")
