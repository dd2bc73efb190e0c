"""The daily failed-request sweep: an EventBridge rule invokes the sweep Lambda over the requests table."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .audit import CHAIN, FAILED_SWEEP_WRITES, grant_evidence_writes


class FailedRequestSweep(Construct):
    """Runs ``function`` every day at 04:00 UTC (after retention's 03:00 run, before the 06:00 deadline check)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        requests_table: dynamodb.ITable,
        key: kms.IKey,
        audit_bucket: s3.IBucket,
        retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        # Scan for candidates, UpdateItem to drop their identifiers; no GetItem, no delete of any item.
        requests_table.grant(function, "dynamodb:Scan", "dynamodb:UpdateItem")
        key.grant_encrypt_decrypt(function)
        grant_evidence_writes(function, audit_bucket, key, writes=FAILED_SWEEP_WRITES, reads=(f"{CHAIN}*",))
        function.add_environment("FAILED_REQUEST_RETENTION_DAYS", str(retention_days))
        self.rule = events.Rule(
            self,
            "Daily",
            description="Drops raw identifiers of failed and never-verified privacy requests past their retention",
            schedule=events.Schedule.cron(minute="0", hour="4"),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
