"""`dsr executions`: act on a request's Step Functions executions."""

from __future__ import annotations

import time

import typer

from functions.privacy.operations import redrive as redrives
from functions.privacy.requests import record as requests

from .context import CliError, console, engine, guarded

app = typer.Typer(help="Step Functions executions of requests (named after request ids).", no_args_is_help=True)

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@app.command("redrive")
@guarded
def redrive(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (req-...)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the execution and exit 1 unless the request completes."),
    timeout: float = typer.Option(900, "--timeout", help="Seconds to wait with --wait."),
) -> None:
    """Re-run a failed or partially completed request once its cause is fixed.

    Uses Step Functions RedriveExecution on the latest execution where it can; otherwise starts
    `<request_id>--rerun-<n>` (every task is idempotent). Writes `redriven` operator evidence.
    """
    eng = engine(ctx)
    result = redrives.redrive(eng.tables(), eng.clients, request_id=request_id, operator=eng.operator)
    console.print(f"{result.method} of {request_id}: execution {result.execution_arn}; evidence {result.evidence_key}")
    if not wait:
        return
    sfn = eng.clients.client("stepfunctions")
    deadline = time.monotonic() + timeout
    with console.status(f"waiting for {result.execution_arn.rsplit(':', 1)[-1]}"):
        while (status := sfn.describe_execution(executionArn=result.execution_arn)["status"]) not in TERMINAL:
            if time.monotonic() > deadline:
                raise CliError(f"execution still {status} after {timeout:g}s; see `dsr requests show {request_id}`")
            time.sleep(0.5)
    record = requests.get_request(eng.clients.resource_table(eng.output("RequestsTableName")), request_id)
    console.print(f"Execution {status}; request {request_id} is {record.status}")
    if record.status != "completed":
        raise typer.Exit(1)
