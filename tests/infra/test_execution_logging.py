"""Step Functions logging keeps events, not execution data: inputs and outputs carry task tokens and keys."""

import pytest
from aws_cdk.assertions import Template


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def test_every_state_machine_logs_without_execution_data(template):
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    assert {name for name in machines if "Request" in name} and {name for name in machines if "Retention" in name}
    for name, machine in machines.items():
        logging = machine["Properties"]["LoggingConfiguration"]
        assert logging["IncludeExecutionData"] is False, name
        assert logging["Level"] == "ALL" and logging["Destinations"], name


def test_store_tasks_may_list_export_parts_only_under_the_exports_prefix(template):
    statements = [
        statement
        for name, policy in template.find_resources("AWS::IAM::Policy").items()
        if "StoreTask" in name and "Dataset" not in name
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ExportBucket" in str(statement["Resource"])
    ]
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["exports/*"]}}
