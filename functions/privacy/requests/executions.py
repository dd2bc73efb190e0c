"""How a request's workflow executions are named: the first after the request, re-runs ``<id>--rerun-<n>``.

Step Functions execution names are unique for 90 days, so running a request again needs a new name;
operators read the number in the console, and completion evidence records each re-run under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

RERUN_SEPARATOR = "--rerun-"
_RERUN = re.compile(rf"^(?P<request_id>.+){RERUN_SEPARATOR}(?P<n>\d+)$")
# Execution statuses (Step Functions' own, not the request's): the run is over, and which endings
# RedriveExecution can pick up again.
EXECUTION_ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
EXECUTION_REDRIVABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
MAX_RERUNS = 99


def rerun_name(request_id: str, number: int) -> str:
    """The name of the request's ``number``-th re-run (1 for the first)."""
    if number < 1:
        raise ValueError(f"a re-run number starts at 1, not {number}")
    return f"{request_id}{RERUN_SEPARATOR}{number}"


def parse_execution_name(name: str) -> tuple[str, int]:
    """The request id and re-run number of an execution name; 0 for the request's first execution."""
    match = _RERUN.match(name)
    if match is None:
        return name, 0
    return match.group("request_id"), int(match.group("n"))


def execution_names(request_id: str) -> Iterator[str]:
    """The request's possible execution names in order: its first, then each re-run."""
    yield request_id
    for number in range(1, MAX_RERUNS + 1):
        yield rerun_name(request_id, number)


def next_rerun_number(request_id: str, existing_names: Iterable[str]) -> int:
    """The number after the highest re-run of ``request_id`` among ``existing_names`` (1 if none)."""
    numbers = [n for rid, n in map(parse_execution_name, existing_names) if rid == request_id]
    return max(numbers, default=0) + 1


def stop_running(sfn: Any, state_machine_arn: str, request_id: str, *, error: str, cause: str) -> list[str]:
    """Stop every running execution of the request (its first and any re-run); returns their names."""
    stopped = []
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn, statusFilter="RUNNING")
    for page in pages:
        for execution in page["executions"]:
            if parse_execution_name(execution["name"])[0] != request_id:
                continue
            try:
                sfn.stop_execution(executionArn=execution["executionArn"], error=error, cause=cause)
            except sfn.exceptions.ExecutionDoesNotExist:
                continue
            stopped.append(str(execution["name"]))
    return stopped
