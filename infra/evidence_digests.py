"""Signed evidence digests: the KMS signing key, the scheduled digest function's grants and its dead letters.

Digests tie the per-request chains together (CloudTrail-style integrity validation): every record
written since the previous digest is listed with its SHA-256 and the digest is signed with an
asymmetric KMS key whose private half never leaves KMS. Anyone holding kms:Verify (or the public key)
can check a digest without being able to forge one.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.privacy.evidence.digests import DIGEST_PREFIX, RECORD_PREFIXES


class EvidenceDigests(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        bucket: s3.IBucket,
        data_key: kms.IKey,
        schedule_expression: str,
        requests_table_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.signing_key = kms.Key(
            self,
            "SigningKey",
            description="Signs evidence digests (ECDSA P-256); operators verify with kms:Verify or the public key",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            # Deleting it would leave every digest ever written unverifiable.
            removal_policy=RemovalPolicy.RETAIN,
        )
        prefixes = [*RECORD_PREFIXES, DIGEST_PREFIX]
        function.add_environment("SIGNING_KEY_ID", self.signing_key.key_arn)
        self.signing_key.grant(function, "kms:Sign")
        # Reads every record and digest version, writes digests only: it can never change a record.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{DIGEST_PREFIX}*")])
        )
        data_key.grant_encrypt_decrypt(function)  # the audit bucket is encrypted with the stack's data key

        # A digest that never ran shows up as records missing from digests; the queue makes it visible sooner.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letters), retry_attempts=2, max_event_age=Duration.hours(6)
        )
        # Scheduler writes to the dead-letter queue itself: an SSE-KMS queue needs the key for that too.
        schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
        )
        data_key.grant(schedule_role, "kms:GenerateDataKey", "kms:Decrypt")
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="Writes a signed digest of new evidence records",
            schedule=scheduler.ScheduleExpression.expression(schedule_expression),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object({"as_of": scheduler.ContextAttribute.scheduled_time}),
                dead_letter_queue=self.dead_letters,
                role=schedule_role,
                retry_attempts=3,
                max_event_age=Duration.hours(6),
            ),
        )

        # What an operator or auditor attaches to run `dsr evidence verify`: read records and digests, verify
        # signatures; no write and no kms:Sign.
        self.verifier_policy = iam.ManagedPolicy(
            self,
            "VerifierPolicy",
            description="Read the audit bucket's evidence and digests and verify digest signatures",
            statements=[
                iam.PolicyStatement(actions=["kms:Verify", "kms:GetPublicKey"], resources=[self.signing_key.key_arn]),
                iam.PolicyStatement(actions=["s3:ListBucket", "s3:ListBucketVersions"], resources=[bucket.bucket_arn]),
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes],
                ),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[data_key.key_arn]),
                # Which requests are closed, so a chain without its closing record is named truncated.
                iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[requests_table_arn]),
            ],
        )
