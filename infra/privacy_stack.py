"""The privacy engine: composes one construct per concern and grants each function what it needs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from functions.privacy.datamap.model import DataMap

from .api import IntakeApi
from .audit import AuditBucket
from .config import DeployConfig
from .datastore_access import resolution_statements, store_statements
from .deadlines import DeadlineCheck
from .events import DownstreamEvents
from .evidence_digests import EvidenceDigests
from .functions import SERVICE, PrivacyFunctions
from .monitoring import Monitoring
from .retention import RetentionEngine
from .storage import PrivacyStorage
from .workflows import RequestWorkflow


class PrivacyStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, datamap: DataMap, **kwargs: Any
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
                "HOLDS_TABLE": storage.holds_table.table_name,
            },
        )
        storage.requests_table.grant_read_write_data(functions.plan)
        for statement in resolution_statements(self, datamap):
            functions.plan.add_to_role_policy(statement)
        for function in (functions.store_task, functions.complete, functions.intake, functions.reject_unverified):
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
        for function in (functions.store_task, functions.complete):
            storage.requests_table.grant_read_data(function)
        # Intake creates requests and checks codes; verification issues codes and records rejections.
        storage.requests_table.grant(functions.intake, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        for function in (functions.send_code, functions.reject_unverified):
            storage.requests_table.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        storage.key.grant_encrypt_decrypt(functions.send_code)
        storage.idempotency_table.grant(
            functions.intake, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        functions.intake.add_environment("IDEMPOTENCY_TABLE", storage.idempotency_table.table_name)
        functions.intake.add_environment("FORM_ORIGIN", config.form_origin)
        functions.send_code.add_environment("SENDER_EMAIL", config.sender_email)
        functions.send_code.add_to_role_policy(
            iam.PolicyStatement(actions=["ses:SendEmail"], resources=self._sender_identities(config.sender_email))
        )
        for statement in store_statements(self, datamap, write=True):
            functions.store_task.add_to_role_policy(statement)
        hmac_users = (functions.plan, functions.store_task, functions.complete, functions.intake, functions.send_code)
        for function in hmac_users:
            storage.hmac_key.grant(function, "kms:GenerateMac")

        downstream = DownstreamEvents(self, "Events")
        self._grant_rights_workflow(config, storage, functions, downstream)

        digests = EvidenceDigests(
            self,
            "EvidenceDigests",
            function=functions.digest,
            bucket=audit.bucket,
            data_key=storage.key,
            schedule_expression=config.digest_schedule,
        )

        workflow = RequestWorkflow(
            self,
            "Workflows",
            plan=functions.plan,
            store_task=functions.store_task,
            complete=functions.complete,
            send_code=functions.send_code,
            reject_unverified=functions.reject_unverified,
            package_export=functions.package_export,
            notify=functions.notify,
            publish_event=functions.publish_event,
            requests_table=storage.requests_table,
            store_task_concurrency=config.store_task_concurrency,
            retry_interval_seconds=config.retry_interval_seconds,
            verification_timeout_seconds=config.verification_timeout,
        )
        functions.intake.add_environment("STATE_MACHINE_ARN", workflow.state_machine.state_machine_arn)
        workflow.state_machine.grant_start_execution(functions.intake)
        # SendTaskSuccess/Failure: the verify route resumes (or fails) the task waiting for the code.
        workflow.state_machine.grant_task_response(functions.intake)
        api = IntakeApi(
            self,
            "Api",
            handler=functions.intake,
            form_origin=config.form_origin,
            throttle_rate=config.api_throttle_rate,
            throttle_burst=config.api_throttle_burst,
            requests_per_ip=config.api_requests_per_ip,
        )
        DeadlineCheck(
            self, "Deadlines", function=functions.deadline_check, requests_table=storage.requests_table, key=storage.key
        )
        retention = RetentionEngine(
            self,
            "Retention",
            config=config,
            datamap=datamap,
            functions=functions,
            key=storage.key,
            hmac_key=storage.hmac_key,
            holds_table=storage.holds_table,
            audit_bucket=audit.bucket,
            access_logs=storage.access_logs,
        )
        self.retention = retention
        monitoring = Monitoring(
            self,
            "Monitoring",
            service=SERVICE,
            state_machines={"Request": workflow.state_machine, "Retention": retention.state_machine},
            api=api.api,
            api_stage=api.api.deployment_stage.stage_name,
            dead_letter_queues={"EvidenceDigest": digests.dead_letters},
            alarm_email=config.alarm_email,
        )
        self.state_machine = workflow.state_machine
        self.monitoring = monitoring
        self.audit_bucket = audit.bucket
        self.requests_table = storage.requests_table
        self.holds_table = storage.holds_table
        self.functions = functions
        self.api = api
        self.export_bucket = storage.export_bucket
        self.digests = digests

        for name, value in {
            "RequestStateMachineArn": workflow.state_machine.state_machine_arn,
            "RequestsTableName": storage.requests_table.table_name,
            "AuditBucketName": audit.bucket.bucket_name,
            "ExportBucketName": storage.export_bucket.bucket_name,
            "HmacKeyArn": storage.hmac_key.key_arn,
            "HoldsTableName": storage.holds_table.table_name,
            "SenderEmail": config.sender_email,
            "EventBusName": downstream.bus.event_bus_name,
            "RetentionStateMachineArn": retention.state_machine.state_machine_arn,
            "RetentionWorkBucketName": retention.work_bucket.bucket_name,
            "EvidenceSigningKeyArn": digests.signing_key.key_arn,
            "DigestFunctionName": functions.digest.function_name,
            "EvidenceVerifierPolicyArn": digests.verifier_policy.managed_policy_arn,
            "AlarmTopicArn": monitoring.topic.topic_arn,
        }.items():
            CfnOutput(self, name, value=value)

    def _grant_rights_workflow(
        self, config: DeployConfig, storage: PrivacyStorage, functions: PrivacyFunctions, downstream: DownstreamEvents
    ) -> None:
        """Holds for planning, the export bucket's prefixes, the confirmation email and the event bus."""
        storage.holds_table.grant_read_data(functions.plan)
        exports = storage.export_bucket
        # Store tasks write parts only; packaging reads and deletes them and writes the archive.
        functions.store_task.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[exports.arn_for_objects("exports/*")]
            )
        )
        functions.package_export.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[exports.arn_for_objects("exports/*")],
            )
        )
        functions.package_export.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[exports.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["exports/*"]}},
            )
        )
        # The presigned link is signed by the notify role: it needs GetObject (and the key) for the link to work.
        functions.notify.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[exports.arn_for_objects("exports/*")])
        )
        for function in (functions.package_export, functions.notify):
            storage.key.grant_encrypt_decrypt(function)
        storage.requests_table.grant(functions.notify, "dynamodb:GetItem", "dynamodb:UpdateItem")
        functions.notify.add_environment("SENDER_EMAIL", config.sender_email)
        functions.notify.add_environment("EXPORT_LINK_SECONDS", str(config.export_link_days * 24 * 3600))
        functions.notify.add_to_role_policy(
            iam.PolicyStatement(actions=["ses:SendEmail"], resources=self._sender_identities(config.sender_email))
        )
        downstream.grant_publish(functions.publish_event)
        functions.publish_event.add_environment("EVENT_BUS_NAME", downstream.bus.event_bus_name)

    def _sender_identities(self, sender: str) -> list[str]:
        """ses:SendEmail is authorised on the sending identity: the address itself or its verified domain."""
        domain = sender.rsplit("@", 1)[-1]
        return [self.format_arn(service="ses", resource="identity", resource_name=name) for name in (sender, domain)]

    def logical_ids(self) -> dict[str, str]:
        """Logical ids that cdk-nag finding ids refer to (see governance.py)."""

        def of(construct: Construct) -> str:
            return self.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement

        return {
            "audit_bucket": of(self.audit_bucket),
            "plan": of(self.functions.plan),
            "store_task": of(self.functions.store_task),
            "complete": of(self.functions.complete),
            "send_code": of(self.functions.send_code),
            "reject_unverified": of(self.functions.reject_unverified),
            "package_export": of(self.functions.package_export),
            "notify": of(self.functions.notify),
            "publish_event": of(self.functions.publish_event),
            "export_bucket": of(self.export_bucket),
            "digest": of(self.functions.digest),
            "digest_dead_letters": of(self.digests.dead_letters),
        }
