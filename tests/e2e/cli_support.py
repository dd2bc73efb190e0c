"""Run `dsr --local` in-process (Typer's CliRunner) against the session's local cloud."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import context
from cli.main import app


def write_outputs(local_cloud: Any, path: Path) -> Path:
    """The session cloud's outputs in the shape `make up` writes to .local/outputs.json."""
    described = {
        "aws_endpoint": local_cloud.cloud.endpoint,
        "region": local_cloud.cloud.region,
        "account": "123456789012",
        **local_cloud.outputs,
        "sample_subjects": local_cloud.subjects,
        "outbox": str(local_cloud.outbox),
    }
    path.write_text(json.dumps(described, indent=2))
    return path


@pytest.fixture
def dsr(local_cloud: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``dsr("requests", "list")`` runs `dsr --local --outputs <file> requests list`; returns the Click result."""
    outputs = tmp_path / "outputs.json"
    monkeypatch.setattr(context.console, "width", 250)  # tables keep ids on one line
    monkeypatch.setattr(context.errors, "width", 250)
    runner = CliRunner()

    def run(*args: str, expect: int | None = 0) -> Any:
        write_outputs(local_cloud, outputs)  # each run sees outputs a test added (monkeypatch.setitem)
        result = runner.invoke(
            app, ["--local", "--outputs", str(outputs), "--operator", "test-operator", *args], catch_exceptions=True
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return run


def wait_for_status(local_cloud: Any, request_id: str, statuses: set[str], timeout: float = 120.0) -> dict[str, Any]:
    table = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"])
    deadline = time.monotonic() + timeout
    while True:
        item = table.get_item(Key={"request_id": request_id, "record": "request"}, ConsistentRead=True).get("Item")
        if item and item.get("status") in statuses:
            return item
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id} is {item and item.get('status')} after {timeout}s")
        time.sleep(0.3)


def operator_records(local_cloud: Any, action: str) -> list[dict[str, Any]]:
    """Operator-action evidence records of one kind, oldest first."""
    s3 = local_cloud.clients.client("s3")
    bucket = local_cloud.outputs["AuditBucketName"]
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="operator/"):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(f"-{action}.json"):
                found.append(json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    return sorted(found, key=lambda r: r["recorded_at"])


def chain_events(local_cloud: Any, request_id: str) -> list[dict[str, Any]]:
    s3 = local_cloud.clients.client("s3")
    bucket = local_cloud.outputs["AuditBucketName"]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"requests/{request_id}/chain/").get("Contents", [])
    return [
        json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in sorted(listing, key=lambda o: o["Key"])
    ]
