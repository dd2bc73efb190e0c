"""The digest handler (moto): the schedule's time decides the cut-off, and a missing key or a bad time is named."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from functions.handlers import digest as digest_handler
from functions.privacy.core import clients as aws_clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.evidence.digests import SETTLE
from functions.privacy.evidence.records import append_request_event
from functions.privacy.evidence.verify import verify_bucket


@dataclass
class Context:
    function_name: str = "digest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:digest"
    aws_request_id: str = "ctx"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def signing(aws, engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})  # the handler's process-wide clients, made under moto
    key = aws.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    return {**engine_env, "SIGNING_KEY_ID": key}


def test_the_scheduled_time_sets_the_cut_off_and_a_replay_writes_nothing_new(aws, signing):
    s3, kms, bucket = aws.client("s3"), aws.client("kms"), signing["AUDIT_BUCKET"]
    append_request_event(s3, bucket, "req-a", "received", {"subject": "hmac-sha256:00"})
    scheduled = (datetime.now(UTC) + SETTLE + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")

    with lambda_environment(signing):
        first = digest_handler.handler({"as_of": scheduled}, Context())
        again = digest_handler.handler({"as_of": scheduled}, Context())

    assert first["records"] == 1 and first["key"].startswith("digests/")
    assert again == {"key": None, "records": 0}  # the same scheduled time never writes a second digest
    body = json.loads(s3.get_object(Bucket=bucket, Key=first["key"])["Body"].read())
    assert body["signing_key"] == signing["SIGNING_KEY_ID"]
    assert verify_bucket(s3, kms, bucket).ok


def test_a_time_without_a_zone_is_refused_by_name(signing):
    with lambda_environment(signing), pytest.raises(ValidationError, match="as_of"):
        digest_handler.handler({"as_of": "2026-11-29T10:00:00"}, Context())


def test_a_missing_signing_key_is_named(engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})
    with lambda_environment(engine_env), pytest.raises(RuntimeError, match="SIGNING_KEY_ID"):
        digest_handler.handler({}, Context())
