"""Scheduled retention: the work bucket, the retention state machine, its grants and its daily schedule.

The state machine is loaded inline from statemachines/retention.asl.json. Functions are granted only
the data map's stores; the schedule passes its own scheduled time as ``as_of`` so any run can be
replayed exactly.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.retention.runs import retention_applies

from .audit import RETENTION_WRITES, grant_evidence_writes
from .config import DeployConfig
from .datastore_access import _s3_prefix, _table_arns, dataset_statements
from .functions import PrivacyFunctions
from .governance import _ack
from .state_machines import distributed_map_machine
from .storage import PrivacyStorage


class RetentionEngine(Construct):
    """Everything a retention run needs, and the wiring of PrivacyFunctions' retention_* functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        datamap: DataMap,
        functions: PrivacyFunctions,
        storage: PrivacyStorage,
        audit_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack, key = Stack.of(self), storage.key
        self._audit_bucket = audit_bucket
        everyone = functions.retention()
        self.plan, self.segment, self.objects, self.batch, self.contacts, self.record, self.summary = everyone
        # Lake (s3_dataset) stores with a retention timestamp only: python3.12 with pyarrow (infra/functions.py).
        self.dataset = functions.retention_dataset
        self.work_bucket = self._work_bucket(key, storage.access_logs)
        self._wire_functions(config, key, storage.hmac_key, storage.holds_table)
        self._grant_stores(stack, datamap)
        self._grant_lake(stack, datamap)
        self._let_ses_read_import_files(stack, key)
        name = f"{stack.stack_name}-Retention"
        self.state_machine = self._state_machine(stack, config, key, name)
        self.schedule = self._schedule(config)
        self._acknowledge(stack, datamap, (*everyone, *self._lake_functions()), name)

    def _lake_functions(self) -> tuple[lambda_.Function, ...]:
        return () if self.dataset is None else (self.dataset,)

    def _work_bucket(self, key: kms.IKey, access_logs: s3.IBucket) -> s3.Bucket:
        """Key batches, scan cursors and import files hold identifiers: encrypted, and gone within a day."""
        return s3.Bucket(
            self,
            "WorkBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="retention-work/",
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(1), abort_incomplete_multipart_upload_after=Duration.days(1))
            ],
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )

    def _wire_functions(
        self, config: DeployConfig, key: kms.IKey, hmac_key: kms.IKey, holds_table: dynamodb.ITable
    ) -> None:
        """Environment and the grants every run needs whatever the data map holds (stores: _grant_stores)."""
        lake = self._lake_functions()
        every = (self.plan, self.segment, self.objects, self.batch, self.contacts, self.record, self.summary, *lake)
        for function in every:
            function.add_environment("RETENTION_WORK_BUCKET", self.work_bucket.bucket_name)
        self.plan.add_environment("RETENTION_SEGMENTS", str(config.retention_segments))
        for function in (self.segment, self.objects, self.batch, self.contacts, *lake):
            self.work_bucket.grant_read_write(function, "runs/*")
            key.grant_encrypt_decrypt(function)
        # Whatever expires records must see legal holds first, and digests the keys it expired.
        for function in (self.segment, self.objects, self.contacts, *lake):
            holds_table.grant_read_data(function)
            hmac_key.grant(function, "kms:GenerateMac")
        holds_table.grant_read_data(self.batch)  # holds are read again just before each batch is deleted
        for function in (self.record, self.summary):
            grant_evidence_writes(function, self._audit_bucket, key, writes=RETENTION_WRITES, reads=RETENTION_WRITES)

    def _let_ses_read_import_files(self, stack: Stack, key: kms.IKey) -> None:
        """SES reads the import file (addresses to remove) from the work bucket when it runs the job."""
        ses = iam.ServicePrincipal("ses.amazonaws.com")
        self.work_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[ses],
                actions=["s3:GetObject"],
                resources=[self.work_bucket.arn_for_objects("runs/*")],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        # Only for this account's SES (confused-deputy guard), and only to decrypt.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[ses],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

    def _state_machine(self, stack: Stack, config: DeployConfig, key: kms.IKey, name: str) -> sfn.StateMachine:
        state_machine = distributed_map_machine(
            self,
            "RetentionStateMachine",
            name=name,
            asl="retention.asl.json",
            substitutions={
                "PlanFunctionArn": self.plan.function_arn,
                "SegmentFunctionArn": self.segment.function_arn,
                "ObjectPlanFunctionArn": self.objects.function_arn,
                "BatchFunctionArn": self.batch.function_arn,
                "ContactsFunctionArn": self.contacts.function_arn,
                "RecordFunctionArn": self.record.function_arn,
                "SummaryFunctionArn": self.summary.function_arn,
                # Without lake stores the s3_dataset branch is never taken; the object lister stands in (and would
                # fail a misrouted store, which the branch's Catch records as failed).
                "DatasetFunctionArn": (self.dataset or self.objects).function_arn,
                "RetryIntervalSeconds": str(config.retry_interval_seconds),
                "StoreConcurrency": str(config.store_task_concurrency),
                # Inline Map runs at most 40 iterations at once on AWS; more segments queue behind them.
                "SegmentConcurrency": str(min(config.retention_segments, 40)),
                "BatchConcurrency": str(config.retention_batch_concurrency),
            },
            work_bucket=self.work_bucket,
            work_prefix="runs/*",
            key=key,
        )
        every = (self.plan, self.segment, self.objects, self.batch, self.contacts, self.record, self.summary)
        for function in (*every, *self._lake_functions()):
            function.grant_invoke(state_machine)
        return state_machine

    def _schedule(self, config: DeployConfig) -> scheduler.Schedule:
        """Daily by default; the scheduled time becomes as_of, so a replay of that day's run is exact."""
        return scheduler.Schedule(
            self,
            "Schedule",
            description="Starts the retention run with its scheduled time as as_of",
            schedule=scheduler.ScheduleExpression.expression(
                config.retention_schedule, time_zone=TimeZone.of(config.retention_time_zone)
            ),
            target=targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"as_of": scheduler.ContextAttribute.scheduled_time, "dry_run": False}
                ),
                retry_attempts=3,
            ),
        )

    def _grant_stores(self, stack: Stack, datamap: DataMap) -> None:
        for store in datamap.stores.values():
            if not retention_applies(store):
                continue
            if store.kind is StoreKind.DYNAMODB:
                self.segment.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"],
                        resources=_table_arns(stack, store, with_indexes=False),
                    )
                )
            elif store.kind is StoreKind.S3:
                prefix = _s3_prefix(store)
                bucket_arn = f"arn:{stack.partition}:s3:::{store.resource}"
                self.objects.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["s3:ListBucketVersions", "s3:ListBucket"],
                        resources=[bucket_arn],
                        conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                    )
                )
                self.batch.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["s3:DeleteObject", "s3:DeleteObjectVersion"], resources=[f"{bucket_arn}/{prefix}*"]
                    )
                )
            elif store.kind is StoreKind.SES_CONTACT_LIST:
                contact_list = stack.format_arn(service="ses", resource="contact-list", resource_name=store.resource)
                self.contacts.add_to_role_policy(
                    iam.PolicyStatement(actions=["ses:ListContacts", "ses:GetContactList"], resources=[contact_list])
                )
                self.contacts.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["ses:CreateImportJob", "ses:GetImportJob"],
                        resources=[
                            contact_list,
                            stack.format_arn(service="ses", resource="import-job", resource_name="*"),
                        ],
                    )
                )

    def _grant_lake(self, stack: Stack, datamap: DataMap) -> None:
        """The lake prefixes of the stores retention applies to: list, read, rewrite and delete versions there.

        The same statements as the dataset store task's (infra/datastore_access.py), for the same rewrite.
        """
        if self.dataset is None:
            return
        stores = {n: s for n, s in datamap.stores_of_kind(StoreKind.S3_DATASET).items() if retention_applies(s)}
        for statement in dataset_statements(stack, datamap.model_copy(update={"stores": stores}), write=True):
            self.dataset.add_to_role_policy(statement)

    def _acknowledge(self, stack: Stack, datamap: DataMap, functions: tuple[lambda_.Function, ...], name: str) -> None:
        for function in functions:
            logical = stack.get_logical_id(function.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement
            _ack(
                stack,
                f"IAM5[Resource::<{logical}.Arn>:*]",
                "Invoke permission on the stack's own retention function and its versions (CDK's grantInvoke).",
            )
        work = stack.get_logical_id(self.work_bucket.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement
        _ack(
            stack,
            f"IAM5[Resource::<{work}.Arn>/runs/*]",
            "Per-run key batches and cursors are created under runs/ in the retention work bucket (expires in a day).",
        )
        for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"):
            _ack(
                stack,
                f"IAM5[Action::{action}]",
                "CDK's grantRead/grantReadWrite on the retention work bucket's runs/ prefix only.",
            )
        _ack(
            stack,
            f"IAM5[Resource::arn:<AWS::Partition>:states:{stack.region}:{stack.account}:execution:{name}/*]",
            "The Distributed Map's child executions of the retention state machine; their names are generated.",
        )
        _ack(
            stack,
            f"IAM5[Resource::arn:<AWS::Partition>:ses:{stack.region}:{stack.account}:import-job/*]",
            "SESv2 generates import job ids when retention starts one; only the contact list's jobs are made.",
        )
        audit = stack.get_logical_id(self._audit_bucket.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement
        _ack(
            stack,
            f"IAM5[Resource::<{audit}.Arn>/retention/*]",
            "Retention evidence is written once per run and store under retention/; put and get only.",
        )
