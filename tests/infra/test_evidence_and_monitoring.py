"""Digests, dashboard and alarms in the synthesized template (issue 5 infra, issue 7 monitoring)."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from infra.app_builder import build_app


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


@pytest.fixture(scope="module")
def resources(template):
    return template.to_json()["Resources"]


def _logical_id(resources, resource_type, predicate=lambda props: True):
    (found,) = [k for k, v in resources.items() if v["Type"] == resource_type and predicate(v.get("Properties", {}))]
    return found


def _digest_role_statements(resources):
    digest = _logical_id(
        resources, "AWS::Lambda::Function", lambda p: p.get("Handler") == "functions.handlers.digest.handler"
    )
    role = resources[digest]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in resources.values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return digest, statements


def test_evidence_is_signed_with_an_asymmetric_p256_key_whose_arn_is_an_output(template, resources):
    template.has_resource_properties("AWS::KMS::Key", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
    key = _logical_id(resources, "AWS::KMS::Key", lambda p: p.get("KeySpec") == "ECC_NIST_P256")
    assert template.to_json()["Outputs"]["EvidenceSigningKeyArn"]["Value"] == {"Fn::GetAtt": [key, "Arn"]}


def test_the_digest_function_may_sign_and_write_digests_but_never_change_or_delete_a_record(resources):
    _, statements = _digest_role_statements(resources)
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "kms:Sign" in actions
    assert not {a for a in actions if a.startswith("s3:Delete") or a in {"s3:*", "kms:*", "s3:PutObjectRetention"}}
    (put,) = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert json.dumps(put["Resource"]).endswith('/digests/*"]]}')
    (sign,) = [s for s in statements if s["Action"] == "kms:Sign"]
    key = _logical_id(resources, "AWS::KMS::Key", lambda p: p.get("KeySpec") == "ECC_NIST_P256")
    assert sign["Resource"] == {"Fn::GetAtt": [key, "Arn"]}


def test_digests_are_scheduled_hourly_with_dead_letters_for_failed_invocations(template, resources):
    digest, _ = _digest_role_statements(resources)
    queue = _logical_id(resources, "AWS::SQS::Queue")
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "Target": Match.object_like(
                {
                    "Arn": {"Fn::GetAtt": [digest, "Arn"]},
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue, "Arn"]}},
                    "Input": Match.string_like_regexp("aws.scheduler.scheduled-time"),
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": digest},
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}},
        },
    )
    template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})


def test_operators_get_a_verify_only_policy(resources):
    policy = _logical_id(resources, "AWS::IAM::ManagedPolicy")
    statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"kms:Verify", "kms:GetPublicKey", "s3:GetObject"} <= actions
    assert not {a for a in actions if a in {"kms:Sign", "s3:PutObject"} or a.startswith("s3:Delete")}


def test_the_dashboard_shows_requests_stores_retention_deadlines_and_the_api(resources):
    dashboard = _logical_id(resources, "AWS::CloudWatch::Dashboard")
    body = json.dumps(resources[dashboard]["Properties"]["DashboardBody"])
    for metric in (
        "RequestsPlanned", "RequestsClosed", "RequestsClosedByType", "StoreTasksFailed", "RecordsDeleted",
        "RetentionExpired", "RequestsAtRisk", "RequestsOverdue", "ExecutionsFailed", "ExecutionsTimedOut",
        "4XXError", "5XXError", "Latency", "ApproximateNumberOfMessagesVisible",
    ):  # fmt: skip
        assert metric in body, metric


@pytest.mark.parametrize(
    "alarm",
    ["RequestWorkflow-Failure", "RequestWorkflow-TimedOut", "RequestsOverdue", "IntakeApi-Fault", "DeadLetters"],
)
def test_each_alarm_notifies_the_encrypted_tls_only_topic(template, resources, alarm):
    topic = _logical_id(resources, "AWS::SNS::Topic")
    (found,) = [
        v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::CloudWatch::Alarm" and alarm in v["Properties"]["AlarmName"]
    ]
    assert found["AlarmActions"] == [{"Ref": topic}]
    assert found["ComparisonOperator"] == "GreaterThanThreshold" and found["Threshold"] == 0
    assert "KmsMasterKeyId" in resources[topic]["Properties"]
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                ),
                "Version": "2012-10-17",
            }
        },
    )


def test_no_alarm_email_means_no_subscription_and_the_context_value_adds_one(template, tmp_path):
    template.resource_count_is("AWS::SNS::Subscription", 0)
    app = App(outdir=str(tmp_path), context={"alarm_email": "oncall@example.com", "deploy_sample_stores": "false"})
    subscribed = Template.from_stack(build_app(app)["privacy"])
    subscribed.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_every_function_logs_to_a_group_with_retention(resources):
    functions = [v for v in resources.values() if v["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[group]["Properties"]["RetentionInDays"] >= 365


def test_the_scheduler_can_put_failed_deliveries_on_the_encrypted_dead_letter_queue(resources):
    # The digest schedule (the retention schedule starts a state machine and has no dead-letter queue).
    schedule = _logical_id(resources, "AWS::Scheduler::Schedule", lambda p: "DeadLetterConfig" in p["Target"])
    role = resources[schedule]["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    actions = {
        a
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"lambda:InvokeFunction", "sqs:SendMessage", "kms:GenerateDataKey"} <= actions
