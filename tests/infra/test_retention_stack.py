"""The synthesized retention engine: its schedule, state machine, work bucket and grants."""

import json

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import ROOT


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def test_the_schedule_starts_the_retention_state_machine_daily_with_its_scheduled_time_as_as_of(template):
    schedules = template.find_resources(
        "AWS::Scheduler::Schedule",
        {"Properties": {"Description": "Starts the retention run with its scheduled time as as_of"}},
    )
    assert len(schedules) == 1
    props = next(iter(schedules.values()))["Properties"]
    assert props["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "UTC"
    assert props["State"] == "ENABLED"
    target = props["Target"]
    assert json.loads(target["Input"]) == {"as_of": "<aws.scheduler.scheduled-time>", "dry_run": False}
    machines = template.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": "PrivacyEngine-Retention"}}
    )
    (machine_id,) = machines
    assert target["Arn"] == {"Ref": machine_id}


def test_the_retention_definition_is_the_asl_file_inline_with_a_distributed_map_over_key_batches(template):
    (machine,) = template.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": "PrivacyEngine-Retention"}}
    ).values()
    definition = machine["Properties"]["DefinitionString"]
    text = json.dumps(definition)
    assert "ExpireTableSegments" in text and "DeleteObjectBatches" in text and "ItemReader" in text
    raw = (ROOT / "statemachines" / "retention.asl.json").read_text()
    for name in ("RetryIntervalSeconds", "StoreConcurrency", "SegmentConcurrency", "BatchConcurrency"):
        raw = raw.replace("${%s}" % name, "1")  # numeric substitutions stand where JSON expects numbers
    asl = json.loads(raw)
    assert set(asl["States"]) == {"PlanRetentionRun", "ExpireStores", "WriteRunSummary"}
    assert "ItemBatcher" not in text  # the local interpreter rejects it; batches are made by the planning step


def test_the_work_bucket_is_kms_encrypted_and_expires_its_objects_after_a_day(template):
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"LogFilePrefix": "retention-work/"}}}
    )
    (bucket,) = buckets.values()
    props = bucket["Properties"]
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption["SSEAlgorithm"] == "aws:kms"
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 1
    assert "ObjectLockEnabled" not in props  # never the audit bucket


def test_retention_functions_can_only_delete_in_the_data_maps_stores(template):
    deletes = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:DeleteObjectVersion" in actions or actions == [
                "dynamodb:Scan",
                "dynamodb:BatchWriteItem",
                "dynamodb:UpdateItem",
            ]:
                deletes.append(json.dumps(statement["Resource"]))
    # erasure and retention, on the tables and on the bucket; the dataset store task and lake retention on the
    # lake prefixes
    assert len(deletes) == 6
    assert all("dsr-sample-" in r for r in deletes)
    template.has_output("RetentionStateMachineArn", {"Value": Match.any_value()})


def _function(template, handler: str) -> tuple[str, dict]:
    (found,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": f"functions.handlers.{handler}.handler"}}
    ).items()
    return found


def test_the_deployed_segment_count_reaches_the_planner(template):
    _, plan = _function(template, "retention_plan")
    assert plan["Properties"]["Environment"]["Variables"]["RETENTION_SEGMENTS"] == "4"  # DeployConfig's default


def test_the_object_batch_function_can_read_the_holds_it_checks_before_deleting(template):
    logical, batch = _function(template, "retention_batch")
    role = batch["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    holds_reads = [
        s for s in statements if "dynamodb:Scan" in s["Action"] and "HoldsTable" in json.dumps(s["Resource"])
    ]
    assert holds_reads, logical
    assert "HOLDS_TABLE" in batch["Properties"]["Environment"]["Variables"]
