"""The Lambda functions: thin handlers over the shared domain package, all built the same way."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.retention.runs import retention_applies

from .lambda_code import DATASET_RUNTIME, RUNTIME, code_asset, dependency_layer, pyarrow_layer

SERVICE = "privacy-engine"


class PrivacyFunctions(Construct):
    """Creates each handler under functions/handlers with the common configuration: code, layer, own role and
    log group, and the variables every function shares. The construct that owns a function (the request
    workflow, the intake API, retention, digests, the deadline check) adds its other variables and grants."""

    def __init__(self, scope: Construct, construct_id: str, *, datamap: DataMap, environment: dict[str, str]) -> None:
        super().__init__(scope, construct_id)
        self._code = code_asset(datamap)
        self._layer = dependency_layer(self, "Dependencies")
        self._environment = {
            "DATAMAP_FILE": "datamap.json",
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": "PrivacyEngine",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **environment,
        }
        self.plan = self._function("Plan", "plan", "Resolves the subject and plans one task per store")
        self.store_task = self._function(
            "StoreTask",
            "store_task",
            "Erases the subject from one store, or re-checks it",
            timeout=Duration.minutes(15),
        )
        # s3_dataset stores: the same handler on python3.12 with pyarrow (infra/lambda_code.py), only when the
        # data map has such stores, so a map without them synthesizes (and downloads) nothing more.
        self._dataset_layers: list[lambda_.ILayerVersion] | None = None
        self.dataset_store_task: lambda_.Function | None = None
        self.dataset_job: lambda_.Function | None = None
        if datamap.stores_of_kind(StoreKind.S3_DATASET):
            self.dataset_store_task = self._dataset_store_task()
            self.dataset_job = self._lake_function(
                "DatasetJob",
                "dataset_job",
                "The dataset job: every queued lake erasure and access at once, each object rewritten once",
            )
        self.complete = self._function("Complete", "complete", "Aggregates outcomes and writes completion evidence")
        self.package_export = self._function(
            "PackageExport", "package_export", "Streams an access export into one zip", timeout=Duration.minutes(15)
        )
        self.notify = self._function("Notify", "notify_requester", "Emails the requester the outcome of a request")
        self.publish_event = self._function("PublishEvent", "publish_event", "Tells downstream recipients (Art. 19)")
        # API Gateway gives up on an integration after 29 s; the intake answers well within that.
        self.intake = self._function(
            "Intake", "intake", "Request intake API: file, verify, status", timeout=Duration.seconds(29)
        )
        self.send_code = self._function("SendCode", "send_code", "Emails the one-time code and parks the task token")
        self.reject_unverified = self._function(
            "RejectUnverified", "reject_unverified", "Records a request whose requester never verified"
        )
        self.deadline_check = self._function("DeadlineCheck", "deadline_check", "Counts requests at risk or overdue")
        self.digest = self._function("Digest", "digest", "Signs a digest of new evidence records")
        self.failed_request_sweep = self._function(
            "FailedRequestSweep", "failed_request_sweep", "Drops identifiers of old failed and unverified requests"
        )
        # Retention (infra/retention.py wires them): scans and listings resume from saved cursors near 15 minutes.
        long = Duration.minutes(15)
        self.retention_plan = self._function("RetentionPlan", "retention_plan", "Plans a retention run per store")
        self.retention_segment = self._function("RetentionSegment", "retention_segment", "Expires a scan segment", long)
        self.retention_objects = self._function("RetentionObjects", "retention_objects", "Lists key batches", long)
        self.retention_batch = self._function("RetentionBatch", "retention_batch", "Deletes one key batch")
        self.retention_contacts = self._function("RetentionContacts", "retention_contacts", "Removes contacts", long)
        self.retention_record = self._function("RetentionRecord", "retention_record", "Records store evidence")
        self.retention_summary = self._function("RetentionSummary", "retention_summary", "Records a run summary")
        # Lake stores with a retention timestamp: their rows expire through the dataset rewrite (pyarrow, 3.12).
        self.retention_dataset: lambda_.Function | None = None
        if any(retention_applies(s) for s in datamap.stores_of_kind(StoreKind.S3_DATASET).values()):
            self.retention_dataset = self._retention_dataset()

    def request_workflow(self) -> tuple[lambda_.Function, ...]:
        """The functions the request state machine invokes."""
        return (
            self.plan,
            self.store_task,
            *([self.dataset_store_task] if self.dataset_store_task is not None else []),
            self.complete,
            self.send_code,
            self.reject_unverified,
            self.package_export,
            self.notify,
            self.publish_event,
        )

    def retention(self) -> tuple[lambda_.Function, ...]:
        """The functions the retention state machine invokes."""
        return (
            self.retention_plan,
            self.retention_segment,
            self.retention_objects,
            self.retention_batch,
            self.retention_contacts,
            self.retention_record,
            self.retention_summary,
        )

    def _dataset_store_task(self) -> lambda_.Function:
        """The store task for s3_dataset stores: queues erasure and access for the dataset job, re-checks a store."""
        return self._lake_function(
            "DatasetStoreTask",
            "dataset_store_task",
            "Queues a data-lake (s3_dataset) store's erasure or access for the dataset job, or re-checks it",
        )

    def _retention_dataset(self) -> lambda_.Function:
        """Lake retention: plans key batches of a store's objects and rewrites each without its expired rows."""
        return self._lake_function(
            "RetentionDataset",
            "retention_dataset",
            "Expires rows past their retention period from data-lake (s3_dataset) files",
        )

    def _lake_function(self, construct_id: str, handler: str, description: str) -> lambda_.Function:
        """A function that rewrites lake objects: python3.12 with pyarrow, sized for one object's rewrite.

        3008 MB: memory follows the largest decoded row group, not the file (LAKE.md measured 285 MB for a
        100 MB, 4 M-row file rewritten one row group at a time, 741 MB rebuilding bloom filters), and Lambda
        gives CPU in proportion to memory (about 1.7 vCPUs here), which decoding and re-encoding use. 10 GiB of
        /tmp (Lambda's maximum): a rewrite holds up to three copies of an object there at once (the source
        version, the rewritten file and the uploaded version read back to verify it), so objects to about
        3 GiB fit. 900 s: Lambda's maximum, for the largest objects.
        """
        return self._function(
            construct_id,
            handler,
            description,
            timeout=Duration.minutes(15),
            runtime=DATASET_RUNTIME,
            layers=self._lake_layers(),
            memory_size=3008,
            ephemeral_storage_size=Size.gibibytes(10),
        )

    def _lake_layers(self) -> list[lambda_.ILayerVersion]:
        """The python3.12 dependency layer and the pyarrow layer, made once for every lake function."""
        if self._dataset_layers is None:
            self._dataset_layers = [
                dependency_layer(self, "DatasetDependencies", DATASET_RUNTIME),
                pyarrow_layer(self, "Pyarrow"),
            ]
        return self._dataset_layers

    def _function(
        self,
        construct_id: str,
        module: str,
        description: str,
        timeout: Duration = Duration.minutes(1),
        *,
        runtime: lambda_.Runtime = RUNTIME,
        layers: list[lambda_.ILayerVersion] | None = None,
        memory_size: int = 512,
        ephemeral_storage_size: Size | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        # Own role instead of AWSLambdaBasicExecutionRole (logs:* on *): write to this log group only.
        role = iam.Role(self, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            construct_id,
            role=role,
            runtime=runtime,
            architecture=lambda_.Architecture.X86_64,
            handler=f"functions.handlers.{module}.handler",
            code=self._code,
            layers=layers or [self._layer],
            description=description,
            memory_size=memory_size,
            ephemeral_storage_size=ephemeral_storage_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            environment=self._environment,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
