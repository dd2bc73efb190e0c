"""The deployed daily deadline check, invoked as its EventBridge rule would (moto never fires schedules)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.privacy.requests.record import RequestType, create_request

pytestmark = pytest.mark.e2e


def test_the_deployed_check_finds_overdue_requests_but_not_unverified_ones(local_cloud):
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    overdue = create_request(table, RequestType.ERASURE, {"email": "o@example.com"}, received=long_ago)
    unverified = create_request(
        table, RequestType.ERASURE, {"email": "u@example.com"}, received=long_ago, status="pending_verification"
    )
    lambda_client = local_cloud.clients.client("lambda")
    (name,) = [
        f["FunctionName"]
        for page in lambda_client.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["Handler"] == "functions.handlers.deadline_check.handler"
    ]
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"source": "aws.events"}).encode())
    result = json.loads(response["Payload"].read())

    assert "FunctionError" not in response, result
    assert overdue.request_id in result["overdue_requests"]
    assert unverified.request_id not in result["overdue_requests"] + result["at_risk_requests"]
    assert result["overdue"] == len(result["overdue_requests"]) and result["unverified"] >= 1
