"""Deploy-time configuration read from CDK context (cdk.json or -c key=value), validated once."""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import App
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[1]


class DeployConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str = Field(default="123456789012", pattern=r"^\d{12}$")
    region: str = "us-east-1"
    datamap: Path = ROOT / "datamap.yaml"
    deploy_sample_stores: bool = True
    object_lock_years: int = Field(default=7, ge=1, le=100)
    export_expiry_days: int = Field(default=7, ge=1, le=365)
    # Lifetime of the emailed download token (the API signs each download itself, so SigV4's 7 days do not
    # bound it); a link outliving the archive (export_expiry_days) answers 410.
    export_link_days: int = Field(default=7, ge=1, le=365)
    sender_email: str = "privacy@example.com"
    form_origin: str = "http://127.0.0.1:8080"
    alarm_email: str = ""
    # How often a signed digest of new evidence records is written (EventBridge Scheduler expression).
    digest_schedule: str = Field(default="rate(1 hour)", pattern=r"^(rate|cron)\(.+\)$")
    store_task_concurrency: int = Field(default=4, ge=1, le=40)
    verification_timeout_hours: int = Field(default=24, ge=1, le=720)
    # Overrides the hours when set: the local cloud's tests let codes expire in seconds.
    verification_timeout_seconds: int | None = Field(default=None, ge=5, le=720 * 3600)
    # Stage-wide API throttling (requests per second, and burst); per-client limits belong in a WAF.
    api_throttle_rate: int = Field(default=10, ge=1, le=10000)
    api_throttle_burst: int = Field(default=20, ge=1, le=5000)
    # WAF rate-based rule: requests per client IP per 5 minutes before it is blocked (0 = no WAF).
    api_requests_per_ip: int = Field(default=100, ge=0, le=2_000_000_000)
    # First retry delay of workflow tasks; the local cloud runs waits in real time, so it lowers this.
    retry_interval_seconds: int = Field(default=2, ge=1, le=60)
    # Retention: when the schedule starts a run (EventBridge Scheduler expression and IANA time zone),
    # how many parallel scan segments per table and how many S3 key batches are deleted at once.
    retention_schedule: str = Field(default="cron(0 3 * * ? *)", pattern=r"^(cron|rate|at)\(.+\)$")
    retention_time_zone: str = "UTC"
    retention_segments: int = Field(default=4, ge=1, le=1000)
    retention_batch_concurrency: int = Field(default=20, ge=1, le=10000)
    # The dataset job (lake erasure and access, batched): how often it starts, how many object batches it
    # rewrites at once, and how long a queued store task waits for a job before the request records it failed.
    dataset_job_schedule: str = Field(default="rate(1 hour)", pattern=r"^(cron|rate)\(.+\)$")
    dataset_object_concurrency: int = Field(default=20, ge=1, le=10000)
    dataset_task_timeout_hours: int = Field(default=24, ge=1, le=720)
    # Overrides the hours when set: the local cloud's jobs run every few seconds.
    dataset_task_timeout_seconds: int | None = Field(default=None, ge=30, le=720 * 3600)
    # Days a failed or never-verified request keeps its raw identifiers before the daily sweep drops them.
    failed_request_retention_days: int = Field(default=30, ge=1, le=3650)
    # Hours an erasure waits, planned but nothing erased, so the requester can still cancel (0 = no wait).
    erasure_grace_hours: int = Field(default=0, ge=0, le=720)
    # Overrides the hours when set: the local cloud's tests wait seconds.
    erasure_grace_seconds: int | None = Field(default=None, ge=1, le=720 * 3600)
    # The controller named in the record of processing (`dsr ropa`, GDPR Art. 30(1)(a)) and how to reach it.
    controller_name: str = Field(default="Example Company", min_length=1)
    controller_contact: str = Field(default="privacy@example.com", min_length=1)

    def processing_record(self) -> dict[str, object]:
        """The settings `dsr ropa` words its measures from (the stack's ProcessingRecord output)."""
        names = (
            "controller_name",
            "controller_contact",
            "object_lock_years",
            "export_expiry_days",
            "export_link_days",
            "failed_request_retention_days",
            "api_requests_per_ip",
            "digest_schedule",
            "retention_schedule",
        )
        return {
            **{name: getattr(self, name) for name in names},
            "verification_timeout_seconds": self.verification_timeout,
        }

    @property
    def verification_timeout(self) -> int:
        """Seconds a one-time code stays valid (the workflow's task-token timeout)."""
        return self.verification_timeout_seconds or self.verification_timeout_hours * 3600

    @property
    def dataset_task_timeout(self) -> int:
        """Seconds a queued s3_dataset store task waits for a dataset job (the task-token timeout)."""
        return self.dataset_task_timeout_seconds or self.dataset_task_timeout_hours * 3600

    @property
    def erasure_grace(self) -> int:
        """Seconds the workflow waits before acting on the stores of an erasure (0 = not at all)."""
        return self.erasure_grace_seconds or self.erasure_grace_hours * 3600

    @classmethod
    def from_app(cls, app: App) -> DeployConfig:
        """Context values win; account/region fall back to the CDK CLI's env, then to safe defaults

        so that `python app.py` synthesizes with no AWS credentials at all.
        """
        values: dict[str, object] = {}
        for name in cls.model_fields:
            value = app.node.try_get_context(name)
            if value is not None:
                values[name] = value
        values.setdefault("account", os.environ.get("CDK_DEFAULT_ACCOUNT") or "123456789012")
        values.setdefault("region", os.environ.get("CDK_DEFAULT_REGION") or "us-east-1")
        if os.environ.get("DATAMAP"):
            values["datamap"] = os.environ["DATAMAP"]
        datamap = Path(str(values.get("datamap", "datamap.yaml")))
        values["datamap"] = datamap if datamap.is_absolute() else ROOT / datamap
        for number in (
            "object_lock_years",
            "export_expiry_days",
            "export_link_days",
            "store_task_concurrency",
            "retry_interval_seconds",
            "verification_timeout_hours",
            "verification_timeout_seconds",
            "api_throttle_rate",
            "api_throttle_burst",
            "api_requests_per_ip",
            "retention_segments",
            "retention_batch_concurrency",
            "failed_request_retention_days",
            "erasure_grace_hours",
            "erasure_grace_seconds",
            "dataset_object_concurrency",
            "dataset_task_timeout_hours",
            "dataset_task_timeout_seconds",
        ):
            if isinstance(values.get(number), str):
                values[number] = int(str(values[number]))
        for flag in ("deploy_sample_stores",):
            if isinstance(values.get(flag), str):
                values[flag] = str(values[flag]).lower() in {"1", "true", "yes"}
        return cls.model_validate(values)
