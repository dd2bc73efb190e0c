"""The stack's own state: KMS keys, the requests and idempotency tables and the export bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


class PrivacyStorage(Construct):
    """Keys and tables the engine owns (unlike the data stores, which it only references)."""

    def __init__(self, scope: Construct, construct_id: str, *, export_expiry_days: int) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "DataKey",
            description="Encrypts privacy requests, exports and evidence",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Subject identifiers in evidence and events are HMACs under this key; it never leaves KMS.
        self.hmac_key = kms.Key(
            self,
            "SubjectHmacKey",
            description="Keyed HMAC of subject identifiers and erased record keys",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # expires_at_epoch: the per-address code and guess counters (address#<HMAC>) expire with their window.
        self.requests_table = self._table(
            "RequestsTable",
            "request_id",
            sort_key="record",
            time_to_live_attribute="expires_at_epoch",
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Powertools Idempotency records for the intake API (a double-submitted form files one request).
        # They hold the first answer, status token included, so: the stack key, and gone within the hour.
        self.idempotency_table = self._table(
            "IdempotencyTable", "id", time_to_live_attribute="expiration", removal_policy=RemovalPolicy.DESTROY
        )
        # Legal holds (see functions/privacy/subjects/holds.py): few items, read by erasure, retention and the CLI.
        self.holds_table = self._table(
            "HoldsTable", "subject_hmac", sort_key="hold_id", removal_policy=RemovalPolicy.RETAIN
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot write to SSE-KMS buckets
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(400))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Access exports hold a subject's whole record: they expire so copies do not linger.
        self.export_bucket = s3.Bucket(
            self,
            "ExportBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="export/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(export_expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _table(
        self,
        construct_id: str,
        partition_key: str,
        *,
        removal_policy: RemovalPolicy,
        sort_key: str | None = None,
        time_to_live_attribute: str | None = None,
    ) -> dynamodb.Table:
        """An engine table: string keys, on-demand, the stack's KMS key, point-in-time recovery."""
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=time_to_live_attribute,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )
