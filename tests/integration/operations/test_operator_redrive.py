"""Redrive of a FAILED request execution: RedriveExecution where it exists, else `<id>--rerun-<n>`.

moto has no RedriveExecution: the local cloud's adapters answer it as AWS does for an execution it will not
redrive (ExecutionNotRedrivable), which is the fallback path tested here.
"""

from __future__ import annotations

import json
import time

import pytest
from moto import mock_aws

from functions.privacy.core.clients import Clients
from functions.privacy.operations.actions import OperatorError, Tables
from functions.privacy.operations.redrive import redrive
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import Jurisdiction, RequestType
from local import adapters

FAILING = {"StartAt": "PlanStoreTasks", "States": {"PlanStoreTasks": {"Type": "Fail", "Error": "StoreUnavailable"}}}


@pytest.fixture
def engine(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    adapters.install(tmp_path)
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
        clients.client("s3").create_bucket(Bucket="audit")
        machine = clients.client("stepfunctions").create_state_machine(
            name="requests", definition=json.dumps(FAILING), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        try:
            yield Tables("requests", "holds", "audit", "key", machine), clients
        finally:
            adapters.uninstall()


def _finished(sfn, arn):
    for _ in range(100):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise TimeoutError(arn)


def test_a_failed_execution_is_rerun_under_a_new_name_with_evidence(engine):
    tables, clients = engine
    sfn = clients.client("stepfunctions")
    record = requests.create_request(
        clients.resource_table("requests"), RequestType.ERASURE, {"email": "a@example.com"}, Jurisdiction.GDPR
    )
    first = sfn.start_execution(
        stateMachineArn=tables.state_machine_arn, name=record.request_id, input=json.dumps({"request_id": "x"})
    )["executionArn"]
    assert _finished(sfn, first)["status"] == "FAILED"
    with pytest.raises(OperatorError, match="only failed or partially completed"):
        redrive(tables, clients, request_id=record.request_id, operator="op")

    clients.resource_table("requests").update_item(
        Key={"request_id": record.request_id, "record": "request"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "failed"},
    )
    result = redrive(tables, clients, request_id=record.request_id, operator="op")

    assert result.method == "rerun" and result.execution_arn.endswith(f":{record.request_id}--rerun-1")
    rerun = _finished(sfn, result.execution_arn)
    assert json.loads(rerun["input"]) == {"request_id": record.request_id}
    body = json.loads(clients.client("s3").get_object(Bucket="audit", Key=result.evidence_key)["Body"].read())
    assert body["action"] == "redriven" and body["previous_execution"] == record.request_id
    assert body["previous_status"] == "failed" and body["operator"] == "op"

    # Reopened for the re-run: the workflow plans only verified requests.
    assert requests.get_request(clients.resource_table("requests"), record.request_id).status == "verified"

    _set_status(clients, record.request_id, "failed")  # the re-run failed too (MarkRequestFailed)
    second = redrive(tables, clients, request_id=record.request_id, operator="op")
    assert second.execution_arn.endswith("--rerun-2")  # numbered after the latest


def _set_status(clients, request_id, status):
    clients.resource_table("requests").update_item(
        Key={"request_id": request_id, "record": "request"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status},
    )


@pytest.mark.parametrize(
    "attributes",
    [{"verification_failed": True}, {}],  # failed before verification: marked, or never verified at all
)
def test_a_request_that_failed_before_verification_is_not_redriven(engine, attributes):
    tables, clients = engine
    sfn = clients.client("stepfunctions")
    table = clients.resource_table("requests")
    record = requests.create_request(
        table, RequestType.ERASURE, {"email": "a@example.com"}, status="pending_verification", attributes=attributes
    )
    first = sfn.start_execution(
        stateMachineArn=tables.state_machine_arn, name=record.request_id, input=json.dumps({"request_id": "x"})
    )["executionArn"]
    _finished(sfn, first)
    _set_status(clients, record.request_id, "failed")

    with pytest.raises(OperatorError, match="failed before its requester was verified"):
        redrive(tables, clients, request_id=record.request_id, operator="op")

    assert requests.get_request(table, record.request_id).status == "failed"
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=tables.state_machine_arn)["executions"]] == [
        record.request_id
    ]
    assert "redriven" not in json.dumps(clients.client("s3").list_objects_v2(Bucket="audit"))
