"""The immutable audit bucket: evidence that requests and retention runs were honoured.

Object Lock in COMPLIANCE mode means nobody, root included, can delete or shorten the retention of
a record before it expires, so nothing erasable (no personal data) may ever be written here.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
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
