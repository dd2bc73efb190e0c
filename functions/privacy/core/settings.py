"""Each function's configuration: one pydantic model per function (or group), parsed from its environment.

Every variable a function needs is required and may not be empty, so a function deployed without its
table, bucket or key fails at its first invocation with an error naming the variable, instead of
silently skipping work (an empty holds table once meant planning without legal holds). Models are
read through ``runtime.environ()`` on first use, never at import, so the local cloud can give each
function its own environment; a parsed model is cached per distinct environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from functions.privacy.core import runtime
from functions.privacy.datamap.model import DataMap, load_datamap

# A variable that is set but empty is as missing as one that is not set.
Required = Annotated[str, StringConstraints(min_length=1)]


class MissingSettings(RuntimeError):
    """The function's environment lacks (or has empty or malformed) variables it needs; names them only."""


class FunctionSettings(BaseModel):
    """Base of every function's model: frozen, ignores variables other functions use."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def load(cls) -> Self:
        """This function's settings from the invoked function's environment (cached per environment)."""
        env = runtime.environ()
        parsed = _parse(cls, tuple((name, env.get(name)) for name in cls.model_fields))
        assert isinstance(parsed, cls)
        return parsed

    @classmethod
    def from_environment(cls, env: Mapping[str, str | None]) -> Self:
        """Parse ``env`` or raise ``MissingSettings`` naming each missing variable (never its value)."""
        try:
            return cls.model_validate({k: v for k, v in env.items() if v is not None})
        except ValidationError as error:
            names = sorted({str(e["loc"][0]) for e in error.errors() if e.get("loc")})
            raise MissingSettings(
                f"{cls.__name__}: the function's environment lacks or has an invalid {', '.join(names)}"
            ) from None


@lru_cache(maxsize=64)
def _parse(model: type[FunctionSettings], env: tuple[tuple[str, str | None], ...]) -> FunctionSettings:
    return model.from_environment(dict(env))


# The variables, grouped as functions use them. Each is a mixin of the per-function models below.


class RequestsTable(FunctionSettings):
    REQUESTS_TABLE: Required


class AuditBucket(FunctionSettings):
    AUDIT_BUCKET: Required


class HmacKey(FunctionSettings):
    # The KMS HMAC key for subject HMACs, record-key digests and masking hashes.
    HMAC_KEY_ID: Required


class HoldsTable(FunctionSettings):
    HOLDS_TABLE: Required


class ExportBucket(FunctionSettings):
    EXPORT_BUCKET: Required


class SenderEmail(FunctionSettings):
    SENDER_EMAIL: Required
    # The engine's transactional configuration set (infra/email.py): it overrides the account suppression
    # list, so an address that withdrew all marketing consent still gets the answer to its request.
    SES_CONFIGURATION_SET: Required


class DataMapFile(FunctionSettings):
    # The data map bundled beside the code by infra/lambda_code.py: a real default, not an empty one.
    DATAMAP_FILE: Required = "datamap.json"

    def datamap(self) -> DataMap:
        path = Path(self.DATAMAP_FILE)
        if not path.is_absolute():
            path = runtime.task_root() / path
        return _cached_datamap(str(path))


@lru_cache(maxsize=8)
def _cached_datamap(path: str) -> DataMap:
    # Parsed once per container: the bundled data map never changes while a function lives.
    return load_datamap(path)


# The request workflow's functions.


class PlanSettings(RequestsTable, HmacKey, HoldsTable, DataMapFile):
    """PlanStoreTasks: resolves the subject and checks legal holds before planning."""


class StoreTaskSettings(RequestsTable, AuditBucket, HmacKey, ExportBucket, DataMapFile):
    """One store task (export, erase, rectify, restrict, opt out, re-check)."""


class DatasetQueue(FunctionSettings):
    DATASET_QUEUE_TABLE: Required


class DatasetStoreTaskSettings(StoreTaskSettings, DatasetQueue):
    """The store task of s3_dataset stores: queues erasure and access for the dataset job, acts on the rest."""


class DatasetJobSettings(StoreTaskSettings, DatasetQueue):
    """The dataset job: claims queued tasks, rewrites lake objects once for all of them, resumes the requests."""

    DATASET_WORK_BUCKET: Required
    # A claim older than this is taken over by the next job (the job holding it died); above the job's run time.
    DATASET_CLAIM_LEASE_SECONDS: int = Field(default=6 * 3600, ge=60)


class CompleteSettings(RequestsTable, AuditBucket, DataMapFile):
    """WriteEvidence: aggregates outcomes into the completion evidence (a disclosure notice's from the data map)."""


class PackageExportSettings(ExportBucket, DataMapFile):
    """PackageExport: zips an access request's parts."""


class NotifySettings(RequestsTable, HmacKey, SenderEmail, DataMapFile):
    """NotifyRequester: the confirmation email and, for access, the archive's download link (a token on the API)."""

    EXPORT_LINK_SECONDS: int = Field(default=7 * 24 * 3600, ge=1)
    # The intake API's base URL (stack output ApiUrl): the link is GET <API_URL>/requests/{id}/export?token=...
    API_URL: Required


class PublishEventSettings(DataMapFile):
    """PublishCompletionEvent: one event for downstream recipients on the stack's bus."""

    EVENT_BUS_NAME: Required


# Intake and identity verification.


class IntakeSettings(RequestsTable, AuditBucket, HmacKey, ExportBucket, DataMapFile):
    """The intake API: files requests (idempotently), verifies codes, answers status, serves archive downloads."""

    STATE_MACHINE_ARN: Required
    IDEMPOTENCY_TABLE: Required
    FORM_ORIGIN: Required


class SendCodeSettings(RequestsTable, HmacKey, SenderEmail, DataMapFile):
    """SendVerificationCode: emails the one-time code and parks the task token."""


class RejectUnverifiedSettings(RequestsTable, AuditBucket):
    """RejectUnverified: records a request whose requester never verified."""


# Scheduled functions.


class DeadlineCheckSettings(RequestsTable):
    """DeadlineCheck: reads every open request."""


class FailedRequestSweepSettings(RequestsTable, AuditBucket):
    """FailedRequestSweep: drops the identifiers of old failed and never-verified requests, with evidence."""

    FAILED_REQUEST_RETENTION_DAYS: int = Field(default=30, ge=1)


class DigestSettings(AuditBucket):
    """WriteEvidenceDigest: signs a digest of new evidence records."""

    # The KMS asymmetric key that signs evidence digests.
    SIGNING_KEY_ID: Required


# Retention: key batches, cursors and import files live in the work bucket named by each run's plan.


class RetentionPlanSettings(DataMapFile):
    """PlanRetentionRun: cut-offs per store and where the run keeps its work."""

    RETENTION_WORK_BUCKET: Required
    RETENTION_SEGMENTS: int = Field(default=4, ge=1)


class RetentionExpirySettings(HmacKey, HoldsTable, DataMapFile):
    """The functions that expire records (scan segments, object listings, contacts): they must see holds."""


class RetentionBatchSettings(HoldsTable, DataMapFile):
    """DeleteObjectBatch: the event names the work bucket and batch; it reads the holds again before deleting."""


class RetentionEvidenceSettings(AuditBucket, DataMapFile):
    """RecordStoreOutcome and WriteRunSummary: retention evidence in the audit bucket."""
