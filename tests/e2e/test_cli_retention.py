"""`dsr retention run|status` against the retention workflow's contract.

Input {"as_of", "dry_run"}; output {"run_id", "as_of", "dry_run", "status", "stores": [...]}.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e import cli_support

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture

# Stands in for the retention state machine until its branch is merged: answers per the contract, echoing input.
CONTRACT_MACHINE = {
    "StartAt": "ExpireStores",
    "States": {
        "ExpireStores": {
            "Type": "Pass",
            "Parameters": {
                "run_id.$": "$$.Execution.Name",
                "as_of.$": "$.as_of",
                "dry_run.$": "$.dry_run",
                "status": "completed",
                "stores": [
                    {"store": "customers", "status": "succeeded", "scanned": 12, "expired": 3, "skipped_held": 1,
                     "skipped_retained": 0, "failed": 0},
                    {"store": "orders", "status": "succeeded", "scanned": 30, "expired": 0, "skipped_held": 0,
                     "skipped_retained": 30, "failed": 0},
                ],
            },
            "End": True,
        }
    },
}  # fmt: skip


@pytest.fixture
def retention_machine(local_cloud, monkeypatch):
    if "RetentionStateMachineArn" in local_cloud.outputs:
        return local_cloud.outputs["RetentionStateMachineArn"]
    arn = local_cloud.clients.client("stepfunctions").create_state_machine(
        name="retention-contract",
        definition=json.dumps(CONTRACT_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/retention-contract",
    )["stateMachineArn"]
    monkeypatch.setitem(local_cloud.outputs, "RetentionStateMachineArn", arn)
    return arn


def test_retention_run_follows_the_run_and_prints_each_store(local_cloud, retention_machine, dsr):
    result = dsr("retention", "run", "--as-of", "2031-01-01T00:00:00Z", "--dry-run")
    out = result.output
    assert "Retention dry run" in out and "as of 2031-01-01T00:00:00Z" in out and "execution SUCCEEDED" in out
    for store in ("customers", "orders"):
        assert store in out
    sfn = local_cloud.clients.client("stepfunctions")
    (latest,) = sfn.list_executions(stateMachineArn=retention_machine, maxResults=1)["executions"]
    assert json.loads(sfn.describe_execution(executionArn=latest["executionArn"])["input"]) == {
        "as_of": "2031-01-01T00:00:00Z",
        "dry_run": True,
    }

    status = dsr("retention", "status", "--limit", "5").output
    assert latest["name"] in status and "2031-01-01T00:00:00Z" in status


def test_retention_run_rejects_a_bad_date(retention_machine, dsr):
    assert "not an ISO 8601" in dsr("retention", "run", "--as-of", "next tuesday", expect=1).output
