"""The immutable audit bucket: evidence that requests and retention runs were honoured.

Object Lock in COMPLIANCE mode means nobody, root included, can delete or shorten the retention of
a record before it expires, so nothing erasable (no personal data) may ever be written here. The
bucket policy adds what Object Lock does not: no new version over a key (writes must be conditional
creates), no delete markers, and no change to versioning, Object Lock or the policy itself except
through the named break-glass role.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct


class AuditBucket(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, access_logs: s3.IBucket, retention_years: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(Duration.days(365 * retention_years)),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="audit/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Assumed (with MFA) by the account's administrators only to change the bucket's protection; every use
        # is in CloudTrail. Named so the policy can refer to it and an auditor can look for its sessions.
        self.break_glass_role = iam.Role(
            self,
            "BreakGlassRole",
            role_name=f"{Stack.of(self).stack_name}-audit-break-glass",
            description="The only principal that may change the audit bucket's versioning, Object Lock or policy",
            assumed_by=iam.AccountRootPrincipal().with_conditions({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            max_session_duration=Duration.hours(1),
        )
        self.break_glass_role.add_to_policy(
            iam.PolicyStatement(actions=list(PROTECTION_ACTIONS), resources=[self.bucket.bucket_arn])
        )
        for statement in protection_statements(self.bucket, self.break_glass_role.role_arn):
            self.bucket.add_to_resource_policy(statement)


# Changing any of these could make later tampering invisible (suspend versioning, drop the policy).
PROTECTION_ACTIONS = (
    "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
)


def protection_statements(bucket: s3.IBucket, break_glass_role_arn: str) -> list[iam.PolicyStatement]:
    """The audit bucket policy's denials: write-once records, no delete markers, protection changes by break-glass."""
    everyone = [iam.AnyPrincipal()]
    return [
        # Without If-None-Match a PUT over an existing key adds a version: Object Lock keeps the old one
        # but readers of current objects see the new one.
        iam.PolicyStatement(
            sid="DenyPutWithoutIfNoneMatch",
            effect=iam.Effect.DENY,
            principals=everyone,
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects("*")],
            conditions={"Null": {"s3:if-none-match": "true"}},
        ),
        # A DELETE without a version id adds a delete marker, which Object Lock allows: it hides a record.
        iam.PolicyStatement(
            sid="DenyDeleteForEveryone",
            effect=iam.Effect.DENY,
            principals=everyone,
            actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
            resources=[bucket.arn_for_objects("*")],
        ),
        iam.PolicyStatement(
            sid="DenyProtectionChangesExceptBreakGlass",
            effect=iam.Effect.DENY,
            principals=everyone,
            actions=list(PROTECTION_ACTIONS),
            resources=[bucket.bucket_arn],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": break_glass_role_arn}},
        ),
    ]


# What each function may create: intake cannot write store records or completions, store tasks cannot
# write chain records, and the digest function writes digests/ only (infra/evidence_digests.py).
CHAIN = "requests/*/chain/"
# Filing's records, a cancellation, and one record per archive download (functions/privacy/intake/downloads.py).
INTAKE_WRITES = (
    f"{CHAIN}*-received.json",
    f"{CHAIN}*-verified.json",
    f"{CHAIN}*-cancelled.json",
    f"{CHAIN}*-export_downloaded.json",
)
REJECT_WRITES = (f"{CHAIN}*-rejected_unverified.json",)
FAILED_SWEEP_WRITES = (f"{CHAIN}*-identifiers_dropped.json",)
COMPLETE_WRITES = (f"{CHAIN}*-completed.json", f"{CHAIN}*-completed_rerun_*.json")
STORE_TASK_WRITES = ("requests/*/stores/*",)
RETENTION_WRITES = ("retention/*",)


def grant_evidence_writes(
    function: lambda_.IFunction, bucket: s3.IBucket, key: kms.IKey, *, writes: tuple[str, ...], reads: tuple[str, ...]
) -> None:
    """Create evidence once under the key patterns ``function`` owns and read what it chains to; never delete.

    Writers list versions and read them by version id (a record hidden by a delete marker still holds its
    place); ListBucket makes a missing record answer NoSuchKey instead of AccessDenied; the bucket is
    encrypted with the stack's data key.
    """
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(p) for p in writes])
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[bucket.arn_for_objects(p) for p in dict.fromkeys([*reads, *writes])],
        )
    )
    # A GET of a missing key is judged on ListBucket without a prefix, so that one stays unconditional.
    function.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucketVersions"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": sorted({p.split("/", 1)[0] + "/*" for p in [*reads, *writes]})}},
        )
    )
    key.grant_encrypt_decrypt(function)
