"""The rights workflow's resources: the downstream event bus, the new functions and their narrow grants."""

import json

import pytest
from aws_cdk.assertions import Template


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def _policies(template, role_fragment):
    return [
        statement
        for name, policy in template.find_resources("AWS::IAM::Policy").items()
        if role_fragment in name
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement):
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_the_stack_has_an_event_bus_and_outputs_its_name(template):
    buses = template.find_resources("AWS::Events::EventBus")
    assert len(buses) == 1
    outputs = template.find_outputs("EventBusName")
    assert outputs and "Ref" in json.dumps(outputs)


def test_only_the_publisher_may_put_events_and_only_on_the_bus(template):
    (bus_id,) = template.find_resources("AWS::Events::EventBus")
    (put,) = [s for s in _policies(template, "PublishEvent") if "events:PutEvents" in _actions(s)]
    assert bus_id in json.dumps(put["Resource"])
    others = [s for s in _policies(template, "") if "events:PutEvents" in _actions(s)]
    assert others == [put]


def test_export_functions_act_only_under_the_exports_prefix(template):
    for role in ("StoreTask", "PackageExport", "Notify"):
        for statement in _policies(template, role):
            resources = json.dumps(statement["Resource"])
            if "ExportBucket" in resources and "s3:ListBucket" not in _actions(statement):
                assert "/exports/*" in resources, (role, statement)
    export_deleters = {
        name
        for name, policy in template.find_resources("AWS::IAM::Policy").items()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:DeleteObject" in _actions(s) and "ExportBucket" in json.dumps(s["Resource"])
    }
    assert len(export_deleters) == 1 and "PackageExport" in export_deleters.pop()


def test_planning_reads_the_holds_table(template):
    (holds_id,) = [k for k in template.find_resources("AWS::DynamoDB::Table") if "Holds" in k]
    reads = [s for s in _policies(template, "FunctionsPlanRole") if holds_id in json.dumps(s["Resource"])]
    assert reads and all(not any(a in _actions(s) for a in ("dynamodb:PutItem", "dynamodb:DeleteItem")) for s in reads)


def test_the_workflow_invokes_the_new_functions(template):
    # The request workflow (the retention workflow is a second state machine once both branches are merged).
    (machine,) = [
        m
        for m in template.find_resources("AWS::StepFunctions::StateMachine").values()
        if "PackageExportFunctionArn" in m["Properties"].get("DefinitionSubstitutions", {})
    ]
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    for placeholder, function in (
        ("PackageExportFunctionArn", "PackageExport"),
        ("NotifyFunctionArn", "Notify"),
        ("PublishEventFunctionArn", "PublishEvent"),
    ):
        assert f"Functions{function}" in json.dumps(substitutions[placeholder])
        assert "${" + placeholder + "}" in json.dumps(machine["Properties"]["DefinitionString"])


def test_store_tasks_may_claim_the_request_they_act_on(template):
    # claim_for_acting is a conditional UpdateItem on the requests table: without it AWS denies every store task.
    requests_table = next(k for k in template.find_resources("AWS::DynamoDB::Table") if "RequestsTable" in k)
    updates = [
        s
        for s in _policies(template, "StoreTask")
        if "dynamodb:UpdateItem" in _actions(s) and {"Fn::GetAtt": [requests_table, "Arn"]} in _listed(s["Resource"])
    ]
    assert updates


def _listed(value):
    return value if isinstance(value, list) else [value]
