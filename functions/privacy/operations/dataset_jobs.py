"""Start the dataset job by hand and see what is queued for it (`dsr datasets run`, `dsr datasets queue`).

The schedule starts the same state machine (hourly by default); a job started by hand takes whatever is
queued at that moment, and a job with nothing queued ends at once. Output of a job that acted:
{"job_id", "entries", "succeeded", "retried", "failed", "gone"}; of one with nothing queued: {"entries": 0, ...}.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from functions.privacy.core.timestamps import format_utc
from functions.privacy.dataset_jobs import queue

RESULTS = ("succeeded", "retried", "failed", "gone")


def start_job(sfn: Any, state_machine_arn: str, now: datetime) -> str:
    name = f"manual-{re.sub(r'[^0-9T]', '', format_utc(now))}"
    return str(sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input="{}")["executionArn"])


def job_summary(execution: dict[str, Any]) -> dict[str, Any]:
    """Counts of a finished job (tasks resumed, queued again, failed; requests no longer waiting)."""
    output = json.loads(execution.get("output") or "{}")
    return {
        "execution_status": execution["status"],
        "entries": int(output.get("entries", 0)),
        **{k: int(output.get(k, 0)) for k in RESULTS},
    }


def queued(queue_table: Any) -> list[dict[str, str]]:
    return queue.waiting(queue_table)
