"""Which request statuses reach planning: the real Choice rules of statemachines/request.asl.json, evaluated for
every status, and executions of the real definition on moto for the ones that matter (a failed or rejected
request is never planned, whatever an operator re-runs)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from moto import mock_aws

from functions.privacy.core.clients import Clients
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import PLANNABLE, RequestStatus, RequestType
from infra.config import ROOT

ASL = ROOT / "statemachines" / "request.asl.json"
EVERY_STATUS = [s.value for s in RequestStatus] + ["", "no_such_status"]


def _definition() -> dict[str, Any]:
    """The definition as deployed, placeholders filled: quoted ones with names, numeric ones with 1."""
    text = re.sub(r'"\$\{(\w+)\}"', lambda m: json.dumps(f"{m.group(1)}-placeholder"), ASL.read_text())
    return json.loads(re.sub(r"\$\{\w+\}", "1", text))


def _value(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = data
    for part in path.removeprefix("$.").split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _matches(rule: dict[str, Any], data: dict[str, Any]) -> bool:
    """The Choice operators the definition uses; any other makes the test fail rather than guess."""
    if "And" in rule:
        return all(_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], data)
    present, value = _value(data, rule["Variable"])
    if "IsPresent" in rule:
        return present is rule["IsPresent"]
    if "StringEquals" in rule:
        return present and value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return present and value is rule["BooleanEquals"]
    raise AssertionError(f"operator not evaluated by this test: {sorted(rule)}")


def _next_state(choice: dict[str, Any], data: dict[str, Any]) -> str:
    for rule in choice["Choices"]:
        if _matches(rule, data):
            return str(rule["Next"])
    return str(choice["Default"])


def _verification(status: str, **item: Any) -> dict[str, Any]:
    # What ReadVerificationStatus puts in state: the status, and the projected item (DynamoDB JSON).
    return {"verification": {"status": status, "item": {"status": {"S": status}, **item}}}


@pytest.mark.parametrize("status", EVERY_STATUS)
def test_only_verified_statuses_reach_planning(status):
    states = _definition()["States"]
    for item in ({}, {"verification_failed": {"BOOL": True}}):
        reached = _next_state(states["AlreadyVerified"], _verification(status, **item))
        if status in PLANNABLE:
            assert reached == "PlanStoreTasks"
        elif status == RequestStatus.PENDING_VERIFICATION.value:
            assert reached == "SendVerificationCode"
        elif status == RequestStatus.COMPLETED.value:
            assert reached == "RequestAlreadyClosed"
        else:  # failed (verified or not), rejected_unverified, anything unknown
            assert reached == "RequestNotRunnable" and states[reached]["Type"] == "Fail"


def test_the_plannable_set_is_exactly_verified_in_progress_and_partially_completed():
    states = _definition()["States"]
    reaching = {s for s in EVERY_STATUS if _next_state(states["AlreadyVerified"], _verification(s)) == "PlanStoreTasks"}
    assert reaching == PLANNABLE == {"verified", "in_progress", "partially_completed"}


def test_every_failure_before_verification_records_verification_failed():
    states = _definition()["States"]
    for name in ("SendVerificationCode", "RejectUnverified"):
        targets = {c["Next"] for c in states[name]["Catch"]}
        assert targets <= {"RejectUnverified", "MarkVerificationFailed"}, (name, targets)
        assert "MarkRequestFailed" not in targets
    mark = states["MarkVerificationFailed"]["Parameters"]
    assert "verification_failed = :true" in mark["UpdateExpression"]
    assert mark["ExpressionAttributeValues"][":true"] == {"BOOL": True}
    assert mark["ExpressionAttributeValues"][":status"] == {"S": "failed"}
    # A code limit is a normal rejection (nothing mailed), not an operational failure.
    assert "CodeLimitReached" in states["SendVerificationCode"]["Catch"][0]["ErrorEquals"]


# Executions of the real definition on moto: the request table read is real; no Lambda exists, so a run that
# reaches a task fails there (MarkRequestFailed) and its history shows how far it went.


@pytest.fixture
def workflow(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clients = Clients()
        clients.client("dynamodb").create_table(
            TableName="requests",
            KeySchema=[
                {"AttributeName": "request_id", "KeyType": "HASH"},
                {"AttributeName": "record", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "request_id", "AttributeType": "S"},
                {"AttributeName": "record", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        text = json.dumps(_definition()).replace("RequestsTableName-placeholder", "requests")
        machine = clients.client("stepfunctions").create_state_machine(
            name="requests", definition=text, roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        yield clients, machine


def _run(clients, machine, status, **attributes):
    table = clients.resource_table("requests")
    request_id = requests.create_request(
        table, RequestType.ERASURE, {"email": "a@example.com"}, status=status, attributes=attributes or None
    ).request_id
    sfn = clients.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=machine, name=f"{request_id}--rerun-1", input=json.dumps({"request_id": request_id})
    )["executionArn"]
    for _ in range(200):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    failed = [e["executionFailedEventDetails"]["error"] for e in events if "executionFailedEventDetails" in e]
    item = table.get_item(Key={"request_id": request_id, "record": "request"})["Item"]
    return described["status"], entered, failed, item


@pytest.mark.parametrize(
    "status, attributes",
    [
        ("failed", {"verification_failed": True}),  # e.g. the rejection's evidence write failed
        ("failed", {"verified_at": "2026-01-01T00:00:00Z"}),  # verified, failed later: a redrive reopens it first
        ("rejected_unverified", {}),
    ],
)
def test_a_rerun_of_a_request_not_verified_now_plans_nothing(workflow, status, attributes):
    clients, machine = workflow
    outcome, entered, failed, item = _run(clients, machine, status, **attributes)
    assert outcome == "FAILED" and failed == ["RequestNotRunnable"]
    assert "PlanStoreTasks" not in entered and "SendVerificationCode" not in entered
    assert item["status"] == status and item["subject"] == {"email": "a@example.com"}  # untouched


def test_a_verified_request_is_planned_and_a_completed_one_is_not_run(workflow):
    clients, machine = workflow
    _, entered, _, item = _run(clients, machine, "verified")
    assert entered[:3] == ["ReadVerificationStatus", "AlreadyVerified", "PlanStoreTasks"]
    # No planner exists here, so planning fails: the request is marked failed and dated for the sweep.
    assert entered[-2:] == ["MarkRequestFailed", "RequestFailed"]
    assert item["status"] == "failed" and item["failed_at"].startswith("20")
    outcome, entered, _, _ = _run(clients, machine, "completed")
    assert outcome == "SUCCEEDED" and entered[-1] == "RequestAlreadyClosed"
