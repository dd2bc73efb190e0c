"""`dsr report`: the compliance report for a period."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc
from functions.privacy.operations import report as compliance_report
from functions.privacy.requests.record import scan_requests

from .context import CliError, console, engine, guarded
from .requests import parse_moment


@guarded
def report(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Start of the period (ISO 8601; default 30 days ago)."),
    until: str | None = typer.Option(None, "--until", help="End of the period, exclusive (default now)."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML page with charts here."),
) -> None:
    """Compliance report: requests by type and jurisdiction, median and 95th-percentile time to complete,
    overdue and at-risk requests (unverified ones listed, not counted), retention totals per category.
    """
    eng = engine(ctx)
    now = timestamps.now()
    end = parse_moment(until, "--until") if until else now
    start = parse_moment(since, "--since") if since else end - timedelta(days=30)
    if start >= end:
        raise CliError(f"--since {format_utc(start)} is not before --until {format_utc(end)}")
    records = scan_requests(eng.clients.resource_table(eng.output("RequestsTableName")))
    retention = compliance_report.retention_evidence(eng.clients.client("s3"), eng.output("AuditBucketName"))
    result = compliance_report.build_report(
        records, since=start, until=end, now=now, retention_records=retention, datamap=eng.datamap()
    )
    for line in compliance_report.text_lines(result):
        console.print(line, highlight=False, markup=False)
    if html is not None:
        try:
            html.write_text(compliance_report.render_html(result), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {html}: {exc}") from None
        console.print(f"HTML report written to {html}", highlight=False)
