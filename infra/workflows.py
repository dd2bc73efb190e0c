"""The request state machine, loaded inline from statemachines/request.asl.json, and the wiring of its functions.

Each function the workflow runs (plan, store tasks, completion, verification, export, confirmation,
downstream event) gets its environment and grants here, next to the state machine that invokes it.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.privacy.datamap.model import DataMap

from .audit import CHAIN, COMPLETE_WRITES, REJECT_WRITES, STORE_TASK_WRITES, grant_evidence_writes
from .config import DeployConfig
from .datastore_access import dataset_statements, resolution_statements, store_statements
from .email import TransactionalEmail
from .events import DownstreamEvents
from .functions import PrivacyFunctions
from .state_machines import STATEMACHINES
from .storage import PrivacyStorage

# Request evidence lives under requests/ in the audit bucket (see functions/privacy/evidence/records.py).
# Store tasks write export parts here; packaging turns them into the archive the requester downloads.
EXPORTS = "exports/*"


class RequestWorkflow(Construct):
    """The rights workflow: its state machine and what each function it runs may read, write and send."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: PrivacyFunctions,
        storage: PrivacyStorage,
        audit_bucket: s3.IBucket,
        downstream: DownstreamEvents,
        datamap: DataMap,
        config: DeployConfig,
        email: TransactionalEmail,
    ) -> None:
        super().__init__(scope, construct_id)
        self._email = email
        self._functions, self._storage, self._audit_bucket = functions, storage, audit_bucket
        self._wire_plan(datamap)
        self._wire_store_task(datamap)
        self._wire_complete()
        self._wire_verification()
        self._wire_package_export()
        self._wire_notify(config)
        self._wire_publish_event(downstream)
        self.state_machine = self._state_machine(config)

    def _wire_plan(self, datamap: DataMap) -> None:
        """Planning records the plan on the request, resolves identifiers and checks legal holds."""
        plan, storage = self._functions.plan, self._storage
        storage.requests_table.grant_read_write_data(plan)
        for statement in resolution_statements(Stack.of(self), datamap):
            plan.add_to_role_policy(statement)
        storage.hmac_key.grant(plan, "kms:GenerateMac")
        storage.holds_table.grant_read_data(plan)

    def _wire_store_task(self, datamap: DataMap) -> None:
        """Store tasks act on exactly the data map's stores and write evidence and export parts only.

        The dataset store task (s3_dataset stores, on python3.12 with pyarrow) gets the same requests-table,
        evidence, key and export grants, and reads the lake only: it queues erasure and access for the dataset job
        (infra/dataset_jobs.py, which gets the lake's write statements) and re-checks. The workflow routes it
        s3_dataset tasks alone; the ordinary store task gets nothing on the lake."""
        stack = Stack.of(self)
        self.grant_store_task(self._functions.store_task, store_statements(stack, datamap, write=True))
        if self._functions.dataset_store_task is not None:
            self.grant_store_task(self._functions.dataset_store_task, dataset_statements(stack, datamap, write=False))

    def grant_store_task(self, store_task: lambda_.IFunction, statements: list[iam.PolicyStatement]) -> None:
        storage = self._storage
        grant_evidence_writes(
            store_task, self._audit_bucket, storage.key, writes=STORE_TASK_WRITES, reads=STORE_TASK_WRITES
        )
        storage.requests_table.grant_read_data(store_task)
        # claim_for_acting: the conditional UpdateItem that decides a cancel-versus-act race on the record.
        storage.requests_table.grant(store_task, "dynamodb:UpdateItem")
        for statement in statements:
            store_task.add_to_role_policy(statement)
        storage.hmac_key.grant(store_task, "kms:GenerateMac")
        # GetObject for HeadObject on the archive and ListBucket on the parts: a re-run re-reads a store
        # whose part expired before the archive was complete.
        store_task.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[storage.export_bucket.arn_for_objects(EXPORTS)],
            )
        )
        store_task.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[storage.export_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [EXPORTS]}},
            )
        )

    def _wire_complete(self) -> None:
        complete, storage = self._functions.complete, self._storage
        grant_evidence_writes(complete, self._audit_bucket, storage.key, writes=COMPLETE_WRITES, reads=(f"{CHAIN}*",))
        storage.requests_table.grant_read_data(complete)
        storage.hmac_key.grant(complete, "kms:GenerateMac")

    def _wire_verification(self) -> None:
        """Verification issues codes (email) and records rejections (with evidence)."""
        send_code, reject = self._functions.send_code, self._functions.reject_unverified
        storage = self._storage
        grant_evidence_writes(reject, self._audit_bucket, storage.key, writes=REJECT_WRITES, reads=(f"{CHAIN}*",))
        for function in (send_code, reject):
            storage.requests_table.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        storage.key.grant_encrypt_decrypt(send_code)
        self._email.grant_send(send_code)
        storage.hmac_key.grant(send_code, "kms:GenerateMac")

    def _wire_package_export(self) -> None:
        """Packaging reads and deletes the parts and writes the archive."""
        package, exports = self._functions.package_export, self._storage.export_bucket
        package.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[exports.arn_for_objects(EXPORTS)],
            )
        )
        package.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[exports.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [EXPORTS]}},
            )
        )
        self._storage.key.grant_encrypt_decrypt(package)

    def _wire_notify(self, config: DeployConfig) -> None:
        """The confirmation email; an access one carries a download token (a keyed digest on the request, so
        GenerateMac) for the intake API's export route, which signs the S3 URL itself (API_URL: privacy_stack)."""
        notify, storage = self._functions.notify, self._storage
        storage.key.grant_encrypt_decrypt(notify)
        storage.hmac_key.grant(notify, "kms:GenerateMac")
        storage.requests_table.grant(notify, "dynamodb:GetItem", "dynamodb:UpdateItem")
        self._email.grant_send(notify)
        notify.add_environment("EXPORT_LINK_SECONDS", str(config.export_link_days * 24 * 3600))

    def _wire_publish_event(self, downstream: DownstreamEvents) -> None:
        publish = self._functions.publish_event
        downstream.grant_publish(publish)
        publish.add_environment("EVENT_BUS_NAME", downstream.bus.event_bus_name)

    def _state_machine(self, config: DeployConfig) -> sfn.StateMachine:
        f, requests_table = self._functions, self._storage.requests_table
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        # from_string, not from_file: from_file makes the ASL an S3 asset that template tests and the
        # local cloud could not read inline.
        state_machine = sfn.StateMachine(
            self,
            "RequestStateMachine",
            definition_body=sfn.DefinitionBody.from_string((STATEMACHINES / "request.asl.json").read_text()),
            definition_substitutions={
                "PlanFunctionArn": f.plan.function_arn,
                "StoreTaskFunctionArn": f.store_task.function_arn,
                # Tasks of s3_dataset stores go here; without such stores no task has that kind (the Choice
                # never takes this branch) and the store task's ARN keeps the definition valid.
                "DatasetStoreTaskFunctionArn": (f.dataset_store_task or f.store_task).function_arn,
                "CompleteFunctionArn": f.complete.function_arn,
                "SendCodeFunctionArn": f.send_code.function_arn,
                "RejectUnverifiedFunctionArn": f.reject_unverified.function_arn,
                "PackageExportFunctionArn": f.package_export.function_arn,
                "NotifyFunctionArn": f.notify.function_arn,
                "PublishEventFunctionArn": f.publish_event.function_arn,
                "VerificationTimeoutSeconds": str(config.verification_timeout),
                "RequestsTableName": requests_table.table_name,
                "StoreTaskConcurrency": str(config.store_task_concurrency),
                "RetryIntervalSeconds": str(config.retry_interval_seconds),
                "ErasureGraceSeconds": str(config.erasure_grace),
                # How long a queued lake task waits for a dataset job before it fails (States.Timeout).
                "DatasetTaskTimeoutSeconds": str(config.dataset_task_timeout),
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            # Every state's events, without inputs and outputs: those carry task tokens and would sit in the
            # log group for a year (the execution history keeps them for its own 90 days).
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        for function in f.request_workflow():
            function.grant_invoke(state_machine)
        requests_table.grant(state_machine, "dynamodb:GetItem", "dynamodb:UpdateItem")
        if requests_table.encryption_key is not None:
            requests_table.encryption_key.grant_encrypt_decrypt(state_machine)
        return state_machine
