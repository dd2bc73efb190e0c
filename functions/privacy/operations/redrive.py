"""Running a failed or partially completed request again: RedriveExecution, or a re-run execution."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import OperatorError, Tables, evidence_text
from functions.privacy.requests import executions as names
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import REDRIVABLE, RequestStatus


def request_executions(sfn: Any, state_machine_arn: str, request_id: str) -> list[dict[str, Any]]:
    """The request's executions (the first, named after it, then its reruns), oldest first."""
    arn_prefix = state_machine_arn.replace(":stateMachine:", ":execution:") + ":"
    found = []
    for name in names.execution_names(request_id):
        try:
            found.append(sfn.describe_execution(executionArn=arn_prefix + name))
        except sfn.exceptions.ExecutionDoesNotExist:
            break
    return found


@dataclass(frozen=True)
class Redrive:
    request_id: str
    execution_arn: str
    method: str  # "redrive" (RedriveExecution) or "rerun" (a new execution of the same request)
    evidence_key: str


def redrive(tables: Tables, clients: Any, *, request_id: str, operator: str, now: datetime | None = None) -> Redrive:
    """Run a failed or partially completed request again: RedriveExecution where Step Functions offers it,
    otherwise a new execution ``<request_id>--rerun-<n>`` of the same request (every task is idempotent).
    """
    operator = evidence_text(operator, "the operator name")
    table = clients.resource_table(tables.requests_table)
    record = requests.get_request(table, request_id)
    if record.status not in REDRIVABLE:
        raise OperatorError(
            f"request {request_id} is {record.status}; only failed or partially completed requests are redriven"
        )
    sfn = clients.client("stepfunctions")
    executions = request_executions(sfn, tables.state_machine_arn, request_id)
    if not executions:
        raise OperatorError(f"request {request_id} has no execution to redrive")
    latest = executions[-1]
    if latest["status"] == "RUNNING":
        raise OperatorError(f"execution {latest['name']} of request {request_id} is still running")
    if record.status == RequestStatus.FAILED.value and not requests.reopen_failed(table, request_id):
        # The workflow runs only plannable requests; one that failed before verification stays failed.
        raise OperatorError(
            f"request {request_id} failed before its requester was verified (or holds no identifiers any more); "
            "it is not run: the requester files again"
        )
    method, arn = "rerun", ""
    if latest["status"] in names.EXECUTION_REDRIVABLE:
        try:
            sfn.redrive_execution(executionArn=latest["executionArn"])
            method, arn = "redrive", latest["executionArn"]
        except Exception as exc:  # noqa: BLE001 - decided below: unavailable falls back, anything else is raised
            if sfn.describe_execution(executionArn=latest["executionArn"])["status"] == "RUNNING":
                method, arn = "redrive", latest["executionArn"]  # the call failed late but the redrive took
            elif not _redrive_unavailable(exc):
                raise
    if not arn:
        name = names.rerun_name(request_id, names.next_rerun_number(request_id, [e["name"] for e in executions]))
        arn = sfn.start_execution(
            stateMachineArn=tables.state_machine_arn, name=name, input=json.dumps({"request_id": request_id})
        )["executionArn"]
    fields = {"request_id": request_id, "method": method, "execution": arn.rsplit(":", 1)[-1], "operator": operator}
    fields["previous_execution"] = latest["name"]
    fields["previous_status"] = record.status
    key, _, _ = evidence.write_operator_action(
        clients.client("s3"), tables.audit_bucket, "redriven", arn.rsplit(":", 1)[-1], fields, at=now
    )
    return Redrive(request_id, arn, method, key)


def _redrive_unavailable(exc: Exception) -> bool:
    """Step Functions refused the redrive (e.g. the execution is older than 14 days, or was redriven too often):
    start a new execution instead. Anything else is a real error."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) == "ExecutionNotRedrivable"
