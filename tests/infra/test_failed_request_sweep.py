"""The failed-request sweep: scheduled daily, told the retention period, allowed to scan and update the requests
table and to write its own evidence event only."""

import pytest
from aws_cdk.assertions import Match, Template


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def _sweep_function(template):
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.handlers.failed_request_sweep.handler"}}
    )
    assert len(functions) == 1
    return next(iter(functions.items()))


def _statements(template, function):
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            yield set(actions), resources


def test_the_sweep_runs_daily_with_the_default_30_days(template):
    logical_id, function = _sweep_function(template)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(0 4 * * ? *)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [logical_id, "Arn"]}})],
        },
    )
    assert function["Properties"]["Environment"]["Variables"]["FAILED_REQUEST_RETENTION_DAYS"] == "30"
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com", "FunctionName": Match.any_value()},
    )


def test_the_sweep_scans_and_updates_requests_and_writes_only_its_evidence_event(template):
    _, function = _sweep_function(template)
    actions, puts = set(), []
    for found, resources in _statements(template, function):
        actions |= found
        if found & {"dynamodb:Scan", "dynamodb:UpdateItem"}:
            assert all("RequestsTable" in str(r) for r in resources), resources
        if "s3:PutObject" in found:
            puts.extend(resources)
    assert {a for a in actions if a.startswith("dynamodb:")} == {"dynamodb:Scan", "dynamodb:UpdateItem"}
    assert puts and all("requests/*/chain/*-identifiers_dropped.json" in str(r) for r in puts), puts
    assert not {a for a in actions if a.startswith(("states:", "ses:", "s3:Delete"))}


def test_the_requests_table_expires_the_address_counters(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "request_id", "KeyType": "HASH"},
                {"AttributeName": "record", "KeyType": "RANGE"},
            ],
            "TimeToLiveSpecification": {"AttributeName": "expires_at_epoch", "Enabled": True},
        },
    )
