"""The privacy engine: composes one construct per concern and grants each function what it needs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from functions.privacy.datamap import DataMap

from .audit import AuditBucket
from .config import DeployConfig
from .datastore_access import resolution_statements, store_statements
from .functions import PrivacyFunctions
from .storage import PrivacyStorage
from .workflows import RequestWorkflow


class PrivacyStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, datamap: DataMap, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = PrivacyStorage(self, "Storage", export_expiry_days=config.export_expiry_days)
        audit = AuditBucket(
            self, "Audit", key=storage.key, access_logs=storage.access_logs, retention_years=config.object_lock_years
        )
        functions = PrivacyFunctions(
            self,
            "Functions",
            datamap=datamap,
            environment={
                "REQUESTS_TABLE": storage.requests_table.table_name,
                "AUDIT_BUCKET": audit.bucket.bucket_name,
                "EXPORT_BUCKET": storage.export_bucket.bucket_name,
                "HMAC_KEY_ID": storage.hmac_key.key_arn,
            },
        )
        storage.requests_table.grant_read_write_data(functions.plan)
        for statement in resolution_statements(self, datamap):
            functions.plan.add_to_role_policy(statement)
        for function in (functions.store_task, functions.complete):
            storage.requests_table.grant_read_data(function)
            # Evidence is written once and read back for idempotency; never deleted. ListBucket makes a
            # missing record answer NoSuchKey instead of AccessDenied.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:PutObject"], resources=[audit.bucket.arn_for_objects("requests/*")]
                )
            )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[audit.bucket.bucket_arn])
            )
            storage.key.grant_encrypt_decrypt(function)
        for statement in store_statements(self, datamap, write=True):
            functions.store_task.add_to_role_policy(statement)
        for function in (functions.plan, functions.store_task, functions.complete):
            storage.hmac_key.grant(function, "kms:GenerateMac")

        workflow = RequestWorkflow(
            self,
            "Workflows",
            plan=functions.plan,
            store_task=functions.store_task,
            complete=functions.complete,
            requests_table=storage.requests_table,
            store_task_concurrency=config.store_task_concurrency,
            retry_interval_seconds=config.retry_interval_seconds,
        )
        self.state_machine = workflow.state_machine
        self.audit_bucket = audit.bucket
        self.requests_table = storage.requests_table
        self.functions = functions

        for name, value in {
            "RequestStateMachineArn": workflow.state_machine.state_machine_arn,
            "RequestsTableName": storage.requests_table.table_name,
            "AuditBucketName": audit.bucket.bucket_name,
            "ExportBucketName": storage.export_bucket.bucket_name,
            "HmacKeyArn": storage.hmac_key.key_arn,
        }.items():
            CfnOutput(self, name, value=value)

    def logical_ids(self) -> dict[str, str]:
        """Logical ids that cdk-nag finding ids refer to (see governance.py)."""

        def of(construct: Construct) -> str:
            return self.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

        return {
            "audit_bucket": of(self.audit_bucket),
            "plan": of(self.functions.plan),
            "store_task": of(self.functions.store_task),
            "complete": of(self.functions.complete),
        }
