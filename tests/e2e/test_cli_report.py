"""`dsr report` on the local cloud over a period holding only requests seeded here, with known timings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.privacy.core.timestamps import format_utc
from functions.privacy.requests.record import Jurisdiction, RequestType, create_request
from tests.e2e import cli_support

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture

START = datetime(2020, 3, 1, tzinfo=UTC)  # a period no other test files requests in


def test_report_counts_a_seeded_period_and_writes_html(local_cloud, dsr, tmp_path):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    seeded = [
        (RequestType.ERASURE, Jurisdiction.GDPR, 2), (RequestType.ERASURE, Jurisdiction.GDPR, 4),
        (RequestType.ACCESS, Jurisdiction.CCPA, 10), (RequestType.ACCESS, Jurisdiction.GDPR, None),
    ]  # fmt: skip
    for n, (request_type, jurisdiction, days) in enumerate(seeded):
        received = START + timedelta(days=n)
        record = create_request(
            table, request_type, {"email": f"r{n}@example.com"}, jurisdiction, received=received, status="verified"
        )
        if days is not None:
            table.update_item(
                Key={"request_id": record.request_id, "record": "request"},
                UpdateExpression="SET #s = :s, completed_at = :c REMOVE subject",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": "completed", ":c": format_utc(received + timedelta(days=days))},
            )
        else:
            late = record.request_id  # never completed: overdue by years

    page = tmp_path / "report.html"
    result = dsr("report", "--since", "2020-03-01", "--until", "2020-04-01", "--html", str(page))
    out = result.output
    assert "Requests received: 4" in out
    assert "erasure: 2 (GDPR 2)" in out and "access: 2 (CCPA 1, GDPR 1)" in out
    assert "Completed: 3" in out and "median 4 days, 95th percentile 10 days" in out
    assert "Overdue: 1; at risk (due within 7 days): 0" in out and late in out
    html = page.read_text()
    assert "<svg" in html and late in html and "@example.com" not in html
    assert "is not before" in dsr("report", "--since", "2020-04-01", "--until", "2020-03-01", expect=1).output
