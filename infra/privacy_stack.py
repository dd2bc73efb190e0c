"""The privacy engine: composes one construct per concern; each construct wires the functions it owns."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from functions.privacy.datamap.model import DataMap

from .api import IntakeApi
from .audit import AuditBucket
from .config import DeployConfig
from .dataset_jobs import DatasetJobs
from .deadlines import DeadlineCheck
from .email import TransactionalEmail
from .events import DownstreamEvents
from .evidence_digests import EvidenceDigests
from .failed_requests import FailedRequestSweep
from .functions import SERVICE, PrivacyFunctions
from .monitoring import Monitoring
from .retention import RetentionEngine
from .storage import PrivacyStorage
from .workflows import RequestWorkflow


class PrivacyStack(Stack):
    """Storage and evidence first, then the functions, then the constructs that own and wire them."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, datamap: DataMap, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = PrivacyStorage(self, "Storage", export_expiry_days=config.export_expiry_days)
        audit = AuditBucket(
            self, "Audit", key=storage.key, access_logs=storage.access_logs, retention_years=config.object_lock_years
        )
        functions = PrivacyFunctions(
            self, "Functions", datamap=datamap, environment=self._shared_environment(storage, audit)
        )
        downstream = DownstreamEvents(self, "Events")
        self.email = TransactionalEmail(self, "Email", sender=config.sender_email)
        workflow = RequestWorkflow(
            self,
            "Workflows",
            functions=functions,
            storage=storage,
            audit_bucket=audit.bucket,
            downstream=downstream,
            datamap=datamap,
            config=config,
            email=self.email,
        )
        digests = EvidenceDigests(
            self,
            "EvidenceDigests",
            function=functions.digest,
            bucket=audit.bucket,
            data_key=storage.key,
            schedule_expression=config.digest_schedule,
            requests_table_arn=storage.requests_table.table_arn,
        )
        api = IntakeApi(
            self,
            "Api",
            handler=functions.intake,
            storage=storage,
            audit_bucket=audit.bucket,
            state_machine=workflow.state_machine,
            form_origin=config.form_origin,
            throttle_rate=config.api_throttle_rate,
            throttle_burst=config.api_throttle_burst,
            requests_per_ip=config.api_requests_per_ip,
        )
        # The confirmation links to the API's export route (the API exists only after the workflow it starts).
        functions.notify.add_environment("API_URL", api.url)
        DeadlineCheck(
            self, "Deadlines", function=functions.deadline_check, requests_table=storage.requests_table, key=storage.key
        )
        FailedRequestSweep(
            self,
            "FailedRequests",
            function=functions.failed_request_sweep,
            requests_table=storage.requests_table,
            key=storage.key,
            audit_bucket=audit.bucket,
            retention_days=config.failed_request_retention_days,
        )
        retention = RetentionEngine(
            self,
            "Retention",
            config=config,
            datamap=datamap,
            functions=functions,
            storage=storage,
            audit_bucket=audit.bucket,
        )
        # Lake (s3_dataset) erasure and access, batched: only when the data map has such stores.
        self.dataset_jobs: DatasetJobs | None = None
        if functions.dataset_job is not None and functions.dataset_store_task is not None:
            self.dataset_jobs = DatasetJobs(
                self,
                "DatasetJobs",
                config=config,
                datamap=datamap,
                job=functions.dataset_job,
                store_task=functions.dataset_store_task,
                storage=storage,
                workflow=workflow,
                work_bucket=retention.work_bucket,
            )
        machines = {"Request": workflow.state_machine, "Retention": retention.state_machine}
        if self.dataset_jobs is not None:
            machines["DatasetJob"] = self.dataset_jobs.state_machine
        monitoring = Monitoring(
            self,
            "Monitoring",
            service=SERVICE,
            state_machines=machines,
            api=api.api,
            api_stage=api.api.deployment_stage.stage_name,
            dead_letter_queues={"EvidenceDigest": digests.dead_letters},
            alarm_email=config.alarm_email,
        )
        self.retention = retention
        self.state_machine = workflow.state_machine
        self.monitoring = monitoring
        self.audit_bucket = audit.bucket
        self.requests_table = storage.requests_table
        self.holds_table = storage.holds_table
        self.functions = functions
        self.api = api
        self.export_bucket = storage.export_bucket
        self.digests = digests
        self._outputs(config, storage, downstream)

    @staticmethod
    def _shared_environment(storage: PrivacyStorage, audit: AuditBucket) -> dict[str, str]:
        """Variables every function gets; each function's own come from the construct that owns it."""
        return {
            "REQUESTS_TABLE": storage.requests_table.table_name,
            "AUDIT_BUCKET": audit.bucket.bucket_name,
            "EXPORT_BUCKET": storage.export_bucket.bucket_name,
            "HMAC_KEY_ID": storage.hmac_key.key_arn,
            "HOLDS_TABLE": storage.holds_table.table_name,
        }

    def _outputs(self, config: DeployConfig, storage: PrivacyStorage, downstream: DownstreamEvents) -> None:
        """What operators, the CLI and the local cloud read (.local/outputs.json)."""
        for name, value in {
            "RequestStateMachineArn": self.state_machine.state_machine_arn,
            "RequestsTableName": storage.requests_table.table_name,
            "AuditBucketName": self.audit_bucket.bucket_name,
            "ExportBucketName": storage.export_bucket.bucket_name,
            "HmacKeyArn": storage.hmac_key.key_arn,
            "HoldsTableName": storage.holds_table.table_name,
            "SenderEmail": config.sender_email,
            # For operator mail (refusals, extensions) to name too, so a suppressed address still hears back.
            "SesConfigurationSet": self.email.configuration_set_name,
            "EventBusName": downstream.bus.event_bus_name,
            "RetentionStateMachineArn": self.retention.state_machine.state_machine_arn,
            "RetentionWorkBucketName": self.retention.work_bucket.bucket_name,
            "EvidenceSigningKeyArn": self.digests.signing_key.key_arn,
            "DigestFunctionName": self.functions.digest.function_name,
            "EvidenceVerifierPolicyArn": self.digests.verifier_policy.managed_policy_arn,
            "EvidenceDigestSchedule": config.digest_schedule,  # `dsr evidence verify` judges staleness by it
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            # `dsr ropa`: the controller and the settings its measures are worded from, as deployed.
            "ProcessingRecord": json.dumps(config.processing_record(), sort_keys=True),
            **(
                {
                    "DatasetJobStateMachineArn": self.dataset_jobs.state_machine.state_machine_arn,
                    "DatasetQueueTableName": self.dataset_jobs.queue.table_name,
                }
                if self.dataset_jobs is not None
                else {}
            ),
        }.items():
            CfnOutput(self, name, value=value)

    def logical_ids(self) -> dict[str, str]:
        """Logical ids that cdk-nag finding ids refer to (see governance.py)."""

        def of(construct: Construct) -> str:
            return self.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement

        dataset_store_task = self.functions.dataset_store_task
        return {
            **({"dataset_store_task": of(dataset_store_task)} if dataset_store_task is not None else {}),
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
