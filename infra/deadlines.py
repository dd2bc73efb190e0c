"""The daily deadline check: an EventBridge rule invokes the check Lambda, which reads the requests table."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct


class DeadlineCheck(Construct):
    """Runs ``function`` every day at 06:00 UTC (before the working day, so alarms reach people in time)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        requests_table: dynamodb.ITable,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        # Read only: Scan (the check reads every open request) and the table key's Decrypt.
        requests_table.grant(function, "dynamodb:Scan")
        key.grant_decrypt(function)
        self.rule = events.Rule(
            self,
            "Daily",
            description="Counts privacy requests at risk of missing their deadline or overdue",
            schedule=events.Schedule.cron(minute="0", hour="6"),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
