"""Deadlines, request status and canonical evidence bytes."""

from datetime import UTC, datetime

from functions.privacy.evidence.records import canonical, sha256
from functions.privacy.request_workflow.completion import request_status
from functions.privacy.requests.record import Jurisdiction, add_months, due_at


def test_gdpr_deadline_is_one_calendar_month_clamped_to_month_end():
    assert due_at(datetime(2026, 1, 31, 9, tzinfo=UTC), Jurisdiction.GDPR) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert due_at(datetime(2026, 12, 15, tzinfo=UTC), Jurisdiction.GDPR) == datetime(2027, 1, 15, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1).day == 29  # leap year


def test_ccpa_deadline_is_45_days():
    assert due_at(datetime(2026, 11, 1, tzinfo=UTC), Jurisdiction.CCPA) == datetime(2026, 12, 16, tzinfo=UTC)


def test_status_is_completed_only_when_every_store_succeeded_and_nothing_is_left():
    ok = {"status": "succeeded"}
    failed = {"status": "failed", "error": "StoreThrottled"}
    assert request_status([ok, ok], [{"residual": 0}, {"residual": 0}]) == "completed"
    assert request_status([ok, failed], [{"residual": 0}, {"residual": 0}]) == "partially_completed"
    assert request_status([ok, ok], [{"residual": 2}, {"residual": 0}]) == "partially_completed"
    assert request_status([failed, failed], [{"residual": 0}]) == "failed"


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    assert sha256(canonical({"a": 1})) == sha256(b'{"a":1}')
