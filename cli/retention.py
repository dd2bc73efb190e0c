"""`dsr retention`: run the retention workflow by hand and see recent runs."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from functions.privacy.core import timestamps
from functions.privacy.operations import retention_runs
from functions.privacy.requests.executions import EXECUTION_ENDED
from functions.privacy.retention.runs import AsOfInFuture

from .context import CliError, console, engine, guarded
from .fitted import print_fitted
from .requests import parse_moment

app = typer.Typer(help="Retention runs: expire records older than their category's period.", no_args_is_help=True)


@app.command("run")
@guarded
def run(
    ctx: typer.Context,
    as_of: str | None = typer.Option(None, "--as-of", help="Expire as if it were this time (ISO 8601; default now)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would expire; delete nothing."),
    timeout: float = typer.Option(3600, "--timeout", help="Seconds to wait for the run before giving up watching."),
    allow_future: bool = typer.Option(
        False, "--allow-future", help="Let a run that deletes use an --as-of later than now (test environments)."
    ),
) -> None:
    """Start a retention run and follow it with a progress bar; prints each store's result."""
    eng = engine(ctx)
    machine = eng.output("RetentionStateMachineArn")
    sfn = eng.clients.client("stepfunctions")
    moment = parse_moment(as_of, "--as-of") if as_of else timestamps.now()
    try:
        arn = retention_runs.start_run(sfn, machine, as_of=moment, dry_run=dry_run, allow_future=allow_future)
    except AsOfInFuture as exc:
        raise CliError(str(exc)) from None
    progress_of = retention_runs.progress_function()
    deadline = time.monotonic() + timeout
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"retention run {arn.rsplit(':', 1)[-1]}", total=None)
        while True:
            status = sfn.describe_execution(executionArn=arn)["status"]
            if progress_of is not None:
                done, total = progress_of(arn, sfn)
                progress.update(task, completed=done, total=total or None)
            if status in EXECUTION_ENDED:
                finished = progress.tasks[task].total or 1
                progress.update(task, completed=finished, total=finished)
                break
            if time.monotonic() > deadline:
                raise CliError(f"run {arn} still {status} after {timeout:g}s; see `dsr retention status`")
            time.sleep(0.5)
    summary = retention_runs.run_summary(sfn, {"executionArn": arn})
    _print_run(summary)
    if summary["execution_status"] != "SUCCEEDED" or summary["status"] not in {None, "completed", "succeeded"}:
        raise typer.Exit(1)


def _print_run(summary: dict) -> None:
    mode = "dry run" if summary["dry_run"] else "run"
    console.print(
        f"Retention {mode} {summary['name']} as of {summary['as_of']}: execution {summary['execution_status']}, "
        f"status {summary['status'] or '-'}"
    )
    if summary["stores"]:
        table = Table()
        for column in ("Store", "Status", "Scanned", "Expired", "Held", "Retained", "Unreadable", "Failed", "Error"):
            table.add_column(column)
        counted = ("scanned", "expired", "skipped_held", "skipped_retained", "skipped_unreadable", "failed")
        for store in summary["stores"]:
            table.add_row(
                str(store.get("store", "")),
                str(store.get("status", "")),
                *(str(store.get(k, 0)) for k in counted),
                str(store.get("error") or ""),
            )
        console.print(table)


@app.command("status")
@guarded
def status(
    ctx: typer.Context, limit: int = typer.Option(10, "--limit", min=1, max=100, help="How many recent runs.")
) -> None:
    """Show the latest retention runs (scheduled and manual), newest first, with per-store totals."""
    eng = engine(ctx)
    sfn = eng.clients.client("stepfunctions")
    runs = retention_runs.recent_runs(sfn, eng.output("RetentionStateMachineArn"), limit)
    columns = (
        "Execution",
        "Started",
        "As of",
        "Dry run",
        "Execution status",
        "Status",
        "Expired",
        "Unreadable",
        "Failed",
    )
    rows = [
        (
            summary["name"],
            str(summary["started"]),
            str(summary["as_of"]),
            "yes" if summary["dry_run"] else "no",
            summary["execution_status"],
            str(summary["status"] or "-"),
            str(sum(int(s.get("expired", 0) or 0) for s in summary["stores"])),
            # Kept because their timestamp could not be read: a data problem for the store's owner to fix.
            str(sum(int(s.get("skipped_unreadable", 0) or 0) for s in summary["stores"])),
            str(sum(int(s.get("failed", 0) or 0) for s in summary["stores"])),
        )
        for summary in runs
    ]
    print_fitted(
        console, f"{len(runs)} retention run(s)", columns, rows, keep=("Execution", "Execution status", "Status")
    )
