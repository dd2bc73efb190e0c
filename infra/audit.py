"""The immutable audit bucket: evidence that requests and retention runs were honoured.

Object Lock in COMPLIANCE mode means nobody, root included, can delete or shorten the retention of
a record before it expires, so nothing erasable (no personal data) may ever be written here.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
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


def grant_evidence_writes(function: lambda_.IFunction, bucket: s3.IBucket, prefix: str, key: kms.IKey) -> None:
    """Write evidence once under ``prefix`` and read it back for idempotency; never delete.

    ListBucket makes a missing record answer NoSuchKey instead of AccessDenied; the bucket is encrypted
    with the stack's data key.
    """
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects(f"{prefix}*")])
    )
    function.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
    key.grant_encrypt_decrypt(function)
