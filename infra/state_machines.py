"""What the engine's state machines share: an inline ASL definition, logs without execution data, tracing, and the
grants a Distributed Map needs to read its manifest and run its child executions."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .config import ROOT

STATEMACHINES = ROOT / "statemachines"


def distributed_map_machine(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    asl: str,
    substitutions: Mapping[str, str],
    work_bucket: s3.IBucket,
    work_prefix: str,
    key: kms.IKey,
) -> sfn.StateMachine:
    """A named STANDARD state machine from ``statemachines/<asl>`` whose Distributed Map reads its manifest under
    ``work_prefix`` of the work bucket and starts, describes and stops its own child executions."""
    stack = Stack.of(scope)
    log_group = logs.LogGroup(
        scope, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
    )
    state_machine = sfn.StateMachine(
        scope,
        construct_id,
        state_machine_name=name,
        # from_string, not from_file: from_file makes the ASL an S3 asset template tests could not read inline.
        definition_body=sfn.DefinitionBody.from_string((STATEMACHINES / asl).read_text()),
        definition_substitutions=dict(substitutions),
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        # Events without inputs and outputs: state names stores, keys and task tokens, never needed in logs.
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    work_bucket.grant_read(state_machine, work_prefix)
    key.grant_decrypt(state_machine)
    colon = ArnFormat.COLON_RESOURCE_NAME
    own = stack.format_arn(service="states", resource="stateMachine", resource_name=name, arn_format=colon)
    executions = stack.format_arn(service="states", resource="execution", resource_name=f"{name}/*", arn_format=colon)
    state_machine.add_to_role_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[own]))
    state_machine.add_to_role_policy(
        iam.PolicyStatement(actions=["states:DescribeExecution", "states:StopExecution"], resources=[executions])
    )
    return state_machine
