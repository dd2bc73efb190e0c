"""The request state machine, loaded inline from statemachines/request.asl.json."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .config import ROOT

STATEMACHINES = ROOT / "statemachines"


class RequestWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        plan: lambda_.IFunction,
        store_task: lambda_.IFunction,
        complete: lambda_.IFunction,
        send_code: lambda_.IFunction,
        reject_unverified: lambda_.IFunction,
        package_export: lambda_.IFunction,
        notify: lambda_.IFunction,
        publish_event: lambda_.IFunction,
        requests_table: dynamodb.ITable,
        store_task_concurrency: int,
        retry_interval_seconds: int,
        verification_timeout_seconds: int,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        # from_string, not from_file: from_file makes the ASL an S3 asset that template tests and the
        # local cloud could not read inline.
        self.state_machine = sfn.StateMachine(
            self,
            "RequestStateMachine",
            definition_body=sfn.DefinitionBody.from_string((STATEMACHINES / "request.asl.json").read_text()),
            definition_substitutions={
                "PlanFunctionArn": plan.function_arn,
                "StoreTaskFunctionArn": store_task.function_arn,
                "CompleteFunctionArn": complete.function_arn,
                "SendCodeFunctionArn": send_code.function_arn,
                "RejectUnverifiedFunctionArn": reject_unverified.function_arn,
                "PackageExportFunctionArn": package_export.function_arn,
                "NotifyFunctionArn": notify.function_arn,
                "PublishEventFunctionArn": publish_event.function_arn,
                "VerificationTimeoutSeconds": str(verification_timeout_seconds),
                "RequestsTableName": requests_table.table_name,
                "StoreTaskConcurrency": str(store_task_concurrency),
                "RetryIntervalSeconds": str(retry_interval_seconds),
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        for function in (
            plan,
            store_task,
            complete,
            send_code,
            reject_unverified,
            package_export,
            notify,
            publish_event,
        ):
            function.grant_invoke(self.state_machine)
        requests_table.grant(self.state_machine, "dynamodb:GetItem", "dynamodb:UpdateItem")
        if requests_table.encryption_key is not None:
            requests_table.encryption_key.grant_encrypt_decrypt(self.state_machine)
