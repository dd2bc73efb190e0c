"""CloudFormation adapter pieces that need no server: which resource types exist locally."""

from __future__ import annotations

from local.adapters import cloudformation


def test_unsupported_types_exclude_the_ones_the_adapters_create() -> None:
    template = {
        "Resources": {
            "List": {"Type": "AWS::SES::ContactList"},
            "Schedule": {"Type": "AWS::Scheduler::Schedule"},
            "Alarm1": {"Type": "AWS::CloudWatch::Alarm"},
            "Alarm2": {"Type": "AWS::CloudWatch::Alarm"},
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Custom": {"Type": "Custom::Thing"},
            "Policy": {"Type": "AWS::S3::BucketPolicy"},
        }
    }
    assert cloudformation.unsupported_resource_types(template) == {"AWS::CloudWatch::Alarm": ["Alarm1", "Alarm2"]}
