"""The compliance report's figures against requests with known timings."""

from datetime import UTC, datetime, timedelta

from functions.privacy.core.timestamps import format_utc
from functions.privacy.datamap.model import load_datamap
from functions.privacy.operations.report import build_report, median, percentile, render_html, text_lines
from functions.privacy.requests.record import RequestRecord
from infra.config import ROOT

SINCE = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 10, tzinfo=UTC)


def completed(n: int, days: float, request_type="erasure", jurisdiction="GDPR"):
    received = SINCE + timedelta(days=n % 20)
    return RequestRecord(
        request_id=f"req-done-{n}",
        type=request_type,
        jurisdiction=jurisdiction,
        status="completed",
        received_at=format_utc(received),
        due_at=format_utc(received + timedelta(days=30)),
        completed_at=format_utc(received + timedelta(days=days)),
    )


def open_request(request_id, status, due, received=SINCE + timedelta(days=25), request_type="access"):
    return RequestRecord(
        request_id=request_id,
        type=request_type,
        jurisdiction="CCPA",
        status=status,
        received_at=format_utc(received),
        due_at=format_utc(due),
    )


def test_percentiles_use_the_nearest_rank():
    assert percentile([], 0.95) is None
    assert percentile(list(range(1, 21)), 0.95) == 19
    assert percentile([4.0], 0.95) == 4.0
    assert median([1, 3, 2]) == 2 and median([1, 2, 3, 10]) == 2.5


def test_report_figures_for_a_seeded_period():
    # 20 completed requests taking 1..20 days; 95th percentile (nearest rank 19) = 19 days, median 10.5.
    records = [
        completed(n, float(n), "erasure" if n % 2 else "access", "GDPR" if n <= 15 else "CCPA") for n in range(1, 21)
    ]
    records += [
        open_request("req-overdue", "in_progress", NOW - timedelta(days=1)),
        open_request("req-at-risk", "partially_completed", NOW + timedelta(days=3)),
        open_request("req-on-track", "verified", NOW + timedelta(days=30)),
        open_request("req-unverified", "pending_verification", NOW - timedelta(days=2)),
        # Outside the period: not counted at all.
        open_request("req-before", "in_progress", NOW - timedelta(days=5), received=SINCE - timedelta(days=1)),
    ]
    retention = [
        {"kind": "retention_run", "run_id": "r1", "store": "customers", "as_of": "2026-10-05T00:00:00Z",
         "dry_run": False, "categories": ["contact", "account", "location"],
         "counts": {"scanned": 100, "expired": 7, "skipped_held": 1, "skipped_retained": 0, "failed": 0}},
        {"run_id": "r1", "store": "orders", "as_of": "2026-10-05T00:00:00Z", "scanned": 50, "expired": 2,
         "skipped_held": 0, "skipped_retained": 3, "failed": 1, "category": "orders"},
        {"run_id": "r2", "store": "orders", "as_of": "2026-10-12T00:00:00Z", "scanned": 40, "expired": 3,
         "category": "orders"},
        {"run_id": "dry", "store": "orders", "as_of": "2026-10-12T00:00:00Z", "expired": 99, "dry_run": True},
        {"run_id": "late", "store": "orders", "as_of": "2026-11-02T00:00:00Z", "expired": 99},
    ]  # fmt: skip
    datamap = load_datamap(ROOT / "datamap.yaml")
    report = build_report(records, since=SINCE, until=UNTIL, now=NOW, retention_records=retention, datamap=datamap)

    assert report.total == 24
    assert report.by_type == {"erasure": 10, "access": 14}
    assert report.by_type_and_jurisdiction == {"erasure": {"GDPR": 8, "CCPA": 2}, "access": {"GDPR": 7, "CCPA": 7}}
    assert report.by_jurisdiction == {"GDPR": 15, "CCPA": 9}
    assert report.completed == 20
    assert report.median_days_to_complete == 10.5
    assert report.p95_days_to_complete == 19
    assert [r.request_id for r in report.overdue] == ["req-overdue"]
    assert [r.request_id for r in report.at_risk] == ["req-at-risk"]
    assert [r.request_id for r in report.unverified] == ["req-unverified"]  # listed, not overdue
    assert report.retention_runs == 2
    customers = ", ".join(datamap.stores["customers"].categories)
    assert report.retention_by_category[customers]["expired"] == 7
    assert report.retention_by_category["orders"] == {
        "scanned": 90, "expired": 5, "skipped_held": 0, "skipped_retained": 3, "failed": 1
    }  # fmt: skip

    text = "\n".join(text_lines(report))
    assert "median 10.5 days, 95th percentile 19 days" in text
    assert "Overdue: 1; at risk (due within 7 days): 1" in text
    page = render_html(report)
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained: no CDN
    assert "<script" not in page and "req-unverified" in page
