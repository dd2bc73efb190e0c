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


def _audit_puts(template, resources, audit, function_id):
    """The audit-bucket key patterns a function's role may PutObject on."""
    role = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    patterns = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"].get("Roles", []):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if "s3:PutObject" not in actions:
                continue
            for target in targets:
                parts = target.get("Fn::Join", ["", []])[1] if isinstance(target, dict) else []
                if parts and parts[0] == {"Fn::GetAtt": [audit, "Arn"]}:
                    patterns.add(parts[1].lstrip("/"))
    return patterns


@pytest.fixture(scope="module")
def functions(stacks):
    stack = stacks["privacy"]
    built = stack.functions
    return {
        name: stack.get_logical_id(function.node.default_child)
        for name, function in vars(built).items()
        if not name.startswith("_") and hasattr(function, "function_name")
    }


def test_each_function_may_create_only_the_evidence_it_owns(template, audit, functions):
    resources = template.find_resources("AWS::Lambda::Function")
    owned = {
        "intake": {
            "requests/*/chain/*-received.json",
            "requests/*/chain/*-verified.json",
            "requests/*/chain/*-cancelled.json",  # the requester's cancel
            "requests/*/chain/*-export_downloaded.json",  # each download of the access archive
        },
        "reject_unverified": {"requests/*/chain/*-rejected_unverified.json"},
        "failed_request_sweep": {"requests/*/chain/*-identifiers_dropped.json"},
        "complete": {"requests/*/chain/*-completed.json", "requests/*/chain/*-completed_rerun_*.json"},
        "store_task": {"requests/*/stores/*"},
        "dataset_store_task": {"requests/*/stores/*"},  # the lake's stores: answers recorded tasks itself
        "dataset_job": {"requests/*/stores/*"},  # records the store outcome of every task it resumes
        "digest": {"digests/*"},
        "retention_record": {"retention/*"},
        "retention_summary": {"retention/*"},
    }
    for name, patterns in owned.items():
        assert _audit_puts(template, resources, audit, functions[name]) == patterns, name
    # The internet-facing intake can write neither store records nor completions; digests never chain records.
    assert not any(
        "stores" in p or "completed" in p for p in _audit_puts(template, resources, audit, functions["intake"])
    )
    assert not any("requests" in p for p in _audit_puts(template, resources, audit, functions["digest"]))
    others = set(functions) - set(owned)
    for name in others:
        assert not any(p.startswith("requests/") for p in _audit_puts(template, resources, audit, functions[name])), (
            name
        )
