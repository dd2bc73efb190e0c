"""The daily deadline check: scheduled once a day, reading the requests table and nothing else."""

import pytest
from aws_cdk.assertions import Match, Template


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def _deadline_function(template):
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.handlers.deadline_check.handler"}}
    )
    assert len(functions) == 1
    return next(iter(functions.items()))


def test_the_deadline_check_runs_daily(template):
    logical_id, _ = _deadline_function(template)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(0 6 * * ? *)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [logical_id, "Arn"]}})],
        },
    )


def test_the_deadline_check_may_only_read_the_requests_table(template):
    logical_id, function = _deadline_function(template)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    actions = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            actions.update(found)
            if "dynamodb:Scan" in found:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                assert all("RequestsTable" in str(r) for r in resources), resources
    dynamodb = {a for a in actions if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:Scan"}
    assert not {a for a in actions if a.startswith(("s3:", "states:", "ses:"))}
    assert "kms:Decrypt" in actions and "kms:Encrypt" not in actions


def test_the_stack_tells_the_cli_its_sender(template):
    template.has_output("SenderEmail", {"Value": "privacy@example.com"})
