"""`dsr datasets`: the data-lake stores (s3_dataset) as a find will see them."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from functions.privacy.core import timestamps
from functions.privacy.operations import dataset_jobs
from functions.privacy.requests.executions import EXECUTION_ENDED

from .context import CliError, console, engine, guarded

app = typer.Typer(help="Data-lake stores (s3_dataset): their files and how a find searches them.", no_args_is_help=True)


@app.command("check")
@guarded
def check(ctx: typer.Context) -> None:
    """Per dataset store: current files and bytes, older versions, and whether Parquet files carry bloom filters on
    every identifier column (without them a find falls back to statistics and reading the identifier column)."""
    # Imported here: pyarrow is only needed by this command, not by the rest of the CLI.
    from functions.privacy.datamap.model import StoreKind
    from functions.privacy.datasets.survey import survey_store

    eng = engine(ctx)
    datamap = eng.datamap()
    stores = datamap.stores_of_kind(StoreKind.S3_DATASET)
    if not stores:
        console.print("The data map has no s3_dataset stores.")
        return
    table = Table(title="Dataset stores")
    for column in ("store", "format", "files", "MB", "older versions", "bloom filters", "codecs"):
        table.add_column(column, overflow="fold")
    notes = []
    s3 = eng.clients.client("s3")
    for name, store in stores.items():
        survey = survey_store(s3, name, store)
        parquet = survey.format == "parquet"
        blooms = f"{survey.with_bloom_filters}/{survey.objects}" if parquet else "-"
        codecs = ", ".join(sorted(survey.codecs)) if parquet else "gzip kept if present"
        table.add_row(
            name, survey.format, str(survey.objects), f"{survey.bytes / 1e6:.1f}", str(survey.noncurrent_versions),
            blooms, codecs,
        )  # fmt: skip
        if survey.without_bloom_filters:
            notes.append(
                f"{name}: {survey.without_bloom_filters} Parquet file(s) have no bloom filter on every identifier "
                "column: a find still works, by row-group statistics and then the identifier column (more bytes read)"
            )
        if survey.missing_columns:
            notes.append(
                f"{name}: {survey.missing_columns} Parquet file(s) lack an identifier column: a find fails them"
            )
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, markup=False)


@app.command("run")
@guarded
def run(
    ctx: typer.Context,
    timeout: float = typer.Option(1800, "--timeout", help="Seconds to wait for the job before giving up watching."),
) -> None:
    """Start the dataset job now (it also runs on its schedule): every queued lake erasure and access at once."""
    eng = engine(ctx)
    sfn = eng.clients.client("stepfunctions")
    arn = dataset_jobs.start_job(sfn, eng.output("DatasetJobStateMachineArn"), timestamps.now())
    deadline = time.monotonic() + timeout
    with console.status(f"dataset job {arn.rsplit(':', 1)[-1]}"):
        while (execution := sfn.describe_execution(executionArn=arn))["status"] not in EXECUTION_ENDED:
            if time.monotonic() > deadline:
                raise CliError(f"job {arn} still running after {timeout:g}s")
            time.sleep(0.5)
    summary = dataset_jobs.job_summary(execution)
    console.print(
        f"Dataset job {arn.rsplit(':', 1)[-1]}: execution {summary['execution_status']}, {summary['entries']} queued "
        f"task(s): {summary['succeeded']} done, {summary['retried']} queued again (an object changed or was not "
        f"reached), {summary['failed']} failed, {summary['gone']} no longer waiting"
    )
    if summary["execution_status"] != "SUCCEEDED" or summary["failed"]:
        raise typer.Exit(1)


@app.command("queue")
@guarded
def queue(ctx: typer.Context) -> None:
    """The lake erasures and accesses waiting for the next dataset job (oldest first)."""
    eng = engine(ctx)
    rows = dataset_jobs.queued(eng.clients.resource_table(eng.output("DatasetQueueTableName")))
    if not rows:
        console.print("Nothing is queued for the dataset job.")
        return
    table = Table(title=f"{len(rows)} queued task(s)")
    for column in ("queued at", "store", "operation", "request", "claimed by job"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["queued_at"], row["store"], row["operation"], row["request_id"], row["job_id"] or "-")
    console.print(table)
