"""`dsr evidence`: verify the audit bucket's evidence."""

from __future__ import annotations

import typer
from rich.table import Table

from functions.privacy.evidence.verify import verify_bucket

from .context import console, engine, guarded

app = typer.Typer(help="Tamper-evident evidence in the Object Lock audit bucket.", no_args_is_help=True)


@app.command("verify")
@guarded
def verify(
    ctx: typer.Context,
    request_id: str | None = typer.Option(None, "--request", help="Verify only this request's records."),
    bucket: str | None = typer.Option(
        None, "--bucket", help="Verify another bucket (e.g. a copy) instead of the stack's audit bucket."
    ),
) -> None:
    """Check every record's hash, chain link and digest signature, and that digests list every record.

    Names each problem (modified, removed, reordered, forged, undigested) and exits 1 if there is any.
    """
    eng = engine(ctx)
    target = bucket or eng.output("AuditBucketName")
    report = verify_bucket(eng.clients.client("s3"), eng.clients.client("kms"), target, request_id)
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
