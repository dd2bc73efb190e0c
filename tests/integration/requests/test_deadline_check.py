"""The daily deadline check publishes RequestsAtRisk and RequestsOverdue (no dimensions) from the requests table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.handlers import deadline_check
from functions.privacy.core import clients as aws_clients
from functions.privacy.requests import record as requests
from functions.privacy.requests.record import Jurisdiction, RequestType


@dataclass
class Context:
    function_name: str = "deadline-check"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:deadline-check"
    aws_request_id: str = "ctx"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_the_check_counts_at_risk_and_overdue_requests(aws, monkeypatch, capsys):
    monkeypatch.setattr(aws_clients, "_clients", {})
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="requests",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}, {"AttributeName": "record", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "request_id", "AttributeType": "S"},
            {"AttributeName": "record", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table("requests")
    now = datetime.now(UTC)
    seeded = {
        # GDPR: due one month after receipt.
        "overdue": (now - timedelta(days=40), "in_progress"),
        "at_risk": (now - timedelta(days=26), "verified"),
        "on_track": (now - timedelta(days=2), "in_progress"),
        "unverified_late": (now - timedelta(days=40), "pending_verification"),
        "done_late": (now - timedelta(days=40), "completed"),
    }
    for name, (received, status) in seeded.items():
        requests.create_request(
            table,
            RequestType.ERASURE,
            {"email": f"{name}@example.com"},
            Jurisdiction.GDPR,
            received=received,
            request_id=f"req-{name}",
            status=status,
        )
    for name, value in {"REQUESTS_TABLE": "requests", "AUDIT_BUCKET": "audit", "HMAC_KEY_ID": "k"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "privacy-engine")

    result = deadline_check.handler({}, Context())

    assert result["overdue_requests"] == ["req-overdue"]
    assert result["at_risk_requests"] == ["req-at_risk"]
    assert (result["overdue"], result["at_risk"], result["unverified"]) == (1, 1, 1)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(emf) == 1
    metrics = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == "PrivacyEngine" and metrics["Dimensions"] == [[]]
    assert {m["Name"] for m in metrics["Metrics"]} == {"RequestsAtRisk", "RequestsOverdue"}
    assert (emf[0]["RequestsAtRisk"], emf[0]["RequestsOverdue"]) == ([1.0], [1.0])
    assert "@example.com" not in capsys.readouterr().out
