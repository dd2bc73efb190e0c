"""Drive the deployed request workflow from outside: file a request, wait for its execution, read results.

Used by the demo, the end-to-end tests and (later) the operator CLI; it talks to AWS APIs only, so it
works the same against the local cloud and a real account.
"""

from __future__ import annotations

import json
import time
from typing import Any

from functions.privacy.core.clients import Clients
from functions.privacy.intake.filing import Channel, FilingPlace, IdentityChecked, Submission, file
from functions.privacy.requests import executions
from functions.privacy.requests.record import Jurisdiction, RequestType


def start_request(
    clients: Clients,
    outputs: dict[str, str],
    request_type: RequestType,
    email: str,
    jurisdiction: Jurisdiction = Jurisdiction.GDPR,
    *,
    corrections: dict[str, str] | None = None,
) -> tuple[str, str]:
    """File a verified request the way the operator path does (no code: the harness is the requester)
    and return its id and the ARN of its execution, named after the request id.
    """
    place = FilingPlace(
        requests_table=outputs["RequestsTableName"],
        audit_bucket=outputs["AuditBucketName"],
        state_machine_arn=outputs["RequestStateMachineArn"],
        hmac_key_id=outputs["HmacKeyArn"],
        subject_identifier="email",
    )
    submission = Submission(type=request_type, email=email, jurisdiction=jurisdiction, corrections=corrections)
    record = file(submission, place, clients, channel=Channel.LOCAL, checked=IdentityChecked("local_harness"))
    arn = place.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + record.request_id
    return record.request_id, arn


def rerun_request(clients: Clients, outputs: dict[str, str], request_id: str) -> str:
    """Start a new execution of an existing request, ``<request_id>--rerun-<n>``; returns its ARN.

    This is what an operator does once a partially completed request can go further (e.g. a hold was
    released): every store task is idempotent, so stores already done are not acted on twice. (moto
    has no RedriveExecution, and a redrive cannot pick up a changed situation such as a released hold.)
    """
    sfn = clients.client("stepfunctions")
    arn = outputs["RequestStateMachineArn"]
    names = {
        e["name"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for e in page["executions"]
    }
    name = executions.rerun_name(request_id, executions.next_rerun_number(request_id, names))
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"request_id": request_id}))
    return str(execution["executionArn"])


def wait_for_execution(clients: Clients, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
    sfn = clients.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] in executions.EXECUTION_ENDED:
            return execution
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still {execution['status']} after {timeout}s")
        time.sleep(0.2)


def failed_states(clients: Clients, execution_arn: str) -> list[str]:
    """Names of errors in the execution history (for reporting why an execution failed)."""
    sfn = clients.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    errors = []
    for event in events:
        for key, value in event.items():
            if key.endswith("FailedEventDetails") and isinstance(value, dict):
                errors.append(f"{event['type']}: {value.get('error')}: {str(value.get('cause', ''))[:300]}")
    return errors
