"""Helpers for the evidence end-to-end tests: digests through the deployed Lambda, the audit bucket's every
version, the evidence schema, faults injected into data-store calls, and the Lambdas' captured log lines."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from botocore.awsrequest import AWSResponse, HeadersDict

from functions.privacy.core.clients import Clients
from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.evidence.digests import SETTLE

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "evidence.schema.json"


def evidence_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def digest_now(clients: Clients, outputs: dict[str, str]) -> dict[str, Any]:
    """Invoke the deployed digest Lambda as the schedule would, with a cut-off one second before now.

    The function digests records older than ``as_of - SETTLE`` (uploads still settling are left for the next
    digest); passing ``now + SETTLE - 1s`` covers everything written so far without waiting two minutes, while
    anything written after this call falls after the cut-off (S3 times are whole seconds). The short wait first
    lets records written a moment ago fall before that cut-off.
    """
    time.sleep(2.1)
    as_of = datetime.now(UTC) + SETTLE - timedelta(seconds=1)
    answer = clients.client("lambda").invoke(
        FunctionName=outputs["DigestFunctionName"], Payload=json.dumps({"as_of": as_of.isoformat()}).encode()
    )
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload


def all_versions(s3: Any, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
    """Every version of every object under ``prefix`` (delete markers are not objects)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Versions", [])


def read_version(s3: Any, bucket: str, version: dict[str, Any]) -> bytes:
    return s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()


def store_resources(datamap: DataMap) -> dict[str, set[str]]:
    """Data-store resource names by the AWS service that serves them."""
    services = {StoreKind.DYNAMODB: "dynamodb", StoreKind.S3: "s3"}
    by_service: dict[str, set[str]] = {"dynamodb": set(), "s3": set(), "sesv2": set()}
    for store in datamap.stores.values():
        by_service[services.get(store.kind, "sesv2")].add(store.resource)
    return by_service


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


# What each service answers when it throttles or fails, as botocore would receive it over HTTP.
_FAULTS = {
    "dynamodb": [
        (400, {}, b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}'),
        (500, {}, b'{"__type":"com.amazon.coral.service#InternalFailure","message":"Internal failure"}'),
    ],
    "s3": [
        (503, {}, b"<Error><Code>SlowDown</Code><Message>Slow</Message></Error>"),
        (500, {}, b"<Error><Code>InternalError</Code><Message>x</Message></Error>"),
    ],
    "sesv2": [
        (429, {"x-amzn-ErrorType": "TooManyRequestsException"}, b'{"message":"Rate exceeded"}'),
        (500, {"x-amzn-ErrorType": "InternalServiceErrorException"}, b'{"message":"Internal error"}'),
    ],
}


class DataStoreFaults:
    """Throttles or fails a share of the HTTP calls that touch a data store, made by any botocore client in this
    process (each Lambda execution environment has its own clients). Faults come back as real HTTP answers, so
    botocore's retries, the connectors' error mapping and the workflow's Retry all see what they would see on AWS.
    Calls to the engine's own tables and the audit bucket are left alone: the faults are in the company's stores.
    """

    def __init__(self, datamap: DataMap, rate: float = 0.2, seed: int = 20) -> None:
        self.rate = rate
        self.resources = store_resources(datamap)
        self.injected: dict[str, int] = dict.fromkeys(self.resources, 0)
        self.calls: dict[str, int] = dict.fromkeys(self.resources, 0)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._registered: list[tuple[Any, Any]] = []

    def _touches_store(self, service: str, request: Any) -> bool:
        text = request.url + (request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else "")
        return any(resource in text for resource in self.resources[service])

    def _handler(self, service: str) -> Any:
        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            if not self._touches_store(service, request) or "SendEmail" in request.url:
                return None
            with self._lock:
                self.calls[service] += 1
                if self._random.random() >= self.rate:
                    return None
                self.injected[service] += 1
                status, headers, body = self._random.choice(_FAULTS[service])
            return AWSResponse(request.url, status, HeadersDict({"x-amzn-RequestId": "fault", **headers}), _Body(body))

        return before_send

    def __enter__(self) -> DataStoreFaults:
        # Every client in this process, the Lambdas' included: each execution environment makes its own clients.
        from botocore.endpoint import Endpoint

        handlers = {service: self._handler(service) for service in self.resources}
        send = Endpoint._send
        self._registered.append((Endpoint, send))

        def faulty_send(endpoint: Any, request: Any) -> Any:
            service = {"email": "sesv2"}.get(endpoint._endpoint_prefix, endpoint._endpoint_prefix)
            handler = handlers.get(service)
            return (handler(request) if handler else None) or send(endpoint, request)

        Endpoint._send = faulty_send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for owner, send in self._registered:
            owner._send = send
        self._registered.clear()


class CapturedLines:
    """What the Lambdas wrote (Powertools JSON lines, EMF metrics, warnings) to their log files while capturing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self._offsets = {path: path.stat().st_size for path in folder.glob("*.log")}

    def collect(self) -> None:
        for path in sorted(self.folder.glob("*.log")):
            with path.open("rb") as file:
                file.seek(self._offsets.get(path, 0))
                self.lines += file.read().decode("utf-8", "replace").splitlines()


def capture_lambda_logs() -> tuple[CapturedLines, Any]:
    """Start collecting every function's log lines (the local cloud writes them to
    <state_dir>/logs/functions/<function>.log); returns the collector and a function that stops collecting and fills
    in its lines."""
    from local.adapters import lambda_logs

    folder = lambda_logs.logs_dir()
    assert folder is not None, "the local cloud is not running"
    folder.mkdir(parents=True, exist_ok=True)
    captured = CapturedLines(folder)
    return captured, captured.collect


def cloudwatch_lines(clients: Clients) -> list[str]:
    """Every log event the local cloud stored (each invocation's START/END/REPORT lines and error traces)."""
    logs = clients.client("logs")
    lines = []
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            for events in logs.get_paginator("filter_log_events").paginate(logGroupName=group["logGroupName"]):
                lines.extend(event["message"] for event in events["events"])
    return lines
