"""The synthesized privacy stack keeps the security promises of DESIGN.md section 6."""

import json

import pytest
from aws_cdk.assertions import Match, Template

from functions.privacy.datamap.model import load_datamap, with_resource_names
from infra.config import ROOT

# Actions that AWS only grants on "*" (no resource-level permissions).
STAR_ONLY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # The SES account suppression list has no ARN.
    "ses:GetSuppressedDestination",
    "ses:PutSuppressedDestination",
    "ses:DeleteSuppressedDestination",
}


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


@pytest.fixture(scope="module")
def statements(template):
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            found.append((actions, resources, statement))
    return found


def test_audit_bucket_is_object_locked_in_compliance_mode_for_seven_years(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365 * 7}},
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_every_bucket_is_encrypted_private_and_tls_only(template):
    buckets = template.find_resources("AWS::S3::Bucket")
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(buckets) == 4  # access logs, exports, audit, retention work
    for bucket in buckets.values():
        assert "BucketEncryption" in bucket["Properties"]
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    tls_denied = {
        json.dumps(p["Properties"]["Bucket"])
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert len(tls_denied) == len(buckets)


def test_requests_table_is_encrypted_with_the_stack_key(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties("AWS::KMS::Key", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"})


def test_request_state_machine_is_the_asl_file_inline(template):
    machines = {k: v for k, v in template.find_resources("AWS::StepFunctions::StateMachine").items() if "Request" in k}
    assert len(machines) == 1
    (machine,) = machines.values()
    definition = json.dumps(machine["Properties"]["DefinitionString"])
    for state in (
        "ReadVerificationStatus",
        "SendVerificationCode",
        "RejectUnverified",
        "PlanStoreTasks",
        "ActOnStores",
        "RecheckStores",
        "PackageExport",
        "WriteEvidence",
        "NotifyRequester",
        "PublishCompletionEvent",
        "CloseRequest",
        "CloseRequestKeepingIdentifiers",
    ):
        assert state in definition
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}


def test_data_store_access_is_limited_to_the_data_maps_resources(statements):
    datamap = with_resource_names(load_datamap(ROOT / "datamap.yaml"), "123456789012", "us-east-1")
    table_names = {s.resource for s in datamap.stores.values() if s.kind.value == "dynamodb"}
    bucket_names = {s.resource for s in datamap.stores.values() if s.kind.value == "s3"}
    seen_tables, seen_buckets = set(), set()
    for actions, resources, _ in statements:
        for resource in resources:
            text = json.dumps(resource)
            for name in table_names:
                if f"table/{name}" in text:
                    seen_tables.add(name)
            for name in bucket_names:
                if f":s3:::{name}" in text:
                    seen_buckets.add(name)
                    # object access stops at the key template's prefix
                    if text.endswith(f'{name}"]]}}'):  # the bucket itself: listing only, under the prefix
                        assert set(actions) <= {"s3:ListBucket", "s3:ListBucketVersions"}, actions
                    else:
                        assert f"{name}/users/*" in text, text
        assert not any(a.endswith(":*") or a == "*" for a in actions), actions
    assert seen_tables == table_names
    assert seen_buckets == bucket_names


def test_wildcard_resources_only_for_actions_without_resource_permissions(statements):
    for actions, resources, _ in statements:
        if "*" in resources:
            assert set(actions) <= STAR_ONLY_ACTIONS, actions


def test_functions_use_powertools_and_their_own_log_groups(template):
    functions = template.find_resources("AWS::Lambda::Function")
    assert {f["Properties"]["Handler"] for f in functions.values()} == {
        "functions.handlers.plan.handler",
        "functions.handlers.store_task.handler",
        "functions.handlers.dataset_store_task.handler",
        "functions.handlers.dataset_job.handler",
        "functions.handlers.complete.handler",
        "functions.handlers.intake.handler",
        "functions.handlers.send_code.handler",
        "functions.handlers.reject_unverified.handler",
        "functions.handlers.package_export.handler",
        "functions.handlers.notify_requester.handler",
        "functions.handlers.publish_event.handler",
        "functions.handlers.deadline_check.handler",
        "functions.handlers.failed_request_sweep.handler",
        "functions.handlers.digest.handler",
    } | {
        f"functions.handlers.retention_{step}.handler"
        for step in ("plan", "segment", "objects", "batch", "contacts", "record", "summary", "dataset")
    }
    for function in functions.values():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "privacy-engine"
        assert "LoggingConfig" in props
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 365})


def test_sample_data_stores_match_the_data_map(stacks):
    template = Template.from_stack(stacks["datastores"])
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "dsr-sample-customers",
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "by-email"})],
        },
    )
    template.has_resource_properties("AWS::DynamoDB::Table", {"TableName": "dsr-sample-orders"})
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {"BucketName": "dsr-sample-uploads-123456789012-us-east-1", "VersioningConfiguration": {"Status": "Enabled"}},
    )
    template.has_resource_properties("AWS::SES::ContactList", {"ContactListName": "dsr-sample-marketing"})
