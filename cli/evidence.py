"""`dsr evidence`: verify the audit bucket's evidence."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from functions.privacy.core.timestamps import parse_utc
from functions.privacy.evidence.digests import schedule_interval
from functions.privacy.evidence.verify import verify_bucket
from functions.privacy.requests.deadlines import scan_requests

from .context import CliError, console, engine, guarded

app = typer.Typer(help="Tamper-evident evidence in the Object Lock audit bucket.", no_args_is_help=True)

# What a stack deployed before the schedule became an output runs (DeployConfig's default).
DEFAULT_SCHEDULE = "rate(1 hour)"


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value, "--as-of")
    except ValueError as exc:
        raise CliError(str(exc)) from None


@app.command("verify")
@guarded
def verify(
    ctx: typer.Context,
    request_id: str | None = typer.Option(None, "--request", help="Verify only this request's records."),
    bucket: str | None = typer.Option(
        None, "--bucket", help="Verify another bucket (e.g. a copy) instead of the stack's audit bucket."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Judge the digests' freshness at this time (ISO 8601)."),
) -> None:
    """Check every record version's hash, chain link and digest signature, that digests list every record
    and follow on without a gap, that the newest digest is recent, and that closed requests' chains end.

    Names each problem (modified, overwritten, delete marker, removed, truncated, reordered, forged,
    gap, missing, stale, undigested) by key and exits 1 if there is any.
    """
    eng = engine(ctx)
    target = bucket or eng.output("AuditBucketName")
    schedule = str(eng.outputs.get("EvidenceDigestSchedule") or DEFAULT_SCHEDULE)
    closed = {
        r.request_id: r.status for r in scan_requests(eng.clients.resource_table(eng.output("RequestsTableName")))
    }
    report = verify_bucket(
        eng.clients.client("s3"),
        eng.clients.client("kms"),
        target,
        request_id,
        closed_requests=closed,
        max_digest_age=2 * schedule_interval(schedule),
        now=_as_of(as_of),
        closed_present_only=bucket is not None,
    )
    scope = f"request {request_id}" if request_id else f"bucket {target}"
    console.print(
        f"Verified {scope}: {report.records_checked} record(s), {report.digests_checked} digest(s), "
        f"{len(report.pending)} record(s) newer than the last digest"
    )
    if report.ok:
        console.print("[bold green]OK[/]: no problems found")
        return
    table = Table(title=f"{len(report.problems)} problem(s)")
    for column in ("Problem", "Record", "Detail"):
        table.add_column(column, overflow="fold")
    for problem in report.problems:
        table.add_row(problem.kind, problem.key, problem.detail)
    console.print(table)
    raise typer.Exit(1)
