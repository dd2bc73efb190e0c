"""The local cloud's Step Functions gaps: RedriveExecution answers with the AWS error, not a server fault."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from local import adapters

DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_redrive_is_refused_with_the_aws_error_code(aws, tmp_path):
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="run-1")["executionArn"]
    adapters.install(tmp_path)
    try:
        with pytest.raises(ClientError) as refused:
            sfn.redrive_execution(executionArn=execution)
        with pytest.raises(ClientError) as unknown:
            sfn.redrive_execution(executionArn=execution.replace("run-1", "no-such-run"))
    finally:
        adapters.uninstall()
    error = refused.value.response["Error"]
    assert error["Code"] == "ExecutionNotRedrivable"
    assert "local cloud does not redrive" in error["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert unknown.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
