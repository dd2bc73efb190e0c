"""`dsr executions`: act on a request's Step Functions executions."""

from __future__ import annotations

import typer

from functions.privacy import operator

from .context import console, engine, guarded

app = typer.Typer(help="Step Functions executions of requests (named after request ids).", no_args_is_help=True)


@app.command("redrive")
@guarded
def redrive(ctx: typer.Context, request_id: str = typer.Argument(..., help="The request id (req-...).")) -> None:
    """Re-run a failed or partially completed request once its cause is fixed.

    Uses Step Functions RedriveExecution on the latest execution where it can; otherwise starts
    `<request_id>--rerun-<n>` (every task is idempotent). Writes `redriven` operator evidence.
    """
    eng = engine(ctx)
    result = operator.redrive(eng.tables(), eng.clients, request_id=request_id, operator=eng.operator)
    console.print(f"{result.method} of {request_id}: execution {result.execution_arn}; evidence {result.evidence_key}")
