"""Start retention runs by hand and read recent ones, against the retention state machine's contract.

Input {"as_of": ISO, "dry_run": bool[, "allow_future": true]};
output {"run_id", "as_of", "dry_run", "status", "stores": [...]}.
The scheduled runs start the same state machine, so operators see both kinds here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc
from functions.privacy.retention.runs import refuse_future

ProgressFn = Callable[[str, Any], tuple[int, int]]


def progress_function() -> ProgressFn | None:
    """The retention workflow's progress reader, if this build includes it (it is optional for the CLI)."""
    try:
        from functions.privacy.retention.progress import retention_progress
    except ImportError:
        return None
    return retention_progress


def execution_name(as_of: datetime, dry_run: bool, now: datetime) -> str:
    """Readable and unique: manual-<as_of>-<now>[-dry-run] (names allow letters, digits, - and _)."""
    stamp = re.sub(r"[^0-9T]", "", format_utc(as_of))
    started = re.sub(r"[^0-9T]", "", format_utc(now))
    return f"manual-{stamp}-{started}{'-dry-run' if dry_run else ''}"


def start_run(
    sfn: Any,
    state_machine_arn: str,
    *,
    as_of: datetime,
    dry_run: bool,
    allow_future: bool = False,
    now: datetime | None = None,
) -> str:
    """Start a retention run; returns its execution ARN.

    Raises AsOfInFuture (before starting anything) for a run that deletes with an as_of later than now,
    unless ``allow_future``; the planner refuses the same, so a run started another way is held to it too.
    """
    now = now or timestamps.now()
    refuse_future(format_utc(as_of), dry_run=dry_run, allow_future=allow_future, now=now)
    run_input: dict[str, Any] = {"as_of": format_utc(as_of), "dry_run": dry_run}
    if allow_future:
        run_input["allow_future"] = True
    return str(
        sfn.start_execution(
            stateMachineArn=state_machine_arn, name=execution_name(as_of, dry_run, now), input=json.dumps(run_input)
        )["executionArn"]
    )


def run_summary(sfn: Any, execution: dict[str, Any]) -> dict[str, Any]:
    """One run: execution status and, once finished, the workflow's per-store result."""
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    result: dict[str, Any] = {}
    try:
        result = json.loads(described.get("output") or "{}")
    except ValueError:
        result = {}
    try:
        run_input = json.loads(described.get("input") or "{}")
    except ValueError:
        run_input = {}
    stores = result.get("stores") if isinstance(result, dict) else None
    return {
        "name": described["name"],
        "execution_status": described["status"],
        "started": format_utc(described["startDate"]) if isinstance(described.get("startDate"), datetime) else None,
        "as_of": result.get("as_of") or run_input.get("as_of"),
        "dry_run": result.get("dry_run", run_input.get("dry_run", False)),
        "status": result.get("status"),
        "run_id": result.get("run_id"),
        "stores": stores if isinstance(stores, list) else [],
    }


def recent_runs(sfn: Any, state_machine_arn: str, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ``limit`` runs, newest first."""
    executions = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)["executions"]
    executions.sort(key=lambda e: e["startDate"], reverse=True)
    return [run_summary(sfn, e) for e in executions[:limit]]
