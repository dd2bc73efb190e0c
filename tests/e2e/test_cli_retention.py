"""`dsr retention run|status` against the retention workflow's contract.

Input {"as_of", "dry_run"}; output {"run_id", "as_of", "dry_run", "status", "stores": [...]}.
"""

from __future__ import annotations

import json

import pytest

from functions.privacy.operations import retention_runs
from tests.e2e import cli_support

pytestmark = pytest.mark.e2e
dsr = cli_support.dsr  # the fixture


@pytest.fixture
def retention_machine(local_cloud):
    return local_cloud.outputs["RetentionStateMachineArn"]  # the deployed retention workflow


def test_retention_run_follows_the_run_and_prints_each_store(local_cloud, retention_machine, dsr):
    result = dsr("retention", "run", "--as-of", "2031-01-01T00:00:00Z", "--dry-run")
    out = result.output
    assert retention_runs.progress_function() is not None  # the bar follows the workflow's own progress
    assert "retention run manual-20310101T000000-" in out and "1/1" in out  # the progress bar, finished
    assert "Retention dry run" in out and "as of 2031-01-01T00:00:00Z" in out and "execution SUCCEEDED" in out
    sfn = local_cloud.clients.client("stepfunctions")
    (latest,) = sfn.list_executions(stateMachineArn=retention_machine, maxResults=1)["executions"]
    stores = json.loads(sfn.describe_execution(executionArn=latest["executionArn"])["output"])["stores"]
    assert stores and all(f"│ {s['store']} " in out for s in stores)  # one table row per store
    assert json.loads(sfn.describe_execution(executionArn=latest["executionArn"])["input"]) == {
        "as_of": "2031-01-01T00:00:00Z",
        "dry_run": True,
    }

    status = dsr("retention", "status", "--limit", "5").output
    assert latest["name"] in status and "2031-01-01T00:00:00Z" in status


def test_retention_run_rejects_a_bad_date(retention_machine, dsr):
    assert "not an ISO 8601" in dsr("retention", "run", "--as-of", "next tuesday", expect=1).output
