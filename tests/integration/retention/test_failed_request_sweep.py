"""The daily failed-request sweep on moto: failed and never-verified requests past the retention period lose
their raw identifiers and details (the HMAC stays), with an evidence event each; nothing else is touched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from functions.handlers import failed_request_sweep as handler_module
from functions.privacy.core import clients as aws_clients
from functions.privacy.core.clients import Clients
from functions.privacy.core.runtime import lambda_environment
from functions.privacy.core.timestamps import format_utc
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import RequestType
from functions.privacy.retention.failed_requests import sweep_failed_requests

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
HMAC = "hmac-sha256:" + "cd" * 32


@pytest.fixture
def engine(aws, engine_env):
    with lambda_environment(engine_env):
        clients = Clients()
        yield clients.resource_table("requests"), clients.client("s3"), engine_env["AUDIT_BUCKET"]


def _request(table, status, age_days, **attributes):
    return requests.create_request(
        table,
        RequestType.ERASURE,
        {"email": "someone@example.com"},
        received=NOW - timedelta(days=age_days),
        status=status,
        attributes={"subject_hmac": HMAC, "details": {"note": "call me on +44 1"}, **attributes},
    ).request_id


def _item(table, request_id):
    return table.get_item(Key={"request_id": request_id, "record": "request"})["Item"]


def _chain(s3, bucket, request_id):
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"requests/{request_id}/chain/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in listing]


def test_old_failed_and_unverified_requests_drop_their_identifiers_with_evidence(engine):
    table, s3, bucket = engine
    dropped = {
        "failed_unverified": _request(table, "failed", 40, verification_failed=True),
        "never_verified": _request(table, "pending_verification", 31),
        # Verified, failed 35 days ago, never redriven: the operator's window has passed too.
        "failed_verified": _request(
            table,
            "failed",
            60,
            verified_at=format_utc(NOW - timedelta(days=59)),
            failed_at=format_utc(NOW - timedelta(days=35)),
        ),
    }
    kept = {
        "young_failure": _request(table, "failed", 10, verification_failed=True),
        "recently_failed": _request(table, "failed", 60, failed_at=format_utc(NOW - timedelta(days=5))),
        "partial": _request(table, "partially_completed", 90),  # kept for a re-run, not this sweep's to drop
        "in_progress": _request(table, "in_progress", 90),
        "waiting": _request(table, "pending_verification", 40, code_expires_at=format_utc(NOW + timedelta(hours=1))),
    }

    result = sweep_failed_requests(table, s3, bucket, retention_days=30, now=NOW)

    assert sorted(result.dropped) == sorted(dropped.values())
    for label, request_id in dropped.items():
        item = _item(table, request_id)
        assert "subject" not in item and "details" not in item, label
        assert item["subject_hmac"] == HMAC and item["identifiers_dropped_at"] == format_utc(NOW)
        (event,) = [e for e in _chain(s3, bucket, request_id) if e["event"] == "identifiers_dropped"]
        assert event["dropped_at"] == format_utc(NOW) and event["retention_days"] == 30
        assert event["never_verified"] is (label != "failed_verified")
        assert item["identifiers_dropped_evidence"].endswith("-identifiers_dropped.json")
        assert "@" not in json.dumps(event) and "+44" not in json.dumps(event)
    for label, request_id in kept.items():
        item = _item(table, request_id)
        assert item["subject"] == {"email": "someone@example.com"} and item["details"], label
        assert not _chain(s3, bucket, request_id), label


def test_a_second_sweep_drops_nothing_again_and_writes_no_second_event(engine):
    table, s3, bucket = engine
    request_id = _request(table, "failed", 40, verification_failed=True)
    assert sweep_failed_requests(table, s3, bucket, retention_days=30, now=NOW).dropped == [request_id]
    assert sweep_failed_requests(table, s3, bucket, retention_days=30, now=NOW + timedelta(days=1)).dropped == []
    assert [e["event"] for e in _chain(s3, bucket, request_id)] == ["identifiers_dropped"]


def test_a_drop_whose_evidence_was_not_written_is_found_and_evidenced_next_time(engine):
    table, s3, bucket = engine
    request_id = _request(table, "failed", 40, verification_failed=True)
    assert requests.drop_unfinished_identifiers(table, request_id, "failed", NOW)  # the sweep stopped here

    assert sweep_failed_requests(table, s3, bucket, retention_days=30, now=NOW).dropped == [request_id]
    assert [e["event"] for e in _chain(s3, bucket, request_id)] == ["identifiers_dropped"]


@dataclass
class Context:
    function_name: str = "sweep"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:sweep"
    aws_request_id: str = "ctx"


def test_the_handler_reads_the_retention_days_from_its_environment(aws, engine_env, monkeypatch):
    monkeypatch.setattr(aws_clients, "_clients", {})
    table = Clients().resource_table("requests")
    request_id = _request(table, "failed", 0, verification_failed=True)
    item = _item(table, request_id)
    ten_days_ago = format_utc(datetime.now(UTC) - timedelta(days=10))
    table.put_item(Item={**item, "received_at": ten_days_ago})

    with lambda_environment(engine_env):  # default: 30 days
        assert handler_module.handler({}, Context())["dropped"] == 0
    with lambda_environment({**engine_env, "FAILED_REQUEST_RETENTION_DAYS": "7"}):
        answer = handler_module.handler({}, Context())
    assert answer["dropped_requests"] == [request_id] and "subject" not in _item(table, request_id)
