"""The audit bucket policy makes records write-once and the bucket's protection changeable only by break-glass.

moto's CloudFormation does not apply bucket policies, so the local cloud cannot enforce these: the template
is where they are proved, and every evidence writer also makes conditional creates on its own.
"""

import pytest
from aws_cdk.assertions import Template

from infra.audit import PROTECTION_ACTIONS


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


@pytest.fixture(scope="module")
def audit(template):
    (logical_id,) = [
        k for k, v in template.find_resources("AWS::S3::Bucket").items() if v["Properties"].get("ObjectLockEnabled")
    ]
    return logical_id


@pytest.fixture(scope="module")
def denials(template, audit):
    (policy,) = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": audit}
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return {s.get("Sid"): s for s in statements if s["Effect"] == "Deny"}


def _objects(audit):
    return {"Fn::Join": ["", [{"Fn::GetAtt": [audit, "Arn"]}, "/*"]]}


def test_a_put_without_if_none_match_is_denied_to_everyone(denials, audit):
    statement = denials["DenyPutWithoutIfNoneMatch"]
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == _objects(audit)
    assert statement["Condition"] == {"Null": {"s3:if-none-match": "true"}}


def test_delete_markers_and_version_deletes_are_denied_to_everyone_without_exception(denials, audit):
    statement = denials["DenyDeleteForEveryone"]
    assert statement["Principal"] == {"AWS": "*"}
    assert sorted(statement["Action"]) == ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    assert statement["Resource"] == _objects(audit)
    assert "Condition" not in statement


def test_versioning_object_lock_and_policy_changes_are_denied_except_to_the_break_glass_role(template, denials, audit):
    statement = denials["DenyProtectionChangesExceptBreakGlass"]
    assert statement["Principal"] == {"AWS": "*"}
    assert (
        sorted(statement["Action"])
        == sorted(PROTECTION_ACTIONS)
        == sorted(
            [
                "s3:PutBucketVersioning",
                "s3:PutBucketObjectLockConfiguration",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
            ]
        )
    )
    assert statement["Resource"] == {"Fn::GetAtt": [audit, "Arn"]}
    (role_id,) = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": "PrivacyEngine-audit-break-glass"}}
    )
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [role_id, "Arn"]}}}


def test_the_break_glass_role_needs_mfa_and_may_only_change_the_bucket_protection(template, audit):
    (role,) = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": "PrivacyEngine-audit-break-glass"}}
    ).values()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    granted = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        if any("BreakGlass" in r["Ref"] for r in p["Properties"].get("Roles", []))
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [(sorted(s["Action"]), s["Resource"]) for s in granted] == [
        (sorted(PROTECTION_ACTIONS), {"Fn::GetAtt": [audit, "Arn"]})
    ]


def test_tls_is_still_required(template, audit):
    (policy,) = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": audit}
    ]
    assert any(
        s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
