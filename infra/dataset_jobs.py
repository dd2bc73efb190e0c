"""The dataset job: the queue of lake (s3_dataset) erasures and accesses, the job's state machine and schedule.

A request's ActOnDatasetStore task queues itself and waits on its task token; the job (hourly by default,
`dsr datasets run` on demand) takes every queued task at once, visits each lake object once in a Distributed
Map and resumes each task with its store's outcome. Exists only when the data map has s3_dataset stores.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.privacy.datamap.model import DataMap

from .config import DeployConfig
from .datastore_access import dataset_statements
from .governance import _ack
from .state_machines import distributed_map_machine
from .storage import PrivacyStorage
from .workflows import RequestWorkflow

WORK = "jobs/*"  # the job's batches, manifest and per-object results in the work bucket


class DatasetJobs(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        datamap: DataMap,
        job: lambda_.Function,
        store_task: lambda_.Function,
        storage: PrivacyStorage,
        workflow: RequestWorkflow,
        work_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._job, self._work_bucket = job, work_bucket
        # Queued tasks (store, request id, operation, task token): no identifiers; the job reads those from the
        # requests table. Items leave when the job resumes their task.
        self.queue = dynamodb.Table(
            self,
            "Queue",
            partition_key=dynamodb.Attribute(name="store", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="entry", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=storage.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        for function in (job, store_task):
            function.add_environment("DATASET_QUEUE_TABLE", self.queue.table_name)
        self.queue.grant(store_task, "dynamodb:UpdateItem")  # enqueue: a retry keeps what an earlier job carried
        self.queue.grant_read_write_data(job)
        job.add_environment("DATASET_WORK_BUCKET", work_bucket.bucket_name)
        work_bucket.grant_read_write(job, WORK)
        storage.key.grant_encrypt_decrypt(job)
        # The job acts as the store task would: requests-table reads, store evidence, export parts, the lake.
        workflow.grant_store_task(job, dataset_statements(stack, datamap, write=True))
        workflow.state_machine.grant_task_response(job)
        # The store task answers a recorded or not-applicable task itself. A policy of its own: the function's
        # default policy naming the state machine that invokes the function would be a dependency cycle.
        iam.Policy(
            self,
            "StoreTaskResumes",
            roles=[store_task.role] if store_task.role is not None else [],
            statements=[
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                    resources=[workflow.state_machine.state_machine_arn],
                )
            ],
        )
        name = f"{stack.stack_name}-DatasetJob"
        self.state_machine = self._state_machine(stack, config, storage, name)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="Starts the dataset job: every queued lake erasure and access at once",
            schedule=scheduler.ScheduleExpression.expression(config.dataset_job_schedule),
            target=targets.StepFunctionsStartExecution(
                self.state_machine, input=scheduler.ScheduleTargetInput.from_object({}), retry_attempts=3
            ),
        )
        self._acknowledge(stack, name)

    def _state_machine(
        self, stack: Stack, config: DeployConfig, storage: PrivacyStorage, name: str
    ) -> sfn.StateMachine:
        state_machine = distributed_map_machine(
            self,
            "StateMachine",
            name=name,
            asl="datasets.asl.json",
            substitutions={
                "DatasetJobFunctionArn": self._job.function_arn,
                "RetryIntervalSeconds": str(config.retry_interval_seconds),
                "ObjectConcurrency": str(config.dataset_object_concurrency),
            },
            work_bucket=self._work_bucket,
            work_prefix=WORK,
            key=storage.key,
        )
        self._job.grant_invoke(state_machine)
        return state_machine

    def _acknowledge(self, stack: Stack, name: str) -> None:
        job = stack.get_logical_id(self._job.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement
        _ack(
            stack,
            f"IAM5[Resource::<{job}.Arn>:*]",
            "Invoke permission on the stack's own dataset job function and its versions (CDK's grantInvoke).",
        )
        work = stack.get_logical_id(self._work_bucket.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement
        _ack(
            stack,
            f"IAM5[Resource::<{work}.Arn>/jobs/*]",
            "Per-job key batches and per-object results are created under jobs/ in the work bucket (expire in a day).",
        )
        _ack(
            stack,
            f"IAM5[Resource::arn:<AWS::Partition>:states:{stack.region}:{stack.account}:execution:{name}/*]",
            "The Distributed Map's child executions of the dataset job state machine; their names are generated.",
        )
